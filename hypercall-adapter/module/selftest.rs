// SPDX-License-Identifier: GPL-2.0-only
//! Transport self-test and benchmark, driven from debugfs.
//!
//! `echo N > /sys/kernel/debug/pvg_hcall/selftest` posts N messages from every online CPU to
//! the host's test connection; the host echoes each to the sender's test SINT, where the
//! interrupt handler checks it arrived on the right CPU with the right payload. Reading the
//! file gives the last result. `echo N > bench` times N calls through the ops table against N
//! direct calls of the same backend function, and N host round trips.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::time::Delta;

use crate::ops::{self, Backend};
use crate::shim;
use crate::synic::{TEST, TEST_MAGIC};

/// Result of the last self-test run.
pub(crate) struct TestResult {
    pub(crate) runs: AtomicU64,
    pub(crate) vps: AtomicU64,
    pub(crate) per_vp: AtomicU64,
    pub(crate) posted: AtomicU64,
    pub(crate) post_errors: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) wrong_cpu: AtomicU64,
    pub(crate) bad_payload: AtomicU64,
    pub(crate) elapsed_us: AtomicU64,
}

pub(crate) static RESULT: TestResult = TestResult {
    runs: AtomicU64::new(0),
    vps: AtomicU64::new(0),
    per_vp: AtomicU64::new(0),
    posted: AtomicU64::new(0),
    post_errors: AtomicU64::new(0),
    received: AtomicU64::new(0),
    wrong_cpu: AtomicU64::new(0),
    bad_payload: AtomicU64::new(0),
    elapsed_us: AtomicU64::new(0),
};

static RUNNING: AtomicBool = AtomicBool::new(false);

fn now_ns() -> u64 {
    // SAFETY: reads the monotonic clock.
    unsafe { kernel::bindings::ktime_get() as u64 }
}

/// Runs the echo self-test with `n` messages per online VP.
pub(crate) fn run(n: u32) -> Result {
    let ops = ops::active();
    if ops.backend != crate::pvg_hcall_api::backend::SIM {
        pr_info!("selftest: needs the simulator backend (active: {})\n", crate::backend_name());
        return Err(ENODEV);
    }
    if RUNNING.swap(true, Ordering::AcqRel) {
        return Err(EBUSY);
    }
    let r = run_locked(n);
    TEST.active.store(false, Ordering::Release);
    RUNNING.store(false, Ordering::Release);
    r
}

fn run_locked(n: u32) -> Result {
    let ops = ops::active();
    // SAFETY: table functions may be called from any context.
    let vps = unsafe { (ops.vp_count)() };
    let sint = sim_proto::TEST_SINT;
    let mut online = 0u64;
    for vp in (0..vps).filter(|vp| shim::cpu_online(*vp)) {
        // SAFETY: as above.
        kernel::error::to_result(unsafe { (ops.synic_enable)(vp, sint) })?;
        online += 1;
    }
    TEST.received.store(0, Ordering::Relaxed);
    TEST.wrong_cpu.store(0, Ordering::Relaxed);
    TEST.bad_payload.store(0, Ordering::Relaxed);
    TEST.active.store(true, Ordering::Release);
    let t0 = now_ns();
    let (mut posted, mut errors) = (0u64, 0u64);
    for seq in 0..n {
        for vp in (0..vps).filter(|vp| shim::cpu_online(*vp)) {
            let mut rc = 0;
            let mut post = || {
                let cpu = kernel::cpu::CpuId::current().as_u32();
                let mut p = [0u8; 16];
                p[0..4].copy_from_slice(&TEST_MAGIC.to_le_bytes());
                p[4..8].copy_from_slice(&cpu.to_le_bytes());
                p[8..12].copy_from_slice(&seq.to_le_bytes());
                p[12..16].copy_from_slice(&(cpu ^ seq ^ TEST_MAGIC).to_le_bytes());
                // SAFETY: `p` holds 16 bytes.
                rc = unsafe { (ops.post_message)(sim_proto::TEST_CONNECTION_ID, sim_proto::TEST_MESSAGE_TYPE, p.as_ptr(), 16) };
            };
            shim::run_on(vp, &mut post)?;
            if rc == 0 {
                posted += 1;
            } else {
                errors += 1;
            }
        }
    }
    // Wait (bounded) for the echoes still in flight.
    let deadline = now_ns() + 10_000_000_000;
    while TEST.received.load(Ordering::Acquire) < posted && now_ns() < deadline {
        kernel::time::delay::fsleep(Delta::from_millis(1));
    }
    let elapsed = now_ns() - t0;
    TEST.active.store(false, Ordering::Release);
    for vp in (0..vps).filter(|vp| shim::cpu_online(*vp)) {
        // SAFETY: as above.
        let _ = unsafe { (ops.synic_disable)(vp, sint) };
    }
    RESULT.runs.fetch_add(1, Ordering::Relaxed);
    RESULT.vps.store(online, Ordering::Relaxed);
    RESULT.per_vp.store(u64::from(n), Ordering::Relaxed);
    RESULT.posted.store(posted, Ordering::Relaxed);
    RESULT.post_errors.store(errors, Ordering::Relaxed);
    RESULT.received.store(TEST.received.load(Ordering::Acquire), Ordering::Relaxed);
    RESULT.wrong_cpu.store(TEST.wrong_cpu.load(Ordering::Relaxed), Ordering::Relaxed);
    RESULT.bad_payload.store(TEST.bad_payload.load(Ordering::Relaxed), Ordering::Relaxed);
    RESULT.elapsed_us.store(elapsed / 1000, Ordering::Relaxed);
    pr_info!(
        "selftest: {} VPs x {} messages: posted {}, errors {}, echoed {}, wrong CPU {}, bad payload {}, {} us\n",
        online,
        n,
        posted,
        errors,
        TEST.received.load(Ordering::Acquire),
        TEST.wrong_cpu.load(Ordering::Relaxed),
        TEST.bad_payload.load(Ordering::Relaxed),
        elapsed / 1000
    );
    Ok(())
}

