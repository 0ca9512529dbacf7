// SPDX-License-Identifier: GPL-2.0-only
//! The neutral operations as Hyper-V TLFS hypercalls, over any [`HvTransport`]: the real
//! hypercall page (Hyper-V backend) or the simulator's call slots (simulator backend). The
//! encodings are the `hcall_abi` crate's; this file only sequences them (rep continuation,
//! choosing the simple or the Ex form, bitmap to VP set).

use hcall_abi::hypercall::{self, VpSet};
use hcall_abi::tlfs::{self, HypercallInput, RepStep};
use kernel::prelude::*;

/// How hypercalls reach the hypervisor.
pub(crate) trait HvTransport {
    /// A memory-based call: `build` writes the input into this CPU's input page (which is
    /// exclusively ours with interrupts off for the duration) and returns the input value;
    /// the call is issued, and repeated with the next start index while a rep call reports
    /// partial progress. Returns the final raw result value.
    fn slow(&self, build: &mut dyn FnMut(&mut [u8]) -> Result<HypercallInput>) -> Result<u64>;
    /// A register-based ("fast") call; returns the raw result value.
    fn fast(&self, input: HypercallInput, rdx: u64, r8: u64) -> Result<u64>;
}

/// Issues `first` through `issue` and continues a rep call until done (bounded: the crate
/// requires strict progress, so at most 4095 steps), for transports' `slow`.
pub(crate) fn run_reps(first: HypercallInput, mut issue: impl FnMut(u64) -> Result<u64>) -> Result<u64> {
    let mut input = first;
    loop {
        let raw = issue(input.encode().map_err(|_| EINVAL)?)?;
        if !input.is_rep() {
            return Ok(raw);
        }
        match tlfs::next_rep(&input, raw) {
            Ok(RepStep::Done(_)) => return Ok(raw),
            Ok(RepStep::Continue(next)) => input = next,
            Err(e) => return Err(Error::from_errno(e.to_errno())),
        }
    }
}

/// Converts a raw result value to `Ok` or the mapped errno.
pub(crate) fn result(raw: u64) -> Result {
    match hcall_abi::status::result_to_errno(raw) {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

fn bad<E>(_: E) -> Error {
    EINVAL
}

/// HvPostMessage.
pub(crate) fn post_message(t: &impl HvTransport, connection_id: u32, message_type: u32, payload: &[u8]) -> Result {
    result(t.slow(&mut |page| hypercall::encode_post_message(page, connection_id, message_type, payload).map(|(i, _)| i).map_err(bad))?)
}

/// HvSignalEvent (fast).
pub(crate) fn signal_event(t: &impl HvTransport, connection_id: u32, flag: u16) -> Result {
    let (input, rdx) = hypercall::signal_event_fast(connection_id, flag).map_err(bad)?;
    result(t.fast(input, rdx, 0)?)
}

/// HvNotifyLongSpinWait (fast).
pub(crate) fn notify_long_spin_wait(t: &impl HvTransport, count: u32) -> Result {
    let (input, rdx) = hypercall::notify_long_spin_wait_fast(count);
    result(t.fast(input, rdx, 0)?)
}

/// The VP indices set in a bitmap of u64 words.
fn bits(words: &[u64]) -> impl Iterator<Item = u32> + '_ {
    (0u32..).zip(words.iter()).flat_map(|(w, &v)| (0..64u32).filter(move |b| v & (1 << b) != 0).map(move |b| w * 64 + b))
}

/// The bitmap as one 64-bit mask, if every VP is below 64.
fn mask64(words: &[u64]) -> Option<u64> {
    match words {
        [] => Some(0),
        [m, rest @ ..] if rest.iter().all(|w| *w == 0) => Some(*m),
        _ => None,
    }
}

/// HvFlushVirtualAddressSpace/List and their Ex forms: the simple form when every VP is below
/// 64, the Ex form with a VP set otherwise; a list flush of `[start, end)` when `end > start`,
/// a whole-space flush otherwise or when the range needs more entries than a page holds (as
/// Linux's hyperv_flush_tlb_multi does).
pub(crate) fn flush_tlb(t: &impl HvTransport, space: u64, flags: u64, vps: &[u64], start: u64, end: u64) -> Result {
    let simple = mask64(vps);
    let set = match simple {
        Some(_) => None,
        None => Some(VpSet::from_vp_indices(bits(vps)).map_err(bad)?),
    };
    let mut list = end > start;
    loop {
        let raw = t.slow(&mut |page| {
            let r = match (&set, simple, list) {
                (Some(s), _, false) => hypercall::encode_flush_space_ex(page, space, flags, s),
                (Some(s), _, true) => hypercall::encode_flush_list_ex(page, space, flags, s, start, end),
                (None, Some(m), false) => hypercall::encode_flush_space(page, space, flags, m),
                (None, Some(m), true) => hypercall::encode_flush_list(page, space, flags, m, start, end),
                (None, None, _) => return Err(EINVAL),
            };
            match r {
                Ok((input, _)) => Ok(input),
                Err(hypercall::HcError::TooManyGvas { .. }) => Err(E2BIG),
                Err(e) => Err(bad(e)),
            }
        });
        match raw {
            Err(e) if e == E2BIG && list => list = false,
            r => return result(r?),
        }
    }
}

/// HvSendSyntheticClusterIpi(Ex): the fast simple form when every VP is below 64.
pub(crate) fn send_ipi(t: &impl HvTransport, vector: u32, vps: &[u64]) -> Result {
    if let Some(mask) = mask64(vps) {
        let (input, rdx, r8) = hypercall::send_ipi_fast(vector, mask).map_err(bad)?;
        return result(t.fast(input, rdx, r8)?);
    }
    let set = VpSet::from_vp_indices(bits(vps)).map_err(bad)?;
    result(t.slow(&mut |page| hypercall::encode_send_ipi_ex(page, vector, &set).map(|(i, _)| i).map_err(bad))?)
}
