# pvg_echo, pvg_vmbus and pvg_hcall unloaded and loaded again 50 times, with traffic each
# time: every unload reports no channel or shared buffer left, and memory does not grow.
# timeout: 1200
# boot: vcpus=2 sim=--echo=1
cycle() {
	load pvg_echo
	for _ in $(seq 50); do ls -d /sys/kernel/debug/pvg_echo.* >/dev/null 2>&1 && break; sleep 0.1; done
	run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
	echo "100 $1 1 4032" >$run
	expect_match "$(cat $run)" 'total=100 sent=100 received=100 bad=0' "traffic in cycle $1"
	unload pvg_echo
	unload pvg_vmbus
	unload pvg_hcall
}
cycle 0
mem_settle
before=$(mem_avail_kb) kbefore=$(mem_kernel_kb)
for i in $(seq 1 50); do cycle $i; done
mem_settle
after=$(mem_avail_kb) kafter=$(mem_kernel_kb)
note "available memory before $before kB, after 50 cycles $after kB; kernel allocations $kbefore kB -> $kafter kB"
expect_eq "$(klog_since_begin | grep -c "pvg_vmbus: unloaded: 0 channels and 0 shared buffers left")" 51 "clean unloads"
! klog_since_begin | grep -q "pvg_vmbus: unloaded with" || fail "an unload reported a leak: $(klog_since_begin | grep "unloaded with" | head -1)"
expect_mem_below $((kafter - kbefore)) 1024 "kernel allocations grown over 50 cycles"
expect_mem_below $((before - after)) 4096 "available memory lost over 50 cycles"
