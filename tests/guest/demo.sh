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
unload pvg_hcall
report modules "pvg_hcall loaded and unloaded cleanly"
