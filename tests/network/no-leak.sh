# No info leaks from the NIC: the guest boots with init_on_alloc=0 and slub_debug=P and fills
# most free pages with the poison byte first; the host scans every VMBus message and ring
# packet and everything the NetVSP reads from send sections and GPA ranges (--leak-check)
# while the NIC goes through its whole life: bring-up with sub-channels, control requests
# (filters, promiscuous, multicast list), small frames in send sections, TSO and jumbo
# frames as page lists both ways, receive completions, unload.
# timeout: 600
# boot: vcpus=2 cmdline=init_on_alloc=0,slub_debug=P
# sim: --nic tap=pvt0 --leak-check
# also: hostile
. /payload/tests/lib/net.sh
grep -q 'init_on_alloc=0' /proc/cmdline || fail "the guest did not boot with init_on_alloc=0"
mkdir -p /tmp/poison && mount -t tmpfs -o size=512M tmpfs /tmp/poison
head -c 384M /dev/zero | tr '\000' '\153' >/tmp/poison/fill
rm -f /tmp/poison/fill && umount /tmp/poison
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24 fd99:0::2/64
ping -c 5 -i 0.2 -W 5 10.99.0.1 >/dev/null || fail "ping"
ping -6 -c 3 -W 5 fd99:0::1 >/dev/null || fail "ping6"
ip link set "$NIC" promisc on && ip link set "$NIC" promisc off
for i in 10 11 12; do ip maddr add "01:00:5e:00:00:$i" dev "$NIC"; done
host net bg srv iperf3 -s -1 >/dev/null
sleep 1
iperf3 -c 10.99.0.1 -t 4 --bidir >/dev/null || fail "iperf3"
host net wait srv 60 >/dev/null || true
ip link set "$NIC" mtu 9000
ping -M do -s 8972 -c 3 -W 5 10.99.0.1 >/dev/null || fail "jumbo ping"
host net bg sink netpeer sink 5031 >/dev/null
sleep 1
head -c 16777216 /dev/zero >/dev/tcp/10.99.0.1/5031
host net wait sink 60 >/dev/null || fail "sink"
ip link set "$NIC" down
unload pvg_netvsc
r=$(host sim leaks)
note "$r"
expect_match "$r" 'enabled=true checked=[1-9][0-9]* .*leaks=0$' "leaks in what the NIC gave the host"
