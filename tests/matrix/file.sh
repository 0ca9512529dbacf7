# File serving: fio's mixed random reads and writes (70/30, 4 KiB to 256 KiB, queue depth 16,
# one job per vCPU) on files in ext4 on the synthetic disk, every written block verified by
# crc32c; then a tree of files copied onto the disk, the file system unmounted and mounted
# again (so reads come from the disk, not the page cache) and compared with the original.
# timeout: 600
. /payload/tests/lib/matrix.sh
mx_disk
jobs=$(nproc)
fio --name=fileserve --directory=$MX_MNT --numjobs="$jobs" --size=24M --rw=randrw --rwmixread=70 \
	--bssplit=4k/60:64k/30:256k/10 --ioengine=libaio --iodepth=16 --direct=1 \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
	--output-format=json --output=/tmp/fio.json || { tail -n 20 /tmp/fio.json; fail "fio failed"; }
read -r err rbw wbw riops wiops <<<"$(python3 -c '
import json
j = json.load(open("/tmp/fio.json"))["jobs"][0]
print(j["error"], j["read"]["bw"], j["write"]["bw"], round(j["read"]["iops"]), round(j["write"]["iops"]))')"
expect_eq "$err" 0 "fio's error status"
[ "$rbw" -gt 0 ] && [ "$wbw" -gt 0 ] || fail "fio moved no data (read $rbw KiB/s, write $wbw KiB/s)"
note "fio: $jobs jobs, read $riops IOPS $rbw KiB/s, write $wiops IOPS $wbw KiB/s, all writes verified"

mkdir $MX_MNT/tree
cp -a /usr/bin /usr/sbin $MX_MNT/tree/
umount $MX_MNT
mount -o noatime /dev/pvda $MX_MNT
diff -r --no-dereference /usr/bin $MX_MNT/tree/bin >/tmp/diff.out 2>&1 && diff -r --no-dereference /usr/sbin $MX_MNT/tree/sbin >>/tmp/diff.out 2>&1 ||
	{ head -n 5 /tmp/diff.out; fail "the copied tree differs after a remount"; }
files=$(find $MX_MNT/tree -type f | wc -l)
note "copied tree: $files files identical after a remount"
mx_disk_done
mx_done
figure "r $((rbw / 1024)) MiB/s w $((wbw / 1024)) MiB/s ($riops+$wiops IOPS), verified"
