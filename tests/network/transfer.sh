# 1 GiB over TCP through the guest and back, checked end to end by SHA-256: the peer's netpeer
# source sends a deterministic 1 GiB stream to the guest, the guest relays every byte it
# receives to the peer's netpeer sink on a second connection, and the sink's digest must be
# the source's (so both the receive and the transmit path carried 1 GiB intact). The relay is
# one `cat` between bash's /dev/tcp sockets (nc and sha256sum are too slow under TCG for 1 GiB).
# Then 32 MiB from the peer checked by the guest itself.
# timeout: 900
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
GIB=1073741824
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24

# peer_wait NAME: wait for a background peer command, several bounded waits (each answers
# within the host helper's limit); prints its output.
peer_wait() {
	local out rc
	for _ in $(seq 12); do
		rc=0
		out=$(host net wait "$1" 100) || rc=$?
		[ "$rc" -eq 124 ] || { printf '%s\n' "$out"; return "$rc"; }
	done
	fail "peer command $1 still running after 20 minutes"
}
digest() { printf '%s\n' "$1" | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p'; }

host net bg sink netpeer sink 5002 >/dev/null
host net bg src netpeer source 5001 $GIB 7 >/dev/null
sleep 1
start=$(date +%s)
cat </dev/tcp/10.99.0.1/5001 >/dev/tcp/10.99.0.1/5002
secs=$(($(date +%s) - start))
src=$(peer_wait src) || fail "netpeer source failed: $src"
sink=$(peer_wait sink) || fail "netpeer sink failed: $sink"
expect_match "$src" "bytes=$GIB " "bytes the source sent"
expect_match "$sink" "bytes=$GIB " "bytes the sink received"
expect_eq "$(digest "$sink")" "$(digest "$src")" "SHA-256 of the 1 GiB that came back"
note "1 GiB peer -> guest -> peer in ${secs}s ($((GIB * 8 / secs / 1000000)) Mbit/s each way), sha256 $(digest "$src")"

host net bg src netpeer source 5003 33554432 9 >/dev/null
sleep 1
got=$(sha256sum </dev/tcp/10.99.0.1/5003 | cut -d' ' -f1)
src=$(peer_wait src) || fail "netpeer source failed: $src"
expect_eq "$got" "$(digest "$src")" "SHA-256 of 32 MiB computed in the guest"
note "ethtool: $(ethtool -S "$NIC" | grep -E 'tx_send_sections|tx_page_lists|rx_bad|tx_dropped|_packets' | tr -s ' ' | tr '\n' ' ')"
ip link set "$NIC" down
unload pvg_netvsc
