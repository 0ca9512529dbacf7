# Under the host simulator: the adapter binds the ivshmem doorbell device, picks the sim
# backend, and 1000 messages posted from each of 4 vCPUs come back as SynIC messages through
# interrupts on the vCPU that sent them, each checked (Intel CPU model).
# timeout: 300
# boot: vcpus=4 cpu=Skylake-Server sim=on
load pvg_hcall
expect_klog 'pvg_hcall: .*backend sim$' "backend line in dmesg"
expect_klog 'host simulator attached: 4 VPs' "attach line in dmesg"
echo 1000 >/sys/kernel/debug/pvg_hcall/selftest
r=$(cat /sys/kernel/debug/pvg_hcall/selftest)
note "$r"
expect_match "$r" 'vps=4 per_vp=1000 posted=4000 post_errors=0 received=4000 wrong_cpu=0 bad_payload=0' "self-test result"
note "host: $(host sim stats)"
# Every operation of the table on the simulator: TLFS calls the host answers (flush, spin-wait,
# reference time), clean -EOPNOTSUPP (95) where the simulator cannot act (send_ipi), and a
# SINT enable/disable round trip.
ex=/sys/kernel/debug/pvg_hcall/exercise
echo 1 >$ex
cat $ex
for op in flush_tlb notify_long_spin_wait synic_enable synic_disable eom ping; do
	grep -qx "$op 0" $ex || fail "$op failed on the simulator: $(grep "^$op " $ex)"
done
grep -qx 'send_ipi -95' $ex || fail "send_ipi should be -EOPNOTSUPP: $(grep '^send_ipi ' $ex)"
grep -qx 'post_message -22' $ex || fail "a post to an unknown connection should be -EINVAL: $(grep '^post_message ' $ex)"
[ "$(sed -n 's/^reference_time //p' $ex)" -gt 0 ] || fail "reference time is not positive"
cat /sys/kernel/debug/pvg_hcall/stats
unload pvg_hcall
