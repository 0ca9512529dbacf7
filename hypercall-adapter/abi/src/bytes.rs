// SPDX-License-Identifier: GPL-2.0-only
//! Bounds-checked little-endian access to byte buffers, and the one piece of wide arithmetic
//! the crate needs without `u128` division (the kernel provides no `__udivti3`).
//!
//! Every read and write returns `None` instead of panicking when the buffer is too short or
//! an offset overflows, so callers turn it into their own typed error.

/// `N` bytes at `off`, if they are all inside `b`.
pub(crate) fn array_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    let src = b.get(off..end)?;
    let mut out = [0u8; N];
    out.copy_from_slice(src);
    Some(out)
}

/// Little-endian `u32` at `off`.
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    array_at::<4>(b, off).map(u32::from_le_bytes)
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

/// Writes a little-endian `u64` at `off`.
pub(crate) fn put_u64(b: &mut [u8], off: usize, v: u64) -> Option<()> {
    put(b, off, &v.to_le_bytes())
}

/// Writes a little-endian `u32` at `off`.
pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) -> Option<()> {
    put(b, off, &v.to_le_bytes())
}

/// `floor((hi * 2^64 + lo) / d)` when the quotient fits in 64 bits (`hi < d`), by restoring
/// long division on 64-bit words.
pub(crate) fn div_wide(hi: u64, lo: u64, d: u64) -> Option<u64> {
    if d == 0 || hi >= d {
        return None;
    }
    let mut rem = hi;
    let mut q = 0u64;
    for i in (0..64u32).rev() {
        let carry = rem >> 63;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry != 0 || rem >= d {
            rem = rem.wrapping_sub(d);
            q |= 1;
        }
    }
    Some(q)
}

/// The high 64 bits of the 128-bit product `a * b` (Linux `mul_u64_u64_shr(a, b, 64)`).
/// A 64x64 multiply, which x86-64 does in one instruction; no 128-bit library call.
pub(crate) fn mul_high(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) >> 64) as u64
}
