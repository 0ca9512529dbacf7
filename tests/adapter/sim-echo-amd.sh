# Under the host simulator: the adapter binds the ivshmem doorbell device, picks the sim
# backend, and 1000 messages posted from each of 4 vCPUs come back as SynIC messages through
# interrupts on the vCPU that sent them, each checked (AMD CPU model).
# timeout: 300
# boot: vcpus=4 cpu=EPYC sim=on
load pvg_hcall
expect_klog 'pvg_hcall: .*backend sim$' "backend line in dmesg"
expect_klog 'host simulator attached: 4 VPs' "attach line in dmesg"
echo 1000 >/sys/kernel/debug/pvg_hcall/selftest
r=$(cat /sys/kernel/debug/pvg_hcall/selftest)
note "$r"
expect_match "$r" 'vps=4 per_vp=1000 posted=4000 post_errors=0 received=4000 wrong_cpu=0 bad_payload=0' "self-test result"
note "host: $(host sim stats)"
cat /sys/kernel/debug/pvg_hcall/stats
unload pvg_hcall
