"""The harness's own tests: boot guests with deliberately broken fixtures
(tests/harness/fixtures/) and check that each breakage fails the right test with a message
that names it. A harness that passes broken tests is worse than none."""

from __future__ import annotations

import time
from pathlib import Path

import harness as h
import harness_net

FIX = h.TESTS / "harness" / "fixtures"


def _fixtures(*names: str) -> list[h.GuestTest]:
    return [h.load_test(FIX / f"{n}.sh", FIX) for n in names]


def _check(tid: str, results: list[h.Result], expect: dict[str, tuple[bool, list[str]]], secs: float) -> h.Result:
    """expect: fixture id -> (should pass, substrings its reason/log must contain)."""
    by_id = {r.id: r for r in results}
    problems, out = [], []
    for fid, (ok, needles) in expect.items():
        r = by_id.get(fid)
        if r is None:
            problems.append(f"{fid}: no result")
            continue
        text = r.reason + " " + " ".join(f"{k}: {l}" for k, l in r.log_problems)
        out.append(f"{fid}: {'PASS' if r.ok else 'FAIL'} - {r.reason}")
        if r.ok != ok:
            problems.append(f"{fid} {'passed' if r.ok else 'failed'} but should have {'passed' if ok else 'failed'}")
        for n in needles:
            if n not in text:
                problems.append(f"{fid}: report lacks {n!r} (got: {r.reason!r})")
    return h.Result(tid, not problems, secs, "; ".join(problems), out)


def _bad_line_patterns() -> h.Result:
    """Pure check of the log classifier on real kernel log lines."""
    t0 = time.time()
    cases = {
        "[   12.345678] WARNING: CPU: 1 PID: 230 at drivers/foo.c:12 foo+0x1/0x2 [pvg_x]": "WARNING",
        "[    5.215648] WARNING: tests/selftest-module/selftest_main.rs:38 at _RNvXCs9Rd+0xb2/0x1a0 [pvg_selftest], CPU#1: modprobe/154": "WARNING",
        "[    5.215457] ------------[ cut here ]------------": None,
        "[    3.1] BUG: kernel NULL pointer dereference, address: 0000000000000008": "BUG",
        "[    3.1] Oops: general protection fault, probably for non-canonical address": "Oops",
        "[    3.1] Kernel panic - not syncing: sysrq triggered crash": "panic",
        "[    3.1] rust_kernel: panicked at drivers/x.rs:3:5:": "panic",
        "[    3.1] UBSAN: array-index-out-of-bounds in drivers/x.c:3:5": "UBSAN",
        "[  150.0] INFO: task modprobe:231 blocked for more than 30 seconds.": "hung task",
        "[   40.0] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [insmod:200]": "BUG",
        "[   40.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:": "RCU stall",
        "[   40.0] rcu: INFO: rcu_preempt self-detected stall on CPU": "RCU stall",
        "[    1.0] pvg_hcall: hypervisor tcg (signature \"TCGTCGTCGTCG\" at 0x40000000)": None,
        "[    1.0] pvg_selftest: loading out-of-tree module taints kernel.": None,
        "[    1.0] clocksource: Watchdog remote CPU 1 read timed out": None,
        # The debug kernel's checkers (scripts/debug-kernel), as they print their reports.
        "[   23.456789] BUG: KASAN: slab-use-after-free in pvg_channel_close+0x1a/0x2b [pvg_vmbus]": "KASAN",
        "[   23.5] KASAN: null-ptr-deref in range [0x0000000000000010-0x0000000000000017]": "KASAN",
        "[   12.3] UBSAN: shift-out-of-bounds in drivers/vmbus/shim.c:88:14": "UBSAN",
        "[   30.1] WARNING: possible circular locking dependency detected": "lockdep",
        "[   30.1] WARNING: inconsistent lock state": "lockdep",
        "[   30.1] WARNING: possible recursive locking detected": "lockdep",
        "[   30.1] WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected": "lockdep",
        "[   30.1] WARNING: suspicious RCU usage": "lockdep",
        "[   30.1] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580": "sleep in atomic",
        "[   30.1] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)": "kmemleak",
        "[   99.1] pvguest: kmemleak: unreferenced object 0xffff888004a1c000 (size 4096):": "kmemleak",
        "[   30.1] ODEBUG: free active (active state 0) object: ffff888005e0c3a8 object type: timer_list hint: 0x0": "debugobjects",
        "[    0.0] kasan: KernelAddressSanitizer initialized (generic)": None,
        "[    0.0] kmemleak: Kernel memory leak detector initialized (mem pool available: 15836)": None,
        "[    0.0] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar": None,
        "[   99.0] pvguest: kmemleak scan after the last test": None,
    }
    problems = []
    for line, want in cases.items():
        got = h.bad_lines([line])
        kind = got[0][0] if got else None
        if want is None and kind is not None:
            problems.append(f"flagged harmless line as {kind}: {line}")
        if want is not None and kind is None:
            problems.append(f"missed a {want} line: {line}")
        if want is not None and kind is not None and kind != want:
            problems.append(f"took a {want} line for {kind}: {line}")
    return h.Result("harness/log-patterns", not problems, time.time() - t0, "; ".join(problems[:3]),
                    [f"{len(cases)} sample lines classified"])


