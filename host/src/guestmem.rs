//! The guest's RAM as the host sees it: QEMU's `memory-backend-file` mapped shared.
//!
//! Every access names a guest-physical address and a length; both come from the guest and are
//! checked against the RAM layout before any byte is touched. This is the only module of the
//! simulator that dereferences raw memory.

use std::fs::File;
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use sim_proto::RamLayout;

/// Why a guest-memory access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    /// The guest-physical address asked for.
    pub gpa: u64,
    /// The length asked for.
    pub len: u64,
}

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "guest address range {:#x}+{:#x} is not RAM", self.gpa, self.len)
    }
}

impl std::error::Error for OutOfRange {}

/// A shared mapping of guest RAM.
///
/// # Invariants
///
/// `base` points to a live `MAP_SHARED` mapping of `layout.total` bytes, unmapped only in
/// `Drop`. The guest (another process) writes it concurrently, so the mapping is only ever
/// accessed through volatile-free bulk copies of bytes (whose values the host validates) or
/// through atomics; no Rust reference to plain data in it is ever created.
pub struct GuestRam {
    base: NonNull<u8>,
    layout: RamLayout,
}

// SAFETY: the mapping is plain shared memory; all access goes through copies and atomics.
unsafe impl Send for GuestRam {}
// SAFETY: as above; concurrent access from several host threads is like the guest's own.
unsafe impl Sync for GuestRam {}

