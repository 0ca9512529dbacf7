# scripts/bench adapter: the ops table's dispatch cost against a direct call of the same
# backend function, the simulator's call round trip, and the echo (post + SynIC interrupt)
# round trip. Prints "RESULT <name> <value> <unit>" lines.
# timeout: 600
# boot: vcpus=2 sim=on
load pvg_hcall
d=/sys/kernel/debug/pvg_hcall
echo 200000 >$d/bench
b=$(cat $d/bench)
note "$b"
val() { printf '%s\n' "$b" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo "RESULT table_call $(val table_ns) ns"
echo "RESULT direct_call $(val direct_ns) ns"
echo 2000 >$d/bench
b=$(cat $d/bench)
echo "RESULT sim_round_trip $(val ping_ns) ns"
echo 1000 >$d/selftest
s=$(cat $d/selftest)
note "$s"
posted=$(printf '%s\n' "$s" | tr ' ' '\n' | sed -n 's/^posted=//p')
us=$(printf '%s\n' "$s" | tr ' ' '\n' | sed -n 's/^elapsed_us=//p')
echo "RESULT echo_round_trip $((us * 1000 / posted)) ns"
unload pvg_hcall
