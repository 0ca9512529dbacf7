// SPDX-License-Identifier: GPL-2.0-only
//! The hypercall input value and result value (TLFS "Hypercall Interface", sections
//! "Hypercall Inputs" and "Hypercall Outputs"; `HV_HYPERCALL_*` in
//! `include/hyperv/hvgdk_mini.h`), and rep-call continuation.
//!
//! Input value (RCX on x64):
//!
//! | bits  | field |
//! |-------|-------|
//! | 15:0  | call code |
//! | 16    | fast (register-based) |
//! | 26:17 | variable header size, in 8-byte units |
//! | 30:27 | reserved, zero |
//! | 31    | nested (Linux `HV_HYPERCALL_NESTED`; reserved in the public TLFS) |
//! | 43:32 | rep count |
//! | 47:44 | reserved, zero |
//! | 59:48 | rep start index |
//! | 63:60 | reserved, zero |
//!
//! Result value (RAX): status in bits 15:0, reps completed in bits 43:32; the TLFS tells
//! callers to ignore the other bits.
//!
//! Encoders reject out-of-range fields instead of truncating them; decoders reject reserved
//! bits, so the host simulator can answer `HV_STATUS_INVALID_HYPERCALL_INPUT` as Hyper-V does.

use crate::status::Status;

/// Status bits of a result value (`HV_HYPERCALL_RESULT_MASK`).
pub const RESULT_MASK: u64 = 0xffff;
/// Fast (register-based) calling convention (`HV_HYPERCALL_FAST_BIT`).
pub const FAST_BIT: u64 = 1 << 16;
/// First bit of the variable header size (`HV_HYPERCALL_VARHEAD_OFFSET`).
pub const VARHEAD_OFFSET: u32 = 17;
/// Variable header size field (`HV_HYPERCALL_VARHEAD_MASK`).
pub const VARHEAD_MASK: u64 = 0x3ff << VARHEAD_OFFSET;
/// Bits 31:27 as Linux names them (`HV_HYPERCALL_RSVD0_MASK`); bit 31 is [`NESTED`].
pub const RSVD0_MASK: u64 = 0x1f << 27;
/// Nested hypercall (`HV_HYPERCALL_NESTED`).
pub const NESTED: u64 = 1 << 31;
/// First bit of the rep count / reps completed (`HV_HYPERCALL_REP_COMP_OFFSET`).
pub const REP_COMP_OFFSET: u32 = 32;
/// Rep count / reps completed field (`HV_HYPERCALL_REP_COMP_MASK`).
pub const REP_COMP_MASK: u64 = 0xfff << REP_COMP_OFFSET;
/// Reserved bits 47:44 (`HV_HYPERCALL_RSVD1_MASK`).
pub const RSVD1_MASK: u64 = 0xf << 44;
/// First bit of the rep start index (`HV_HYPERCALL_REP_START_OFFSET`).
pub const REP_START_OFFSET: u32 = 48;
/// Rep start index field (`HV_HYPERCALL_REP_START_MASK`).
pub const REP_START_MASK: u64 = 0xfff << REP_START_OFFSET;
/// Reserved bits 63:60 (`HV_HYPERCALL_RSVD2_MASK`).
pub const RSVD2_MASK: u64 = 0xf << 60;
/// All bits an input value must leave zero: Linux's `HV_HYPERCALL_RSVD_MASK` without the
/// nested bit, which this crate accepts.
pub const INPUT_RESERVED_MASK: u64 = (RSVD0_MASK & !NESTED) | RSVD1_MASK | RSVD2_MASK;
/// Largest variable header size (10 bits), in 8-byte units.
pub const MAX_VAR_HEADER_QWORDS: u16 = 0x3ff;
/// Largest rep count, rep start index and reps-completed value (12 bits).
pub const MAX_REP_COUNT: u16 = 0xfff;

