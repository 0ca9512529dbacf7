# Flow control under pressure: with the smallest rings (64 KiB) and 4 send slots per queue,
# the transmit queues stop and wake again (tx_busy counts the stops) and receive completions
# wait for ring space, while TCP runs both ways on both queues and 64 MiB still arrive intact;
# then the module unloads in the middle of traffic.
# timeout: 400
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
load pvg_netvsc ring_kb=64 tx_slots=4
nic_wait
nic_up 10.99.0.2/24
host net bg srv iperf3 -s -1 >/dev/null
sleep 1
iperf3 -c 10.99.0.1 -P 4 -t 5 --bidir >/tmp/iperf.out || { tail -n 3 /tmp/iperf.out; fail "iperf3 --bidir"; }
host net wait srv 60 >/dev/null || true
note "$(grep -E 'SUM.*(sender|receiver)' /tmp/iperf.out | tr -s ' ' | head -4 | tr '\n' ';')"
busy=$(nic_stat tx_busy)
[ "$busy" -gt 0 ] || fail "the transmit queues never stopped with 4 send slots (tx_busy 0)"
note "tx_busy $busy, rx_completions_deferred $(nic_stat rx_completions_deferred), rx_completions_lost $(nic_stat rx_completions_lost)"
expect_eq "$(nic_stat rx_completions_lost)" 0 "receive completions lost"
expect_eq "$(nic_stat tx_dropped)" 0 "frames dropped on transmit"
host net bg src netpeer source 5041 67108864 41 >/dev/null
sleep 1
got=$(sha256sum </dev/tcp/10.99.0.1/5041 | cut -d' ' -f1)
src=$(host net wait src 100) || fail "netpeer source: $src"
expect_match "$src" "sha256=$got" "SHA-256 of 64 MiB received under pressure"
# Unload while TCP runs both ways.
host net bg srv iperf3 -s -1 >/dev/null
sleep 1
iperf3 -c 10.99.0.1 -P 2 -t 60 --bidir >/dev/null 2>&1 &
ipid=$!
busy() { [ "$(nic_stat queue_0_tx_packets)" -gt 3000 ] || [ "$(nic_stat queue_1_tx_packets)" -gt 3000 ]; }
wait_until 60 "traffic" busy
unload pvg_netvsc
kill -INT $ipid 2>/dev/null || true
wait $ipid || true
host net kill srv >/dev/null || true
expect_klog "pvg_netvsc: .*: removed$" "remove line"
