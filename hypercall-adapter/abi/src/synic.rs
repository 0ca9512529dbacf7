// SPDX-License-Identifier: GPL-2.0-only
//! The synthetic interrupt controller's shared pages (TLFS "Virtual Interrupt Controller" /
//! "SynIC Message Page", "SynIC Event Flags Page"; `include/hyperv/hvgdk_mini.h`
//! `hv_message*`, `include/hyperv/hvhdk.h` `hv_synic_event_flags*`).
//!
//! * Message page (SIMP): 16 slots of 256 bytes, one per SINT. A slot holds a 16-byte header
//!   (`message_type` u32, `payload_size` u8, `message_flags` u8 with bit 0 = message
//!   pending, 2 reserved bytes, sender/port id u64) and a 240-byte payload. Type
//!   `HVMSG_NONE` (0) means the slot is free.
//! * Event flags page (SIEFP): 16 areas of 256 bytes (2048 flags), one per SINT; flag n of
//!   an area is bit n % 8 of byte n / 8.
//!
//! The protocol over the message slot, as plain functions (Linux `vmbus_signal_eom()`):
//! the host writes a message only into a free slot, otherwise it sets the slot's pending
//! flag and keeps the message queued ([`host_post`]); the guest, after copying the message
//! out, writes `HVMSG_NONE` into the type (the kernel does this with a compare-and-exchange
//! so a message the host delivers meanwhile is not lost), *then* reads the pending flag,
//! and if set writes `HV_X64_MSR_EOM` so the host redelivers ([`consume`] /
//! [`eom_action`]). Clearing before reading the flag is what makes the handshake safe.

use crate::bytes;
use zerocopy::{FromBytes, FromZeros, IntoBytes};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Number of SINTs, slots and flag areas (`HV_SYNIC_SINT_COUNT`).
pub const SINT_COUNT: usize = 16;
/// Bytes per message slot (`HV_MESSAGE_SIZE`).
pub const MESSAGE_SIZE: usize = 256;
/// Payload bytes per slot (`HV_MESSAGE_PAYLOAD_BYTE_COUNT`).
pub const PAYLOAD_BYTES: usize = 240;
/// Payload qwords per slot (`HV_MESSAGE_PAYLOAD_QWORD_COUNT`).
pub const PAYLOAD_QWORDS: usize = 30;
/// Header bytes of a slot.
pub const HEADER_SIZE: usize = 16;
/// Offset of `message_type` in a slot (the word the guest compare-and-exchanges).
pub const MESSAGE_TYPE_OFFSET: usize = 0;
/// Offset of `payload_size`.
pub const PAYLOAD_SIZE_OFFSET: usize = 4;
/// Offset of `message_flags`.
pub const MESSAGE_FLAGS_OFFSET: usize = 5;
/// Offset of the sender / port id.
pub const SENDER_OFFSET: usize = 8;
/// `message_flags` bit 0: another message is waiting (`hv_message_flags.msg_pending`).
pub const MESSAGE_FLAG_PENDING: u8 = 1;
/// Bytes of flags per SINT (`HV_EVENT_FLAGS_BYTE_COUNT`).
pub const EVENT_FLAGS_BYTES: usize = 256;
/// Flags per SINT (`HV_EVENT_FLAGS_COUNT`).
pub const EVENT_FLAGS_COUNT: u32 = 256 * 8;
/// Size of either page.
pub const PAGE_SIZE: usize = 4096;
/// SINT the hypervisor uses for intercepts (`HV_SYNIC_INTERCEPTION_SINT_INDEX`).
pub const INTERCEPTION_SINT: u8 = 0;
/// SINT for IOMMU faults (`HV_SYNIC_IOMMU_FAULT_SINT_INDEX`).
pub const IOMMU_FAULT_SINT: u8 = 1;
/// SINT VMBus uses (`HV_SYNIC_VMBUS_SINT_INDEX`, Linux `VMBUS_MESSAGE_SINT`).
pub const VMBUS_SINT: u8 = 2;
/// First SINT not statically assigned (`HV_SYNIC_FIRST_UNUSED_SINT_INDEX`).
pub const FIRST_UNUSED_SINT: u8 = 5;

