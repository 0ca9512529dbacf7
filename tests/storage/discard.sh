# Discards reach the host: 64 MiB written make the image allocate space, blkdiscard (UNMAP)
# makes it sparse again and the range reads as zeros; write zeroes (blkdiscard -z) zeroes a
# range; fstrim through ext4 gives deleted files' space back to the host.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=256M,discard=on
alloc() { local a; a=$(host sim disk alloc 0) || fail "host: disk alloc: $a"; echo "${a//[!0-9]/}"; }
MiB=$((1024 * 1024))

load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
a0=$(alloc)
dd if=/dev/urandom of=/dev/pvda bs=1M count=64 oflag=direct status=none
a1=$(alloc)
note "image allocation: $a0 bytes at start, $a1 after writing 64 MiB"
[ "$a1" -ge $((64 * MiB)) ] || fail "the host image holds only $a1 bytes after 64 MiB of writes"
blkdiscard /dev/pvda
a2=$(alloc)
note "after blkdiscard: $a2 bytes"
[ "$a2" -lt $((4 * MiB)) ] || fail "the image still holds $a2 bytes after discarding the whole disk"
cmp -n $((64 * MiB)) /dev/pvda /dev/zero || fail "discarded blocks do not read as zeros"

dd if=/dev/urandom of=/dev/pvda bs=1M count=8 seek=16 oflag=direct status=none
blkdiscard -z -o $((16 * MiB)) -l $((8 * MiB)) /dev/pvda
dd if=/dev/pvda bs=1M skip=16 count=8 iflag=direct status=none | cmp -n $((8 * MiB)) - /dev/zero ||
	fail "write zeroes left data behind"

mkfs.ext4 -q -F -E nodiscard /dev/pvda
mkdir -p /mnt/pvd
mount /dev/pvda /mnt/pvd
dd if=/dev/urandom of=/mnt/pvd/big bs=1M count=48 conv=fsync status=none
a3=$(alloc)
rm /mnt/pvd/big
sync
fstrim -v /mnt/pvd
a4=$(alloc)
note "ext4: $a3 bytes with a 48 MiB file, $a4 after rm + fstrim"
[ "$a4" -le $((a3 - 40 * MiB)) ] || fail "fstrim did not give the file's space back ($a3 -> $a4)"
umount /mnt/pvd
unload pvg_storvsc
unload pvg_vmbus
