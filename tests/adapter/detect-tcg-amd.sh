# The same detection on an AMD CPU model with 4 vCPUs: the CPU vendor (which picks the Xen
# hypercall instruction) must read amd, and the module must load and unload cleanly.
# timeout: 60
# boot: vcpus=4 cpu=EPYC
expect_eq "$(nproc)" 4 "vCPUs in the guest"
load pvg_hcall
expect_klog 'pvg_hcall: hypervisor tcg \(signature "TCGTCGTCGTCG" at 0x40000000\), cpu amd;' "detection line in dmesg"
grep -qx 'cpu_vendor: amd' /sys/kernel/debug/pvg_hcall/detect || fail "debugfs does not say cpu_vendor: amd"
unload pvg_hcall
