# Storage, data length larger than asked: the host's completion of a read, then of a write,
# claims 4 KiB more than the request's transfer length. Each such request fails with an I/O
# error (the claim is not believed or used); the next transfers work, the fsync'd file system
# is intact, modules unload.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=160M --disk size=64M,lun=1
. /payload/tests/lib/storage.sh
pvd_setup
pvd_round_trip 0
host sim storage0 fault overlong 1
pvd_expect_error "read with an overlong transfer count" 'Input/output error' pvd_read 0
host sim storage0 fault overlong 1
pvd_expect_error "write with an overlong transfer count" 'Input/output error' pvd_write 1
expect_klog 'ignored a packet from the host: completion of opcode 0x28: ' "log line for the read"
expect_klog 'ignored a packet from the host: completion of opcode 0x2a: ' "log line for the write"
expect_eq "$(pvd_info dead)" 0 "controller dead"
pvd_round_trip 2
pvd_check_fs
pvd_teardown
