# A buggy or hostile host: messages on a SINT nobody registered, a message claiming a payload
# larger than a slot can hold, and a host that stops answering calls. Each is logged once,
# costs only the affected call (-ETIMEDOUT), and the transport works again afterwards.
# timeout: 180
# boot: vcpus=2 sim=on
# also: hostile
load pvg_hcall
st=/sys/kernel/debug/pvg_hcall/selftest
echo 20 >$st
expect_match "$(cat $st)" 'posted=40 post_errors=0 received=40 wrong_cpu=0 bad_payload=0' "baseline self-test"

# SINT 5 has no consumer: dropped with one log line, however often it happens.
host sim post-raw 0 5 0x1234 16 00112233445566778899aabbccddeeff
host sim post-raw 1 5 0x1234 16 00112233445566778899aabbccddeeff
host sim post-raw 0 5 0x1234 16 00112233445566778899aabbccddeeff
sleep 1
expect_klog 'message of type 0x1234 on SINT 5 of VP [01], which nobody registered; dropped \(logged once\)' "unregistered SINT"
expect_eq "$(klog_since_begin | grep -c 'which nobody registered')" 1 "log lines for the unregistered SINT"

# A payload size past the slot.
host sim post-raw 1 6 0x99 250 00
sleep 1
expect_klog 'message of type 0x99 with payload size 250 \(> 240\) on SINT 6 of VP 1; dropped' "oversized message"
grep -q '^synic_dropped 4$' /sys/kernel/debug/pvg_hcall/stats || fail "expected 4 dropped messages: $(grep synic_dropped /sys/kernel/debug/pvg_hcall/stats)"

# A host that stops answering: the call fails cleanly, once logged; then everything works.
host sim stall on
if echo 5 >$st 2>/tmp/err; then fail "self-test succeeded against a stalled host"; fi
grep -q 'Connection timed out' /tmp/err || fail "expected ETIMEDOUT, got: $(cat /tmp/err)"
expect_klog 'the host did not answer a call .* within 1000 ms; failing it with -ETIMEDOUT \(logged once\)' "timeout log line"
host sim stall off
echo 50 >$st
expect_match "$(cat $st)" 'posted=100 post_errors=0 received=100 wrong_cpu=0 bad_payload=0' "self-test after the host recovered"
unload pvg_hcall
! klog_since_begin | grep -q 'leaking the shared pages' || fail "pages were leaked although the host recovered"
