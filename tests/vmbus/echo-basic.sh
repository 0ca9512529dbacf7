# The guest connects to the simulator's VMBus, the echo device appears on the pvg_vmbus bus
# with its vmbus:<class> modalias, pvg_echo binds it, and packets of random sizes pass in both
# directions with contents verified.
# timeout: 300
# boot: vcpus=2 sim=--echo=1
load pvg_vmbus
expect_klog 'pvg_vmbus: connected: VMBus protocol [0-9]+\.[0-9]+ .*backend sim, 1 channel offered' "connect line"
devs=$(ls /sys/bus/pvg_vmbus/devices/)
note "devices: $devs"
[ -n "$devs" ] || fail "no device on the pvg_vmbus bus"
dev=/sys/bus/pvg_vmbus/devices/$(echo $devs | awk '{print $1}')
expect_eq "$(cat $dev/modalias)" "vmbus:f2c9e7a8615b3e4d9f0a7c3d2e1b4a96" "echo device modalias"
expect_eq "$(cat $dev/class_id)" "{a8e7c9f2-5b61-4d3e-9f0a-7c3d2e1b4a96}" "echo device class"
load pvg_echo
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
expect_eq "$(cat $dev/state)" "open" "channel state"
# The host's counters last as long as the simulator, across the tests that share this boot.
echoed() { host sim vmbus | sed -n 's/.*echo0 offered=true echoed=\([0-9]*\) .*/\1/p'; }
e0=$(echoed)
echo "2000 7 1 4000" >$run
r=$(cat $run)
note "guest to host: $r"
expect_match "$r" 'total=2000 sent=2000 received=2000 bad=0 send_errors=0' "guest-originated echo"
host sim dev echo0 send 2000 9 1 4000
all_verified() { host sim vmbus | grep -q 'echo0 offered=true echoed=[0-9]* sent=2000 verified=2000 '; }
wait_until 60 "the host got all its packets back" all_verified
h=$(host sim vmbus)
note "host: $h"
expect_match "$h" 'echo0 offered=true echoed=[0-9]+ sent=2000 verified=2000 bad=0' "host-originated echo"
expect_eq "$(( $(echoed) - e0 ))" 2000 "packets the host echoed for this test"
note "ring: out $(cat $dev/out_read_index)/$(cat $dev/out_write_index) in $(cat $dev/in_read_index)/$(cat $dev/in_write_index), interrupts $(cat $dev/interrupts_in), signals $(cat $dev/signals_out)"
unload pvg_echo
unload pvg_vmbus
unload pvg_hcall