# id -> (fixtures booted together, expectations)
GUEST_CHECKS = {
    "harness/load-failure-warn-timeout": (
        ("load-failure", "warn", "test-timeout", "passes"),
        {"load-failure": (False, ["modprobe pvg_selftest fail=1 failed", "Invalid argument"]),
         "warn": (False, ["kernel log shows WARNING"]),
         "test-timeout": (False, ["timed out after 5s"]),
         "passes": (True, [])}),
    "harness/cleanup-after-failure": (
        ("fail-loaded", "starts-clean"),
        {"fail-loaded": (False, ["deliberately, with pvg_selftest loaded"]),
         "starts-clean": (True, [])}),
    "harness/guest-hang": (
        ("hang",),
        {"hang": (False, ["guest stopped responding during hang", "killed it"])}),
    "harness/guest-crash": (
        ("crash", "after-crash"),
        {"crash": (False, ["guest died during crash", "panic"]),
         "after-crash": (False, ["not run", "guest died during crash"])}),
}

# The debug kernel (PVGUEST_KERNEL=debug, scripts/debug-kernel) reports leaks with kmemleak,
# which tests/guest/init scans after a boot's last test: a leaking module must fail that test.
if h.KERNEL_CHOICE == "debug":
    GUEST_CHECKS["harness/kmemleak"] = (
        ("leak",),
        {"leak": (False, ["kernel log shows kmemleak", "unreferenced object"])})

TESTS = ["harness/log-patterns", "harness/net-peer", *GUEST_CHECKS]


def run(ids: list[str], kernel: h.Kernel, outdir: Path) -> list[h.Result]:
    results = []
    for tid in ids:
        if tid == "harness/log-patterns":
            results.append(_bad_line_patterns())
            continue
        if tid == "harness/net-peer":
            # The network namespace, TAPs and `host net ...` commands of guests with TAP NICs.
            t0 = time.time()
            ok, why, out = harness_net.selftest(outdir / "net-peer")
            results.append(h.Result(tid, ok, time.time() - t0, why, out))
            continue
        names, expect = GUEST_CHECKS[tid]
        fixtures = _fixtures(*names)
        if kernel.time_factor != 1:
            # The harness stretches every timeout on a slow kernel; the reports say so.
            expect = {f: (ok, [n.replace("after 5s", f"after {round(5 * kernel.time_factor)}s") for n in needles])
                      for f, (ok, needles) in expect.items()}
        t0 = time.time()
        got = h.run_guest(fixtures, fixtures[0].boot, kernel, outdir / tid.split("/")[1], root=FIX)
        results.append(_check(tid, got, expect, time.time() - t0))
    return results