macro_rules! message_types {
    ($($(#[$doc:meta])* $var:ident = $v:literal, $name:literal;)*) => {
        /// Message types (`enum hv_message_type`). Types with bit 31 clear are chosen by the
        /// sender of `HvCallPostMessage` (VMBus uses 1) and appear as [`MessageType::Posted`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum MessageType {
            $($(#[$doc])* $var,)*
            /// A guest-posted type (bit 31 clear, non-zero).
            Posted(u32),
            /// A hypervisor type (bit 31 set) this crate does not know.
            Unknown(u32),
        }

        impl MessageType {
            /// Classifies a raw type.
            pub const fn from_raw(v: u32) -> Self {
                match v {
                    $($v => MessageType::$var,)*
                    other if other & 0x8000_0000 == 0 => MessageType::Posted(other),
                    other => MessageType::Unknown(other),
                }
            }

            /// The raw type.
            pub const fn raw(self) -> u32 {
                match self {
                    $(MessageType::$var => $v,)*
                    MessageType::Posted(v) | MessageType::Unknown(v) => v,
                }
            }

            /// The C name, `"posted"` or `"unknown"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(MessageType::$var => $name,)*
                    MessageType::Posted(_) => "posted",
                    MessageType::Unknown(_) => "unknown",
                }
            }
        }
    };
}

message_types! {
    /// Free slot (`HVMSG_NONE`).
    None = 0x0000_0000, "HVMSG_NONE";
    /// Access to unmapped GPA.
    UnmappedGpa = 0x8000_0000, "HVMSG_UNMAPPED_GPA";
    /// GPA intercept.
    GpaIntercept = 0x8000_0001, "HVMSG_GPA_INTERCEPT";
    /// A synthetic timer expired (payload [`TimerMessagePayload`]).
    TimerExpired = 0x8000_0010, "HVMSG_TIMER_EXPIRED";
    /// Invalid VP register value.
    InvalidVpRegisterValue = 0x8000_0020, "HVMSG_INVALID_VP_REGISTER_VALUE";
    /// Unrecoverable exception.
    UnrecoverableException = 0x8000_0021, "HVMSG_UNRECOVERABLE_EXCEPTION";
    /// Unsupported feature.
    UnsupportedFeature = 0x8000_0022, "HVMSG_UNSUPPORTED_FEATURE";
    /// Opaque intercept.
    OpaqueIntercept = 0x8000_003F, "HVMSG_OPAQUE_INTERCEPT";
    /// Event log buffer complete.
    EventLogBufferComplete = 0x8000_0040, "HVMSG_EVENTLOG_BUFFERCOMPLETE";
    /// Hypercall intercept.
    HypercallIntercept = 0x8000_0050, "HVMSG_HYPERCALL_INTERCEPT";
    /// SynIC event intercept.
    SynicEventIntercept = 0x8000_0060, "HVMSG_SYNIC_EVENT_INTERCEPT";
    /// SynIC SINT intercept.
    SynicSintIntercept = 0x8000_0061, "HVMSG_SYNIC_SINT_INTERCEPT";
    /// SynIC SINT deliverable.
    SynicSintDeliverable = 0x8000_0062, "HVMSG_SYNIC_SINT_DELIVERABLE";
    /// Asynchronous call completion.
    AsyncCallCompletion = 0x8000_0070, "HVMSG_ASYNC_CALL_COMPLETION";
    /// Root scheduler: VP signal bitset.
    SchedulerVpSignalBitset = 0x8000_0100, "HVMSG_SCHEDULER_VP_SIGNAL_BITSET";
    /// Root scheduler: VP signal pair.
    SchedulerVpSignalPair = 0x8000_0101, "HVMSG_SCHEDULER_VP_SIGNAL_PAIR";
    /// I/O port intercept.
    X64IoPortIntercept = 0x8001_0000, "HVMSG_X64_IO_PORT_INTERCEPT";
    /// MSR intercept.
    X64MsrIntercept = 0x8001_0001, "HVMSG_X64_MSR_INTERCEPT";
    /// CPUID intercept.
    X64CpuidIntercept = 0x8001_0002, "HVMSG_X64_CPUID_INTERCEPT";
    /// Exception intercept.
    X64ExceptionIntercept = 0x8001_0003, "HVMSG_X64_EXCEPTION_INTERCEPT";
    /// APIC EOI.
    X64ApicEoi = 0x8001_0004, "HVMSG_X64_APIC_EOI";
    /// Legacy FP error.
    X64LegacyFpError = 0x8001_0005, "HVMSG_X64_LEGACY_FP_ERROR";
    /// IOMMU page request.
    X64IommuPrq = 0x8001_0006, "HVMSG_X64_IOMMU_PRQ";
    /// HLT intercept.
    X64Halt = 0x8001_0007, "HVMSG_X64_HALT";
    /// Interruption deliverable.
    X64InterruptionDeliverable = 0x8001_0008, "HVMSG_X64_INTERRUPTION_DELIVERABLE";
    /// SIPI intercept.
    X64SipiIntercept = 0x8001_0009, "HVMSG_X64_SIPI_INTERCEPT";
}

/// Message slot header (`struct hv_message_header`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct MessageHeader {
    /// Message type; 0 = free slot.
    pub message_type: u32,
    /// Payload bytes used, at most 240.
    pub payload_size: u8,
    /// Bit 0: message pending.
    pub message_flags: u8,
    /// Reserved.
    pub reserved: [u8; 2],
    /// Sender partition id / port id (`union { u64 sender; hv_port_id port; }`).
    pub sender: u64,
}

