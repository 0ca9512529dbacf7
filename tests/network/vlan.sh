# 802.1Q offload both ways, on the host's loopback backend (it returns every frame with the
# MAC addresses swapped): a frame sent on VLAN 5 leaves as an untagged frame with the tag in
# its per-packet info, the host inserts the tag, loops the frame back, strips the tag into
# the receive per-packet info, and the guest hands it to the VLAN 5 interface (and not to
# VLAN 6). Small frames (send sections) and 7000-byte ones (page lists at MTU 9000).
# timeout: 200
# boot: vcpus=2
# sim: --nic loopback
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
ip link set "$NIC" mtu 9000
ip link set "$NIC" up
wait_until 30 "carrier on $NIC" grep -qx 1 "/sys/class/net/$NIC/carrier"
for id in 5 6; do
	ip link add link "$NIC" name "v$id" type vlan id "$id"
	sysctl -q -w "net.ipv6.conf.v$id.disable_ipv6=1"   # no background traffic of its own
	ip addr add "10.98.$id.2/24" dev "v$id"
	ip link set "v$id" up
	ip neigh replace "10.98.$id.3" lladdr 02:00:00:00:00:33 dev "v$id"
done
rx() { cat "/sys/class/net/$1/statistics/rx_packets"; }
r5=$(rx v5) r6=$(rx v6)
ping -c 5 -i 0.2 -W 1 10.98.5.3 >/dev/null 2>&1 || true
ping -c 5 -i 0.2 -W 1 -s 7000 10.98.5.3 >/dev/null 2>&1 || true
d5=$(($(rx v5) - r5)) d6=$(($(rx v6) - r6))
note "VLAN 5 received $d5 frames back for the 10 it sent, VLAN 6 received $d6"
[ "$d5" -eq 10 ] || fail "the looped-back frames did not come back on VLAN 5 ($d5)"
expect_eq "$d6" 0 "frames on VLAN 6"
[ "$(nic_stat tx_page_lists)" -ge 5 ] || fail "the 7000-byte frames did not go as page lists"
ip link del v5
ip link del v6
ip link set "$NIC" down
unload pvg_netvsc
