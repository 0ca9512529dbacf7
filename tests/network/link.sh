# The synthetic NIC comes up as an Ethernet device with the host's MAC and its link state;
# the link follows the host's indications (down, up); ping works both ways (IPv4 and IPv6).
# timeout: 180
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
expect_eq "$(cat /sys/class/net/$NIC/address)" "00:15:5d:00:00:10" "MAC address of $NIC"
expect_eq "$(cat /sys/class/net/$NIC/type)" 1 "ARPHRD type (Ethernet)"
expect_klog "pvg_netvsc: .*: $NIC is 00:15:5d:00:00:10, NVSP 6.1 NDIS 6.30, link up" "bring-up line"
nic_up 10.99.0.2/24 fd99:0::2/64
expect_eq "$(host_stat link)" up "host link state"
ping -c 3 -W 5 10.99.0.1 >/tmp/ping.out || { cat /tmp/ping.out; fail "ping from the guest to the peer"; }
note "guest -> peer: $(tail -n 1 /tmp/ping.out)"
out=$(peer ping -c 3 -W 5 10.99.0.2)
note "peer -> guest: $(printf '%s\n' "$out" | tail -n 1)"
ping -6 -c 3 -W 5 fd99:0::1 >/tmp/ping6.out || { cat /tmp/ping6.out; fail "ping over IPv6"; }

# The host takes the link down and up: the carrier follows.
host sim dev nic0 link down
wait_until 20 "carrier off after 'link down'" grep -qx 0 "/sys/class/net/$NIC/carrier"
! ping -c 1 -W 2 10.99.0.1 >/dev/null 2>&1 || fail "ping worked with the link down"
host sim dev nic0 link up
wait_until 20 "carrier on after 'link up'" grep -qx 1 "/sys/class/net/$NIC/carrier"
ping -c 2 -W 5 10.99.0.1 >/dev/null || fail "ping after the link came back"
expect_klog "pvg_netvsc: .*$NIC: link down" "link down line"
host sim dev nic0 speed 25000
wait_until 20 "speed 25000 Mb/s" sh -c "ethtool $NIC | grep -q 'Speed: 25000Mb/s'"
ip link set "$NIC" down
unload pvg_netvsc
