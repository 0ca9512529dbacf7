# Bad input from the host: an RNDIS status indication of an unknown type (0x40020099).
# The NIC drops it, counts it (ethtool -S rx_status_unknown, +1) and keeps working.
# timeout: 120
# boot: vcpus=2
# sim: --nic tap=pvt0
# also: hostile
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
ping -c 1 -W 5 10.99.0.1 >/dev/null || fail "ping before the bad input"
before=$(nic_stat rx_status_unknown)
expect_eq "$(host sim dev nic0 inject status-unknown)" "injected status-unknown" "inject"
wait_until 10 "rx_status_unknown to grow by 1" stat_ge rx_status_unknown $((before + 1))
expect_klog "pvg_netvsc: .*dropped input from the host" "drop line"
ping -c 3 -W 5 10.99.0.1 >/dev/null || fail "ping after the bad input"
peer ping -c 2 -W 5 10.99.0.2 >/dev/null
note "rx_status_unknown: $before -> $(nic_stat rx_status_unknown)"
ip link set "$NIC" down
unload pvg_netvsc
