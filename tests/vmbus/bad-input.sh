# A buggy or hostile host: unknown and truncated messages, a duplicate offer, an offer with an
# out-of-range relid, replies for GPADLs and channels never requested, a rescind for an unknown
# channel, a garbage packet and a nonsense index in a ring. Each is rejected (counted; one log
# line for the first of a kind), nothing crashes, and the rest of the bus keeps working.
# timeout: 300
# boot: vcpus=2 sim=--echo=2
# also: hostile
load pvg_echo
stats=/sys/kernel/debug/pvg_vmbus/stats
bad() { sed -n 's/^bad_messages //p' $stats; }
b0=$(bad)
for kind in unknown-message truncated-offer "duplicate-offer echo0" relid-out-of-range gpadl-created-unknown open-result-unknown rescind-unknown; do
	host sim inject $kind
done
counted() { [ $(( $(bad) - b0 )) -ge 7 ]; }
wait_until 30 "bad host messages counted" counted
cat $stats
expect_eq "$(( $(bad) - b0 ))" 7 "bad host messages counted"
expect_klog 'pvg_vmbus: dropped a host message: ' "log line for bad host messages"
expect_eq "$(ls /sys/bus/pvg_vmbus/devices/ | wc -l)" 2 "devices (no duplicate, no bogus one)"
# A corrupt ring costs only its channel.
runs=$(ls -d /sys/kernel/debug/pvg_echo.* | sort)
first=$(echo "$runs" | head -1)/run
second=$(echo "$runs" | tail -1)/run
host sim inject ring-bad-packet echo0 || host sim inject ring-bad-packet echo1
wait_until 30 "log line for the corrupt ring" expect_klog 'ring buffer corrupt' x
ok=0
for r in $first $second; do
	if echo "200 4 1 4000" >$r 2>/dev/null && expect_match "$(cat $r)" 'received=200 bad=0' "traffic"; then ok=$((ok + 1)); fi
done
expect_eq "$ok" 1 "channels still working after one ring was corrupted"
host sim inject ring-bad-index echo1 || true
sleep 1
unload pvg_echo
unload pvg_vmbus
