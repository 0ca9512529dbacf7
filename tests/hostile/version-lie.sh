# Version-negotiation lies: a host that refuses every version, one that answers twice, and one
# that names a message connection id nobody serves. Loading fails cleanly with one clear log
# line (no hang: bounded waits), a duplicate answer is dropped and counted, and once the host
# is honest again the bus connects and carries traffic.
# timeout: 300
# boot: vcpus=2 sim=--echo=1
load pvg_hcall
host sim lie refuse-all
if out=$(modprobe pvg_vmbus 2>&1); then fail "pvg_vmbus loaded against a host that refused every version"; fi
note "refuse-all: modprobe said: $out"
expect_klog 'pvg_vmbus: the host accepted none of the VMBus versions' "refusal log line"

host sim lie bad-connection-id
t0=$(date +%s)
if out=$(modprobe pvg_vmbus 2>&1); then fail "pvg_vmbus loaded although its messages go nowhere"; fi
note "bad-connection-id: modprobe failed after $(( $(date +%s) - t0 )) s: $out"
[ $(( $(date +%s) - t0 )) -lt 60 ] || fail "a failing connect took $(( $(date +%s) - t0 )) s"

host sim lie double-response
load pvg_vmbus
stats=/sys/kernel/debug/pvg_vmbus/stats
wait_until 10 "the second VERSION_RESPONSE counted" grep -q '^bad_messages [1-9]' $stats
expect_klog 'pvg_vmbus: dropped a host message: ' "log line for the duplicate answer"
unload pvg_vmbus

host sim lie none
load pvg_echo
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
echo "500 1 1 4032" >$run
expect_match "$(cat $run)" 'received=500 bad=0' "traffic once the host is honest"
unload pvg_echo
unload pvg_vmbus
expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing leaked"
