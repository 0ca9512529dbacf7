// SPDX-License-Identifier: GPL-2.0-only
//! Bounds-checked access to byte buffers: little-endian for the VSTOR packets, big-endian for
//! everything SCSI (CDBs, parameter data, sense data).
//!
//! Every read and write returns `None` instead of panicking when the buffer is too short or
//! an offset overflows, so callers turn it into their own typed error. The `_or0` readers are
//! for SCSI data that may legitimately be truncated by an allocation length: a field that is
//! not in the buffer reads as zero.

/// `N` bytes at `off`, if they are all inside `b`.
pub(crate) fn array_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    let src = b.get(off..end)?;
    let mut out = [0u8; N];
    out.copy_from_slice(src);
    Some(out)
}

/// The byte at `off`.
pub(crate) fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

/// Big-endian `u16` at `off`.
pub(crate) fn be16_at(b: &[u8], off: usize) -> Option<u16> {
    array_at::<2>(b, off).map(u16::from_be_bytes)
}

/// Big-endian `u32` at `off`.
pub(crate) fn be32_at(b: &[u8], off: usize) -> Option<u32> {
    array_at::<4>(b, off).map(u32::from_be_bytes)
}

/// Big-endian `u64` at `off`.
pub(crate) fn be64_at(b: &[u8], off: usize) -> Option<u64> {
    array_at::<8>(b, off).map(u64::from_be_bytes)
}

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

/// Mutable `b[off..]`, or an empty slice when `off` is past the end.
pub(crate) fn tail_mut(b: &mut [u8], off: usize) -> &mut [u8] {
    match b.get_mut(off..) {
        Some(s) => s,
        None => &mut [],
    }
}

/// `b[off..]`, or an empty slice when `off` is past the end.
pub(crate) fn tail(b: &[u8], off: usize) -> &[u8] {
    b.get(off..).unwrap_or(&[])
}

/// `b[..len]`, or all of `b` when it is shorter.
pub(crate) fn head(b: &[u8], len: usize) -> &[u8] {
    b.get(..len).unwrap_or(b)
}

/// Mutable `b[..len]`, or all of `b` when it is shorter.
pub(crate) fn head_mut(b: &mut [u8], len: usize) -> &mut [u8] {
    let n = len.min(b.len());
    match b.get_mut(..n) {
        Some(s) => s,
        None => &mut [],
    }
}

/// Copies `src` to `b[off..]`, if it fits.
pub(crate) fn put(b: &mut [u8], off: usize, src: &[u8]) -> Option<()> {
    let end = off.checked_add(src.len())?;
    b.get_mut(off..end)?.copy_from_slice(src);
    Some(())
}

/// Writes one byte at `off`, if it is inside `b`.
pub(crate) fn put_u8(b: &mut [u8], off: usize, v: u8) -> Option<()> {
    *b.get_mut(off)? = v;
    Some(())
}

/// Writes a big-endian `u16` at `off`.
pub(crate) fn put_be16(b: &mut [u8], off: usize, v: u16) -> Option<()> {
    put(b, off, &v.to_be_bytes())
}

/// Writes a big-endian `u32` at `off`.
pub(crate) fn put_be32(b: &mut [u8], off: usize, v: u32) -> Option<()> {
    put(b, off, &v.to_be_bytes())
}

/// Writes a big-endian `u64` at `off`.
pub(crate) fn put_be64(b: &mut [u8], off: usize, v: u64) -> Option<()> {
    put(b, off, &v.to_be_bytes())
}

/// Copies as much of `src` as fits into `dst`; returns the number of bytes copied.
pub(crate) fn copy_truncated(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

/// Zeroes all of `b`.
pub(crate) fn zero(b: &mut [u8]) {
    b.iter_mut().for_each(|x| *x = 0);
}
