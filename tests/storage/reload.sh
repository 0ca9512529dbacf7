# pvg_storvsc loaded and unloaded 20 times, every other time at once (while the controller is
# still being set up), else after I/O; every unload removes the disks and leaves no channel or
# shared buffer behind in the VMBus core, and memory does not grow: the kernel's own
# allocations (slab, vmalloc, per-cpu, stacks, page tables) by under 1 MiB over 19 cycles,
# available memory (counting the per-CPU page lists' free pages) by under 4 MiB.
# timeout: 600
# boot: vcpus=2
# sim: --disk size=64M --disk size=64M,lun=1
cycle() {
	load pvg_storvsc
	if [ $(($1 % 2)) = 1 ]; then
		wait_until 60 "disk pvdb" test -e /sys/block/pvdb
		dd if=/dev/pvda of=/dev/null bs=64k count=64 iflag=direct status=none || fail "read in cycle $1"
		dd if=/dev/zero of=/dev/pvdb bs=64k count=64 oflag=direct status=none || fail "write in cycle $1"
	fi
	unload pvg_storvsc
	[ ! -e /sys/block/pvda ] || fail "pvda left after unload in cycle $1"
}
cycle 1
mem_settle
before=$(mem_avail_kb) kbefore=$(mem_kernel_kb)
for i in $(seq 2 20); do cycle $i; done
mem_settle
after=$(mem_avail_kb) kafter=$(mem_kernel_kb)
unload pvg_vmbus
expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing left in the VMBus core"
note "available memory before $before kB, after 19 cycles $after kB; kernel allocations $kbefore kB -> $kafter kB"
expect_mem_below $((kafter - kbefore)) 1024 "kernel allocations grown over 19 cycles"
expect_mem_below $((before - after)) 4096 "available memory lost over 19 cycles"
