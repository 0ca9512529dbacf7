# Bad input from the host: a transfer-page packet naming another page set (0xbeef).
# The NIC drops it, counts it (ethtool -S rx_bad_range, +1) and keeps working.
# timeout: 120
# boot: vcpus=2
# sim: --nic tap=pvt0
# also: hostile
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
ping -c 1 -W 5 10.99.0.1 >/dev/null || fail "ping before the bad input"
before=$(nic_stat rx_bad_range)
expect_eq "$(host sim dev nic0 inject xfer-wrong-pageset)" "injected xfer-wrong-pageset" "inject"
wait_until 10 "rx_bad_range to grow by 1" stat_ge rx_bad_range $((before + 1))
expect_klog "pvg_netvsc: .*dropped input from the host" "drop line"
ping -c 3 -W 5 10.99.0.1 >/dev/null || fail "ping after the bad input"
peer ping -c 2 -W 5 10.99.0.2 >/dev/null
note "rx_bad_range: $before -> $(nic_stat rx_bad_range)"
ip link set "$NIC" down
unload pvg_netvsc
