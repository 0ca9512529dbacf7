// SPDX-License-Identifier: GPL-2.0-only
//! GPADLs (guest physical address descriptor lists): how a guest describes a buffer to the
//! host, one `CHANNELMSG_GPADL_HEADER` and as many `CHANNELMSG_GPADL_BODY` messages as the
//! PFN list needs.
//!
//! Guest side: [`GpadlSplitter`] produces the messages exactly as Linux's
//! `create_gpadl_header()` (`drivers/hv/channel.c`) does: one range (`rangecount` 1),
//! `range_buflen = sizeof(struct gpa_range) + 8 * pfns`, [`MAX_HEADER_PFNS`] (26) PFNs in the
//! header and up to [`MAX_BODY_PFNS`] (28) in each body, bodies with `msgnumber` 0.
//!
//! Host side: [`GpadlAssembler`] takes the header, then the bodies, and writes the PFNs into a
//! caller buffer, validating every count on the way.
//!
//! Decisions:
//! - Only one range is accepted (`rangecount == 1`): Linux never sends more, and several
//!   ranges would need per-range PFN bookkeeping the host does not use. A header with another
//!   count is refused with [`GpadlError::MultipleRanges`] / [`GpadlError::NoRange`].
//! - `range_buflen` is a `u16`, so a GPADL has at most [`MAX_GPADL_PFNS`] (8190) PFNs
//!   (32 MiB). Linux would silently truncate the field for a larger buffer; the splitter
//!   refuses it instead ([`GpadlError::TooManyPfns`]).
//! - Linux leaves `msgnumber` 0. The assembler accepts 0 (bodies in arrival order) or the
//!   body's 1-based position; any other number is [`GpadlError::OutOfOrder`]. With
//!   unnumbered bodies a duplicated body cannot be told from the next one: it shows as PFN
//!   contents the guest did not mean, or as a body after completion
//!   ([`GpadlError::UnexpectedBody`]).
//! - A message may carry more PFN words than the GPADL still needs (a caller passing the
//!   whole 240-byte slot); the extra words are ignored, as Linux's host would.

use crate::message::{ChannelMessage, GpadlBody, GpadlHeader, MessageError, MAX_MESSAGE_SIZE};
use core::fmt;
use zerocopy::IntoBytes;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `HV_HYP_PAGE_SIZE`: PFNs in GPADLs and GPA ranges count 4 KiB pages.
pub const HV_PAGE_SIZE: u32 = 4096;
/// `HV_HYP_PAGE_SHIFT`.
pub const HV_PAGE_SHIFT: u32 = 12;
/// PFNs that fit in a header message (`create_gpadl_header()`: 240 - 20 - 8 bytes).
pub const MAX_HEADER_PFNS: usize = (MAX_MESSAGE_SIZE - GpadlHeader::MIN_SIZE) / 8;
/// PFNs that fit in a body message (240 - 16 bytes).
pub const MAX_BODY_PFNS: usize = (MAX_MESSAGE_SIZE - GpadlBody::MIN_SIZE) / 8;
/// Most PFNs one GPADL can describe: `range_buflen` (u16) must hold `8 + 8 * n`.
pub const MAX_GPADL_PFNS: usize = (u16::MAX as usize - 8) / 8;

/// `struct gpa_range` without its flexible `pfn_array[]`: a byte range over the PFNs that
/// follow (used by GPADL headers and GPA-direct packets).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GpaRange {
    /// `byte_count`.
    pub byte_count: u32,
    /// `byte_offset`: into the first page.
    pub byte_offset: u32,
}

impl GpaRange {
    /// The number of pages the range spans, i.e. how many PFNs follow it.
    pub const fn pfn_count(&self) -> u32 {
        pfn_count(self.byte_offset, self.byte_count)
    }
}

/// Pages spanned by `byte_count` bytes starting `byte_offset` into the first page
/// (`HVPFN_UP(byte_offset + byte_count)` for an in-page offset).
pub const fn pfn_count(byte_offset: u32, byte_count: u32) -> u32 {
    let end = byte_offset as u64 + byte_count as u64;
    ((end + (HV_PAGE_SIZE as u64 - 1)) >> HV_PAGE_SHIFT) as u32
}

