# Data survives a power cut, part 1 of 2 (persist-2.sh boots a new guest on the same image).
# The disk's host image has a volatile write cache (volatile=on: what the guest has not
# flushed is lost when the power goes). On ext4 (no periodic journal commit, no background
# inode-table zeroing, so only the guest's own fsyncs flush): 32 files of random data, each
# fsync'd, and their checksums (fsync'd, directory too); then a file written but never
# synced and an unsynced O_DIRECT overwrite of the first file. The host cuts the disk's power,
# rolling back every unflushed write; the guest gets I/O errors (no hang, no oops), unmounts
# and unloads. The image stays in the test run's directory for part 2.
# timeout: 600
# boot: vcpus=2
# also: hostile
# sim: --disk size=512M,path={workdir}/../persist.img,volatile=on
MiB=$((1024 * 1024))

load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
mkfs.ext4 -q -F /dev/pvda
mkdir -p /mnt/pvd
mount -o commit=300,noinit_itable /dev/pvda /mnt/pvd
mkdir /mnt/pvd/synced
for i in $(seq -w 1 32); do
	head -c 4M /dev/urandom >/mnt/pvd/synced/f$i
	sync /mnt/pvd/synced/f$i
done
(cd /mnt/pvd/synced && sha256sum f* >/mnt/pvd/synced.sums)
sync /mnt/pvd/synced.sums /mnt/pvd/synced /mnt/pvd
note "32 files of 4 MiB written and fsync'd; $(df -h /mnt/pvd | tail -1)"

# Not flushed: a new file, and an overwrite of f01 in place (O_DIRECT: it reaches the host
# at once, but no flush follows).
head -c 16M /dev/urandom >/mnt/pvd/unsynced
dd if=/dev/urandom of=/mnt/pvd/synced/f01 bs=1M count=4 conv=notrunc oflag=direct status=none
[ "$(sha256sum </mnt/pvd/synced/f01 | cut -d' ' -f1)" != "$(awk '$2 == "f01" { print $1 }' /mnt/pvd/synced.sums)" ] ||
	fail "f01 was not overwritten"
r=$(host sim disk power-cut 0) || fail "host: disk power-cut: $r"
note "host: $r"
lost=$(printf '%s\n' "$r" | sed -n 's/.*; \([0-9]*\) unflushed.*/\1/p')
[ "${lost:-0}" -ge $((4 * MiB / 4096)) ] || fail "the power cut rolled back only ${lost:-0} blocks (want the 4 MiB overwrite at least)"

rc=0
timeout 120 dd if=/dev/pvda of=/dev/null bs=4k count=1 skip=1000 iflag=direct status=none || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "read from a disk without power: exit $rc (want an I/O error)"
timeout 120 umount /mnt/pvd || fail "umount after the power cut failed or hung (exit $?)"
note "kernel: $(klog_since_begin | grep -cE 'I/O error|EXT4-fs error|JBD2') I/O error lines after the cut"
unload pvg_storvsc
unload pvg_vmbus
expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing left in the VMBus core"
