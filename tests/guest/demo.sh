# The scripts/run demo: load the suite against the host simulator, show what it detects and
# does. Lines starting with "REPORT <key>: <value>" become the report scripts/run prints.
# timeout: 300
report() { echo "REPORT $1: $2"; }
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
	unload pvg_vmbus
	expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "VMBus unload without leaks"
fi
unload pvg_hcall
report modules "$(awk '$1 ~ /^pvg_/' /proc/modules | wc -l) left loaded; every module unloaded cleanly"
