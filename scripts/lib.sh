# Shared helpers for the scripts in this directory. Source it; do not run it.
#
# Conventions every script follows:
#   - everything downloaded or built is cached under $CACHE and reused;
#   - each long step prints what it does, how far it got and how long it took;
#   - every failure says what went wrong and what to do about it.

set -euo pipefail

PROJECT=pvguest
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PVGUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/$PROJECT}
LOGS=$CACHE/logs
BUILDROOT=$CACHE/buildroot           # trixie chroot with the kernel's toolchain
KCACHE=$CACHE/kernel                 # downloaded kernel packages and prepared trees
GUEST=$CACHE/guest                   # guest userland and boot images
# Kernel series to follow: the newest trixie-backports point release of it is used.
KSERIES=${PVGUEST_KSERIES:-7.3}
KFLAVOUR=${PVGUEST_KFLAVOUR:-cloud-amd64}
DEBIAN_MIRROR=${PVGUEST_MIRROR:-http://deb.debian.org/debian}

mkdir -p "$CACHE" "$LOGS"

if [ -t 1 ]; then
	C_BOLD=$'\e[1m' C_RED=$'\e[31m' C_GRN=$'\e[32m' C_YEL=$'\e[33m' C_OFF=$'\e[0m'
else
	C_BOLD='' C_RED='' C_GRN='' C_YEL='' C_OFF=''
fi

say() { printf '%s\n' "$*"; }
info() { printf '%s==>%s %s\n' "$C_BOLD" "$C_OFF" "$*"; }
warn() { printf '%swarning:%s %s\n' "$C_YEL" "$C_OFF" "$*" >&2; }

# die WHAT [WHAT-TO-DO]: stop with a message saying what failed and what to do.
die() {
	printf '%serror:%s %s\n' "$C_RED" "$C_OFF" "$1" >&2
	if [ $# -gt 1 ]; then printf '  what to do: %s\n' "$2" >&2; fi
	exit 1
}

now() { date +%s; }
# human-readable duration of N seconds
dur() { local s=$1; if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi; }

need_root() {
	[ "$(id -u)" = 0 ] || die "this step needs root (it runs debootstrap, chroot and mount)" \
		"run it as root, e.g. 'sudo $0 $*'"
}

# need_space DIR GIB: fail early when DIR's filesystem has less than GIB free.
need_space() {
	local dir=$1 gib=$2 avail
	mkdir -p "$dir"
	avail=$(df -Pk "$dir" | awk 'NR==2 {print int($4 / 1048576)}')
	[ "$avail" -ge "$gib" ] || die "not enough disk space in $dir: ${avail} GiB free, need ${gib} GiB" \
		"free some space, or point the cache elsewhere with PVGUEST_CACHE=/big/disk/pvguest"
}

# run_logged DESC LOGNAME CMD...: run CMD with its output in $LOGS/LOGNAME.log, printing a
# heartbeat (elapsed time and the log's last line) every 15 s; on failure show the log's tail.
run_logged() {
	local desc=$1 log=$LOGS/$2.log; shift 2
	local start pid rc last
	start=$(now)
	printf '%s==>%s %s ... ' "$C_BOLD" "$C_OFF" "$desc"
	"$@" >"$log" 2>&1 &
	pid=$!
	while ! wait_timeout "$pid" 15; do
		last=$(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | cut -c1-70)
		printf '\n    ... %s so far; last: %s ' "$(dur $(($(now) - start)))" "$last"
	done
	rc=0; wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		printf '%sfailed%s after %s\n' "$C_RED" "$C_OFF" "$(dur $(($(now) - start)))"
		say "---- last lines of $log ----" >&2
		tail -n 30 "$log" >&2
		say "----" >&2
		return "$rc"
	fi
	printf 'done in %s\n' "$(dur $(($(now) - start)))"
}

# wait_timeout PID SECS: true once PID has exited, false if it is still running after SECS.
wait_timeout() {
	local pid=$1 i
	for ((i = 0; i < $2 * 5; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	! kill -0 "$pid" 2>/dev/null
}

# stamp_ok NAME KEY: true when step NAME already completed with the same KEY (inputs hash).
stamp_ok() { [ -f "$CACHE/stamps/$1" ] && [ "$(cat "$CACHE/stamps/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$CACHE/stamps"; printf '%s' "$2" >"$CACHE/stamps/$1"; }
stamp_clear() { rm -f "$CACHE/stamps/$1"; }

# in_buildroot CMD...: run CMD inside the build root with /proc, /sys, /dev and the source
# tree (at /src) bind-mounted. A private mount namespace drops the mounts when CMD ends,
# whatever happens, so nothing is ever left mounted.
in_buildroot() {
	[ -x "$BUILDROOT/bin/sh" ] || die "the build root is missing ($BUILDROOT)" "run scripts/setup first"
	unshare --mount --propagation private -- /bin/sh -ec '
		root=$1; src=$2; shift 2
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		mkdir -p "$root/src"
		mount --bind "$src" "$root/src"
		cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
		exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
	' sh "$BUILDROOT" "$TOP" "$@"
}

# The kernel release recorded by scripts/setup (e.g. 7.3.4+deb13-cloud-amd64).
kernel_release() {
	[ -f "$KCACHE/RELEASE" ] || die "no prepared kernel recorded in $KCACHE/RELEASE" "run scripts/setup first"
	cat "$KCACHE/RELEASE"
}
# Path of the prepared kernel tree (KDIR) inside the build root.
kdir_in_buildroot() { printf '/opt/pvguest/kdir-%s' "$(kernel_release)"; }
