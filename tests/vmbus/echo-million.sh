# One million echo packets of random sizes (1..4032 bytes) in each direction on a 1-vCPU
# guest, every payload verified by its originator.
# timeout: 1500
# boot: vcpus=1 sim=--echo=1
load pvg_echo
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
echo "1000000 11 1 4032" >$run
r=$(cat $run)
note "guest to host: $r"
expect_match "$r" 'total=1000000 sent=1000000 received=1000000 bad=0 send_errors=0' "guest-originated packets"
host sim dev echo0 send 1000000 12 1 4032
all_back() { host sim vmbus | grep -q "sent=1000000 verified=1000000 bad=0"; }
wait_until 900 "the host got all its packets back" all_back
h=$(host sim vmbus)
note "host: $h"
expect_match "$h" 'echo0 offered=true echoed=1000000 sent=1000000 verified=1000000 bad=0' "host-originated packets"
