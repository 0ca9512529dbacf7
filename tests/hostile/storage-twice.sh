# Storage, completion twice: the host sends each of 4 completions (reads and writes) twice.
# Every transfer succeeds once with the right data; each repeat is dropped and counted (the
# slot's generation no longer matches, even after the tag is reused); nothing else is
# affected, the fsync'd file system is intact, modules unload.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=160M --disk size=64M,lun=1
. /payload/tests/lib/storage.sh
pvd_setup
bad=$(pvd_info bad_packets)
host sim storage0 fault twice 4
pvd_round_trip 0
pvd_round_trip 1
wait_until 10 "4 repeated completions counted" test "$(pvd_info bad_packets)" -ge $((bad + 4))
expect_klog 'ignored a packet from the host: stale or repeated completion' "log line for a repeat"
expect_eq "$(pvd_queue_sum 4)" 0 "request errors"
pvd_round_trip 2
pvd_check_fs
pvd_teardown