/// Why an input or result value cannot be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// Variable header size above [`MAX_VAR_HEADER_QWORDS`].
    VarHeaderTooLarge(u16),
    /// Rep count above [`MAX_REP_COUNT`].
    RepCountTooLarge(u16),
    /// Rep start index above [`MAX_REP_COUNT`].
    RepStartTooLarge(u16),
    /// Rep start index not below the rep count (TLFS: "the rep count value must always be
    /// greater than the rep start index").
    RepStartNotBelowCount {
        /// Start index.
        start: u16,
        /// Rep count.
        count: u16,
    },
    /// A reserved bit is set (the raw value's reserved bits).
    ReservedBitsSet(u64),
    /// Reps completed above [`MAX_REP_COUNT`] (result values).
    RepsCompletedTooLarge(u16),
}

impl InputError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            InputError::VarHeaderTooLarge(_) => "variable header size above 1023 qwords",
            InputError::RepCountTooLarge(_) => "rep count above 4095",
            InputError::RepStartTooLarge(_) => "rep start index above 4095",
            InputError::RepStartNotBelowCount { .. } => "rep start index not below rep count",
            InputError::ReservedBitsSet(_) => "reserved bits set",
            InputError::RepsCompletedTooLarge(_) => "reps completed above 4095",
        }
    }

    /// The status a hypervisor answers for such an input (`HV_STATUS_INVALID_HYPERCALL_INPUT`).
    pub const fn status(&self) -> Status {
        Status::InvalidHypercallInput
    }
}

impl core::fmt::Display for InputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hypercall input value, field by field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HypercallInput {
    /// Call code (bits 15:0).
    pub code: u16,
    /// Register-based ("fast") calling convention (bit 16).
    pub fast: bool,
    /// Variable header size in 8-byte units (bits 26:17, at most 1023).
    pub var_header_qwords: u16,
    /// Nested hypercall (bit 31).
    pub nested: bool,
    /// Rep count (bits 43:32, at most 4095; zero for a simple call).
    pub rep_count: u16,
    /// Rep start index (bits 59:48; below `rep_count`, zero for a simple call).
    pub rep_start: u16,
}

impl HypercallInput {
    /// A simple, memory-based call.
    pub const fn new(code: u16) -> Self {
        HypercallInput { code, fast: false, var_header_qwords: 0, nested: false, rep_count: 0, rep_start: 0 }
    }

    /// The same call using the register-based convention.
    pub const fn with_fast(mut self) -> Self {
        self.fast = true;
        self
    }

    /// The same call as a nested hypercall.
    pub const fn with_nested(mut self) -> Self {
        self.nested = true;
        self
    }

    /// The same call with a variable header of `qwords` 8-byte units.
    pub const fn with_var_header(mut self, qwords: u16) -> Self {
        self.var_header_qwords = qwords;
        self
    }

    /// The same call as a rep call of `count` elements starting at element 0.
    pub const fn with_reps(mut self, count: u16) -> Self {
        self.rep_count = count;
        self.rep_start = 0;
        self
    }

    /// Is this a rep call (rep count non-zero)?
    pub const fn is_rep(&self) -> bool {
        self.rep_count != 0
    }

    /// Checks every field's range and the rep rule.
    pub const fn validate(&self) -> Result<(), InputError> {
        if self.var_header_qwords > MAX_VAR_HEADER_QWORDS {
            return Err(InputError::VarHeaderTooLarge(self.var_header_qwords));
        }
        if self.rep_count > MAX_REP_COUNT {
            return Err(InputError::RepCountTooLarge(self.rep_count));
        }
        if self.rep_start > MAX_REP_COUNT {
            return Err(InputError::RepStartTooLarge(self.rep_start));
        }
        // A simple call has count 0 and start 0; a rep call needs start < count.
        if (self.rep_count != 0 || self.rep_start != 0) && self.rep_start >= self.rep_count {
            return Err(InputError::RepStartNotBelowCount { start: self.rep_start, count: self.rep_count });
        }
        Ok(())
    }

