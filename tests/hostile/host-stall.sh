# A host that stops answering (every hypercall unanswered) while a VSC binds: opening the
# channel fails within bounded time with one log line, nothing hangs; when the host answers
# again, binding and traffic work.
# timeout: 300
# boot: vcpus=2 sim=--echo=1
load pvg_vmbus
host sim stall on
t0=$(date +%s)
load pvg_echo
wait_until 60 "the bind attempt to end" sh -c '! ls -d /sys/kernel/debug/pvg_echo.* >/dev/null 2>&1 && dmesg | grep -q "pvg_echo\|pvg_vmbus.*\(timed out\|did not answer\|-110\)"'
note "bind attempt ended after $(( $(date +%s) - t0 )) s: $(dmesg | grep -E 'pvg_(vmbus|echo|hcall)' | tail -n 3 | tr '\n' '|')"
[ -z "$(ls -d /sys/kernel/debug/pvg_echo.* 2>/dev/null)" ] || fail "the echo device bound against a stalled host"
host sim stall off
unload pvg_echo
load pvg_echo
wait_until 30 "the echo device bound" sh -c 'ls -d /sys/kernel/debug/pvg_echo.* >/dev/null 2>&1'
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
echo "1000 6 1 4032" >$run
expect_match "$(cat $run)" 'received=1000 bad=0' "traffic after the host recovered"
unload pvg_echo
unload pvg_vmbus
