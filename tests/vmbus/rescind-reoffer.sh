# The host rescinds the echo device while packets are in flight: the run fails cleanly (no
# oops, no hang), the device leaves the bus; the host offers it again: the driver binds the
# new device by itself and traffic works.
# timeout: 300
# boot: vcpus=2 sim=--echo=1
# also: hostile
load pvg_echo
expect_eq "$(ls -d /sys/kernel/debug/pvg_echo.* | wc -l)" 1 "echo devices"
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
echo "200 1 1 4032" >$run
expect_match "$(cat $run)" 'received=200 bad=0' "traffic before the rescind"
( echo "100000 2 1 4032" >$run ) 2>/tmp/run.err &
bg=$!
sleep 2
host sim rescind echo0
wait $bg || true
note "interrupted run: $(cat /tmp/run.err 2>/dev/null) (state is gone with the device)"
for _ in $(seq 50); do [ -z "$(ls /sys/bus/pvg_vmbus/devices/)" ] && break; sleep 0.2; done
expect_eq "$(ls /sys/bus/pvg_vmbus/devices/ | wc -l)" 0 "devices after the rescind"
expect_klog 'pvg_vmbus: channel [0-9]+ rescinded by the host' "rescind log line"
host sim offer echo0
for _ in $(seq 50); do ls -d /sys/kernel/debug/pvg_echo.* >/dev/null 2>&1 && break; sleep 0.2; done
expect_eq "$(ls -d /sys/kernel/debug/pvg_echo.* | wc -l)" 1 "echo devices"
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
echo "500 3 1 4032" >$run
expect_match "$(cat $run)" 'total=500 sent=500 received=500 bad=0' "traffic after the re-offer"
unload pvg_echo
unload pvg_vmbus
expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing leaked"
