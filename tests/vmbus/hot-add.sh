# A device added by the host at run time appears on the bus and is bound; both devices carry
# traffic independently.
# timeout: 300
# boot: vcpus=2 sim=--echo=1
load pvg_echo
expect_eq "$(ls /sys/bus/pvg_vmbus/devices/ | wc -l)" 1 "devices at start"
host sim add-echo echo-hot
for _ in $(seq 50); do [ "$(ls -d /sys/kernel/debug/pvg_echo.* | wc -l)" = 2 ] && break; sleep 0.2; done
expect_eq "$(ls /sys/bus/pvg_vmbus/devices/ | wc -l)" 2 "devices after the hot add"
for d in /sys/kernel/debug/pvg_echo.*; do
	echo "300 5 1 2000" >$d/run
	expect_match "$(cat $d/run)" 'total=300 sent=300 received=300 bad=0' "traffic on $d"
done
# Leave the host as we found it (later tests in this boot expect one device).
host sim rescind echo-hot
for _ in $(seq 50); do [ "$(ls /sys/bus/pvg_vmbus/devices/ | wc -l)" = 1 ] && break; sleep 0.2; done
expect_eq "$(ls /sys/bus/pvg_vmbus/devices/ | wc -l)" 1 "devices after the hot-added one was rescinded"
unload pvg_echo
unload pvg_vmbus
