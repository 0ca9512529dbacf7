# pvg_storvsc loaded and unloaded 20 times, every other time at once (while the controller is
# still being set up), else after I/O; every unload removes the disks and leaves no channel or
# shared buffer behind in the VMBus core, and memory does not grow: the kernel's own
# allocations (slab, vmalloc, per-cpu, stacks, page tables) by under 1 MiB over 19 cycles, free
# memory by under 16 MiB (it moves by several MiB with per-cpu page lists and fragmentation).
# timeout: 600
# boot: vcpus=2
# sim: --disk size=64M --disk size=64M,lun=1
avail() { awk '/MemAvailable/ {print $2}' /proc/meminfo; }
kmem() { awk '/^(SUnreclaim|VmallocUsed|Percpu|KernelStack|PageTables):/ {s += $2} END {print s}' /proc/meminfo; }
settle() { sync; echo 3 >/proc/sys/vm/drop_caches; echo 1 >/proc/sys/vm/compact_memory; }
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
settle
before=$(avail) kbefore=$(kmem)
for i in $(seq 2 20); do cycle $i; done
settle
after=$(avail) kafter=$(kmem)
unload pvg_vmbus
expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing left in the VMBus core"
note "MemAvailable before $before kB, after 19 cycles $after kB; kernel allocations $kbefore kB -> $kafter kB"
expect_mem_below $((kafter - kbefore)) 1024 "kernel allocations grown over 19 cycles"
expect_mem_below $((before - after)) 16384 "MemAvailable lost over 19 cycles"
