# Storage, a LUN of size 0: the host offers LUN 1 with no capacity at boot and hot-adds LUN 2
# the same way (READ CAPACITY answers the wrapped last LBA 2^64-1). Each is refused as a disk
# with a log line saying why (no disk, no division by zero, no oops); LUN 0 works throughout, its
# fsync'd file system is intact, modules unload.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=160M --disk size=0,lun=1
. /payload/tests/lib/storage.sh
pvd_setup
expect_klog 'LUN 1: unusable READ CAPACITY answer \(capacity overflows\); not used as a disk' "refusal of LUN 1"
[ ! -e /sys/block/pvdb ] || fail "a disk was made for the size-0 LUN 1: $(cat /sys/block/pvdb/size) sectors"
host sim disk add size=0,lun=2
wait_until 30 "the refusal of LUN 2" sh -c "dmesg | grep -q 'LUN 2: unusable READ CAPACITY answer'"
note "$(dmesg | grep -m1 'LUN 2: unusable READ CAPACITY answer' | sed 's/^\[[^]]*\] //')"
expect_eq "$(ls -d /sys/block/pvd* | wc -l)" 1 "disks (pvda only)"
pvd_round_trip 0
host sim disk remove 2
pvd_check_fs
pvd_teardown
