# Soak: fio (writes verified with crc32c) on the synthetic disk and iperf3 through the synthetic
# NIC at the same time, in rounds; between rounds the host rescinds both devices and offers them
# again. Every round's throughput must stay above half of the first round's (or, when the machine
# gave the guest less CPU than in round 1, its throughput per CPU second must: a busy machine is
# not a slower driver, a driver burning more CPU for less work is), the kernel's own
# allocations (slab, vmalloc, per-cpu, stacks, page tables) must not grow by more than 2 MiB
# from the second round to the end, and the guest log stays clean (the harness fails the test
# on any WARN/BUG/Oops/hung task). Short here (SOAK_SECONDS, default 120 s); `scripts/soak`
# runs the same for 30 minutes.
# timeout: 900
# boot: vcpus=2 sim=--disk size=512M --nic tap=soak0
: "${SOAK_SECONDS:=120}" "${SOAK_ROUND:=30}"
PEER=10.99.0.1 ADDR=10.99.0.2/24
nic() { for d in /sys/class/net/*; do [ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = pvg_netvsc ] && basename "$d" && return 0; done; return 1; }
no_nic() { ! nic; }
up() {
	wait_until 60 "disk pvda" test -e /sys/block/pvda
	wait_until 60 "the synthetic NIC" nic
	local n; n=$(nic)
	ip addr add $ADDR dev "$n" 2>/dev/null || true
	ip link set "$n" up
	wait_until 30 "carrier on $n" grep -qx 1 "/sys/class/net/$n/carrier"
	wait_until 30 "the peer answering ping" ping -c1 -W1 -q $PEER
}

load pvg_storvsc
load pvg_netvsc
up
host net bg iperf iperf3 -s >/dev/null
sleep 1
end=$(($(date +%s) + SOAK_SECONDS))
round=0 first_disk=0 first_net=0 kstart=0 first_cpu=0
# held NOW FIRST CPU FIRST_CPU: NOW is at least half of FIRST, or NOW per CPU second is at
# least half of FIRST per FIRST_CPU second (CPU: QEMU's and the simulator's, from the host).
held() { awk -v n="$1" -v f="$2" -v c="$3" -v fc="$4" 'BEGIN { exit !(n >= f / 2 || (c > 0 && fc > 0 && n / c >= f / fc / 2)) }'; }
while [ "$(date +%s)" -lt "$end" ] || [ "$round" -lt 2 ]; do
	round=$((round + 1))
	fio --name=soak --filename=/dev/pvda --direct=1 --ioengine=libaio --iodepth=16 --rw=randwrite \
		--bs=64k --size=256M --time_based --runtime="$SOAK_ROUND" --verify=crc32c --verify_backlog=256 \
		--verify_fatal=1 --minimal >/tmp/fio.$round 2>&1 &
	fio_pid=$!
	cpu0=$(host cpu) || fail "host cpu: $cpu0"
	iperf3 -c $PEER -t "$SOAK_ROUND" -f k >/tmp/iperf.$round 2>&1 || { tail -5 /tmp/iperf.$round; fail "iperf3 failed in round $round"; }
	wait $fio_pid || { tail -5 /tmp/fio.$round; fail "fio failed in round $round"; }
	cpu1=$(host cpu) || fail "host cpu: $cpu1"
	cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.1f", b - a }')
	disk=$(awk -F';' '{print $48}' /tmp/fio.$round)   # terse v3: write bandwidth, KiB/s
	net=$(awk '/receiver/ {for (i = 1; i < NF; i++) if ($(i + 1) == "Kbits/sec") print $i}' /tmp/iperf.$round | tail -1)
	[ -n "$disk" ] && [ -n "$net" ] || fail "round $round: no throughput figures (fio '$disk', iperf3 '$net')"
	[ "$round" = 1 ] && first_disk=$disk first_net=${net%.*} first_cpu=$cpu
	mem_settle
	k=$(mem_kernel_kb)
	[ "$round" = 2 ] && kstart=$k
	note "round $round: disk ${disk} KiB/s, net ${net} Kbit/s, guest CPU ${cpu} s, kernel allocations ${k} kB"
	held "$disk" "$first_disk" "$cpu" "$first_cpu" ||
		fail "round $round: disk throughput $disk KiB/s ($cpu CPU s) fell below half of round 1's $first_disk ($first_cpu CPU s), also per CPU second"
	held "${net%.*}" "$first_net" "$cpu" "$first_cpu" ||
		fail "round $round: network throughput $net Kbit/s ($cpu CPU s) fell below half of round 1's $first_net ($first_cpu CPU s), also per CPU second"
	[ "$round" -lt 2 ] || expect_mem_below $((k - kstart)) 2048 "kernel allocations grown from round 2 to round $round"
	# Both devices go away under the host's hand and come back.
	host sim rescind storage0 >/dev/null
	host sim rescind nic0 >/dev/null
	wait_until 60 "pvda gone" test ! -e /sys/block/pvda
	wait_until 60 "the NIC gone" no_nic
	host sim offer storage0 >/dev/null
	host sim offer nic0 >/dev/null
	up
done
host net kill iperf >/dev/null
note "$round rounds in $SOAK_SECONDS s: disk $first_disk -> $disk KiB/s, net $first_net -> $net Kbit/s, kernel allocations $kstart -> $k kB"
unload pvg_netvsc
unload pvg_storvsc
unload pvg_vmbus
