# udev loads pvg_netvsc for the NIC the host offers: our bus announces it with the modalias
# vmbus:<class GUID bytes>, which pvg_netvsc declares as its alias (the form the in-kernel
# hv_vmbus uses, so hv_netvsc shares it); the interface comes up and works.
# timeout: 180
# boot: vcpus=2
# sim: --nic tap=pvt0
. /payload/tests/lib/net.sh
alias=vmbus:635161f83edfc546913ff2d2f965ed0e
expect_match "$(modinfo -F alias pvg_netvsc)" "^$alias$" "modinfo alias"
expect_match "$(modprobe -R "$alias" | tr '\n' ' ')" "(^| )pvg_netvsc( |$)" "modprobe -R $alias"
! grep -q '^pvg_netvsc ' /proc/modules || fail "pvg_netvsc is loaded before udev ran"
load pvg_vmbus
dev=
for d in /sys/bus/pvg_vmbus/devices/*; do
	[ "$(cat "$d/modalias" 2>/dev/null)" = "$alias" ] && dev=$d
done
[ -n "$dev" ] || fail "no device with modalias $alias on the pvg_vmbus bus"
udevd=$(ls /usr/lib/systemd/systemd-udevd /lib/systemd/systemd-udevd 2>/dev/null | head -n 1)
[ -n "$udevd" ] || fail "no systemd-udevd in the guest image"
"$udevd" --daemon --resolve-names=never
trap 'udevadm control --exit 2>/dev/null || true' EXIT
udevadm trigger --action=add --subsystem-match=pvg_vmbus
udevadm settle --timeout=60 || fail "udevadm settle timed out"
wait_until 30 "udev loading pvg_netvsc" grep -q '^pvg_netvsc ' /proc/modules
expect_eq "$(basename "$(readlink -f "$dev/driver")")" pvg_netvsc "driver bound to $(basename "$dev")"
nic_wait
nic_up 10.99.0.2/24
ping -c 2 -W 5 10.99.0.1 >/dev/null || fail "ping through the NIC udev brought up"
udevadm control --exit
trap - EXIT
ip link set "$NIC" down
unload pvg_netvsc
