# Under QEMU TCG the adapter must see QEMU's TCG signature at 0x40000000, report that neither
# the Hyper-V nor the Xen interface is present, and unload cleanly.
# timeout: 60
load pvg_hcall
expect_klog 'pvg_hcall: hypervisor tcg \(signature "TCGTCGTCGTCG" at 0x40000000\), cpu intel; Hyper-V interface absent, Xen interface absent' \
	"detection line in dmesg"
d=/sys/kernel/debug/pvg_hcall/detect
[ -r $d ] || fail "$d is missing"
cat $d
grep -qx 'hyperv: absent' $d || fail "debugfs says Hyper-V is present"
grep -qx 'xen: absent' $d || fail "debugfs says Xen is present"
grep -q '^leaves: 0x40000000 max 0x4000000[0-9a-f] signature "TCGTCGTCGTCG" (tcg)$' $d || fail "debugfs lacks the TCG leaf block"
unload pvg_hcall
