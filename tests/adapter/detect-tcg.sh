# Under QEMU TCG the adapter must see QEMU's TCG signature at 0x40000000, report that neither
# the Hyper-V nor the Xen interface is present, pick no backend, return -ENODEV from every
# operation, and unload cleanly.
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
# With no interface every operation fails cleanly with -ENODEV (19).
echo 1 >/sys/kernel/debug/pvg_hcall/exercise
ex=/sys/kernel/debug/pvg_hcall/exercise
cat $ex
grep -qx 'backend none' $ex || fail "backend is not none"
for op in post_message signal_event flush_tlb send_ipi notify_long_spin_wait reference_time synic_enable synic_disable eom ping; do
	grep -qx "$op -19" $ex || fail "$op did not return -ENODEV: $(grep "^$op " $ex)"
done
unload pvg_hcall
