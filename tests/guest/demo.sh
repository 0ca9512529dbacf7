# The scripts/run demo: load the suite, show what it detects and does. Lines starting with
# "REPORT <key>: <value>" become the report scripts/run prints.
# timeout: 300
report() { echo "REPORT $1: $2"; }
report kernel "$(uname -r) ($(nproc) vCPU, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
load pvg_hcall
d=/sys/kernel/debug/pvg_hcall/detect
primary=$(sed -n 's/^leaves: \(0x[0-9a-f]*\) max \(0x[0-9a-f]*\) signature "\(.*\)" (\(.*\))$/\4 (signature "\3" at \1)/p' $d | head -n 1)
report hypervisor "${primary:-none found}, cpu $(sed -n 's/^cpu_vendor: //p' $d)"
report "Hyper-V" "$(sed -n 's/^hyperv: //p' $d)"
report Xen "$(sed -n 's/^xen: //p' $d)"
report "dmesg" "$(dmesg | grep -m1 'pvg_hcall: hypervisor\|pvg_hcall: no hypervisor' | sed 's/^\[[^]]*\] //')"
unload pvg_hcall
report modules "pvg_hcall loaded and unloaded cleanly"