impl GuestRam {
    /// Creates (or resizes) the RAM file at `path` to `size` bytes and maps it. QEMU is then
    /// started with `-object memory-backend-file,mem-path=<path>,size=<size>,share=on`.
    pub fn create(path: &Path, size: u64) -> Result<GuestRam> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("creating the guest RAM file {}", path.display()))?;
        file.set_len(size).with_context(|| format!("sizing {} to {size} bytes", path.display()))?;
        Self::map(&file, RamLayout::q35(size))
    }

    /// Maps an already sized file.
    pub fn map(file: &File, layout: RamLayout) -> Result<GuestRam> {
        let len = usize::try_from(layout.total).context("RAM size")?;
        let Some(nz) = NonZeroUsize::new(len) else { bail!("guest RAM size is zero") };
        // SAFETY: mapping a file we opened read-write, shared, at an address the kernel picks;
        // the result is checked and owned by the returned GuestRam.
        let p = unsafe {
            mmap(None, nz, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_SHARED, file.as_fd(), 0)
        }
        .context("mapping guest RAM")?;
        // INVARIANT: `p` is a fresh mapping of `layout.total` bytes.
        Ok(GuestRam { base: p.cast(), layout })
    }

    /// The RAM layout (size, hole).
    pub fn layout(&self) -> RamLayout {
        self.layout
    }

    fn ptr(&self, gpa: u64, len: usize) -> Result<*mut u8, OutOfRange> {
        let err = OutOfRange { gpa, len: len as u64 };
        let off = self.layout.offset(gpa, len as u64).ok_or(err)?;
        let off = usize::try_from(off).map_err(|_| err)?;
        // SAFETY: `RamLayout::offset` guarantees `off + len <= total`, the mapping's size.
        Ok(unsafe { self.base.as_ptr().add(off) })
    }

    /// Copies `buf.len()` bytes from guest RAM at `gpa`.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), OutOfRange> {
        let p = self.ptr(gpa, buf.len())?;
        // SAFETY: `p..p+len` is inside the mapping (checked by `ptr`); `buf` is a distinct
        // host buffer. The guest may write concurrently; the bytes copied are treated as
        // untrusted values, never as typed Rust data.
        unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` into guest RAM at `gpa`.
    pub fn write(&self, gpa: u64, data: &[u8]) -> Result<(), OutOfRange> {
        let p = self.ptr(gpa, data.len())?;
        // SAFETY: as in `read`, with the copy going the other way.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        Ok(())
    }

    /// The 32-bit word at `gpa` (which must be 4-byte aligned) as an atomic shared with the
    /// guest.
    pub fn atomic_u32(&self, gpa: u64) -> Result<&AtomicU32, OutOfRange> {
        if gpa % 4 != 0 {
            return Err(OutOfRange { gpa, len: 4 });
        }
        let p = self.ptr(gpa, 4)?;
        // SAFETY: `p` is 4-byte aligned (the mapping is page aligned and `gpa` and the offset
        // differ by a multiple of 4 GiB or not at all), inside the mapping, and lives as long
        // as `self`; AtomicU32 has the layout of u32 and tolerates concurrent access.
        Ok(unsafe { AtomicU32::from_ptr(p.cast()) })
    }

    /// The 64-bit word at `gpa` (8-byte aligned) as an atomic shared with the guest.
    pub fn atomic_u64(&self, gpa: u64) -> Result<&AtomicU64, OutOfRange> {
        if gpa % 8 != 0 {
            return Err(OutOfRange { gpa, len: 8 });
        }
        let p = self.ptr(gpa, 8)?;
        // SAFETY: as in `atomic_u32`, for 8 bytes.
        Ok(unsafe { AtomicU64::from_ptr(p.cast()) })
    }

    /// Reads a little-endian u32 with acquire ordering.
    pub fn load_u32(&self, gpa: u64) -> Result<u32, OutOfRange> {
        Ok(self.atomic_u32(gpa)?.load(Ordering::Acquire))
    }

    /// Writes a u32 with release ordering.
    pub fn store_u32(&self, gpa: u64, v: u32) -> Result<(), OutOfRange> {
        self.atomic_u32(gpa)?.store(v, Ordering::Release);
        Ok(())
    }
}

/// `IOV_MAX`: most iovecs one `preadv`/`pwritev` takes.
const IOV_MAX: usize = 1024;

/// Where a file transfer goes or comes from: `(guest-physical address, length)` pieces of a
/// guest buffer, in order.
pub type Segments<'a> = &'a [(u64, usize)];

impl GuestRam {
    fn iovecs(&self, segs: Segments<'_>) -> Result<Vec<nix::libc::iovec>, OutOfRange> {
        segs.iter()
            .map(|&(gpa, len)| Ok(nix::libc::iovec { iov_base: self.ptr(gpa, len)?.cast(), iov_len: len }))
            .collect()
    }

    /// Reads `file` at `offset` straight into the guest buffer `segs` (`preadv`, no bounce
    /// copy; block devices' storage path). Returns the bytes read: less than the buffer only
    /// at the end of the file.
    pub fn read_file(&self, file: &File, offset: u64, segs: Segments<'_>) -> std::io::Result<usize> {
        let mut iov = self.iovecs(segs).map_err(std::io::Error::other)?;
        // SAFETY: every iovec lies inside the mapping (checked by `iovecs`), which lives as
        // long as `self`; the kernel writes guest RAM like a DMA engine would, and no Rust
        // reference to that memory exists (type invariant).
        file_io(&mut iov, offset, |iov, cnt, off| unsafe { nix::libc::preadv(file_fd(file), iov, cnt, off) })
    }

    /// Writes the guest buffer `segs` to `file` at `offset` (`pwritev2`, with `RWF_DSYNC`
    /// when `dsync`: the data is durable when this returns). Returns the bytes written.
    pub fn write_file(&self, file: &File, offset: u64, segs: Segments<'_>, dsync: bool) -> std::io::Result<usize> {
        let mut iov = self.iovecs(segs).map_err(std::io::Error::other)?;
        let flags = if dsync { nix::libc::RWF_DSYNC } else { 0 };
        // SAFETY: as in `read_file`; the kernel only reads the iovecs' memory.
        file_io(&mut iov, offset, |iov, cnt, off| unsafe { nix::libc::pwritev2(file_fd(file), iov, cnt, off, flags) })
    }
}

fn file_fd(file: &File) -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    file.as_raw_fd()
}

/// Runs `op` (a vectored read or write at an offset) until every iovec is done or it
/// returns 0, advancing past partial transfers. Returns the bytes moved.
fn file_io(
    iov: &mut [nix::libc::iovec],
    offset: u64,
    mut op: impl FnMut(*const nix::libc::iovec, i32, i64) -> isize,
) -> std::io::Result<usize> {
    let (mut first, mut done) = (0usize, 0usize);
    while first < iov.len() {
        let cnt = (iov.len() - first).min(IOV_MAX);
        let off = i64::try_from(offset + done as u64).map_err(std::io::Error::other)?;
        let n = op(iov[first..].as_ptr(), cnt as i32, off);
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        let mut n = n as usize;
        done += n;
        while n > 0 && first < iov.len() {
            let l = iov[first].iov_len;
            if n >= l {
                n -= l;
                first += 1;
            } else {
                iov[first].iov_len -= n;
                // SAFETY: `n < iov_len`: the new base stays inside the same iovec.
                iov[first].iov_base = unsafe { iov[first].iov_base.cast::<u8>().add(n) }.cast();
                n = 0;
            }
        }
    }
    Ok(done)
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping this object owns (type invariant); nothing borrows it
        // past `self`'s lifetime.
        let _ = unsafe { munmap(self.base.cast(), self.layout.total as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let ram = GuestRam::create(&dir.path().join("ram"), 1 << 20).unwrap();
        ram.write(0x1000, b"hello").unwrap();
        let mut b = [0u8; 5];
        ram.read(0x1000, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        assert!(ram.read((1 << 20) - 4, &mut [0u8; 8]).is_err());
        assert!(ram.write(u64::MAX - 2, &[0u8; 8]).is_err());
        assert!(ram.atomic_u32(0x1002).is_err());
        ram.store_u32(0x2000, 7).unwrap();
        assert_eq!(ram.load_u32(0x2000).unwrap(), 7);
    }
}
