// SPDX-License-Identifier: GPL-2.0-only
//! Partition reference time: the `HV_X64_MSR_TIME_REF_COUNT` counter and the reference TSC
//! page (TLFS "Timers" / "Partition Reference Counter" and "Partition Reference TSC
//! Mechanism"; `struct ms_hyperv_tsc_page` in `include/hyperv/hvgdk_mini.h`; the read loop
//! of `hv_read_tsc_page_tsc()` in `include/clocksource/hyperv_timer.h`).
//!
//! Reference time counts 100 ns units since the partition was created. Reading the MSR
//! always works but traps; the TSC page lets the guest compute the same value from RDTSC:
//!
//! `ReferenceTime = ((TSC * TscScale) >> 64) + TscOffset`
//!
//! bracketed by two reads of `TscSequence`: a sequence of 0 means the page is not valid
//! (use the MSR), and a sequence that changed between the reads means the host was updating
//! the page, so the reading is discarded and repeated. (Early TLFS versions wrongly gave
//! 0xFFFFFFFF as the invalid value; Linux and Hyper-V use 0.)

use crate::bytes;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Reference time frequency: 10 MHz, 100 ns per tick (`HV_CLOCK_HZ`).
pub const REF_TIME_HZ: u64 = 10_000_000;
/// `TscSequence` value meaning "page not valid".
pub const SEQUENCE_INVALID: u32 = 0;

/// The start of the reference TSC page (`struct ms_hyperv_tsc_page`; the rest of the 4 KiB
/// page is reserved).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TscPage {
    /// Sequence; 0 = invalid, changes on every update.
    pub tsc_sequence: u32,
    /// Reserved.
    pub reserved1: u32,
    /// 64.64 fixed-point multiplier from TSC ticks to 100 ns units.
    pub tsc_scale: u64,
    /// Offset in 100 ns units.
    pub tsc_offset: i64,
}

/// `((tsc * scale) >> 64) + offset`, wrapping as the C does.
pub fn reference_time(tsc: u64, scale: u64, offset: i64) -> u64 {
    bytes::mul_high(tsc, scale).wrapping_add_signed(offset)
}

/// One attempt at reading the TSC page: the sequence before, the fields, the TSC read in
/// between and the sequence after (the kernel fills it with barriers between the reads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TscSample {
    /// `tsc_sequence` read first.
    pub sequence_before: u32,
    /// `tsc_scale`.
    pub scale: u64,
    /// `tsc_offset`.
    pub offset: i64,
    /// The TSC.
    pub tsc: u64,
    /// `tsc_sequence` read last.
    pub sequence_after: u32,
}

/// Outcome of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TscRead {
    /// Reference time in 100 ns units.
    Time(u64),
    /// The page changed during the read: try again.
    Retry,
    /// The page is not valid: read `HV_X64_MSR_TIME_REF_COUNT` instead.
    Invalid,
}

/// Applies the sequence rule to one attempt.
pub fn evaluate(s: &TscSample) -> TscRead {
    if s.sequence_before == SEQUENCE_INVALID {
        TscRead::Invalid
    } else if s.sequence_after != s.sequence_before {
        TscRead::Retry
    } else {
        TscRead::Time(reference_time(s.tsc, s.scale, s.offset))
    }
}

/// Why [`read_with_retry`] gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefTscError {
    /// The page is invalid; use the MSR.
    Invalid,
    /// The sequence kept changing for the allowed number of attempts.
    TooManyRetries(u32),
    /// A TSC frequency of 10 MHz or less cannot be expressed as a scale.
    FrequencyTooLow(u64),
}

impl RefTscError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RefTscError::Invalid => "reference TSC page invalid",
            RefTscError::TooManyRetries(_) => "reference TSC page kept changing",
            RefTscError::FrequencyTooLow(_) => "TSC frequency too low for a reference TSC scale",
        }
    }
}

impl core::fmt::Display for RefTscError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The retry loop with a bound (Linux loops without one; a host that never settles must
/// not hang the guest): calls `sample` up to `max_attempts` times.
pub fn read_with_retry(max_attempts: u32, mut sample: impl FnMut() -> TscSample) -> Result<u64, RefTscError> {
    for _ in 0..max_attempts {
        match evaluate(&sample()) {
            TscRead::Time(t) => return Ok(t),
            TscRead::Invalid => return Err(RefTscError::Invalid),
            TscRead::Retry => {}
        }
    }
    Err(RefTscError::TooManyRetries(max_attempts))
}

/// Reference-time ticks (MSR or page value) to nanoseconds, saturating.
pub const fn ref_time_to_ns(ticks: u64) -> u64 {
    ticks.saturating_mul(100)
}

/// Nanoseconds to reference-time ticks (rounding down).
pub const fn ns_to_ref_time(ns: u64) -> u64 {
    ns / 100
}

/// Host side: the scale for a TSC running at `tsc_hz`: `floor(10^7 * 2^64 / tsc_hz)`. The
/// TSC must run faster than 10 MHz for the scale to fit in 64 bits.
pub fn scale_for_tsc_hz(tsc_hz: u64) -> Result<u64, RefTscError> {
    bytes::div_wide(REF_TIME_HZ, 0, tsc_hz).ok_or(RefTscError::FrequencyTooLow(tsc_hz))
}

/// Host side: the offset that makes the page read `ref_time` at TSC value `tsc`.
pub fn offset_for(tsc: u64, scale: u64, ref_time: u64) -> i64 {
    ref_time.wrapping_sub(bytes::mul_high(tsc, scale)) as i64
}

/// Host side: the sequence to publish after `current`, skipping 0 (invalid) and
/// 0xFFFFFFFF (the old TLFS's invalid value), so no guest misreads an update.
pub const fn next_sequence(current: u32) -> u32 {
    match current.wrapping_add(1) {
        0 | u32::MAX => 1,
        n => n,
    }
}
