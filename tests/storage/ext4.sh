# A file system on a synthetic disk: mkfs.ext4, 256 MiB of checksummed files, unmount, a
# clean forced e2fsck, remount (nothing cached) and every checksum verified.
# timeout: 600
# boot: vcpus=2
# sim: --disk size=512M,discard=on

load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
mkfs.ext4 -q -F /dev/pvda
mkdir -p /mnt/pvd
mount /dev/pvda /mnt/pvd
start=$(date +%s)
for i in $(seq -w 1 64); do
	head -c 4M /dev/urandom >/mnt/pvd/f$i
done
(cd /mnt/pvd && sha256sum f* >/tmp/ext4.sums)
sync
note "wrote 256 MiB in $(($(date +%s) - start)) s; $(df -h /mnt/pvd | tail -1)"
umount /mnt/pvd
e2fsck -fn /dev/pvda >/tmp/fsck.out 2>&1 || { tail -n 20 /tmp/fsck.out; fail "e2fsck found problems (exit $?)"; }
echo 3 >/proc/sys/vm/drop_caches
mount -o ro /dev/pvda /mnt/pvd
(cd /mnt/pvd && sha256sum -c --quiet /tmp/ext4.sums) || fail "checksums differ after remount"
expect_eq "$(ls /mnt/pvd/f* | wc -l)" 64 "files after remount"
umount /mnt/pvd
stats=$(cat /sys/kernel/debug/pvg_storvsc/*/queues)
note "$stats"
expect_eq "$(printf '%s\n' "$stats" | awk 'NR > 1 { e += $4 + $5; f += $9 } END { print e + 0, f + 0 }')" "0 0" "errors+timeouts, in flight"
unload pvg_storvsc
unload pvg_vmbus