    /// The 64-bit input value.
    pub const fn encode(&self) -> Result<u64, InputError> {
        if let Err(e) = self.validate() {
            return Err(e);
        }
        let mut v = self.code as u64;
        if self.fast {
            v |= FAST_BIT;
        }
        v |= (self.var_header_qwords as u64) << VARHEAD_OFFSET;
        if self.nested {
            v |= NESTED;
        }
        v |= (self.rep_count as u64) << REP_COMP_OFFSET;
        v |= (self.rep_start as u64) << REP_START_OFFSET;
        Ok(v)
    }

    /// Decodes an input value, rejecting reserved bits and invalid rep fields.
    pub const fn decode(raw: u64) -> Result<Self, InputError> {
        let reserved = raw & INPUT_RESERVED_MASK;
        if reserved != 0 {
            return Err(InputError::ReservedBitsSet(reserved));
        }
        let input = HypercallInput {
            code: raw as u16,
            fast: raw & FAST_BIT != 0,
            var_header_qwords: ((raw & VARHEAD_MASK) >> VARHEAD_OFFSET) as u16,
            nested: raw & NESTED != 0,
            rep_count: ((raw & REP_COMP_MASK) >> REP_COMP_OFFSET) as u16,
            rep_start: ((raw & REP_START_MASK) >> REP_START_OFFSET) as u16,
        };
        match input.validate() {
            Ok(()) => Ok(input),
            Err(e) => Err(e),
        }
    }
}

/// A hypercall result value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HypercallResult {
    /// Status (bits 15:0).
    pub status: Status,
    /// Reps completed (bits 43:32): the total completed, not relative to the start index.
    pub reps_completed: u16,
}

impl HypercallResult {
    /// A result with `status` and `reps_completed`.
    pub const fn new(status: Status, reps_completed: u16) -> Self {
        HypercallResult { status, reps_completed }
    }

    /// The 64-bit result value (host side). Reserved bits are written as zero.
    pub const fn encode(&self) -> Result<u64, InputError> {
        if self.reps_completed > MAX_REP_COUNT {
            return Err(InputError::RepsCompletedTooLarge(self.reps_completed));
        }
        Ok(self.status.code() as u64 | ((self.reps_completed as u64) << REP_COMP_OFFSET))
    }

    /// Decodes a result value as the TLFS says callers must: bits other than status and
    /// reps completed are ignored.
    pub const fn decode(raw: u64) -> Self {
        HypercallResult {
            status: Status::of_result(raw),
            reps_completed: ((raw & REP_COMP_MASK) >> REP_COMP_OFFSET) as u16,
        }
    }

    /// Decodes a result value and rejects any bit outside status and reps completed (for
    /// checking our own simulator, which never sets them).
    pub const fn decode_strict(raw: u64) -> Result<Self, InputError> {
        let extra = raw & !(RESULT_MASK | REP_COMP_MASK);
        if extra != 0 {
            return Err(InputError::ReservedBitsSet(extra));
        }
        Ok(Self::decode(raw))
    }
}

/// How a host broke the rep-call protocol, or how the call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepError {
    /// The call failed; `completed` reps had been done (TLFS: elements before the failing
    /// one were processed).
    Failed {
        /// Status returned.
        status: Status,
        /// Reps completed at the time of failure.
        completed: u16,
    },
    /// The host reported fewer completed reps than the start index we passed.
    Backwards {
        /// The start index of the call.
        start: u16,
        /// The reps completed the host reported.
        completed: u16,
    },
    /// The host reported more completed reps than the rep count.
    BeyondCount {
        /// The rep count of the call.
        count: u16,
        /// The reps completed the host reported.
        completed: u16,
    },
    /// Success, but no rep was completed (the TLFS guarantees at least one is attempted);
    /// continuing would loop forever.
    NoProgress {
        /// Start index, equal to the reps completed.
        start: u16,
    },
    /// The input value itself is invalid.
    Input(InputError),
}