/// A list of little-endian 64-bit PFNs viewed in place (a message payload or a packet), or
/// borrowed from a `&[u64]` to be encoded.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Pfns<'a> {
    bytes: &'a [u8],
}

impl<'a> Pfns<'a> {
    /// The empty list.
    pub const EMPTY: Pfns<'static> = Pfns { bytes: &[] };

    /// The whole 8-byte words of `b` (a trailing partial word is ignored).
    pub fn from_bytes(b: &'a [u8]) -> Pfns<'a> {
        let whole = b.len() & !7;
        Pfns { bytes: b.get(..whole).unwrap_or(&[]) }
    }

    /// A list over `pfns` (native order is the wire's little-endian on x86-64).
    pub fn from_slice(pfns: &'a [u64]) -> Pfns<'a> {
        Pfns { bytes: pfns.as_bytes() }
    }

    /// The number of PFNs.
    pub const fn len(&self) -> usize {
        self.bytes.len() / 8
    }

    /// No PFNs?
    pub const fn is_empty(&self) -> bool {
        self.bytes.len() < 8
    }

    /// PFN `i`.
    pub fn get(&self, i: usize) -> Option<u64> {
        crate::bytes::u64_at(self.bytes, i.checked_mul(8)?)
    }

    /// The first `n` PFNs (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Pfns<'a> {
        let len = n.saturating_mul(8).min(self.bytes.len());
        Pfns { bytes: self.bytes.get(..len).unwrap_or(&[]) }
    }

    /// The PFNs from `n` on.
    pub fn skip(&self, n: usize) -> Pfns<'a> {
        let start = n.saturating_mul(8).min(self.bytes.len());
        Pfns { bytes: self.bytes.get(start..).unwrap_or(&[]) }
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The PFNs in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.bytes.chunks_exact(8).map(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from_le_bytes(w)
        })
    }

    /// Copies as many PFNs as fit into `out`; returns how many.
    pub fn copy_to(&self, out: &mut [u64]) -> usize {
        let mut n = 0;
        for (o, v) in out.iter_mut().zip(self.iter()) {
            *o = v;
            n += 1;
        }
        n
    }
}

impl fmt::Debug for Pfns<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(Hex)).finish()
    }
}

struct Hex(u64);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Why a GPADL could not be split or assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpadlError {
    /// `byte_offset` is not inside the first page.
    BadByteOffset(u32),
    /// `byte_count` is 0.
    EmptyRange,
    /// The PFN list does not have one PFN per page the range spans.
    PfnCountMismatch {
        /// Pages spanned.
        expected: u32,
        /// PFNs given.
        got: usize,
    },
    /// More PFNs than `range_buflen` can describe ([`MAX_GPADL_PFNS`]).
    TooManyPfns(u32),
    /// `rangecount` is 0.
    NoRange,
    /// `rangecount` is above 1 (not supported, see the module doc).
    MultipleRanges(u16),
    /// `range_buflen` does not match the range.
    BadRangeBufLen {
        /// `8 + 8 * pages`.
        expected: u32,
        /// The field.
        got: u16,
    },
    /// The header message carries no PFN.
    HeaderWithoutPfns,
    /// A body message carries no PFN.
    EmptyBody,
    /// The caller's PFN buffer is shorter than the GPADL.
    BufferTooSmall {
        /// PFNs needed.
        needed: usize,
    },
    /// A second header arrived for an assembler already in use.
    HeaderAgain,
    /// A body arrived before its header.
    BodyWithoutHeader,
    /// A body arrived after the GPADL was complete.
    UnexpectedBody,
    /// A body names another GPADL.
    WrongGpadl {
        /// The header's handle.
        expected: u32,
        /// The body's handle.
        got: u32,
    },
    /// A numbered body is not the next one.
    OutOfOrder {
        /// The 1-based position expected.
        expected: u32,
        /// `msgnumber`.
        got: u32,
    },
    /// Encoding a message failed.
    Message(MessageError),
}

