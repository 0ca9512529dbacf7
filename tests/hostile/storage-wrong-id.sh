# Storage, wrong request id: the host completes a read under an id the guest never used and
# never sends the real completion. The stray completion is dropped and counted, the read times
# out (io_timeout_s=5), the driver resets the LUN and fails that read (ETIMEDOUT or EIO); the
# controller stays up, other I/O works, the fsync'd file system is intact, modules unload.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=160M --disk size=64M,lun=1
. /payload/tests/lib/storage.sh
pvd_setup io_timeout_s=5 reset_timeout_ms=2000
pvd_round_trip 0
bad=$(pvd_info bad_packets)
host sim storage0 fault wrong-id 1
pvd_expect_error "read completed under a wrong id" 'Input/output error|timed out' pvd_read 1
expect_klog 'ignored a packet from the host: (stale or repeated completion|transaction id)' "log line for the stray completion"
expect_klog 'timed out after 5 s; resetting' "timeout line"
[ "$(pvd_info bad_packets)" -gt "$bad" ] || fail "the stray completion was not counted"
expect_eq "$(pvd_info dead)" 0 "controller dead"
pvd_round_trip 2
pvd_check_fs
pvd_teardown
