# Two synthetic NICs in one guest, connected by the host's software switch: two interfaces
# with their own MACs (00:15:5d:00:00:10 and ...:11), one moved into a network namespace;
# ping and 16 MiB of TCP between them go through the host's switch (checked byte for byte);
# unloading removes both, also the one inside the namespace.
# timeout: 240
# boot: vcpus=2
# sim: --nic switch=s0 --nic switch=s0
. /payload/tests/lib/net.sh
trap 'ip netns del nsb 2>/dev/null || true' EXIT
count() { ls -l /sys/class/net/*/device/driver 2>/dev/null | grep -c '/pvg_netvsc$' || true; }
two() { [ "$(count)" = 2 ]; }
load pvg_netvsc
wait_until 60 "two pvg_netvsc interfaces" two
a= b=
for d in /sys/class/net/*; do
	case "$(cat "$d/address")" in
	00:15:5d:00:00:10) a=$(basename "$d") ;;
	00:15:5d:00:00:11) b=$(basename "$d") ;;
	esac
done
[ -n "$a" ] && [ -n "$b" ] || fail "interfaces with MACs 00:15:5d:00:00:10 and :11: got '$a' '$b'"
ip netns add nsb
ip link set "$b" netns nsb
ip addr add 10.97.0.1/24 dev "$a"
ip link set "$a" up
ip netns exec nsb ip addr add 10.97.0.2/24 dev "$b"
ip netns exec nsb ip link set lo up
ip netns exec nsb ip link set "$b" up
wait_until 30 "carrier on $a" grep -qx 1 "/sys/class/net/$a/carrier"
ping -c 3 -W 5 10.97.0.2 >/dev/null || fail "ping from $a to $b through the host's switch"
head -c 16777216 /dev/urandom >/tmp/data
ip netns exec nsb nc -l 5000 >/tmp/got &
lpid=$!
sleep 1
cat /tmp/data >/dev/tcp/10.97.0.2/5000
for _ in $(seq 300); do kill -0 $lpid 2>/dev/null || break; sleep 0.1; done
kill $lpid 2>/dev/null || true
cmp /tmp/data /tmp/got || fail "the 16 MiB that arrived in the namespace differ"
note "switch: $(host sim dev nic0 stats | tr ' ' '\n' | grep -E '^(switch|forwarded|flooded)=' | tr '\n' ' ')"
unload pvg_netvsc
expect_eq "$(ip netns exec nsb ls /sys/class/net | grep -vc '^lo$' || true)" 0 "interfaces left in the namespace"
