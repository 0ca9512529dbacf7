# Receive filters: the packet filter the host applies follows the interface (directed,
# broadcast and the multicast list when up; promiscuous; all-multicast, also when more than
# 32 groups are joined; nothing when down), and frames for another MAC reach the guest only
# in promiscuous mode.
# timeout: 180
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
filter_is() { wait_until 20 "host packet filter $1" host_stat_is filter "$1"; }
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
# IPv6 joins multicast groups: directed | broadcast | multicast (with the list).
filter_is 0xb
# A frame for another MAC: the peer sends to 02:00:00:00:00:09 (a static neighbour).
peer ip neigh replace 10.99.0.9 lladdr 02:00:00:00:00:09 dev pvt0 >/dev/null
rx() { cat /sys/class/net/$NIC/statistics/rx_packets; }
filtered=$(host_stat rx_filtered) r0=$(rx)
host net run ping -c 3 -i 0.3 -W 1 10.99.0.9 >/dev/null || true
[ $(($(host_stat rx_filtered) - filtered)) -ge 3 ] || fail "the host did not filter frames for another MAC"
ip link set "$NIC" promisc on
filter_is 0x20
r1=$(rx)
host net run ping -c 3 -i 0.3 -W 1 10.99.0.9 >/dev/null || true
[ $(($(rx) - r1)) -ge 3 ] || fail "promiscuous: frames for another MAC did not arrive ($(($(rx) - r1)))"
ip link set "$NIC" promisc off
filter_is 0xb
ip link set "$NIC" allmulticast on
filter_is 0xd
ip link set "$NIC" allmulticast off
filter_is 0xb
# More groups than the host's list holds: all multicast.
for i in $(seq 10 49); do ip maddr add "01:00:5e:00:00:$i" dev "$NIC"; done
filter_is 0xd
for i in $(seq 10 49); do ip maddr del "01:00:5e:00:00:$i" dev "$NIC"; done
filter_is 0xb
ip link set "$NIC" down
filter_is 0x0
peer ip neigh del 10.99.0.9 dev pvt0 >/dev/null
unload pvg_netvsc
