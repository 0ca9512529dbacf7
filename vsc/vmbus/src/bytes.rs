// SPDX-License-Identifier: GPL-2.0-only
//! Bounds-checked little-endian access to byte buffers.
//!
//! Every read and write returns `None` instead of panicking when the buffer is too short or an
//! offset overflows, so callers turn it into their own typed error.

/// `N` bytes at `off`, if they are all inside `b`.
pub(crate) fn array_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    let src = b.get(off..end)?;
    let mut out = [0u8; N];
    out.copy_from_slice(src);
    Some(out)
}



/// Little-endian `u64` at `off`.
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    array_at::<8>(b, off).map(u64::from_le_bytes)
}

/// Copies `src` to `b[off..]`, if it fits.
pub(crate) fn put(b: &mut [u8], off: usize, src: &[u8]) -> Option<()> {
    let end = off.checked_add(src.len())?;
    b.get_mut(off..end)?.copy_from_slice(src);
    Some(())
}




/// `v` rounded up to a multiple of 8, if that fits in a `u32`.
pub(crate) const fn align8(v: u32) -> Option<u32> {
    match v.checked_add(7) {
        Some(x) => Some(x & !7),
        None => None,
    }
}
