# ethtool: driver info (-i), offloads (-k, and turning TSO off and on), channels (-l), rings
# (-g: the receive and send sections) and real counters (-S: per queue, moving with traffic).
# timeout: 180
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
info=$(ethtool -i "$NIC")
expect_match "$info" "^driver: pvg_netvsc$" "ethtool -i driver"
expect_match "$info" "firmware-version: NVSP 6.1 NDIS 6.30" "ethtool -i firmware"
# The device's instance GUID, cut to ethtool's 32 bytes as Linux's hv_netvsc does.
expect_match "$info" "bus-info: 5e7c0000-4e1c-4f5a-9d10-0000000$" "ethtool -i bus-info"
k=$(ethtool -k "$NIC")
for f in "rx-checksumming: on" "tx-checksum-ip-generic: off" "tx-checksum-ipv4: on" "tx-checksum-ipv6: on" \
	"scatter-gather: on" "tcp-segmentation-offload: on" "receive-hashing: on" "rx-vlan-offload: on" "tx-vlan-offload: on"; do
	printf '%s\n' "$k" | grep -q "^[[:space:]]*$f" || fail "ethtool -k: no '$f'"
done
l=$(ethtool -l "$NIC")
expect_match "$(echo "$l" | grep -A4 'Pre-set' | grep Combined)" "Combined:[[:space:]]+2" "ethtool -l maximum"
g=$(ethtool -g "$NIC")
expect_match "$(echo "$g" | grep -A4 'Pre-set' | grep '^RX:')" "RX:[[:space:]]+1820" "ethtool -g receive sections (16 MiB / 9216)"
expect_match "$(echo "$g" | grep -A4 'Pre-set' | grep '^TX:')" "TX:[[:space:]]+170" "ethtool -g send sections (1 MiB / 6144)"
expect_match "$(ethtool "$NIC")" "Link detected: yes" "ethtool link"
expect_match "$(ethtool "$NIC")" "Speed: [0-9]+Mb/s" "ethtool speed"
sum() { ethtool -S "$NIC" | awk -v s="$1" '$1 ~ "^queue_[0-9]+_" s ":$" { t += $2 } END { print t + 0 }'; }
tx0=$(sum tx_packets) rx0=$(sum rx_packets) txb0=$(sum tx_bytes)
ping -c 10 -i 0.2 -W 5 10.99.0.1 >/dev/null || fail "ping"
tx1=$(sum tx_packets) rx1=$(sum rx_packets) txb1=$(sum tx_bytes)
[ $((tx1 - tx0)) -ge 10 ] || fail "ethtool -S tx_packets moved by $((tx1 - tx0)) for 10 pings"
[ $((rx1 - rx0)) -ge 10 ] || fail "ethtool -S rx_packets moved by $((rx1 - rx0)) for 10 replies"
[ $((txb1 - txb0)) -ge 980 ] || fail "ethtool -S tx_bytes moved by $((txb1 - txb0))"
expect_match "$(ip -s link show "$NIC")" "RX:" "ip -s link"
[ "$(cat /sys/class/net/$NIC/statistics/tx_packets)" -ge "$tx1" ] || fail "ndo_get_stats64 tx_packets below ethtool's"
# TSO off: large sends are segmented by the stack (no page-list super-frames), and back on.
ethtool -K "$NIC" tso off
expect_match "$(ethtool -k "$NIC")" "tcp-segmentation-offload: off" "TSO off"
host net bg src netpeer sink 5021 >/dev/null
sleep 1
head -c 8388608 /dev/zero >/dev/tcp/10.99.0.1/5021
out=$(host net wait src 60) || fail "sink: $out"
expect_match "$out" "bytes=8388608 sha256=2daeb1f36095b44b318410b3f4e8b5d989dcc7bb023d1426c492dab0a3053e74" "8 MiB of zeros without TSO"
ethtool -K "$NIC" tso on
expect_match "$(ethtool -k "$NIC")" "tcp-segmentation-offload: on" "TSO on"
ip link set "$NIC" down
unload pvg_netvsc
