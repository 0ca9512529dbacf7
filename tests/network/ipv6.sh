# IPv6 TCP both ways (TSO6 and IPv6 checksum offload on transmit, the host's checksum
# verdict on receive), checked by SHA-256; the frames sent are TSO super-frames.
# timeout: 200
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
load pvg_netvsc
nic_wait
nic_up 10.99.0.2/24 fd99:0::2/64
digest() { printf '%s\n' "$1" | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p'; }
sum() { ethtool -S "$NIC" | awk -v s="$1" '$1 ~ "^queue_[0-9]+_" s ":$" { t += $2 } END { print t + 0 }'; }
host net bg sink netpeer sink 5051 >/dev/null
host net bg src netpeer source 5052 16777216 52 >/dev/null
sleep 1
got=$(sha256sum </dev/tcp/fd99:0::1/5052 | cut -d' ' -f1)
src=$(host net wait src 100) || fail "source: $src"
expect_eq "$got" "$(digest "$src")" "SHA-256 of 16 MiB over IPv6 TCP (received)"
frames0=$(sum tx_packets) bytes0=$(sum tx_bytes)
head -c 16777216 /dev/zero >/dev/tcp/fd99:0::1/5051
sink=$(host net wait sink 100) || fail "sink: $sink"
expect_match "$sink" "bytes=16777216 sha256=080acf35a507ac9849cfcba47dc2ad83e01b75663a516279c8b9d243b719643e" "16 MiB of zeros over IPv6 TCP (sent)"
frames=$(($(sum tx_packets) - frames0)) bytes=$(($(sum tx_bytes) - bytes0))
# Without TSO no frame exceeds 1514 bytes (MTU 1500 + Ethernet header).
[ $((bytes / frames)) -gt 1600 ] || fail "IPv6 TCP sent $frames frames of $((bytes / frames)) bytes on average (no TSO6)"
note "IPv6 TCP: 16 MiB sent in $frames frames ($((bytes / frames)) bytes on average: TSO6)"
ip link set "$NIC" down
unload pvg_netvsc
