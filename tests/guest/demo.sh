# The scripts/run demo: load the suite against the host simulator, show what it detects and
# does. Lines starting with "REPORT <key>: <value>" become the report scripts/run prints.
# timeout: 300
report() { echo "REPORT $1: $2"; }
# The synthetic disk (storage0, backed by an image file on the host): ext4 on it, files
# written and fsync'd, read back after dropping the caches and checked against their
# checksums; the lsblk line and the throughput go into the report.
storage_demo() {
	ls /sys/bus/pvg_vmbus/devices/*/modalias >/dev/null 2>&1 &&
		grep -qx 'vmbus:d96361baa104294db60572e2ffb1dc7f' /sys/bus/pvg_vmbus/devices/*/modalias || return 0
	load pvg_storvsc
	wait_until 60 "disk pvda" test -e /sys/block/pvda
	report "disk" "$(lsblk -dn -P -o NAME,SIZE,LOG-SEC,PHY-SEC,ROTA,DISC-MAX /dev/pvda | tr -d '"'), serial $(cat /sys/block/pvda/serial), $(ls /sys/block/pvda/mq | wc -l) queues"
	local n=4 mib=4 t0 t1 t2 t3 i
	local bytes=$((n * mib * 1048576))
	mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.1f MB/s", b / ns * 1000 }'; }
	mkfs.ext4 -q -F /dev/pvda
	mkdir -p /mnt/pvd
	mount /dev/pvda /mnt/pvd
	head -c $bytes /dev/urandom >/dev/shm/pool
	t0=$(date +%s%N)
	for i in $(seq $n); do
		dd if=/dev/shm/pool of=/mnt/pvd/f$i bs=1M skip=$(((i - 1) * mib)) count=$mib status=none
	done
	sync -f /mnt/pvd
	t1=$(date +%s%N)
	for i in $(seq $n); do
		dd if=/dev/shm/pool bs=1M skip=$(((i - 1) * mib)) count=$mib status=none | sha256sum | sed "s/-\$/f$i/"
	done >/tmp/demo.sums
	rm /dev/shm/pool
	umount /mnt/pvd
	echo 3 >/proc/sys/vm/drop_caches
	mount -o ro /dev/pvda /mnt/pvd
	t2=$(date +%s%N)
	cat /mnt/pvd/f* >/dev/null
	t3=$(date +%s%N)
	(cd /mnt/pvd && sha256sum -c --quiet /tmp/demo.sums) || fail "files read back from the synthetic disk differ"
	umount /mnt/pvd
	report "ext4" "mkfs.ext4 on pvda; $n files of $mib MiB written + fsync'd at $(mbps $bytes $((t1 - t0))), read back cold at $(mbps $bytes $((t3 - t2))); $n of $n sha256 checksums match"
	unload pvg_storvsc
}

