// SPDX-License-Identifier: GPL-2.0-only
//! Which backend the adapter uses, decided from the detection result (a pure policy, so the
//! choice is tested against real CPUID captures).
//!
//! - **Xen** whenever the Xen interface is present, even if Hyper-V leaves sit at the base:
//!   that is Xen's Viridian emulation, which offers no VMBus messaging.
//! - **Hyper-V** when the "Hv#1" interface offers hypercalls and the SynIC with message posting
//!   and event signalling (real Hyper-V/Azure; KVM with `hv-synic` and a VMBus bridge).
//!   Hyper-V leaves without them (KVM with only `hv-relaxed`/`hv-time`, say) are not enough.
//! - **Simulator** when the pvguest host simulator's device is present (plain QEMU/TCG/KVM).
//! - **None** otherwise: the adapter loads and every operation fails with `ENODEV`.

use crate::cpuid::Detection;

/// A backend of the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// No interface.
    None,
    /// Hyper-V (TLFS).
    HyperV,
    /// Xen HVM.
    Xen,
    /// The pvguest host simulator.
    Sim,
}

impl Backend {
    /// Name as the module reports it.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::None => "none",
            Backend::HyperV => "hyperv",
            Backend::Xen => "xen",
            Backend::Sim => "sim",
        }
    }

    /// Parses a `backend=` module parameter (`auto` gives `None` here: decide by detection).
    pub fn parse(s: &str) -> Result<Option<Backend>, ()> {
        match s {
            "auto" | "" => Ok(None),
            "none" => Ok(Some(Backend::None)),
            "hyperv" => Ok(Some(Backend::HyperV)),
            "xen" => Ok(Some(Backend::Xen)),
            "sim" => Ok(Some(Backend::Sim)),
            _ => Err(()),
        }
    }
}

/// Whether the Hyper-V interface is usable for the suite (hypercalls, SynIC, post/signal).
pub fn hyperv_usable(det: &Detection) -> bool {
    det.hyperv.as_ref().is_some_and(|h| h.has_hypercalls() && h.has_synic() && h.can_post_messages() && h.can_signal_events())
}

/// Why a forced backend cannot be used, if it cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `backend=hyperv` but no usable Hyper-V interface.
    NoHyperV,
    /// `backend=xen` but no Xen interface.
    NoXen,
    /// `backend=sim` but no simulator device.
    NoSim,
}

impl Refusal {
    /// One-line reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refusal::NoHyperV => "no usable Hyper-V interface (hypercalls, SynIC, post message, signal event)",
            Refusal::NoXen => "no Xen interface in the CPUID leaves",
            Refusal::NoSim => "no pvguest host simulator device",
        }
    }
}

/// Chooses the backend: `forced` (from the module parameter) if possible, else by the policy
/// above.
pub fn choose(det: &Detection, sim_present: bool, forced: Option<Backend>) -> Result<Backend, Refusal> {
    match forced {
        Some(Backend::HyperV) if !hyperv_usable(det) => Err(Refusal::NoHyperV),
        Some(Backend::Xen) if det.xen.is_none() => Err(Refusal::NoXen),
        Some(Backend::Sim) if !sim_present => Err(Refusal::NoSim),
        Some(b) => Ok(b),
        None if det.xen.is_some() => Ok(Backend::Xen),
        None if hyperv_usable(det) => Ok(Backend::HyperV),
        None if sim_present => Ok(Backend::Sim),
        None => Ok(Backend::None),
    }
}
