# scripts/bench network (guest part): the synthetic NIC (pvg_netvsc against the simulator's
# NetVSP on TAP pvt0) against virtio-net (QEMU's own emulation on a second TAP) in the same
# guest and run, both TAPs in the one network namespace the harness makes for this guest, so
# one iperf3 server there is the peer of both: 10.99.0.1 for the synthetic NIC (guest
# 10.99.0.2), 10.98.0.1 for virtio-net (guest 10.98.0.2). Both have 2 queues (one per vCPU),
# MTU 1500 in the guest, their offloads on.
# Jobs: iperf3 TCP, one stream, guest -> peer and peer -> guest (-R); iperf3 UDP with 64-byte
# datagrams at a fixed offered rate above what a TCG guest takes, each way, counting the
# datagrams the receiving iperf3 got. Each run is RUNTIME s after OMIT s of warm-up (iperf3
# -O), 2 runs per NIC and job in the order A B B A so a change in the machine's load weighs on
# both alike.
# Besides the rates, where the time goes, per packet of the guest's interface (its rx+tx
# packet counters: TSO/GSO frames count once): the guest's CPU (/proc/stat, all vCPUs), the
# host's CPU by thread group ('host cputimes': QEMU's vCPU threads and its other threads
# (virtio-net's emulation), the simulator's NIC threads, its doorbell threads (which answer
# the guest's hypercalls) and the rest), the guest's interrupts of the device, and for the
# synthetic NIC the guest's signals (HvSignalEvent, with their average time) and the
# simulator's hypercalls and interrupts; and the simulator's hypercall round trip (pvg_hcall's
# bench) before the jobs.
# scripts/bench makes the virtio-net TAP and device; 'host netattach' moves the TAP into the
# namespace.
# timeout: 1500
# boot: vcpus=2
# sim: --nic tap=pvt0,queues=2
. /payload/tests/lib/net.sh
RUNTIME=10
OMIT=2
UDP_RATE=100M

command -v iperf3 >/dev/null || fail "iperf3 is not in the guest image (scripts/setup-guest installs it: run scripts/setup)"
load pvg_netvsc
nic_wait
PVN=$NIC
modprobe virtio_net 2>/dev/null || true
vnet_present() { [ -n "$(iface_of virtio_net)" ]; }
wait_until 60 "a virtio_net interface (QEMU's virtio-net-pci)" vnet_present
VNET=$(iface_of virtio_net)
# The virtio-net device's interrupts are named after its virtio device (virtioN-input.0, ...).
VIRTIO=$(basename "$(readlink -f "/sys/class/net/$VNET/device")")

nic_up 10.99.0.2/24
ip link set "$VNET" up
ip addr add 10.98.0.2/24 dev "$VNET"
out=$(host netattach) || fail "host netattach: $out"
note "$out"
wait_until 30 "carrier on $VNET" grep -qx 1 "/sys/class/net/$VNET/carrier"
ping -c 2 -W 5 10.99.0.1 >/dev/null || fail "ping the peer through the synthetic NIC"
ping -c 2 -W 5 10.98.0.1 >/dev/null || fail "ping the peer through virtio-net (is the TAP in the namespace, up, 10.98.0.1/24?)"
note "synthetic NIC $PVN: $(ethtool -k "$PVN" | grep -E '^(tcp-segmentation-offload|rx-checksumming|tx-checksumming|generic-receive-offload):' | tr -s ' \n' ' ')"
note "virtio-net $VNET ($VIRTIO): $(ethtool -k "$VNET" | grep -E '^(tcp-segmentation-offload|rx-checksumming|tx-checksumming|generic-receive-offload):' | tr -s ' \n' ' ')"
note "queues: $PVN $(ls -d /sys/class/net/$PVN/queues/tx-* | wc -l), $VNET $(ls -d /sys/class/net/$VNET/queues/tx-* | wc -l)"
out=$(host net bg srv iperf3 -s) || fail "starting iperf3 -s in the peer namespace: $out"
sleep 2

irqs() { awk -v pat="$1" '$0 ~ pat { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts; }
# busy: the guest's non-idle CPU seconds (all vCPUs) so far.
busy() { awk '$1 == "cpu" { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / 100 }' /proc/stat; }
pkts() { echo $(($(cat /sys/class/net/$1/statistics/rx_packets) + $(cat /sys/class/net/$1/statistics/tx_packets))); }
# signals: "calls total_ns" of the adapter's signal_event (HvSignalEvent) so far.
signals() { awk '$1 == "signal_event" { printf "%d %d\n", $2, $2 * $4 }' /sys/kernel/debug/pvg_hcall/stats; }

# run KEY NIC IPERF3-ARGS...: one iperf3 run; appends a JSON line with iperf3's numbers and
# what the guest and host counted around it to /tmp/runs.jsonl.
run() {
	local key=$1 nic=$2 dev peer pat c0 c1 i0 i1 b0 b1 p0 p1 g0 g1 s0="" s1=""
	shift 2
	case $nic in
	pvn) dev=$PVN peer=10.99.0.1 pat=pvg_hcall ;;
	vnet) dev=$VNET peer=10.98.0.1 pat="$VIRTIO-" ;;
	esac
	[ $nic = vnet ] || s0=$(host sim stats) || fail "host sim stats: $s0"
	c0=$(host cputimes) || fail "host cputimes: $c0"
	i0=$(irqs "$pat") b0=$(busy) p0=$(pkts "$dev") g0=$(signals)
	timeout $((RUNTIME + OMIT + 60)) iperf3 -c "$peer" -t "$RUNTIME" -O "$OMIT" -J "$@" >/tmp/iperf.json ||
		{ tail -n 5 /tmp/iperf.json; fail "iperf3 $key on $nic ($dev, peer $peer) failed"; }
	i1=$(irqs "$pat") b1=$(busy) p1=$(pkts "$dev") g1=$(signals)
	c1=$(host cputimes) || fail "host cputimes: $c1"
	[ $nic = vnet ] || s1=$(host sim stats) || fail "host sim stats: $s1"
	python3 - "$nic" "$key" "$c0" "$c1" "$((i1 - i0))" "$b0" "$b1" "$((p1 - p0))" "$g0" "$g1" "$s0" "$s1" /tmp/iperf.json >>/tmp/runs.jsonl <<'PY' || fail "iperf3 $key on $nic: no numbers"