# The synthetic NIC (nic0, attached to a TAP in a network namespace of its own on the host,
# peer 10.99.0.1): address, ping, 64 MiB over TCP each way checked by SHA-256 on the other side;
# the link line and the throughput go into the report.
network_demo() {
	ls /sys/bus/pvg_vmbus/devices/*/modalias >/dev/null 2>&1 &&
		grep -qx 'vmbus:635161f83edfc546913ff2d2f965ed0e' /sys/bus/pvg_vmbus/devices/*/modalias || return 0
	. /payload/tests/lib/net.sh
	load pvg_netvsc
	nic_wait
	nic_up 10.99.0.2/24
	local link=down
	[ "$(cat /sys/class/net/$NIC/carrier)" = 1 ] && link=up
	report "NIC" "$NIC: link $link, MAC $(cat /sys/class/net/$NIC/address), MTU $(cat /sys/class/net/$NIC/mtu), $(ethtool "$NIC" | sed -n 's/^\tSpeed: //p'), $(ls -d /sys/class/net/$NIC/queues/rx-* | wc -l) queues, driver $(ethtool -i "$NIC" | sed -n 's/^driver: //p')"
	local p
	p=$(ping -c 3 -q 10.99.0.1 | sed -n 's/^rtt [^=]*= [^/]*\/\([^/]*\)\/.*/\1/p') || fail "ping to the peer failed"
	local bytes=67108864 t0 t1 got src sink
	digest() { printf '%s\n' "$1" | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p'; }
	host net bg src netpeer source 5101 $bytes 11 >/dev/null
	sleep 1
	t0=$(date +%s%N)
	got=$(sha256sum </dev/tcp/10.99.0.1/5101 | cut -d' ' -f1)
	t1=$(date +%s%N)
	src=$(host net wait src 100) || fail "netpeer source: $src"
	expect_eq "$got" "$(digest "$src")" "SHA-256 of 64 MiB received"
	local rx_mbit=$((bytes * 8 * 1000 / (t1 - t0)))
	host net bg sink netpeer sink 5102 >/dev/null
	sleep 1
	head -c $bytes /dev/urandom >/dev/shm/net.out
	local want
	want=$(sha256sum </dev/shm/net.out | cut -d' ' -f1)
	t0=$(date +%s%N)
	cat /dev/shm/net.out >/dev/tcp/10.99.0.1/5102
	sink=$(host net wait sink 100) || fail "netpeer sink: $sink"
	t1=$(date +%s%N)
	rm /dev/shm/net.out
	expect_eq "$(digest "$sink")" "$want" "SHA-256 of 64 MiB sent, as the peer computed it"
	local tx_mbit=$((bytes * 8 * 1000 / (t1 - t0)))
	report "TCP" "ping rtt ${p:-?} ms; 64 MiB peer -> guest at $rx_mbit Mbit/s and guest -> peer at $tx_mbit Mbit/s, SHA-256 verified on the receiving side"
	ip link set "$NIC" down
	unload pvg_netvsc
}

report kernel "$(uname -r) ($(nproc) vCPU, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
load pvg_hcall
d=/sys/kernel/debug/pvg_hcall
primary=$(sed -n 's/^leaves: \(0x[0-9a-f]*\) max \(0x[0-9a-f]*\) signature "\(.*\)" (\(.*\))$/\4 (signature "\3" at \1)/p' $d/detect | head -n 1)
report hypervisor "${primary:-none found}, cpu $(sed -n 's/^cpu_vendor: //p' $d/detect)"
report "Hyper-V" "$(sed -n 's/^hyperv: //p' $d/detect)"
report Xen "$(sed -n 's/^xen: //p' $d/detect)"
report backend "$(sed -n 's/^backend: //p' $d/detect)"
report "dmesg" "$(dmesg | grep -m1 'pvg_hcall: hypervisor\|pvg_hcall: no hypervisor' | sed 's/^\[[^]]*\] //')"
if [ "$(sed -n 's/^backend: //p' $d/detect)" = sim ]; then
	echo 200 >$d/selftest
	s=$(cat $d/selftest)
	posted=$(printf '%s\n' "$s" | tr ' ' '\n' | sed -n 's/^posted=//p')
	recv=$(printf '%s\n' "$s" | tr ' ' '\n' | sed -n 's/^received=//p')
	us=$(printf '%s\n' "$s" | tr ' ' '\n' | sed -n 's/^elapsed_us=//p')
	report "SynIC echo" "$recv of $posted messages from $(nproc) vCPUs came back by interrupt on their own vCPU, $((us / posted)) us each"
	[ "$recv" = "$posted" ] || fail "SynIC echo lost messages: $s"
fi
if [ "$(sed -n 's/^backend: //p' $d/detect)" = sim ]; then
	load pvg_vmbus
	conn=$(dmesg | grep -m1 'pvg_vmbus: connected' | sed 's/^\[[^]]*\] pvg_vmbus: connected: //')
	devs=""
	for dev in /sys/bus/pvg_vmbus/devices/*; do
		[ -e "$dev/modalias" ] && devs="$devs $(cat $dev/modalias)"
	done
	report VMBus "${conn:-not connected}; devices:${devs:- none}"
	if ls /sys/bus/pvg_vmbus/devices/*/modalias >/dev/null 2>&1 && grep -qx 'vmbus:f2c9e7a8615b3e4d9f0a7c3d2e1b4a96' /sys/bus/pvg_vmbus/devices/*/modalias; then
		load pvg_echo
		run=$(ls -d /sys/kernel/debug/pvg_echo.* | head -n 1)/run
		echo "20000 1 1 4032" >$run
		r=$(cat $run)
		expect_match "$r" 'received=20000 bad=0' "echo channel traffic"
		us=$(printf '%s\n' "$r" | tr ' ' '\n' | sed -n 's/^elapsed_us=//p')
		report "echo channel" "20000 packets of 1-4032 bytes sent, echoed by the host and verified, $((20000 * 1000000 / us)) packets/s"
		unload pvg_echo
	fi
	storage_demo
	network_demo
	unload pvg_vmbus
	expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "VMBus unload without leaks"
fi
unload pvg_hcall
report modules "$(awk '$1 ~ /^pvg_/' /proc/modules | wc -l) left loaded; every module unloaded cleanly"
