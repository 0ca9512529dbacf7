# Load and unload pvg_netvsc 50 times (the interface up with traffic every 10th time);
# nothing leaks into the next round (the same name comes back, the host's receive sections
# all come back) and the kernel log stays clean.
# timeout: 900
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
for i in $(seq 50); do
	load pvg_netvsc
	nic_wait
	[ "$i" = 1 ] && first=$NIC
	expect_eq "$NIC" "$first" "interface name in round $i"
	if [ $((i % 10)) = 0 ]; then
		nic_up 10.99.0.2/24
		ping -c 2 -W 5 10.99.0.1 >/dev/null || fail "ping in round $i"
	fi
	unload pvg_netvsc
	test ! -e "/sys/class/net/$NIC" || fail "$NIC still exists after unloading (round $i)"
done
expect_eq "$(host_stat sections_free)" "$(host_stat sections_total)" "receive sections returned to the host"
lines=$(klog_since_begin | grep -c 'pvg_netvsc: .*: removed$' || true)
expect_eq "$lines" 50 "remove lines"
