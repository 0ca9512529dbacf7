# Networking: iperf3 over TCP through the synthetic NIC in both directions (guest to peer,
# then peer to guest with -R), 5 s each.
# timeout: 300
. /payload/tests/lib/matrix.sh
mx_nic
host net bg iperf iperf3 -s >/dev/null
sleep 1
# mbits FILE: the receiver's average rate of an iperf3 JSON report, in Mbit/s.
mbits() { python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$1"; }
iperf3 -c $MX_PEER -t 5 -J >/tmp/tx.json || { tail -n 5 /tmp/tx.json; fail "iperf3 guest -> peer failed"; }
iperf3 -c $MX_PEER -t 5 -R -J >/tmp/rx.json || { tail -n 5 /tmp/rx.json; fail "iperf3 peer -> guest failed"; }
tx=$(mbits /tmp/tx.json) rx=$(mbits /tmp/rx.json)
host net kill iperf >/dev/null || true
[ "$tx" -gt 0 ] && [ "$rx" -gt 0 ] || fail "no throughput: tx $tx Mbit/s, rx $rx Mbit/s"
note "iperf3: guest -> peer $tx Mbit/s, peer -> guest $rx Mbit/s"
mx_nic_done
mx_done
figure "tx $tx Mbit/s rx $rx Mbit/s"
