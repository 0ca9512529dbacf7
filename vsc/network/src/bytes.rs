// SPDX-License-Identifier: GPL-2.0-only
//! Bounds-checked access to little-endian byte buffers.
//!
//! Every read and write returns `None` instead of panicking when the buffer is too short or an
//! offset overflows, so callers turn it into their own typed error.

use zerocopy::{FromBytes, Immutable, IntoBytes};

/// `b[off..off + len]`, if it is inside `b`.
pub(crate) fn sub(b: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    let end = off.checked_add(len)?;
    b.get(off..end)
}

/// Mutable `b[off..off + len]`, if it is inside `b`.
pub(crate) fn sub_mut(b: &mut [u8], off: usize, len: usize) -> Option<&mut [u8]> {
    let end = off.checked_add(len)?;
    b.get_mut(off..end)
}

/// `b[off..]`, or an empty slice when `off` is past the end.
pub(crate) fn tail(b: &[u8], off: usize) -> &[u8] {
    b.get(off..).unwrap_or(&[])
}

/// `b[..len]`, or all of `b` when it is shorter.
pub(crate) fn head(b: &[u8], len: usize) -> &[u8] {
    b.get(..len).unwrap_or(b)
}

/// `N` bytes at `off`, if they are all inside `b`.
pub(crate) fn array_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let src = sub(b, off, N)?;
    let mut out = [0u8; N];
    out.copy_from_slice(src);
    Some(out)
}

/// Little-endian `u16` at `off`.
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    array_at::<2>(b, off).map(u16::from_le_bytes)
}

/// Little-endian `u32` at `off`.
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    array_at::<4>(b, off).map(u32::from_le_bytes)
}

/// A wire struct read from `b[off..]`, if it fits.
pub(crate) fn read<T: FromBytes>(b: &[u8], off: usize) -> Option<T> {
    T::read_from_prefix(b.get(off..)?).ok().map(|(v, _)| v)
}

/// A wire struct read from the first `len` bytes of `b` (at most `size_of::<T>()`), the
/// missing tail read as zero: for NDIS structures a peer may send in an older, shorter
/// revision.
pub(crate) fn read_truncated<T: FromBytes + IntoBytes>(b: &[u8], len: usize) -> T {
    let mut v = T::new_zeroed();
    copy_truncated(v.as_mut_bytes(), head(b, len));
    v
}

/// Copies `src` to `b[off..]`, if it fits.
pub(crate) fn put(b: &mut [u8], off: usize, src: &[u8]) -> Option<()> {
    sub_mut(b, off, src.len())?.copy_from_slice(src);
    Some(())
}

/// Writes a little-endian `u16` at `off`.
pub(crate) fn put_u16(b: &mut [u8], off: usize, v: u16) -> Option<()> {
    put(b, off, &v.to_le_bytes())
}

/// Writes a little-endian `u32` at `off`.
pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) -> Option<()> {
    put(b, off, &v.to_le_bytes())
}

/// Writes a wire struct at `off`, if it fits.
pub(crate) fn write<T: IntoBytes + Immutable>(b: &mut [u8], off: usize, v: &T) -> Option<()> {
    put(b, off, v.as_bytes())
}

/// Copies as much of `src` as fits into `dst`; returns the number of bytes copied.
pub(crate) fn copy_truncated(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

/// Whether the ranges `[a, a + alen)` and `[b, b + blen)` share a byte (empty ranges never
/// overlap). The ends are computed in `u64`, so `u32` wire values cannot overflow.
pub(crate) fn overlaps(a: u32, alen: u32, b: u32, blen: u32) -> bool {
    if alen == 0 || blen == 0 {
        return false;
    }
    let (a, alen, b, blen) = (u64::from(a), u64::from(alen), u64::from(b), u64::from(blen));
    a < b + blen && b < a + alen
}
