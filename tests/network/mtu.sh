# Jumbo frames: the NIC offers MTU 68..9000 (the host's 9216-byte receive sections hold a
# 9000-byte frame with its RNDIS header), refuses 9001, and carries unfragmented 9000-byte
# packets both ways and TCP with a 9000-byte MTU (checked by SHA-256); back to 1500 after.
# timeout: 300
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
expect_match "$(ip -d link show "$NIC")" "minmtu 68 maxmtu 9000" "MTU range of $NIC"
! ip link set "$NIC" mtu 9001 2>/dev/null || fail "MTU 9001 was accepted"
ip link set "$NIC" mtu 9000
nic_up 10.99.0.2/24
expect_eq "$(cat /sys/class/net/$NIC/mtu)" 9000 "MTU"
ping -M do -s 8972 -c 3 -W 5 10.99.0.1 >/tmp/ping.out || { tail -n 3 /tmp/ping.out; fail "9000-byte ping from the guest"; }
peer ping -M do -s 8972 -c 3 -W 5 10.99.0.2 >/dev/null
frames=$(host_stat rx_frames) bytes=$(host_stat rx_bytes)
host net bg src netpeer source 5011 67108864 11 >/dev/null
sleep 1
got=$(sha256sum </dev/tcp/10.99.0.1/5011 | cut -d' ' -f1)
src=$(host net wait src 100) || fail "netpeer source: $src"
expect_match "$src" "sha256=$got" "SHA-256 of 64 MiB received with MTU 9000"
avg=$(( ($(host_stat rx_bytes) - bytes) / ($(host_stat rx_frames) - frames) ))
[ "$avg" -gt 8000 ] || fail "the host delivered frames of $avg bytes on average (expected jumbo frames)"
note "64 MiB at MTU 9000: $avg bytes per received frame on average"
# Back to 1500: a 1472-byte payload fits, a 1473-byte one does not leave unfragmented.
ip link set "$NIC" mtu 1500
ping -M do -s 1472 -c 2 -W 5 10.99.0.1 >/dev/null || fail "1500-byte ping after the MTU change"
! ping -M do -s 1473 -c 1 -W 2 10.99.0.1 >/dev/null 2>&1 || fail "a 1501-byte packet left with MTU 1500"
ip link set "$NIC" down
unload pvg_netvsc
