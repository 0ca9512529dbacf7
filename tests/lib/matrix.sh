# Helpers for the interop matrix's workloads (tests/matrix/*.sh, run by scripts/matrix): source
# after guest.sh with `. /payload/tests/lib/matrix.sh`. The matrix boots one guest per
# configuration and runs the workloads its devices allow; `host matrix` says which configuration
# this is (vcpus=N sockets=N vendor=intel|amd disk=0|1 nic=0|1). Each workload loads what it
# needs, checks the guest is the configuration it should be, and unloads everything at the end
# (a failed one is cleaned up by the guest runner), so the workloads of a row are independent.
# A workload's key figure is its last "figure: ..." line.

MX_MNT=/mnt/mx
MX_PEER=10.99.0.1
MX_GUEST=10.99.0.2

# mx_row KEY: a value of this configuration (from the matrix runner on the host).
mx_row() { host matrix | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# figure TEXT: the cell's key figure.
figure() { echo "figure: $*"; }

# mx_check_cpu: the guest has the vCPUs, sockets and CPU vendor of its row, and the hypercall
# adapter saw the same vendor (its vendor-dependent paths are what the Intel/AMD rows exercise).
mx_check_cpu() {
	local sockets vendor line
	expect_eq "$(nproc)" "$(mx_row vcpus)" "vCPUs"
	sockets=$(awk -F: '/^physical id/ { print $2 }' /proc/cpuinfo | sort -u | wc -l)
	expect_eq "$sockets" "$(mx_row sockets)" "sockets (distinct physical ids)"
	vendor=$(awk -F': ' '/^vendor_id/ { print $2; exit }' /proc/cpuinfo)
	case "$(mx_row vendor)" in
	intel) expect_eq "$vendor" GenuineIntel "CPU vendor" ;;
	amd) expect_eq "$vendor" AuthenticAMD "CPU vendor" ;;
	*) fail "unknown vendor in the row: $(mx_row vendor)" ;;
	esac
	line=$(dmesg | grep 'pvg_hcall: hypervisor ' | tail -n 1)
	expect_match "$line" "cpu $(mx_row vendor);" "the adapter's detection line"
}

# mx_disk: load pvg_storvsc, make an ext4 file system on the synthetic disk and mount it.
mx_disk() {
	load pvg_storvsc
	mx_check_cpu
	wait_until 60 "disk pvda" test -e /sys/block/pvda
	mkfs.ext4 -q -F /dev/pvda
	mkdir -p $MX_MNT
	mount -o noatime /dev/pvda $MX_MNT
}

# mx_disk_done: unmount (the data must reach the disk: umount syncs) and unload.
mx_disk_done() {
	umount $MX_MNT
	unload pvg_storvsc
}

# mx_nic: load pvg_netvsc, bring the synthetic NIC up at $MX_GUEST/24; sets NIC.
mx_nic() {
	. /payload/tests/lib/net.sh
	load pvg_netvsc
	mx_check_cpu
	nic_wait
	nic_up $MX_GUEST/24
}

# mx_nic_done: take the NIC down and unload.
mx_nic_done() {
	ip link set "$NIC" down
	unload pvg_netvsc
}

# mx_done: unload the bus and the adapter once a workload's drivers are gone.
mx_done() {
	unload pvg_vmbus
	unload pvg_hcall
}
