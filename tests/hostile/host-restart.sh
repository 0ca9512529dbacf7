# Host crash and restart: the host rescinds every channel at once (in-flight packets are lost)
# and offers every device again with new relids. The guest removes the old devices, binds the
# new ones by itself, traffic works again, and the modules unload without leaks.
# timeout: 300
# boot: vcpus=2 sim=--echo=2
load pvg_echo
before=$(ls /sys/bus/pvg_vmbus/devices/ | sort | tr '\n' ' ')
runs=$(ls -d /sys/kernel/debug/pvg_echo.* | sort)
for r in $runs; do ( echo "100000 2 1 4032" >$r/run ) 2>/dev/null & done
sleep 2
host sim restart
wait || true
two_bound() { [ "$(ls -d /sys/kernel/debug/pvg_echo.* 2>/dev/null | wc -l)" = 2 ]; }
wait_until 30 "both devices bound again" two_bound
expect_klog 'pvg_vmbus: channel [0-9]+ rescinded by the host' "rescind log lines"
note "devices before: $before; after: $(ls /sys/bus/pvg_vmbus/devices/ | sort | tr '\n' ' ')"
for r in $(ls -d /sys/kernel/debug/pvg_echo.* | sort); do
	echo "1000 5 1 4032" >$r/run
	expect_match "$(cat $r/run)" 'total=1000 sent=1000 received=1000 bad=0' "traffic after the restart on $r"
done
unload pvg_echo
unload pvg_vmbus
expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing leaked"
