# Storage, sub-channels refused: the host claims multi-channel support but answers
# CREATE_SUB_CHANNELS with an error (then, on the next load, with success but never offers
# one). The driver says so, runs one hardware queue on the primary channel, and fio's verify
# run and the file system work on it; when the host offers sub-channels again the next load
# gets one queue per vCPU. Modules unload each time.
# timeout: 400
# boot: vcpus=2
# sim: --disk size=160M --disk size=64M,lun=1
. /payload/tests/lib/storage.sh
queues() { ls /sys/block/pvda/mq | wc -l; }
# fio writes the scratch region beyond the file system (mounted on the same disk).
verify() {
	fio --name=verify --filename=/dev/pvda --direct=1 --ioengine=libaio --iodepth=32 --numjobs=2 \
		--rw=randwrite --bs=16k --allow_mounted_write=1 --offset=96M --size=8M --offset_increment=8M --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --group_reporting --output=/tmp/fio.out ||
		{ tail -n 20 /tmp/fio.out; fail "fio verify on $1 failed"; }
	grep -q 'err= 0' /tmp/fio.out || fail "fio on $1 reported errors: $(grep 'err=' /tmp/fio.out)"
}

host sim storage0 subchannels refuse
pvd_setup
expect_klog 'host refused 1 sub-channels \(status 0x[0-9a-f]+\); using the primary channel only' "refusal line"
expect_eq "$(queues)" 1 "hardware queues with sub-channels refused"
expect_eq "$(pvd_info sub_channels_offered)" 0 "sub-channels offered"
verify "one queue"
pvd_check_fs
unload pvg_storvsc

host sim storage0 subchannels silent
load pvg_storvsc ctl_timeout_ms=3000
wait_until 60 "disk pvda" test -e /sys/block/pvda
expect_klog 'VSTOR .*, 1 queue\(s\) of [0-9]+ tags \(0 of 1 sub-channels offered\)' "controller line without the promised sub-channel"
expect_eq "$(queues)" 1 "hardware queues with no sub-channel offered"
pvd_round_trip 0
mount -o noatime /dev/pvda $PVD_MNT
pvd_check_fs
unload pvg_storvsc

host sim storage0 subchannels offer
load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
expect_eq "$(queues)" 2 "hardware queues once the host offers sub-channels"
verify "two queues"
pvd_teardown