impl GpadlError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            GpadlError::BadByteOffset(_) => "GPADL byte offset outside the first page",
            GpadlError::EmptyRange => "GPADL range of zero bytes",
            GpadlError::PfnCountMismatch { .. } => "GPADL PFN count does not match the byte count",
            GpadlError::TooManyPfns(_) => "GPADL has more PFNs than range_buflen allows",
            GpadlError::NoRange => "GPADL header with no range",
            GpadlError::MultipleRanges(_) => "GPADL header with several ranges (unsupported)",
            GpadlError::BadRangeBufLen { .. } => "GPADL range_buflen does not match the range",
            GpadlError::HeaderWithoutPfns => "GPADL header carries no PFN",
            GpadlError::EmptyBody => "GPADL body carries no PFN",
            GpadlError::BufferTooSmall { .. } => "PFN buffer shorter than the GPADL",
            GpadlError::HeaderAgain => "second GPADL header for one GPADL",
            GpadlError::BodyWithoutHeader => "GPADL body before its header",
            GpadlError::UnexpectedBody => "GPADL body after the GPADL was complete",
            GpadlError::WrongGpadl { .. } => "GPADL body for another GPADL",
            GpadlError::OutOfOrder { .. } => "GPADL body out of order",
            GpadlError::Message(e) => e.as_str(),
        }
    }
}

impl fmt::Display for GpadlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a validated header describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpadlInfo {
    /// `child_relid` of the header.
    pub child_relid: u32,
    /// The GPADL handle.
    pub gpadl: u32,
    /// `range[0].byte_count`.
    pub byte_count: u32,
    /// `range[0].byte_offset`.
    pub byte_offset: u32,
    /// PFNs in the GPADL (pages spanned by the range).
    pub pfn_count: usize,
}

fn check_range(byte_offset: u32, byte_count: u32) -> Result<u32, GpadlError> {
    if byte_offset >= HV_PAGE_SIZE {
        return Err(GpadlError::BadByteOffset(byte_offset));
    }
    if byte_count == 0 {
        return Err(GpadlError::EmptyRange);
    }
    let n = pfn_count(byte_offset, byte_count);
    if n as usize > MAX_GPADL_PFNS {
        return Err(GpadlError::TooManyPfns(n));
    }
    Ok(n)
}

/// Validates a header message and says what it describes (so a host can size the PFN
/// buffer before [`GpadlAssembler::header`]).
pub fn header_info(h: &GpadlHeader<'_>) -> Result<GpadlInfo, GpadlError> {
    match h.rangecount {
        0 => return Err(GpadlError::NoRange),
        1 => {}
        n => return Err(GpadlError::MultipleRanges(n)),
    }
    let range = h.range;
    let n = check_range(range.byte_offset, range.byte_count)?;
    // n <= MAX_GPADL_PFNS, so this cannot overflow.
    let expected = 8 + 8 * n;
    if u32::from(h.range_buflen) != expected {
        return Err(GpadlError::BadRangeBufLen { expected, got: h.range_buflen });
    }
    if h.pfns.is_empty() {
        return Err(GpadlError::HeaderWithoutPfns);
    }
    Ok(GpadlInfo {
        child_relid: h.child_relid,
        gpadl: h.gpadl,
        byte_count: range.byte_count,
        byte_offset: range.byte_offset,
        pfn_count: n as usize,
    })
}

/// Guest side: the messages establishing one GPADL, produced one at a time.
#[derive(Clone, Copy, Debug)]
pub struct GpadlSplitter<'a> {
    child_relid: u32,
    gpadl: u32,
    range: GpaRange,
    pfns: &'a [u64],
    sent: usize,
    header_sent: bool,
}