/// One message slot (`struct hv_message`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HvMessage {
    /// Header.
    pub header: MessageHeader,
    /// Payload (C: `u64 payload[30]`).
    pub payload: [u8; PAYLOAD_BYTES],
}

/// The message page (`struct hv_message_page`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct MessagePage {
    /// One slot per SINT.
    pub sint_message: [HvMessage; SINT_COUNT],
}

/// Event flags of one SINT (`union hv_synic_event_flags`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct EventFlags {
    /// Flag n is bit n % 8 of byte n / 8.
    pub flags: [u8; EVENT_FLAGS_BYTES],
}

/// The event flags page (`struct hv_synic_event_flags_page`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct EventFlagsPage {
    /// One area per SINT.
    pub event_flags: [EventFlags; SINT_COUNT],
}

/// Payload of `HVMSG_TIMER_EXPIRED` (`struct hv_timer_message_payload`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TimerMessagePayload {
    /// Timer 0..3.
    pub timer_index: u32,
    /// Reserved.
    pub reserved: u32,
    /// When the timer expired (reference time, 100 ns).
    pub expiration_time: u64,
    /// When the message was delivered.
    pub delivery_time: u64,
}

/// Why a slot, flag or page access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynicError {
    /// SINT index above 15.
    InvalidSint(u8),
    /// Flag number above 2047.
    InvalidFlag(u32),
    /// Buffer shorter than the slot, area or page.
    BufferTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// `payload_size` above 240.
    PayloadTooLarge(usize),
    /// Posting type 0 (`HVMSG_NONE`) is not a message.
    NoneType,
}

impl SynicError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SynicError::InvalidSint(_) => "SINT index above 15",
            SynicError::InvalidFlag(_) => "event flag above 2047",
            SynicError::BufferTooShort { .. } => "buffer shorter than the SynIC structure",
            SynicError::PayloadTooLarge(_) => "message payload above 240 bytes",
            SynicError::NoneType => "message type HVMSG_NONE",
        }
    }
}

impl core::fmt::Display for SynicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn sint_range(sint: u8, size: usize, page_len: usize) -> Result<core::ops::Range<usize>, SynicError> {
    if sint as usize >= SINT_COUNT {
        return Err(SynicError::InvalidSint(sint));
    }
    let start = sint as usize * size;
    let end = start + size;
    if end > page_len {
        return Err(SynicError::BufferTooShort { needed: end, have: page_len });
    }
    Ok(start..end)
}

/// The bytes of SINT `sint`'s slot in a message page.
pub fn slot(page: &[u8], sint: u8) -> Result<&[u8], SynicError> {
    let r = sint_range(sint, MESSAGE_SIZE, page.len())?;
    page.get(r).ok_or(SynicError::BufferTooShort { needed: PAGE_SIZE, have: page.len() })
}

/// The bytes of SINT `sint`'s slot, mutable.
pub fn slot_mut(page: &mut [u8], sint: u8) -> Result<&mut [u8], SynicError> {
    let len = page.len();
    let r = sint_range(sint, MESSAGE_SIZE, len)?;
    page.get_mut(r).ok_or(SynicError::BufferTooShort { needed: PAGE_SIZE, have: len })
}

