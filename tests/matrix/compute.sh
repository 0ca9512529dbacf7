# Compute and I/O: a multi-threaded compression job (zstd, one thread per vCPU) reading a
# 48 MiB archive from ext4 on the synthetic disk and writing the compressed file back, then
# decompressing it from the disk after a remount and comparing digests.
# timeout: 600
. /payload/tests/lib/matrix.sh
mx_disk
tar -cf $MX_MNT/input.tar /usr/bin /usr/lib/python3* 2>/dev/null
truncate -s 48M $MX_MNT/input.tar
in_sum=$(sha256sum <$MX_MNT/input.tar | cut -d' ' -f1)
umount $MX_MNT
mount -o noatime /dev/pvda $MX_MNT
t0=$(date +%s.%N)
zstd -q -T"$(nproc)" -6 $MX_MNT/input.tar -o $MX_MNT/input.tar.zst || fail "zstd failed"
sync -f $MX_MNT
t1=$(date +%s.%N)
umount $MX_MNT
mount -o noatime /dev/pvda $MX_MNT
out_sum=$(zstd -q -d -c $MX_MNT/input.tar.zst | sha256sum | cut -d' ' -f1)
expect_eq "$out_sum" "$in_sum" "SHA-256 of the archive after compressing to and decompressing from the disk"
size=$(stat -c %s $MX_MNT/input.tar.zst)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
rate=$(awk -v s="$secs" 'BEGIN { printf "%.1f", 48 / (s > 0 ? s : 0.1) }')
note "zstd -T$(nproc) -6: 48 MiB -> $((size / 1024)) KiB in $secs s ($rate MiB/s), round trip verified"
mx_disk_done
mx_done
figure "zstd $rate MiB/s ($secs s), verified"
