# Requests the host does not answer time out and never hang: (1) the host holds LUN 0's I/O
# but answers resets: the timed-out read fails after RESET_LUN and the disk works again once
# the host answers; (2) the host answers nothing at all, resets included: the driver closes
# the channels, fails everything in flight with -EIO, marks the disk dead, and unloads cleanly.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=64M
# also: hostile
read_one() { timeout 120 dd if=/dev/pvda of=/dev/null bs=4k count=1 skip=$1 iflag=direct status=none; }

load pvg_storvsc io_timeout_s=5 reset_timeout_ms=2000
wait_until 60 "disk pvda" test -e /sys/block/pvda
read_one 0 || fail "read before the stall"

host sim disk stall 0 on
start=$(date +%s)
rc=0
read_one 100 || rc=$?
took=$(($(date +%s) - start))
note "read against a stalled LUN: exit $rc after $took s"
[ "$rc" -ne 124 ] || fail "the read hung for 120 s"
expect_klog 'pvg_storvsc: .*timed out after 5 s; resetting' "timeout line"
host sim disk stall 0 off
read_one 200 || fail "read after the host answers again"
grep -q '^dead 0$' /sys/kernel/debug/pvg_storvsc/*/info || fail "controller dead after an answered reset"

host sim storage0 mute on
rc=0
read_one 300 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "read against a mute host: exit $rc (want an I/O error, not success or a hang)"
expect_klog 'pvg_storvsc: .*: the host answered neither RESET_LUN nor RESET_BUS; closing its channels' "kill line"
grep -q '^dead 1$' /sys/kernel/debug/pvg_storvsc/*/info || fail "controller not marked dead"
# A dead disk (blk_mark_disk_dead) has no capacity left: reads fail or find nothing.
expect_eq "$(cat /sys/block/pvda/size)" 0 "sectors of the dead disk"
rc=0
timeout 120 dd if=/dev/pvda of=/tmp/dead bs=4k count=1 iflag=direct status=none || rc=$?
got=$(stat -c %s /tmp/dead 2>/dev/null || echo 0)
[ "$rc" -ne 124 ] && { [ "$rc" -ne 0 ] || [ "$got" = 0 ]; } || fail "I/O to a dead disk: exit $rc, $got bytes read"
host sim storage0 mute off
unload pvg_storvsc
unload pvg_vmbus