impl<'a> GpadlSplitter<'a> {
    /// A GPADL of `byte_count` bytes starting `byte_offset` into the first of `pfns` (one PFN
    /// per page spanned).
    pub fn new(child_relid: u32, gpadl: u32, byte_count: u32, byte_offset: u32, pfns: &'a [u64]) -> Result<GpadlSplitter<'a>, GpadlError> {
        let n = check_range(byte_offset, byte_count)?;
        if n as usize != pfns.len() {
            return Err(GpadlError::PfnCountMismatch { expected: n, got: pfns.len() });
        }
        Ok(GpadlSplitter { child_relid, gpadl, range: GpaRange { byte_count, byte_offset }, pfns, sent: 0, header_sent: false })
    }

    /// A GPADL over whole pages, as Linux's `vmbus_establish_gpadl()` makes them
    /// (`byte_offset` 0, `byte_count` = pages * 4096).
    pub fn for_pages(child_relid: u32, gpadl: u32, pfns: &'a [u64]) -> Result<GpadlSplitter<'a>, GpadlError> {
        let count = u32::try_from(pfns.len())
            .ok()
            .and_then(|n| n.checked_mul(HV_PAGE_SIZE))
            .ok_or(GpadlError::TooManyPfns(u32::MAX))?;
        GpadlSplitter::new(child_relid, gpadl, count, 0, pfns)
    }

    /// The GPADL handle.
    pub const fn gpadl(&self) -> u32 {
        self.gpadl
    }

    /// `range_buflen` of the header.
    pub fn range_buflen(&self) -> u16 {
        // new() bounded the PFN count to MAX_GPADL_PFNS, so this fits.
        u16::try_from(8 + 8 * self.pfns.len()).unwrap_or(u16::MAX)
    }

    /// Body messages needed after the header.
    pub fn body_count(&self) -> usize {
        let rest = self.pfns.len().saturating_sub(MAX_HEADER_PFNS);
        rest.div_ceil(MAX_BODY_PFNS)
    }

    /// All messages: the header and the bodies.
    pub fn message_count(&self) -> usize {
        1 + self.body_count()
    }

    /// Every message has been produced.
    pub fn is_done(&self) -> bool {
        self.header_sent && self.sent >= self.pfns.len()
    }

    /// The next message as a [`ChannelMessage`] view (borrowing the PFNs), or `None` when
    /// done. Advances.
    pub fn next_view(&mut self) -> Option<ChannelMessage<'a>> {
        if !self.header_sent {
            let k = self.pfns.len().min(MAX_HEADER_PFNS);
            let first = Pfns::from_slice(self.pfns.get(..k).unwrap_or(&[]));
            self.header_sent = true;
            self.sent = k;
            return Some(ChannelMessage::GpadlHeader(GpadlHeader {
                child_relid: self.child_relid,
                gpadl: self.gpadl,
                range_buflen: self.range_buflen(),
                rangecount: 1,
                range: self.range,
                pfns: first,
            }));
        }
        let rest = self.pfns.get(self.sent..).unwrap_or(&[]);
        if rest.is_empty() {
            return None;
        }
        let k = rest.len().min(MAX_BODY_PFNS);
        self.sent = self.sent.saturating_add(k);
        Some(ChannelMessage::GpadlBody(GpadlBody { msgnumber: 0, gpadl: self.gpadl, pfns: Pfns::from_slice(rest.get(..k).unwrap_or(&[])) }))
    }

    /// Encodes the next message into `out` (at least 240 bytes is always enough) and returns
    /// its length, or `None` when done. On error nothing advances.
    pub fn next_message(&mut self, out: &mut [u8]) -> Result<Option<usize>, GpadlError> {
        let saved = *self;
        match self.next_view() {
            None => Ok(None),
            Some(m) => match m.encode(out) {
                Ok(len) => Ok(Some(len)),
                Err(e) => {
                    *self = saved;
                    Err(GpadlError::Message(e))
                }
            },
        }
    }
}

impl<'a> Iterator for GpadlSplitter<'a> {
    type Item = ChannelMessage<'a>;
    fn next(&mut self) -> Option<ChannelMessage<'a>> {
        self.next_view()
    }
}