/// A message read from a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// Type.
    pub message_type: MessageType,
    /// The host has another message queued for this SINT.
    pub pending: bool,
    /// Sender / port id.
    pub sender: u64,
    /// The `payload_size` bytes of payload.
    pub payload: &'a [u8],
}

/// Reads a slot (the guest should first copy the slot out of the shared page). A free slot
/// is `Ok(None)`; `payload_size` above 240 is an error. Reserved header bits are ignored, as
/// Linux does.
pub fn parse_slot(slot: &[u8]) -> Result<Option<Message<'_>>, SynicError> {
    let (hdr, rest) = MessageHeader::read_from_prefix(slot).map_err(|_| SynicError::BufferTooShort { needed: MESSAGE_SIZE, have: slot.len() })?;
    if slot.len() < MESSAGE_SIZE {
        return Err(SynicError::BufferTooShort { needed: MESSAGE_SIZE, have: slot.len() });
    }
    let message_type = hdr.message_type;
    if message_type == 0 {
        return Ok(None);
    }
    let size = hdr.payload_size as usize;
    if size > PAYLOAD_BYTES {
        return Err(SynicError::PayloadTooLarge(size));
    }
    let payload = rest.get(..size).ok_or(SynicError::PayloadTooLarge(size))?;
    Ok(Some(Message {
        message_type: MessageType::from_raw(message_type),
        pending: hdr.message_flags & MESSAGE_FLAG_PENDING != 0,
        sender: hdr.sender,
        payload,
    }))
}

/// What the guest must do after freeing a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EomAction {
    /// Nothing: no message is waiting.
    Nothing,
    /// Write `HV_X64_MSR_EOM` (any value; Linux writes 0) so the host redelivers.
    WriteEom,
}

/// The step after clearing the type: `flags` is `message_flags` read *after* the type was
/// set to `HVMSG_NONE`.
pub const fn eom_action(flags: u8) -> EomAction {
    if flags & MESSAGE_FLAG_PENDING != 0 { EomAction::WriteEom } else { EomAction::Nothing }
}

/// Sets the slot's type to `HVMSG_NONE`, returning the previous type.
pub fn clear_slot(slot: &mut [u8]) -> Result<u32, SynicError> {
    let have = slot.len();
    let old = bytes::u32_at(slot, MESSAGE_TYPE_OFFSET).ok_or(SynicError::BufferTooShort { needed: MESSAGE_SIZE, have })?;
    bytes::put_u32(slot, MESSAGE_TYPE_OFFSET, 0).ok_or(SynicError::BufferTooShort { needed: MESSAGE_SIZE, have })?;
    Ok(old)
}

/// The guest's whole consume step on a slot it has finished with: free the slot, then
/// decide on EOM from the pending flag read afterwards. A free slot needs nothing.
pub fn consume(slot: &mut [u8]) -> Result<EomAction, SynicError> {
    if slot.len() < MESSAGE_SIZE {
        return Err(SynicError::BufferTooShort { needed: MESSAGE_SIZE, have: slot.len() });
    }
    if clear_slot(slot)? == 0 {
        return Ok(EomAction::Nothing);
    }
    let flags = slot.get(MESSAGE_FLAGS_OFFSET).copied().unwrap_or(0);
    Ok(eom_action(flags))
}

/// Result of a host delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Written into the free slot; raise the SINT.
    Delivered,
    /// The slot is busy; its pending flag is now set. Keep the message queued and retry
    /// after the guest's EOM.
    SlotBusy,
}

/// Host side: delivers a message into a slot, or marks the slot pending if it is busy.
pub fn host_post(slot: &mut [u8], message_type: u32, sender: u64, payload: &[u8]) -> Result<Delivery, SynicError> {
    let have = slot.len();
    if have < MESSAGE_SIZE {
        return Err(SynicError::BufferTooShort { needed: MESSAGE_SIZE, have });
    }
    if message_type == 0 {
        return Err(SynicError::NoneType);
    }
    if payload.len() > PAYLOAD_BYTES {
        return Err(SynicError::PayloadTooLarge(payload.len()));
    }
    let current = bytes::u32_at(slot, MESSAGE_TYPE_OFFSET).unwrap_or(0);
    if current != 0 {
        if let Some(f) = slot.get_mut(MESSAGE_FLAGS_OFFSET) {
            *f |= MESSAGE_FLAG_PENDING;
        }
        return Ok(Delivery::SlotBusy);
    }
    let mut msg = HvMessage::new_zeroed();
    msg.header = MessageHeader { message_type, payload_size: payload.len() as u8, message_flags: 0, reserved: [0; 2], sender };
    if let Some(dst) = msg.payload.get_mut(..payload.len()) {
        dst.copy_from_slice(payload);
    }
    bytes::put(slot, 0, msg.as_bytes()).ok_or(SynicError::BufferTooShort { needed: MESSAGE_SIZE, have })?;
    Ok(Delivery::Delivered)
}

