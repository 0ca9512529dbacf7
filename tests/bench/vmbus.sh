# scripts/bench vmbus (guest part): echo round trips through the simulator's echo device, fixed
# packet sizes, 2 vCPUs: packets per second and payload bytes per second in each direction
# (every packet is sent by the guest, echoed by the host and verified by the guest). The
# host part (ring vs memcpy) is `cargo bench -p vmbus-proto --bench ring`.
# timeout: 900
# boot: vcpus=2 sim=--echo=1
load pvg_echo
run=$(ls -d /sys/kernel/debug/pvg_echo.*)/run
for size in 64 1024 4032; do
	n=$((size < 1024 ? 200000 : 100000))
	echo "$n 5 $size $size" >$run
	r=$(cat $run)
	note "$size B: $r"
	expect_match "$r" "received=$n bad=0" "echo run of $size B packets"
	us=$(printf '%s\n' "$r" | tr ' ' '\n' | sed -n 's/^elapsed_us=//p')
	echo "RESULT echo_${size}_packets_per_s $((n * 1000000 / us)) packets/s"
	echo "RESULT echo_${size}_MB_per_s $((n * size / us)) MB/s"
done
unload pvg_echo