impl RepError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RepError::Failed { .. } => "hypercall failed",
            RepError::Backwards { .. } => "host reported rep progress backwards",
            RepError::BeyondCount { .. } => "host reported more reps than requested",
            RepError::NoProgress { .. } => "host reported success without rep progress",
            RepError::Input(e) => e.as_str(),
        }
    }

    /// A negative Linux errno for the failure: the status mapping for [`RepError::Failed`],
    /// `-EIO` for a misbehaving host, `-EINVAL` for our own bad input.
    pub const fn to_errno(&self) -> i32 {
        match self {
            RepError::Failed { status, .. } => status.to_errno(),
            RepError::Input(_) => -crate::errno::EINVAL,
            _ => -crate::errno::EIO,
        }
    }
}

impl core::fmt::Display for RepError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RepError::Failed { status, completed } => write!(f, "{} after {} reps", status, completed),
            RepError::Backwards { start, completed } => write!(f, "{} (start {}, completed {})", self.as_str(), start, completed),
            RepError::BeyondCount { count, completed } => write!(f, "{} (count {}, completed {})", self.as_str(), count, completed),
            RepError::NoProgress { start } => write!(f, "{} (at {})", self.as_str(), start),
            RepError::Input(e) => e.fmt(f),
        }
    }
}

/// What to do after a hypercall returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepStep {
    /// The call is complete.
    Done(HypercallResult),
    /// Issue the call again with this input value (same code and rep count, start index =
    /// reps completed), as Linux's `hv_do_rep_hypercall_ex()` does.
    Continue(HypercallInput),
}

/// Decides the next step after `input` returned `raw_result`.
///
/// Simple calls are done unless they failed. For rep calls the reported reps completed must
/// lie in `(rep_start, rep_count]` on success and `[rep_start, rep_count]` on failure;
/// anything else is a host that reports progress backwards or beyond the count, and with
/// progress strictly increasing every rep call ends in at most 4095 steps.
pub const fn next_rep(input: &HypercallInput, raw_result: u64) -> Result<RepStep, RepError> {
    if let Err(e) = input.validate() {
        return Err(RepError::Input(e));
    }
    let result = HypercallResult::decode(raw_result);
    let completed = result.reps_completed;
    if !input.is_rep() {
        if !result.status.is_success() {
            return Err(RepError::Failed { status: result.status, completed });
        }
        return Ok(RepStep::Done(result));
    }
    if completed > input.rep_count {
        return Err(RepError::BeyondCount { count: input.rep_count, completed });
    }
    if completed < input.rep_start {
        return Err(RepError::Backwards { start: input.rep_start, completed });
    }
    if !result.status.is_success() {
        return Err(RepError::Failed { status: result.status, completed });
    }
    if completed == input.rep_count {
        return Ok(RepStep::Done(result));
    }
    if completed == input.rep_start {
        return Err(RepError::NoProgress { start: completed });
    }
    let mut next = *input;
    next.rep_start = completed;
    Ok(RepStep::Continue(next))
}

/// Host side: the result value for a rep call that stopped after `completed` elements with
/// `status` (reps completed is the absolute index, as the TLFS specifies).
pub const fn rep_result(status: Status, completed: u16) -> Result<u64, InputError> {
    HypercallResult::new(status, completed).encode()
}

/// x64 register that carries the input value (RCX), the input GPA or first fast parameter
/// (RDX) and the output GPA or second fast parameter (R8); the result comes back in RAX.
/// Listed for the kernel backend's assembly and the simulator's decoding.
pub mod regs {
    /// Input value register.
    pub const INPUT_VALUE: &str = "rcx";
    /// Input GPA / fast parameter 1.
    pub const PARAM1: &str = "rdx";
    /// Output GPA / fast parameter 2.
    pub const PARAM2: &str = "r8";
    /// Result value register.
    pub const RESULT: &str = "rax";
}
