# Host crash and restart under file system load: ext4 on the synthetic disk, files written and
# fsync'd, then more writes in flight when the host "crashes" (every channel rescinded, in-flight
# requests lost) and comes back with the devices offered again. The old disk goes away without
# a hang or an oops, the new one appears by itself, ext4 recovers its journal, and every file that
# was fsync'd before the crash is intact.
# timeout: 400
# boot: vcpus=2 sim=--disk size=256M
load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
mkfs.ext4 -q -F /dev/pvda
mkdir -p /mnt/r && mount /dev/pvda /mnt/r
for i in 1 2 3 4 5 6 7 8; do
	head -c 4M /dev/urandom >/mnt/r/safe$i
done
sync -f /mnt/r/safe1
(cd /mnt/r && sha256sum safe* >/tmp/safe.sums)
# Writes still in flight when the host goes.
( i=0; while [ $i -lt 400 ]; do head -c 1M /dev/urandom >/mnt/r/late$i 2>/dev/null || break; i=$((i + 1)); done ) &
writer=$!
sleep 2
r=$(host sim restart)
note "host: $r"
wait_until 60 "the writer to stop or finish" eval "! kill -0 $writer"
wait $writer || true
umount -l /mnt/r 2>/dev/null || true
expect_klog 'pvg_vmbus: channel [0-9]+ rescinded by the host' "rescind line"
new_disk() { [ -e /sys/block/pvda ] && blkid /dev/pvda >/dev/null; }
wait_until 60 "the disk back after the restart" new_disk
mount /dev/pvda /mnt/r || fail "the disk's ext4 does not mount after the host restart"
(cd /mnt/r && sha256sum -c --quiet /tmp/safe.sums) || fail "fsync'd files differ after the host restart"
note "late files that made it: $(ls /mnt/r | grep -c '^late' || true)"
umount /mnt/r
e2fsck -fn /dev/pvda >/tmp/fsck.out 2>&1 || { tail -n 20 /tmp/fsck.out; fail "e2fsck found problems after journal recovery"; }
unload pvg_storvsc
unload pvg_vmbus
expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing leaked"