/// Where an assembly stands after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bodies are needed.
    NeedMore {
        /// PFNs received so far.
        received: usize,
        /// PFNs in the GPADL.
        total: usize,
    },
    /// Every PFN arrived: answer with `GPADL_CREATED`.
    Complete(GpadlInfo),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Idle,
    Collecting {
        info: GpadlInfo,
        received: usize,
        bodies: u32,
    },
    Complete(GpadlInfo),
}

/// Host side: collects one GPADL's PFNs from its header and body messages.
///
/// The PFN buffer is passed to every call (so the host can keep it next to the assembler in
/// its own tables); it must be the same buffer each time and hold at least
/// [`GpadlInfo::pfn_count`] entries. On any error the assembler is unchanged; the host should
/// then fail the GPADL (`GPADL_CREATED` with a non-zero status) and [`reset`](Self::reset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpadlAssembler {
    state: State,
}

impl GpadlAssembler {
    /// An idle assembler.
    pub const fn new() -> GpadlAssembler {
        GpadlAssembler { state: State::Idle }
    }

    /// Back to idle.
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    /// Takes the header message: validates it ([`header_info`]) and stores its PFNs at the
    /// start of `out`.
    pub fn header(&mut self, h: &GpadlHeader<'_>, out: &mut [u64]) -> Result<Progress, GpadlError> {
        if self.state != State::Idle {
            return Err(GpadlError::HeaderAgain);
        }
        let info = header_info(h)?;
        let total = info.pfn_count;
        let dst = out.get_mut(..total).ok_or(GpadlError::BufferTooSmall { needed: total })?;
        let k = h.pfns.copy_to(dst);
        if k == total {
            self.state = State::Complete(info);
            Ok(Progress::Complete(info))
        } else {
            self.state = State::Collecting { info, received: k, bodies: 0 };
            Ok(Progress::NeedMore { received: k, total })
        }
    }

    /// Takes a body message and appends its PFNs.
    pub fn body(&mut self, b: &GpadlBody<'_>, out: &mut [u64]) -> Result<Progress, GpadlError> {
        let (info, received, bodies) = match self.state {
            State::Idle => return Err(GpadlError::BodyWithoutHeader),
            State::Complete(_) => return Err(GpadlError::UnexpectedBody),
            State::Collecting { info, received, bodies } => (info, received, bodies),
        };
        if b.gpadl != info.gpadl {
            return Err(GpadlError::WrongGpadl { expected: info.gpadl, got: b.gpadl });
        }
        let position = bodies.saturating_add(1);
        if b.msgnumber != 0 && b.msgnumber != position {
            return Err(GpadlError::OutOfOrder { expected: position, got: b.msgnumber });
        }
        if b.pfns.is_empty() {
            return Err(GpadlError::EmptyBody);
        }
        let total = info.pfn_count;
        let dst = out.get_mut(received..total).ok_or(GpadlError::BufferTooSmall { needed: total })?;
        let k = b.pfns.copy_to(dst);
        // received < total while collecting, and k <= total - received.
        let received = received.saturating_add(k);
        if received >= total {
            self.state = State::Complete(info);
            Ok(Progress::Complete(info))
        } else {
            self.state = State::Collecting { info, received, bodies: position };
            Ok(Progress::NeedMore { received, total })
        }
    }

    /// The GPADL handle being assembled (or complete).
    pub fn gpadl(&self) -> Option<u32> {
        self.info().map(|i| i.gpadl)
    }

    /// What the header described, once a header was taken.
    pub fn info(&self) -> Option<GpadlInfo> {
        match self.state {
            State::Idle => None,
            State::Collecting { info, .. } | State::Complete(info) => Some(info),
        }
    }

    /// PFNs stored so far.
    pub fn received(&self) -> usize {
        match self.state {
            State::Idle => 0,
            State::Collecting { received, .. } => received,
            State::Complete(info) => info.pfn_count,
        }
    }

    /// Every PFN arrived.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete(_))
    }
}
