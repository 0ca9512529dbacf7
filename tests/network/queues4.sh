# Four vCPUs: the NIC opens the primary channel and three sub-channels (one per vCPU, the
# host offers 4 queues), sets the host's RSS over them, and 32 TCP flows each way use every
# queue (per-queue counters); with max_queues=2 it stays at 2.
# timeout: 400
# boot: vcpus=4
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
wait_until 30 "4 queues" sh -c "ethtool -l $NIC | grep -A4 'Current hardware' | grep -q 'Combined:.*4'"
expect_eq "$(ls -d /sys/class/net/$NIC/queues/tx-* | wc -l)" 4 "transmit queues"
expect_eq "$(host_stat subchannels)" 3 "sub-channels the host granted"
snap() { for q in 0 1 2 3; do echo "$(nic_stat queue_${q}_rx_packets) $(nic_stat queue_${q}_tx_packets)"; done; }
before=$(snap)
# Two rounds of 16 flows each way (a flow's queue is its hash's: 32 flows leave a queue
# idle with a chance of 4 * (3/4)^32, about 1 in 2500).
for round in 1 2; do
	for dir in "" -R; do
		host net bg srv iperf3 -s -1 >/dev/null
		sleep 1
		iperf3 -c 10.99.0.1 -P 16 -t 3 $dir >/tmp/iperf.out || { tail -n 3 /tmp/iperf.out; fail "iperf3 $dir (round $round)"; }
		host net wait srv 100 >/dev/null || true
	done
done
after=$(snap)
note "per queue (rx tx) before: $(echo $before) after: $(echo $after)"
for q in 1 2 3 4; do
	b=($(echo "$before" | sed -n ${q}p)) a=($(echo "$after" | sed -n ${q}p))
	[ $((a[0] - b[0])) -gt 50 ] || fail "queue $((q - 1)) received $((a[0] - b[0])) frames (no spread)"
	[ $((a[1] - b[1])) -gt 50 ] || fail "queue $((q - 1)) sent $((a[1] - b[1])) frames (no spread)"
done
note "host per-channel rx $(host_stat per_channel_rx) tx $(host_stat per_channel_tx)"
ip link set "$NIC" down
unload pvg_netvsc
load pvg_netvsc max_queues=2
nic_wait
wait_until 30 "2 queues with max_queues=2" sh -c "ethtool -l $NIC | grep -A4 'Current hardware' | grep -q 'Combined:.*2'"
unload pvg_netvsc
