# No info leaks: the guest never hands the host memory it did not write. The guest boots with
# init_on_alloc=0 and slub_debug=P (uninitialised slab memory holds the 0x6b free poison) and
# first fills most free pages with the same byte; the host scans every VMBus message and ring
# packet for runs of it (--leak-check): echo traffic and a synthetic disk's whole life
# (initialization, LUN scan, ext4 I/O, flushes, unload). A deliberate uninitialised send (pvg_echo's
# send_uninit fixture) must be caught, so the check is known to work; traffic of every kind
# must produce no other hit.
# timeout: 600
# boot: vcpus=2 cmdline=init_on_alloc=0,slub_debug=P sim=--echo=1 --disk size=64M --leak-check
grep -q 'init_on_alloc=0' /proc/cmdline || fail "the guest did not boot with init_on_alloc=0"
# Free pages full of poison: fill a tmpfs file with it, then delete it.
# (Freed pages go back to the head of the free lists, so the allocations that follow, ring
# buffers included, are likely to get them.)
mkdir -p /tmp/poison && mount -t tmpfs -o size=512M tmpfs /tmp/poison
head -c 384M /dev/zero | tr '\000' '\153' >/tmp/poison/fill
rm -f /tmp/poison/fill && umount /tmp/poison
load pvg_echo
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
echo "20000 8 1 4032" >$run
expect_match "$(cat $run)" 'received=20000 bad=0' "echo traffic"
host sim dev echo0 send 2000 9 1 4000
unload pvg_echo
load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
mkfs.ext4 -q -F /dev/pvda
mkdir -p /mnt/leak && mount /dev/pvda /mnt/leak
head -c 8M /dev/urandom >/mnt/leak/f && sync && cat /mnt/leak/f >/dev/null
umount /mnt/leak
unload pvg_storvsc
load pvg_echo
r=$(host sim leaks)
note "after traffic: $r"
expect_match "$r" 'enabled=true checked=[1-9][0-9]* .*leaks=0$' "leaks in VMBus messages and ring packets"
# The positive control: 256 never-written bytes must be reported.
echo 1 >$(ls -d /sys/kernel/debug/pvg_echo.*)/send_uninit
flagged() { host sim leaks | grep -q 'leaks=1;'; }
wait_until 10 "the host to flag the uninitialised send" flagged
note "after the deliberate leak: $(host sim leaks)"
unload pvg_echo
unload pvg_vmbus
