# Storage, nonsense sense data: the host fails a read with CHECK CONDITION, garbage sense bytes
# and a sense length of 255 (beyond the 20-byte buffer), then does the same to 3 writes in a
# row. Each fails with an I/O error (garbage sense is no reason to retry), nothing reads past
# the sense buffer, the next transfers work, the fsync'd file system is intact, modules unload.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=160M --disk size=64M,lun=1
. /payload/tests/lib/storage.sh
pvd_setup
pvd_round_trip 0
host sim storage0 fault bad-sense 1
pvd_expect_error "read failed with nonsense sense" 'Input/output error' pvd_read 0
host sim storage0 fault bad-sense 3
for b in 1 2 3; do
	pvd_expect_error "write $b failed with nonsense sense" 'Input/output error' pvd_write $b
done
expect_klog 'opcode 0x28 failed: srb status 0x84, scsi status 0x02' "log line for the read"
expect_eq "$(pvd_queue_sum 7)" 0 "retries"
expect_eq "$(pvd_info dead)" 0 "controller dead"
pvd_round_trip 4
pvd_check_fs
pvd_teardown
