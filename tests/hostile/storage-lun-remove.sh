# Storage, a LUN removed under load: fio runs at queue depth 32 on pvdb (LUN 1) when the host
# removes LUN 1. fio's I/O fails and it ends (no hang), pvdb goes away; pvda on the same
# controller keeps working and its fsync'd file system is intact; the host adds LUN 1 back
# and the new disk works; modules unload.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=160M --disk size=64M,lun=1
. /payload/tests/lib/storage.sh
busy() { [ "$(pvd_queue_sum 2)" -gt $((start + 100)) ]; }
pvd_setup
wait_until 30 "disk pvdb" test -e /sys/block/pvdb
start=$(pvd_queue_sum 2)
fio --name=load --filename=/dev/pvdb --direct=1 --ioengine=libaio --iodepth=32 --rw=randrw \
	--bs=16k --time_based --runtime=120 --output=/tmp/fio.out >/dev/null 2>&1 &
fio_pid=$!
wait_until 60 "fio running on pvdb" busy
sleep 1
host sim disk remove 1
for _ in $(seq 600); do kill -0 $fio_pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $fio_pid 2>/dev/null; then
	kill -9 $fio_pid
	fail "fio still runs 60 s after LUN 1 was removed (I/O hangs)"
fi
rc=0
wait $fio_pid || rc=$?
note "fio exit status $rc after the removal: $(grep -m1 -E 'err=|error' /tmp/fio.out || true)"
[ "$rc" -ne 0 ] || fail "fio succeeded although its disk was removed under it"
wait_until 30 "pvdb gone" test ! -e /sys/block/pvdb
expect_klog 'pvg_storvsc: .*: LUN 1 \(pvdb\) removed' "remove line"
expect_eq "$(pvd_info dead)" 0 "controller dead"
pvd_round_trip 0
host sim disk add size=64M,lun=1
wait_until 60 "pvdb back" test -e /sys/block/pvdb
dd if=/dev/urandom of=/tmp/pattern bs=1M count=2 status=none
dd if=/tmp/pattern of=/dev/pvdb bs=1M oflag=direct status=none
dd if=/dev/pvdb bs=1M count=2 iflag=direct status=none | cmp - /tmp/pattern || fail "the re-added disk reads back wrong data"
pvd_check_fs
pvd_teardown
