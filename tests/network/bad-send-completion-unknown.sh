# Bad input from the host: a send completion for a transaction id the guest never used.
# The NIC drops it, counts it (ethtool -S tx_bad_completion, +1) and keeps working.
# timeout: 120
# boot: vcpus=2
# sim: --nic tap=pvt0
# also: hostile
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
ping -c 1 -W 5 10.99.0.1 >/dev/null || fail "ping before the bad input"
before=$(nic_stat tx_bad_completion)
expect_eq "$(host sim dev nic0 inject send-completion-unknown)" "injected send-completion-unknown" "inject"
wait_until 10 "tx_bad_completion to grow by 1" stat_ge tx_bad_completion $((before + 1))
expect_klog "pvg_netvsc: .*dropped input from the host" "drop line"
ping -c 3 -W 5 10.99.0.1 >/dev/null || fail "ping after the bad input"
peer ping -c 2 -W 5 10.99.0.2 >/dev/null
note "tx_bad_completion: $before -> $(nic_stat tx_bad_completion)"
ip link set "$NIC" down
unload pvg_netvsc