import json, sys
nic, key, c0, c1, irqs, b0, b1, pkts, g0, g1, s0, s1, out = sys.argv[1:14]
j = json.load(open(out))
if "error" in j:
    sys.exit(f"FAIL: iperf3 {key} on {nic}: {j['error']}")
rx = j["end"]["sum_received"]
kv = lambda s: {k: float(v) for k, v in (x.split("=") for x in s.split() if "=" in x)}
t0, t1, h0, h1 = kv(c0), kv(c1), kv(s0), kv(s1)
(gc0, gn0), (gc1, gn1) = (map(int, g.split()) for g in (g0, g1))
r = {"key": f"{nic}_{key}", "secs": rx["seconds"], "bytes": rx["bytes"],
     "guest_cpu": float(b1) - float(b0), "pkts": int(pkts), "irqs": int(irqs),
     "host": {k: t1[k] - t0.get(k, 0) for k in t1},
     "signals": gc1 - gc0, "signal_ns": gn1 - gn0,
     "sim": {k: h1[k] - h0.get(k, 0) for k in ("calls", "interrupts") if k in h1}}
if "packets" in rx:   # UDP: the datagrams the receiver got, and those the sender sent
    # (the receiver's count includes those lost, by their sequence numbers; with -R the
    # client's sum_sent is empty)
    r["received"] = rx["packets"] - rx["lost_packets"]
    r["sent"] = rx["packets"]
print(json.dumps(r))
PY
}

# job KEY IPERF3-ARGS...: the two NICs in the order A B B A.
job() {
	local key=$1
	shift
	for nic in pvn vnet vnet pvn; do
		run "$key" $nic "$@"
	done
}

# The RESULT lines: per NIC and job, the runs summed.
results() {
	python3 - /tmp/runs.jsonl <<'PY'
import json, sys
agg = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    a = agg.setdefault(r["key"], {"host": {}, "sim": {}})
    for k, v in r.items():
        if isinstance(v, (int, float)):
            a[k] = a.get(k, 0) + v
    for g in ("host", "sim"):
        for k, v in r[g].items():
            a[g][k] = a[g].get(k, 0) + v
for key, a in agg.items():
    n = a["pkts"] or 1
    if "received" in a:
        print(f"RESULT {key}_pps {a['received'] / a['secs']:.0f} packets/s")
        print(f"RESULT {key}_sent_pps {a['sent'] / a['secs']:.0f} packets/s")
        print(f"RESULT {key}_loss_pct {100 * (1 - a['received'] / max(a['sent'], 1)):.1f} %")
    else:
        print(f"RESULT {key}_Mbps {a['bytes'] * 8 / a['secs'] / 1e6:.1f} Mbit/s")
    print(f"RESULT {key}_if_pps {a['pkts'] / a['secs']:.0f} packets/s")
    print(f"RESULT {key}_guest_cpu_us_per_pkt {a['guest_cpu'] * 1e6 / n:.2f} us")
    for k in sorted(a["host"]):
        print(f"RESULT {key}_{k}_us_per_pkt {a['host'][k] * 1e6 / n:.2f} us")
    print(f"RESULT {key}_irqs_per_pkt {a['irqs'] / n:.3f} irq")
    if key.startswith("pvn"):
        print(f"RESULT {key}_signals_per_pkt {a['signals'] / n:.3f} signals")
        print(f"RESULT {key}_signal_us {a['signal_ns'] / max(a['signals'], 1) / 1000:.1f} us")
        for k, label in (("calls", "hypercalls"), ("interrupts", "sim_interrupts")):
            if k in a["sim"]:
                print(f"RESULT {key}_{label}_per_pkt {a['sim'][k] / n:.3f} {label.split('_')[-1]}")
PY
}

d=/sys/kernel/debug/pvg_hcall
echo 2000 >$d/bench
echo "RESULT sim_hypercall_round_trip $(cat $d/bench | tr ' ' '\n' | sed -n 's/^ping_ns=//p') ns"
rm -f /tmp/runs.jsonl
job tcp_tx
job tcp_rx -R
job udp_tx -u -l 64 -b "$UDP_RATE"
job udp_rx -u -l 64 -b "$UDP_RATE" -R
results
host net kill srv >/dev/null || true
note "$PVN: $(ethtool -S "$PVN" | tr -s ' \n' ' ')"
note "host: $(host sim dev nic0 stats)"
note "$(cat /sys/kernel/debug/pvg_hcall/stats | tr -s ' \n' ' ')"
ip addr flush dev "$VNET"
unload pvg_netvsc
