//! BAR2 of the ivshmem device: a small shared-memory page (a memfd we hand to QEMU) holding the
//! [`BarHeader`]. The host writes its half once; the guest writes its half while we run, so
//! those fields are read with atomics and validated.

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use anyhow::{Context, Result};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use sim_proto::{bar_offset, BarHeader, BAR_SIZE};
use zerocopy::IntoBytes;

/// The mapped BAR2 page.
///
/// # Invariants
///
/// `base` is a live shared mapping of [`BAR_SIZE`] bytes, page aligned, unmapped in `Drop`.
pub struct Bar {
    base: NonNull<u8>,
}

// SAFETY: shared memory accessed only through atomics and byte copies.
unsafe impl Send for Bar {}
// SAFETY: as above.
unsafe impl Sync for Bar {}

/// What the guest has announced in BAR2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestFields {
    /// GPA of the slot array.
    pub slots_gpa: u64,
    /// Number of slots.
    pub vps: u32,
    /// `sim_proto::guest_state`.
    pub state: u32,
    /// The host generation it attached to.
    pub generation: u32,
    /// Page frame number of its signal page (0: none).
    pub signal_pfn: u32,
}

impl Bar {
    /// Creates the memfd and writes the host half of the header. Returns the mapping and the
    /// fd to give QEMU.
    pub fn create(header: &BarHeader) -> Result<(Bar, OwnedFd)> {
        let fd = memfd_create(c"pvguest-bar2", MFdFlags::MFD_CLOEXEC).context("memfd_create")?;
        nix::unistd::ftruncate(&fd, BAR_SIZE as i64).context("sizing BAR2")?;
        let len = NonZeroUsize::new(BAR_SIZE).context("BAR size")?;
        // SAFETY: mapping our own memfd read-write shared; checked result owned by `Bar`.
        let p = unsafe { mmap(None, len, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_SHARED, fd.as_fd(), 0) }
            .context("mapping BAR2")?;
        let bar = Bar { base: p.cast() };
        let bytes = header.as_bytes();
        // SAFETY: `bytes.len() <= BAR_SIZE` (checked by a sim-proto test) and no one else has
        // the mapping yet (QEMU gets the fd afterwards).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), bar.base.as_ptr(), bytes.len()) };
        Ok((bar, fd))
    }

    fn u32_at(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off % 4 == 0 && off + 4 <= BAR_SIZE);
        // SAFETY: `off` is one of the fixed, aligned header offsets inside the mapping.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast()) }
    }

    fn u64_at(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off % 8 == 0 && off + 8 <= BAR_SIZE);
        // SAFETY: as in `u32_at`, 8-byte aligned.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off).cast()) }
    }

    /// Reads the guest's half of the header.
    pub fn guest(&self) -> GuestFields {
        GuestFields {
            state: self.u32_at(bar_offset::GUEST_STATE).load(Ordering::Acquire),
            slots_gpa: self.u64_at(bar_offset::SLOTS_GPA).load(Ordering::Acquire),
            vps: self.u32_at(bar_offset::VPS).load(Ordering::Acquire),
            generation: self.u32_at(bar_offset::GUEST_GENERATION).load(Ordering::Acquire),
            signal_pfn: self.u32_at(bar_offset::SIGNAL_PFN).load(Ordering::Acquire),
        }
    }

    /// Writes the guest's half as a guest would (tests).
    #[cfg(test)]
    pub fn set_guest(&self, g: GuestFields) {
        self.u64_at(bar_offset::SLOTS_GPA).store(g.slots_gpa, Ordering::Release);
        self.u32_at(bar_offset::VPS).store(g.vps, Ordering::Release);
        self.u32_at(bar_offset::GUEST_GENERATION).store(g.generation, Ordering::Release);
        self.u32_at(bar_offset::SIGNAL_PFN).store(g.signal_pfn, Ordering::Release);
        self.u32_at(bar_offset::GUEST_STATE).store(g.state, Ordering::Release);
    }

    /// Clears the guest's half (a new QEMU connected).
    pub fn reset_guest(&self) {
        self.u32_at(bar_offset::GUEST_STATE).store(0, Ordering::Release);
        self.u64_at(bar_offset::SLOTS_GPA).store(0, Ordering::Release);
        self.u32_at(bar_offset::VPS).store(0, Ordering::Release);
        self.u32_at(bar_offset::GUEST_GENERATION).store(0, Ordering::Release);
        self.u32_at(bar_offset::SIGNAL_PFN).store(0, Ordering::Release);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping (type invariant).
        let _ = unsafe { munmap(self.base.cast(), BAR_SIZE) };
    }
}
