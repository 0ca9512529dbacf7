# The host rescinds the NIC while TCP runs both ways: the carrier goes off, the interface
# goes away with everything in flight released, nothing hangs, no oops (TCP itself keeps
# retrying into the void until stopped); the host offers the NIC again and the new
# interface carries TCP and ping.
# timeout: 300
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
rescinded=0
trap '[ $rescinded = 0 ] || host sim offer nic0 >/dev/null' EXIT
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24
host net bg srv iperf3 -s -1 >/dev/null
sleep 1
iperf3 -c 10.99.0.1 -t 120 --bidir >/tmp/iperf.out 2>&1 &
ipid=$!
busy() { [ "$(nic_stat queue_0_tx_packets)" -gt 2000 ] || [ "$(nic_stat queue_1_tx_packets)" -gt 2000 ]; }
wait_until 60 "traffic on $NIC" busy
old=$NIC
host sim rescind nic0
rescinded=1
wait_until 30 "$old gone" test ! -e "/sys/class/net/$old"
expect_klog "pvg_netvsc: .*: removed \(rescinded by the host\)" "remove line"
kill -0 $ipid 2>/dev/null && kill -INT $ipid
for _ in $(seq 100); do kill -0 $ipid 2>/dev/null || break; sleep 0.1; done
! kill -0 $ipid 2>/dev/null || { kill -9 $ipid; fail "iperf3 did not stop on SIGINT after the rescind"; }
wait $ipid || true
host net kill srv >/dev/null || true
host sim offer nic0
rescinded=0
nic_wait
nic_up 10.99.0.2/24
ping -c 3 -W 5 10.99.0.1 >/dev/null || fail "ping on the re-offered NIC"
peer ping -c 3 -W 5 10.99.0.2 >/dev/null
host net bg srv iperf3 -s -1 >/dev/null
sleep 1
iperf3 -c 10.99.0.1 -t 3 >/tmp/iperf2.out 2>&1 || { tail -n 3 /tmp/iperf2.out; fail "iperf3 on the re-offered NIC"; }
note "re-offered NIC: $(grep -m1 receiver /tmp/iperf2.out | tr -s ' ')"
host net wait srv 30 >/dev/null || true
ip link set "$NIC" down
unload pvg_netvsc