/// Benchmark results (nanoseconds per call).
pub(crate) struct BenchResult {
    pub(crate) calls: AtomicU64,
    pub(crate) table_ns: AtomicU64,
    pub(crate) direct_ns: AtomicU64,
    pub(crate) ping_ns: AtomicU64,
}

pub(crate) static BENCH: BenchResult =
    BenchResult { calls: AtomicU64::new(0), table_ns: AtomicU64::new(0), direct_ns: AtomicU64::new(0), ping_ns: AtomicU64::new(0) };

/// Times `n` calls of `vp_count` through the table and directly (the dispatch overhead of the
/// table, which the trampolines add to), and `n` host round trips (`ping`).
pub(crate) fn bench(n: u32) -> Result {
    let ops = ops::active();
    let t0 = now_ns();
    let mut acc = 0u32;
    for _ in 0..n {
        // SAFETY: callable from any context.
        acc = acc.wrapping_add(unsafe { (core::hint::black_box(ops).vp_count)() });
    }
    let t1 = now_ns();
    // The same backend function, called directly (statically dispatched).
    match ops.backend {
        crate::pvg_hcall_api::backend::SIM => {
            for _ in 0..n {
                acc = acc.wrapping_add(core::hint::black_box(crate::sim::Sim::vp_count()));
            }
        }
        _ => {
            for _ in 0..n {
                acc = acc.wrapping_add(core::hint::black_box(ops::NoBackend::vp_count()));
            }
        }
    }
    let t2 = now_ns();
    let mut pings = 0u64;
    for _ in 0..n {
        // SAFETY: callable from any context.
        if unsafe { (ops.ping)() } == 0 {
            pings += 1;
        }
    }
    let t3 = now_ns();
    core::hint::black_box(acc);
    let per = |d: u64, k: u64| if k == 0 { 0 } else { d / k };
    BENCH.calls.store(u64::from(n), Ordering::Relaxed);
    BENCH.table_ns.store(per(t1 - t0, u64::from(n)), Ordering::Relaxed);
    BENCH.direct_ns.store(per(t2 - t1, u64::from(n)), Ordering::Relaxed);
    BENCH.ping_ns.store(per(t3 - t2, pings), Ordering::Relaxed);
    Ok(())
}

/// Results of the last [`exercise`]: (operation, return value), one per table operation.
pub(crate) static EXERCISE: [core::sync::atomic::AtomicI64; 11] = [const { core::sync::atomic::AtomicI64::new(i64::MIN) }; 11];

/// Names of the [`EXERCISE`] entries.
pub(crate) const EXERCISE_NAMES: [&str; 11] = [
    "post_message",
    "signal_event",
    "flush_tlb",
    "send_ipi",
    "notify_long_spin_wait",
    "reference_time",
    "synic_enable",
    "synic_disable",
    "eom",
    "ping",
    "vp_index",
];

/// Calls every operation of the active table once with harmless arguments and records what
/// it returned (0 or -errno; for reference_time and vp_index the value).
pub(crate) fn exercise() {
    let ops = ops::active();
    let vps = [1u64];
    let mut t = 0u64;
    // SAFETY: each call passes valid pointers and lengths; the ops may be called anywhere.
    let r: [i64; 11] = unsafe {
        [
            i64::from((ops.post_message)(sim_proto::TEST_CONNECTION_ID + 1, 1, [0u8; 4].as_ptr(), 4)),
            i64::from((ops.signal_event)(0x7e58, 0)),
            i64::from((ops.flush_tlb)(0, 1, vps.as_ptr(), 1, 0, 0)),
            i64::from((ops.send_ipi)(0xf0, vps.as_ptr(), 1)),
            i64::from((ops.notify_long_spin_wait)(1)),
            match (ops.reference_time)(&mut t) {
                0 => t as i64,
                e => i64::from(e),
            },
            i64::from((ops.synic_enable)(0, 7)),
            i64::from((ops.synic_disable)(0, 7)),
            i64::from((ops.eom)(0)),
            i64::from((ops.ping)()),
            i64::from((ops.vp_index)(0)),
        ]
    };
    for (slot, v) in EXERCISE.iter().zip(r) {
        slot.store(v, Ordering::Relaxed);
    }
}
