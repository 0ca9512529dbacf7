# The modules as pvguest-dkms installed them in the build root (apt install ./pvguest-dkms_*.deb
# -> DKMS build -> /lib/modules/<release>/updates/dkms/), put in the same place in the guest with
# the package's /etc/modprobe.d/pvguest.conf, then depmod over the whole module tree, and loaded
# the way a system loads them: udev for the devices they drive (pvg_hcall for the simulator's PCI
# device; the VSC for a device our VMBus offers, by its vmbus:<class> modalias), modprobe by name
# with dependencies from depmod. The VSC udev loads here is the pvg_echo test fixture (the only
# device class the simulator offers so far; not packaged: built for this test from the same
# installed DKMS source and shipped in updates/pvguest-test/). (Run by scripts/packaging_tests.py, which ships the files next to this
# script as guest-modprobe.tar; the payload carries no modules of its own.)
# timeout: 300
# boot: sim=--echo=1
rel=$(uname -r)
upd=/lib/modules/$rel/updates/dkms

[ ! -e "$upd" ] || fail "$upd exists before the test installed anything"
tar -xf guest-modprobe.tar -C /
note "installed: $(cd "$upd" && echo *.ko), /etc/modprobe.d/pvguest.conf"

t0=$(date +%s)
depmod -a "$rel" || fail "depmod -a failed"
note "depmod -a over the guest's module tree: $(($(date +%s) - t0))s"
grep -q "^updates/dkms/pvg_hcall.ko:" "/lib/modules/$rel/modules.dep" || fail "modules.dep has no updates/dkms/pvg_hcall.ko"
expect_eq "$(modinfo -n pvg_hcall)" "$upd/pvg_hcall.ko" "modinfo -n pvg_hcall"
vm=$(modinfo -F vermagic pvg_hcall)
expect_eq "${vm%% *}" "$rel" "vermagic of the DKMS-built pvg_hcall"

