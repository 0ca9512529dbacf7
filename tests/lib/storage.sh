# Helpers for tests on a synthetic disk that the host mistreats (tests/hostile/storage-*.sh).
# A test sources it after guest.sh: `. /payload/tests/lib/storage.sh`.
#
# The disk pvda (LUN 0) carries an ext4 file system on its first 64 MiB with fsync'd files of
# random data, left mounted and idle while the host misbehaves; the host's faults are aimed
# at single 4 KiB O_DIRECT transfers in a scratch region beyond the file system. Afterwards
# the file system must still be intact and usable, and the modules must unload.

PVD_MNT=/mnt/pvd
PVD_SUMS=/tmp/pvd.sums
# First 4 KiB block of the scratch region (at 96 MiB).
PVD_SCRATCH=$((96 * 256))

# pvd_info KEY: a value from the controller's debugfs info file.
pvd_info() { sed -n "s/^$1 //p" /sys/kernel/debug/pvg_storvsc/*/info | head -n 1; }

# pvd_queue_sum COLUMN: a column of the debugfs queues table summed over the queues
# (2 requests, 3 completions, 4 errors, 5 timeouts, 6 resets, 7 retries, 9 in flight).
pvd_queue_sum() { awk -v c="$1" 'NR > 1 { s += $c } END { print s + 0 }' /sys/kernel/debug/pvg_storvsc/*/queues; }

# pvd_setup [PARAM=VALUE...]: load pvg_storvsc (with the parameters), wait for pvda, make the
# file system, write 16 files of 1 MiB, fsync them, remember their checksums.
pvd_setup() {
	load pvg_storvsc "$@"
	wait_until 60 "disk pvda" test -e /sys/block/pvda
	mkfs.ext4 -q -F /dev/pvda 64M
	mkdir -p $PVD_MNT
	mount -o noatime /dev/pvda $PVD_MNT
	local i
	for i in $(seq -w 1 16); do
		head -c 1M /dev/urandom >$PVD_MNT/f$i
	done
	(cd $PVD_MNT && sha256sum f* >$PVD_SUMS)
	sync -f $PVD_MNT
}

# pvd_read BLOCK / pvd_write BLOCK: one 4 KiB O_DIRECT transfer at scratch block BLOCK, under
# a 120 s limit; returns dd's status (124: it hung). A write sends /tmp/pvd.block (random).
pvd_read() {
	timeout 120 dd if=/dev/pvda of=/tmp/pvd.in bs=4k count=1 skip=$((PVD_SCRATCH + $1)) iflag=direct status=none
}
pvd_write() {
	[ -f /tmp/pvd.block ] || head -c 4096 /dev/urandom >/tmp/pvd.block
	timeout 120 dd if=/tmp/pvd.block of=/dev/pvda bs=4k count=1 seek=$((PVD_SCRATCH + $1)) oflag=direct status=none
}

# pvd_expect_error WHAT REGEX COMMAND...: COMMAND (pvd_read, pvd_write) must fail with an
# error message matching REGEX (e.g. 'Input/output error'), not succeed or hang.
pvd_expect_error() {
	local what=$1 rx=$2 rc=0 t0
	shift 2
	t0=$(date +%s)
	"$@" 2>/tmp/pvd.err || rc=$?
	note "$what: exit $rc after $(($(date +%s) - t0)) s: $(tr '\n' ' ' </tmp/pvd.err)"
	[ "$rc" -ne 124 ] || fail "$what hung for 120 s"
	[ "$rc" -ne 0 ] || fail "$what succeeded"
	grep -Eq -- "$rx" /tmp/pvd.err || fail "$what failed, but not with /$rx/"
}

# pvd_round_trip BLOCK: write a random block at BLOCK and read it back (must succeed).
pvd_round_trip() {
	head -c 4096 /dev/urandom >/tmp/pvd.block
	pvd_write "$1" || fail "write to scratch block $1 failed (exit $?)"
	pvd_read "$1" || fail "read of scratch block $1 failed (exit $?)"
	cmp -s /tmp/pvd.in /tmp/pvd.block || fail "scratch block $1 reads back different data"
}

# pvd_check_fs: the file system after the fault: every checksum (from the disk, not the page
# cache), one more fsync'd file, unmount, a clean forced e2fsck.
pvd_check_fs() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	(cd $PVD_MNT && sha256sum -c --quiet $PVD_SUMS) || fail "fsync'd files differ after the fault"
	head -c 1M /dev/urandom >$PVD_MNT/after
	sync $PVD_MNT/after
	umount $PVD_MNT
	e2fsck -fn /dev/pvda >/tmp/fsck.out 2>&1 || { tail -n 20 /tmp/fsck.out; fail "e2fsck found problems"; }
}

# pvd_teardown: unload the storage VSC and the VMBus core; nothing may be left behind.
pvd_teardown() {
	expect_eq "$(pvd_queue_sum 9)" 0 "requests still in flight"
	unload pvg_storvsc
	[ ! -e /sys/block/pvda ] || fail "pvda still there after unload"
	unload pvg_vmbus
	expect_klog 'pvg_vmbus: unloaded: 0 channels and 0 shared buffers left' "nothing left in the VMBus core"
}
