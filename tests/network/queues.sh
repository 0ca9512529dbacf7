# Multi-queue: with 2 vCPUs the NIC opens the primary channel and one sub-channel (the host
# offers 4 queues), `ethtool -l` shows 2, and 16 TCP flows each way spread over both queues
# (per-queue counters in `ethtool -S` and the host's per-channel counters).
# timeout: 300
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
wait_until 30 "2 queues" sh -c "ethtool -l $NIC | grep -A4 'Current hardware' | grep -q 'Combined:.*2'"
expect_eq "$(ls -d /sys/class/net/$NIC/queues/tx-* | wc -l)" 2 "transmit queues"
expect_eq "$(ls -d /sys/class/net/$NIC/queues/rx-* | wc -l)" 2 "receive queues"
expect_klog "pvg_netvsc: $NIC: 2 queue\(s\)" "queue count line"
snap() { for q in 0 1; do echo "$(nic_stat queue_${q}_rx_packets) $(nic_stat queue_${q}_tx_packets)"; done; }
before=$(snap)
host net bg srv iperf3 -s -1 >/dev/null
sleep 1
iperf3 -c 10.99.0.1 -P 16 -t 5 >/tmp/iperf.out || { tail -n 3 /tmp/iperf.out; fail "iperf3 to the peer"; }
host net wait srv 60 >/dev/null
host net bg srv iperf3 -s -1 >/dev/null
sleep 1
iperf3 -c 10.99.0.1 -P 16 -t 5 -R >/tmp/iperf-r.out || { tail -n 3 /tmp/iperf-r.out; fail "iperf3 from the peer"; }
host net wait srv 60 >/dev/null
after=$(snap)
note "per queue (rx tx) before: $(echo $before) after: $(echo $after)"
for q in 1 2; do
	b=($(echo "$before" | sed -n ${q}p)) a=($(echo "$after" | sed -n ${q}p))
	[ $((a[0] - b[0])) -gt 100 ] || fail "queue $((q - 1)) received $((a[0] - b[0])) frames (no spread)"
	[ $((a[1] - b[1])) -gt 100 ] || fail "queue $((q - 1)) sent $((a[1] - b[1])) frames (no spread)"
done
per=$(host_stat per_channel_rx)
note "host per-channel rx $per tx $(host_stat per_channel_tx)"
echo "$per" | awk -F/ '{ exit !($1 > 0 && $2 > 0) }' || fail "the host did not see frames on both channels: $per"
ip link set "$NIC" down
unload pvg_netvsc