/// Byte index and bit mask of event flag `flag` inside a SINT's 256-byte area.
pub const fn flag_location(flag: u32) -> Result<(usize, u8), SynicError> {
    if flag >= EVENT_FLAGS_COUNT {
        return Err(SynicError::InvalidFlag(flag));
    }
    Ok(((flag / 8) as usize, 1u8 << (flag % 8)))
}

/// Word index and bit of event flag `flag` for 64-bit atomic bit operations (the kernel's
/// `test_and_clear_bit` on `unsigned long` words, little-endian).
pub const fn flag_word(flag: u32) -> Result<(usize, u32), SynicError> {
    if flag >= EVENT_FLAGS_COUNT {
        return Err(SynicError::InvalidFlag(flag));
    }
    Ok(((flag / 64) as usize, flag % 64))
}

/// The 256 bytes of SINT `sint`'s flags in an event flags page.
pub fn flags_area(page: &[u8], sint: u8) -> Result<&[u8], SynicError> {
    let r = sint_range(sint, EVENT_FLAGS_BYTES, page.len())?;
    page.get(r).ok_or(SynicError::BufferTooShort { needed: PAGE_SIZE, have: page.len() })
}

fn flags_area_mut(page: &mut [u8], sint: u8) -> Result<&mut [u8], SynicError> {
    let len = page.len();
    let r = sint_range(sint, EVENT_FLAGS_BYTES, len)?;
    page.get_mut(r).ok_or(SynicError::BufferTooShort { needed: PAGE_SIZE, have: len })
}

/// Is flag `flag` of SINT `sint` set?
pub fn flag_is_set(page: &[u8], sint: u8, flag: u32) -> Result<bool, SynicError> {
    let (byte, mask) = flag_location(flag)?;
    let area = flags_area(page, sint)?;
    Ok(area.get(byte).is_some_and(|b| b & mask != 0))
}

/// Sets flag `flag` of SINT `sint` (host side), returning whether it was already set.
pub fn flag_set(page: &mut [u8], sint: u8, flag: u32) -> Result<bool, SynicError> {
    let (byte, mask) = flag_location(flag)?;
    let area = flags_area_mut(page, sint)?;
    let b = area.get_mut(byte).ok_or(SynicError::InvalidFlag(flag))?;
    let was = *b & mask != 0;
    *b |= mask;
    Ok(was)
}

/// Clears flag `flag` of SINT `sint` (guest side), returning whether it was set.
pub fn flag_test_and_clear(page: &mut [u8], sint: u8, flag: u32) -> Result<bool, SynicError> {
    let (byte, mask) = flag_location(flag)?;
    let area = flags_area_mut(page, sint)?;
    let b = area.get_mut(byte).ok_or(SynicError::InvalidFlag(flag))?;
    let was = *b & mask != 0;
    *b &= !mask;
    Ok(was)
}

/// The set flags of one SINT's area (any byte slice; bits past its end do not exist).
pub fn set_flags(area: &[u8]) -> SetFlags<'_> {
    SetFlags { area, next: 0 }
}

/// Iterator returned by [`set_flags`].
#[derive(Clone, Debug)]
pub struct SetFlags<'a> {
    area: &'a [u8],
    next: u32,
}

impl Iterator for SetFlags<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let limit = (self.area.len().min(EVENT_FLAGS_BYTES) * 8) as u32;
        while self.next < limit {
            let n = self.next;
            let byte = self.area.get((n / 8) as usize).copied().unwrap_or(0);
            if byte == 0 && n % 8 == 0 {
                self.next += 8;
                continue;
            }
            self.next += 1;
            if byte & (1 << (n % 8)) != 0 {
                return Some(n);
            }
        }
        None
    }
}
