# Helpers for the network guest tests (tests/network/*.sh): source after guest.sh with
#   . /payload/tests/lib/net.sh
# The synthetic NIC is whichever interface's device is bound to pvg_netvsc (its name is the
# kernel's choice); its peer is the harness's TAP in a namespace of its own, 10.99.0.1.

# A test that fails leaves nothing behind for the next one in the same guest: the runner
# (tests/guest/init) unloads our modules after it, the interface and addresses go with them.

# iface_of DRIVER: the first interface bound to DRIVER (empty if none).
iface_of() {
	local d
	for d in /sys/class/net/*; do
		[ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = "$1" ] && { basename "$d"; return 0; }
	done
	return 0
}

# nic_name: the pvg_netvsc interface (empty if none).
nic_name() { iface_of pvg_netvsc; }

# nic_present: whether a pvg_netvsc interface exists.
nic_present() { [ -n "$(nic_name)" ]; }

# nic_wait [SECS]: wait for the interface; sets NIC.
nic_wait() {
	wait_until "${1:-60}" "a pvg_netvsc interface" nic_present
	NIC=$(nic_name)
}

# nic_up ADDR/LEN [ADDR6/LEN]: bring $NIC up with the addresses, wait for the carrier.
nic_up() {
	ip link set "$NIC" up
	ip addr add "$1" dev "$NIC"
	[ -z "${2:-}" ] || ip -6 addr add "$2" dev "$NIC" nodad
	wait_until 30 "carrier on $NIC" grep -qx 1 "/sys/class/net/$NIC/carrier"
}

# nic_stat NAME: the value of counter NAME in `ethtool -S $NIC` (fails if it is missing).
nic_stat() {
	local v
	v=$(ethtool -S "$NIC" | awk -v n="$1:" '$1 == n { print $2 }')
	[ -n "$v" ] || fail "ethtool -S $NIC has no counter $1"
	echo "$v"
}

# stat_ge NAME VALUE: whether counter NAME of `ethtool -S $NIC` is at least VALUE (for
# wait_until, which re-runs its command).
stat_ge() { [ "$(nic_stat "$1")" -ge "$2" ]; }

# host_stat FIELD [NIC]: FIELD=value from the simulator's `stats` of nic0 (or NIC).
host_stat() {
	host sim dev "${2:-nic0}" stats | tr ' ' '\n' | awk -F= -v f="$1" '$1 == f { print $2 }'
}

# host_stat_is FIELD VALUE: whether the simulator's FIELD is VALUE (for wait_until).
host_stat_is() { [ "$(host_stat "$1")" = "$2" ]; }

# peer CMD...: run CMD in the peer namespace (fails the test on a non-zero status).
peer() {
	local out rc=0
	out=$(host net run "$@") || rc=$?
	[ "$rc" -eq 0 ] || { printf '%s\n' "$out" | tail -n 5; fail "peer: '$*' exited $rc"; }
	printf '%s\n' "$out"
}