# Dependencies come from depmod: every installed module resolves, with its dependencies.
for ko in "$upd"/*.ko; do
	m=$(basename "$ko" .ko)
	deps=$(modprobe --show-depends "$m" 2>&1) || fail "modprobe --show-depends $m: $deps"
	note "modprobe --show-depends $m: $(printf '%s\n' "$deps" | awk '{print $2}' | xargs -n1 basename | tr '\n' ' ')"
	for d in $(modinfo -F depends "$m" | tr ',' ' '); do
		printf '%s\n' "$deps" | grep -q "/$d.ko" || fail "modprobe would load $m without its dependency $d"
	done
done

# udev: the host simulator's PCI device (ivshmem doorbell, 1af4:1110) is what pvg_hcall drives.
dev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] && dev=$d
done
[ -n "$dev" ] || fail "no 1af4:1110 PCI device (the host simulator's) in this guest"
alias=$(cat "$dev/modalias")
expect_eq "$(modprobe -R "$alias")" pvg_hcall "modprobe -R $alias"
! grep -q '^pvg_hcall ' /proc/modules || fail "pvg_hcall is loaded before udev ran"
udevd=$(ls /usr/lib/systemd/systemd-udevd /lib/systemd/systemd-udevd 2>/dev/null | head -n 1)
[ -n "$udevd" ] || fail "no systemd-udevd in the guest image"
"$udevd" --daemon --resolve-names=never
trap 'udevadm control --exit 2>/dev/null || true' EXIT
udevadm trigger --action=add --subsystem-match=pci --attr-match=vendor=0x1af4 --attr-match=device=0x1110
udevadm settle --timeout=60 || fail "udevadm settle timed out"
for _ in $(seq 50); do grep -q '^pvg_hcall ' /proc/modules && break; sleep 0.2; done
grep -q '^pvg_hcall ' /proc/modules || fail "udev did not load pvg_hcall for $alias"
expect_klog 'pvg_hcall: .*backend sim$' "pvg_hcall (loaded by udev) picked the sim backend"
note "udev loaded pvg_hcall for $(basename "$dev") ($alias)"
expect_eq "$(basename "$(readlink -f "$dev/driver/module")")" pvg_hcall "module of the driver bound to $(basename "$dev")"

# udev: pvg_vmbus (DKMS-built, loaded by name) offers the simulator's echo device on its bus with
# MODALIAS=vmbus:<class>; udev loads the module with that alias.
if [ -f "/lib/modules/$rel/updates/pvguest-test/pvg_echo.ko" ]; then
	load pvg_vmbus
	for _ in $(seq 100); do grep -q '^pvg_echo ' /proc/modules && break; sleep 0.2; done
	udevadm settle --timeout=60 || true
	dev=$(ls -d /sys/bus/pvg_vmbus/devices/* 2>/dev/null | head -n 1)
	[ -n "$dev" ] || fail "pvg_vmbus offered no device"
	grep -q '^pvg_echo ' /proc/modules || fail "udev did not load pvg_echo for $(cat "$dev/modalias")"
	for _ in $(seq 50); do [ -e "$dev/driver" ] && break; sleep 0.2; done
	expect_eq "$(basename "$(readlink -f "$dev/driver")")" pvg_echo "driver bound to $(basename "$dev")"
	note "udev loaded pvg_echo for $(basename "$dev") ($(cat "$dev/modalias")) on the DKMS-built pvg_vmbus"
	unload pvg_echo
	unload pvg_vmbus
else
	note "no pvg_echo.ko shipped: the VMBus modalias -> udev -> VSC step was not checked"
fi
udevadm control --exit
trap - EXIT
unload pvg_hcall

# modprobe by name, from the installed tree, dependencies from depmod: pvg_vmbus pulls pvg_hcall.
load pvg_vmbus
grep -q '^pvg_hcall ' /proc/modules || fail "modprobe pvg_vmbus did not load its dependency pvg_hcall"
note "modprobe pvg_vmbus: loaded $(modinfo -n pvg_vmbus) and its dependency $(modinfo -n pvg_hcall)"
unload pvg_vmbus
unload pvg_hcall

# Every vmbus alias an installed module declares resolves to it (what udev does for a device).
for ko in "$upd"/*.ko; do
	m=$(basename "$ko" .ko)
	for a in $(modinfo -F alias "$m" | grep '^vmbus:' || true); do
		modprobe -R "$a" | grep -qx "$m" || fail "modprobe -R $a does not name $m"
		note "alias $a -> $(modprobe -R "$a" | tr '\n' ' ')"
	done
done

# The package's modprobe.d file parses, is inert as shipped, and its opt-in lines do what it says:
# with them, an in-tree VSC alias no longer loads the in-tree driver.
conf=$(modprobe -c 2>&1) || fail "modprobe -c failed with pvguest.conf installed: $conf"
storvsc_alias=vmbus:d96361baa104294db60572e2ffb1dc7f
out=$(modprobe -n -v "$storvsc_alias" 2>&1 || true)
expect_match "$out" 'hv_storvsc' "as shipped, modprobe -n -v $storvsc_alias"
sed -n 's/^#\(blacklist hv_storvsc\)$/\1/p' /etc/modprobe.d/pvguest.conf >/etc/modprobe.d/pvguest-optin.conf
expect_eq "$(cat /etc/modprobe.d/pvguest-optin.conf)" "blacklist hv_storvsc" "opt-in line in pvguest.conf"
out=$(modprobe -n -v "$storvsc_alias" 2>&1 || true)
case $out in *hv_storvsc*) fail "with 'blacklist hv_storvsc', modprobe -n -v $storvsc_alias still loads it: $out" ;; esac
if [ -f "$upd/pvg_storvsc.ko" ]; then
	expect_match "$out" 'pvg_storvsc' "with the opt-in, $storvsc_alias loads pvg_storvsc"
fi
rm /etc/modprobe.d/pvguest-optin.conf
note "pvguest.conf: inert as shipped; with its opt-in 'blacklist hv_storvsc' the SCSI class alias loads $(printf '%s\n' "$out" | awk '/insmod/ {n = $2; sub(".*/", "", n); printf "%s ", n}')and no hv_storvsc"
