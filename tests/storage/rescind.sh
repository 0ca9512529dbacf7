# The host rescinds the storage controller while fio runs at queue depth 32: fio's I/O fails
# with errors (nothing hangs, nothing is lost silently, no oops), the disk goes away; the host
# offers the controller again and a new disk works.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=256M
# also: hostile
requests() { awk 'NR > 1 { s += $2 } END { print s + 0 }' /sys/kernel/debug/pvg_storvsc/*/queues; }
busy() { [ "$(requests)" -gt 100 ]; }

load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
fio --name=load --filename=/dev/pvda --direct=1 --ioengine=libaio --iodepth=32 --rw=randrw \
	--bs=16k --time_based --runtime=120 --output=/tmp/fio.out >/dev/null 2>&1 &
fio_pid=$!
wait_until 60 "fio running on pvda" busy
sleep 2
host sim rescind storage0
for _ in $(seq 600); do kill -0 $fio_pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $fio_pid 2>/dev/null; then
	kill -9 $fio_pid
	fail "fio still runs 60 s after the rescind (I/O hangs)"
fi
rc=0
wait $fio_pid || rc=$?
note "fio exit status $rc after the rescind: $(grep -m1 -E 'err=|error' /tmp/fio.out || true)"
[ "$rc" -ne 0 ] || fail "fio succeeded although the disk was rescinded under it"
wait_until 30 "pvda gone" test ! -e /sys/block/pvda
expect_klog 'pvg_storvsc: .*: the host rescinded the device; closing its channels and failing all I/O' "rescind line"
expect_klog 'pvg_storvsc: .*: removed' "remove line"

host sim offer storage0
wait_until 60 "disk pvda" test -e /sys/block/pvda
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 status=none
dd if=/tmp/pattern of=/dev/pvda bs=1M oflag=direct status=none
dd if=/dev/pvda bs=1M count=4 iflag=direct status=none | cmp - /tmp/pattern || fail "the re-offered disk reads back wrong data"
unload pvg_storvsc
unload pvg_vmbus
