# Helpers for guest tests, sourced by the runner before each test (bash, set -eu -o pipefail).
# A test fails by exiting non-zero; the last line it printed is shown as the reason, so
# every helper prints what went wrong before it exits.

# fail MESSAGE: stop the test with MESSAGE as the reason.
fail() { echo "FAIL: $*"; exit 1; }

# note MESSAGE: a line of test output (shown with -v and in the results).
note() { echo "$*"; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

# Memory figures for leak rules, in kB. mem_settle first: writes back and drops the page cache
# and compacts, so that caches do not count.
mem_settle() { sync; echo 3 >/proc/sys/vm/drop_caches; echo 1 >/proc/sys/vm/compact_memory; }
# mem_kernel_kb: the kernel's own allocations (slab, vmalloc, per-cpu, stacks, page tables); free
# memory alone moves by MiBs, these do not.
mem_kernel_kb() { awk '/^(SUnreclaim|VmallocUsed|Percpu|KernelStack|PageTables):/ {s += $2} END {print s}' /proc/meminfo; }
# mem_avail_kb: MemAvailable plus the free pages held on the per-CPU page lists (/proc/zoneinfo
# "count:"), which MemAvailable leaves out: those lists grow and shrink by 10-20 MiB between two
# readings on a 2 GiB guest, the sum stays within 1 MiB.
mem_avail_kb() {
	local avail pcp
	avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
	pcp=$(awk '$1 == "count:" {s += $2} END {print s + 0}' /proc/zoneinfo)
	echo $((avail + pcp * $(getconf PAGESIZE) / 1024))
}

# expect_mem_below KB LIMIT_KB WHAT: fail when KB (how much the kernel's own allocations grew,
# or how much free memory was lost) is LIMIT_KB or more, with "WHAT: KB kB". On the debug
# kernel (kmemleak present) such figures mean little (KASAN's quarantine keeps freed memory,
# lockdep and debug objects grow) and kmemleak, which scans after the boot's last test,
# judges leaks instead: only noted.
expect_mem_below() {
	[ "$1" -lt "$2" ] && return 0
	if [ -e /sys/kernel/debug/kmemleak ]; then
		note "$3: $1 kB (limit $2 kB; debug kernel: left to kmemleak's scan)"
		return 0
	fi
	fail "$3: $1 kB (limit $2 kB)"
}

# expect_match TEXT REGEX WHAT
expect_match() { printf '%s\n' "$1" | grep -Eq -- "$2" || fail "$3: '$1' does not match /$2/"; }

# wait_until SECONDS WHAT COMMAND...: re-run COMMAND (quietly) every 0.2 s until it succeeds;
# fail with WHAT after SECONDS.
wait_until() {
	local secs=$1 what=$2 i
	shift 2
	for i in $(seq $((secs * 5))); do
		("$@") >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "$what: still not true after $secs s"
}

# load MODULE [PARAM=VALUE...]: modprobe, failing the test with modprobe's own message.
load() {
	local out
	out=$(modprobe "$@" 2>&1) || fail "modprobe $* failed: ${out:-no message}"
	grep -q "^${1//-/_} " /proc/modules || fail "modprobe $1 succeeded but $1 is not in /proc/modules"
}

# unload MODULE: rmmod, failing the test if the module does not go away.
unload() {
	local out
	out=$(rmmod "$1" 2>&1) || fail "rmmod $1 failed: ${out:-no message}"
	! grep -q "^${1//-/_} " /proc/modules || fail "rmmod $1 succeeded but $1 is still loaded"
}

# klog_since_begin: kernel log lines since this test began (the runner marks the start).
klog_since_begin() {
	dmesg | awk -v id="$PVG_TEST_ID" 'index($0, "pvguest: BEGIN " id) { on = 1; next } on'
}

# expect_klog REGEX WHAT: a kernel log line since the test began matches REGEX.
expect_klog() {
	klog_since_begin | grep -Eq -- "$1" || {
		klog_since_begin | tail -n 5 | sed 's/^/  klog: /'
		fail "$2: no kernel log line matches /$1/"
	}
}

_pvg_seq=0
# host COMMAND...: ask the host harness to do something (e.g. drive the simulator); prints
# the host's answer and returns its status.
host() {
	_pvg_seq=$((_pvg_seq + 1))
	printf 'CMD %s %s\n' "$_pvg_seq" "$*" >&"${PVG_CTL_FD:-3}"
	local tag seq rc msg
	while IFS=' ' read -r -t 120 tag seq rc msg <&"${PVG_CTL_FD:-3}"; do
		[ "$tag" = ACK ] && [ "$seq" = "$_pvg_seq" ] || continue
		printf '%s\n' "$msg"
		return "$rc"
	done
	fail "the host did not answer command '$*' within 120 s"
}
