# fio writes random blocks of mixed sizes (4 KiB to 256 KiB: multi-page GPA lists) with crc32c
# checksums from 4 jobs on 4 vCPUs at queue depth 32 each, then reads and verifies all of it;
# the load spreads over the 4 hardware queues (one channel each) without errors or retries.
# timeout: 600
# boot: vcpus=4
# sim: --disk size=256M

load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
expect_eq "$(ls /sys/block/pvda/mq | wc -l)" 4 "hardware queues on 4 vCPUs"
fio --name=verify --filename=/dev/pvda --direct=1 --ioengine=libaio --iodepth=32 --numjobs=4 \
	--cpus_allowed=0-3 --cpus_allowed_policy=split --rw=randwrite --bssplit=4k/50:64k/30:256k/20 \
	--size=40M --offset_increment=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--group_reporting --output=/tmp/fio.out || { tail -n 30 /tmp/fio.out; fail "fio failed"; }
grep -E 'WRITE:|READ:|err=' /tmp/fio.out | sed 's/^ *//' || true
grep -q 'err= 0' /tmp/fio.out || fail "fio reported errors: $(grep 'err=' /tmp/fio.out)"
stats=$(cat /sys/kernel/debug/pvg_storvsc/*/queues)
note "$stats"
used=$(printf '%s\n' "$stats" | awk 'NR > 1 && $2 > 0' | wc -l)
[ "$used" -ge 2 ] || fail "only $used of 4 queues carried requests"
expect_eq "$(printf '%s\n' "$stats" | awk 'NR > 1 { e += $4 + $5 + $7; f += $9 } END { print e + 0, f + 0 }')" "0 0" "errors+timeouts+retries, in flight"
expect_eq "$(printf '%s\n' "$stats" | awk 'NR > 1 { r += $2; c += $3 } END { print (r == c) }')" 1 "every request completed"
unload pvg_storvsc
unload pvg_vmbus
