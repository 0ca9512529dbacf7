// SPDX-License-Identifier: GPL-2.0-only
//! VMBus channel management messages (`include/linux/hyperv.h`, `enum
//! vmbus_channel_message_type` and the `struct vmbus_channel_*` that go with it).
//!
//! Every message travels as the payload of one SynIC message (at most
//! [`MAX_MESSAGE_SIZE`] = 240 bytes, posted with `HvCallPostMessage` to the message connection
//! and delivered on SINT 2) and starts with the 8-byte [`MessageHeader`]. The structs here
//! are the C structs *without* that header (each C struct starts with `struct
//! vmbus_channel_message_header header`), so a C offset is [`HEADER_SIZE`] plus the Rust
//! offset. All of them are `__packed` in C and `#[repr(C, packed)]` here, with every reserved
//! field spelled out: encoding writes exactly the struct bytes, so nothing uninitialised can
//! leave the guest. Multi-byte fields are little-endian on the wire; the crate targets x86-64
//! only, so native integers are used in the structs.
//!
//! [`parse`] checks the message type and the minimum size of its struct, and allows trailing
//! bytes (newer hosts append fields, e.g. 6.0 version responses, and Linux reads the whole
//! 240-byte slot). The minimum is the C `sizeof`, as in Linux's `channel_message_table[]`
//! (`drivers/hv/channel_mgmt.c`) for the messages Linux receives, and for the ones a host
//! receives the size Linux sends. GPADL header and body messages carry PFN arrays; they are
//! returned as views ([`GpadlHeader`], [`GpadlBody`]) over the payload bytes.

use crate::bytes;
use crate::gpadl::{GpaRange, Pfns};
use crate::guid::Guid;
use core::fmt;
use core::mem::size_of;
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Largest message payload (`MAX_SIZE_CHANNEL_MESSAGE` = `HV_MESSAGE_PAYLOAD_BYTE_COUNT`).
pub const MAX_MESSAGE_SIZE: usize = 240;
/// Size of [`MessageHeader`] (`struct vmbus_channel_message_header`).
pub const HEADER_SIZE: usize = 8;
/// `INVALID_RELID`: no channel.
pub const INVALID_RELID: u32 = u32::MAX;
/// `MAX_USER_DEFINED_BYTES`: user-defined area of an offer or open request.
pub const MAX_USER_DEFINED_BYTES: usize = 120;
/// `MAX_PIPE_USER_DEFINED_BYTES`: what is left of it after a pipe offer's `pipe_mode`.
pub const MAX_PIPE_USER_DEFINED_BYTES: usize = 116;
/// `MAX_PIPE_DATA_PAYLOAD`.
pub const MAX_PIPE_DATA_PAYLOAD: usize = 16384;
/// `VMBUS_PIPE_TYPE_BYTE`.
pub const PIPE_TYPE_BYTE: u32 = 0;
/// `VMBUS_PIPE_TYPE_MESSAGE`.
pub const PIPE_TYPE_MESSAGE: u32 = 4;
/// `VMBUS_FEATURE_FLAG_CONFIDENTIAL_CHANNELS` (`INITIATE_CONTACT.feature_flags`, 6.0).
pub const FEATURE_FLAG_CONFIDENTIAL_CHANNELS: u32 = 0x10;
/// `MAX_NUM_CHANNELS` (`drivers/hv/hyperv_vmbus.h`): relids the interrupt page can flag.
pub const MAX_NUM_CHANNELS: u32 = 16384;
/// `MAX_CHANNEL_RELIDS` (`drivers/hv/hyperv_vmbus.h`): Linux refuses offers with a relid at
/// or above this (`max(MAX_NUM_CHANNELS_SUPPORTED, HV_EVENT_FLAGS_COUNT)`).
pub const MAX_CHANNEL_RELIDS: u32 = 2048;
/// Monitor ids are `0..MONITOR_ID_COUNT` (4 trigger groups of 32, `struct hv_monitor_page`).
pub const MONITOR_ID_COUNT: u8 = 128;

/// Offer `chn_flags` (`VMBUS_CHANNEL_*`).
pub mod offer_flags {
    /// `VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE`.
    pub const ENUMERATE_DEVICE_INTERFACE: u16 = 0x0001;
    /// `VMBUS_CHANNEL_CONFIDENTIAL_RING_BUFFER`: ring buffer in encrypted memory (paravisor).
    pub const CONFIDENTIAL_RING_BUFFER: u16 = 0x0002;
    /// `VMBUS_CHANNEL_CONFIDENTIAL_EXTERNAL_MEMORY`: GPA-direct and extra GPADLs encrypted.
    pub const CONFIDENTIAL_EXTERNAL_MEMORY: u16 = 0x0004;
    /// `VMBUS_CHANNEL_NAMED_PIPE_MODE`: the user-defined area starts with `pipe_mode`.
    pub const NAMED_PIPE_MODE: u16 = 0x0010;
    /// `VMBUS_CHANNEL_LOOPBACK_OFFER`.
    pub const LOOPBACK_OFFER: u16 = 0x0100;
    /// `VMBUS_CHANNEL_PARENT_OFFER`.
    pub const PARENT_OFFER: u16 = 0x0200;
    /// `VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION`.
    pub const REQUEST_MONITORED_NOTIFICATION: u16 = 0x0400;
    /// `VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER`: a Hyper-V socket channel.
    pub const TLNPI_PROVIDER_OFFER: u16 = 0x2000;
}

/// GPADL types of `hyperv.h` (`GPADL_TYPE_*`; not carried by any Linux message).
pub mod gpadl_type {
    /// `GPADL_TYPE_RING_BUFFER`.
    pub const RING_BUFFER: u32 = 1;
    /// `GPADL_TYPE_SERVER_SAVE_AREA`.
    pub const SERVER_SAVE_AREA: u32 = 2;
    /// `GPADL_TYPE_TRANSACTION`.
    pub const TRANSACTION: u32 = 8;
}

/// `enum vmbus_channel_message_type`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageType {
    /// `CHANNELMSG_INVALID`.
    Invalid = 0,
    /// `CHANNELMSG_OFFERCHANNEL` (host to guest).
    OfferChannel = 1,
    /// `CHANNELMSG_RESCIND_CHANNELOFFER` (host to guest).
    RescindChannelOffer = 2,
    /// `CHANNELMSG_REQUESTOFFERS` (guest to host).
    RequestOffers = 3,
    /// `CHANNELMSG_ALLOFFERS_DELIVERED` (host to guest).
    AllOffersDelivered = 4,
    /// `CHANNELMSG_OPENCHANNEL` (guest to host).
    OpenChannel = 5,
    /// `CHANNELMSG_OPENCHANNEL_RESULT` (host to guest).
    OpenChannelResult = 6,
    /// `CHANNELMSG_CLOSECHANNEL` (guest to host).
    CloseChannel = 7,
    /// `CHANNELMSG_GPADL_HEADER` (guest to host).
    GpadlHeader = 8,
    /// `CHANNELMSG_GPADL_BODY` (guest to host).
    GpadlBody = 9,
    /// `CHANNELMSG_GPADL_CREATED` (host to guest).
    GpadlCreated = 10,
    /// `CHANNELMSG_GPADL_TEARDOWN` (guest to host).
    GpadlTeardown = 11,
    /// `CHANNELMSG_GPADL_TORNDOWN` (host to guest).
    GpadlTorndown = 12,
    /// `CHANNELMSG_RELID_RELEASED` (guest to host).
    RelIdReleased = 13,
    /// `CHANNELMSG_INITIATE_CONTACT` (guest to host).
    InitiateContact = 14,
    /// `CHANNELMSG_VERSION_RESPONSE` (host to guest).
    VersionResponse = 15,
    /// `CHANNELMSG_UNLOAD` (guest to host).
    Unload = 16,
    /// `CHANNELMSG_UNLOAD_RESPONSE` (host to guest).
    UnloadResponse = 17,
    /// `CHANNELMSG_18` (reserved; no layout in Linux).
    Reserved18 = 18,
    /// `CHANNELMSG_19` (reserved; no layout in Linux).
    Reserved19 = 19,
    /// `CHANNELMSG_20` (reserved; no layout in Linux).
    Reserved20 = 20,
    /// `CHANNELMSG_TL_CONNECT_REQUEST` (guest to host).
    TlConnectRequest = 21,
    /// `CHANNELMSG_MODIFYCHANNEL` (guest to host).
    ModifyChannel = 22,
    /// `CHANNELMSG_TL_CONNECT_RESULT` (host to guest).
    TlConnectResult = 23,
    /// `CHANNELMSG_MODIFYCHANNEL_RESPONSE` (host to guest).
    ModifyChannelResponse = 24,
}

/// `CHANNELMSG_COUNT`: one past the last message type.
pub const MESSAGE_TYPE_COUNT: u32 = 25;

impl MessageType {
    /// Every message type, in numeric order.
    pub const ALL: [MessageType; 25] = [
        MessageType::Invalid,
        MessageType::OfferChannel,
        MessageType::RescindChannelOffer,
        MessageType::RequestOffers,
        MessageType::AllOffersDelivered,
        MessageType::OpenChannel,
        MessageType::OpenChannelResult,
        MessageType::CloseChannel,
        MessageType::GpadlHeader,
        MessageType::GpadlBody,
        MessageType::GpadlCreated,
        MessageType::GpadlTeardown,
        MessageType::GpadlTorndown,
        MessageType::RelIdReleased,
        MessageType::InitiateContact,
        MessageType::VersionResponse,
        MessageType::Unload,
        MessageType::UnloadResponse,
        MessageType::Reserved18,
        MessageType::Reserved19,
        MessageType::Reserved20,
        MessageType::TlConnectRequest,
        MessageType::ModifyChannel,
        MessageType::TlConnectResult,
        MessageType::ModifyChannelResponse,
    ];

    /// The type with number `v`, if it is below `CHANNELMSG_COUNT`.
    pub fn from_raw(v: u32) -> Option<MessageType> {
        MessageType::ALL.get(usize::try_from(v).ok()?).copied()
    }

    /// The number on the wire.
    pub const fn raw(self) -> u32 {
        self as u32
    }

    /// The C name without the `CHANNELMSG_` prefix, for log lines.
    pub const fn name(self) -> &'static str {
        match self {
            MessageType::Invalid => "INVALID",
            MessageType::OfferChannel => "OFFERCHANNEL",
            MessageType::RescindChannelOffer => "RESCIND_CHANNELOFFER",
            MessageType::RequestOffers => "REQUESTOFFERS",
            MessageType::AllOffersDelivered => "ALLOFFERS_DELIVERED",
            MessageType::OpenChannel => "OPENCHANNEL",
            MessageType::OpenChannelResult => "OPENCHANNEL_RESULT",
            MessageType::CloseChannel => "CLOSECHANNEL",
            MessageType::GpadlHeader => "GPADL_HEADER",
            MessageType::GpadlBody => "GPADL_BODY",
            MessageType::GpadlCreated => "GPADL_CREATED",
            MessageType::GpadlTeardown => "GPADL_TEARDOWN",
            MessageType::GpadlTorndown => "GPADL_TORNDOWN",
            MessageType::RelIdReleased => "RELID_RELEASED",
            MessageType::InitiateContact => "INITIATE_CONTACT",
            MessageType::VersionResponse => "VERSION_RESPONSE",
            MessageType::Unload => "UNLOAD",
            MessageType::UnloadResponse => "UNLOAD_RESPONSE",
            MessageType::Reserved18 => "18",
            MessageType::Reserved19 => "19",
            MessageType::Reserved20 => "20",
            MessageType::TlConnectRequest => "TL_CONNECT_REQUEST",
            MessageType::ModifyChannel => "MODIFYCHANNEL",
            MessageType::TlConnectResult => "TL_CONNECT_RESULT",
            MessageType::ModifyChannelResponse => "MODIFYCHANNEL_RESPONSE",
        }
    }

    /// The smallest payload [`parse`] accepts for this type, header included; `None` for the
    /// types without a layout (`INVALID`, 18, 19, 20).
    pub const fn min_size(self) -> Option<usize> {
        Some(match self {
            MessageType::Invalid | MessageType::Reserved18 | MessageType::Reserved19 | MessageType::Reserved20 => {
                return None
            }
            MessageType::RequestOffers
            | MessageType::AllOffersDelivered
            | MessageType::Unload
            | MessageType::UnloadResponse => HEADER_SIZE,
            MessageType::OfferChannel => OfferChannel::SIZE,
            MessageType::RescindChannelOffer => RescindChannelOffer::SIZE,
            MessageType::OpenChannel => OpenChannel::SIZE,
            MessageType::OpenChannelResult => OpenResult::SIZE,
            MessageType::CloseChannel => CloseChannel::SIZE,
            MessageType::GpadlHeader => GpadlHeader::MIN_SIZE,
            MessageType::GpadlBody => GpadlBody::MIN_SIZE,
            MessageType::GpadlCreated => GpadlCreated::SIZE,
            MessageType::GpadlTeardown => GpadlTeardown::SIZE,
            MessageType::GpadlTorndown => GpadlTorndown::SIZE,
            MessageType::RelIdReleased => RelIdReleased::SIZE,
            MessageType::InitiateContact => InitiateContact::SIZE,
            MessageType::VersionResponse => VersionResponse::SIZE,
            MessageType::TlConnectRequest => TlConnectRequest::SIZE,
            MessageType::ModifyChannel => ModifyChannel::SIZE,
            MessageType::TlConnectResult => TlConnectResult::SIZE,
            MessageType::ModifyChannelResponse => ModifyChannelResponse::SIZE,
        })
    }
}

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageError {
    /// The payload is shorter than the 8-byte header.
    NoHeader,
    /// The payload is longer than 240 bytes.
    TooLong(usize),
    /// The type number is `CHANNELMSG_COUNT` or above.
    UnknownType(u32),
    /// `INVALID`, 18, 19 or 20: no layout is defined for them.
    Unsupported(MessageType),
    /// The payload is shorter than the type's struct.
    TooShort(MessageType),
    /// [`parse_body`] found another type than the one asked for.
    WrongType {
        /// The type asked for.
        expected: MessageType,
        /// The type in the header.
        found: MessageType,
    },
    /// The output buffer cannot hold the encoded message.
    BufferTooSmall,
}

impl MessageError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            MessageError::NoHeader => "channel message shorter than its header",
            MessageError::TooLong(_) => "channel message above 240 bytes",
            MessageError::UnknownType(_) => "unknown channel message type",
            MessageError::Unsupported(_) => "channel message type without a layout",
            MessageError::TooShort(_) => "channel message shorter than its type's struct",
            MessageError::WrongType { .. } => "unexpected channel message type",
            MessageError::BufferTooSmall => "buffer too small for the channel message",
        }
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `struct vmbus_channel_message_header`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct MessageHeader {
    /// `msgtype`: an `enum vmbus_channel_message_type` value.
    pub msgtype: u32,
    /// `padding`: zero when sent, ignored when received.
    pub padding: u32,
}

impl MessageHeader {
    /// The header of a message of type `t` (padding zero).
    pub const fn new(t: MessageType) -> MessageHeader {
        MessageHeader { msgtype: t.raw(), padding: 0 }
    }
}

/// A fixed-layout message body: the C struct after its header.
pub trait MessageBody: FromBytes + IntoBytes + Immutable + KnownLayout + Copy {
    /// The message type it is sent with.
    const TYPE: MessageType;
    /// The full message size, header included (the C `sizeof`).
    const SIZE: usize = HEADER_SIZE + size_of::<Self>();
}

/// `struct vmbus_channel_offer`: what a channel is, inside [`OfferChannel`].
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ChannelOffer {
    /// `if_type`: the device class (the modalias comes from it).
    pub if_type: Guid,
    /// `if_instance`: this device; sub-channels repeat their primary's.
    pub if_instance: Guid,
    /// `reserved1` (unused).
    pub reserved1: u64,
    /// `reserved2` (unused).
    pub reserved2: u64,
    /// `chn_flags`: [`offer_flags`].
    pub chn_flags: u16,
    /// `mmio_megabytes`: MMIO space the device wants, in MiB.
    pub mmio_megabytes: u16,
    /// `u`: user-defined bytes (`u.std.user_def`), or for pipes (`NAMED_PIPE_MODE`) a
    /// little-endian `pipe_mode` then 116 bytes (`u.pipe`).
    pub user_def: [u8; MAX_USER_DEFINED_BYTES],
    /// `sub_channel_index`: 0 for a primary channel (WIN8 and later; reserved before).
    pub sub_channel_index: u16,
    /// `reserved3`.
    pub reserved3: u16,
}

/// `struct vmbus_channel_offer_channel` (`CHANNELMSG_OFFERCHANNEL`, 196 bytes with header).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct OfferChannel {
    /// `offer`.
    pub offer: ChannelOffer,
    /// `child_relid`: the channel's relative id, used by every later message.
    pub child_relid: u32,
    /// `monitorid`: the channel's bit in the monitor pages (group `id / 32`, bit `id % 32`).
    pub monitorid: u8,
    /// Bit 0 `monitor_allocated`, bits 1..7 reserved (a C bit-field byte).
    pub monitor_flags: u8,
    /// Bit 0 `is_dedicated_interrupt`, bits 1..15 reserved (a C bit-field word, WIN7+).
    pub interrupt_flags: u16,
    /// `connection_id`: the event connection to signal the host on (WIN7+).
    pub connection_id: u32,
}

impl OfferChannel {
    /// An all-zero offer to fill in.
    pub fn zeroed() -> OfferChannel {
        OfferChannel::new_zeroed()
    }
    /// `monitor_allocated`.
    pub const fn monitor_allocated(&self) -> bool {
        self.monitor_flags & 1 != 0
    }
    /// `is_dedicated_interrupt`: signal without setting the relid's interrupt-page bit.
    pub const fn is_dedicated_interrupt(&self) -> bool {
        self.interrupt_flags & 1 != 0
    }
    /// The monitor trigger group and bit (`monitor_grp`, `monitor_bit` in Linux), when a
    /// monitor id is allocated and valid.
    pub const fn monitor_group_bit(&self) -> Option<(u8, u8)> {
        if self.monitor_allocated() && self.monitorid < MONITOR_ID_COUNT {
            Some((self.monitorid / 32, self.monitorid % 32))
        } else {
            None
        }
    }
    /// A sub-channel (`is_sub_channel()`): `sub_channel_index != 0`.
    pub const fn is_sub_channel(&self) -> bool {
        let idx = self.offer.sub_channel_index;
        idx != 0
    }
    /// A Hyper-V socket offer (`is_hvsock_offer()`).
    pub const fn is_hvsock(&self) -> bool {
        let flags = self.offer.chn_flags;
        flags & offer_flags::TLNPI_PROVIDER_OFFER != 0
    }
    /// A pipe offer (`VMBUS_CHANNEL_NAMED_PIPE_MODE`).
    pub const fn is_pipe(&self) -> bool {
        let flags = self.offer.chn_flags;
        flags & offer_flags::NAMED_PIPE_MODE != 0
    }
    /// `u.pipe.pipe_mode` (meaningful for pipe offers).
    pub const fn pipe_mode(&self) -> u32 {
        let u = self.offer.user_def;
        u32::from_le_bytes([u[0], u[1], u[2], u[3]])
    }
    /// The event connection id to signal the channel on: `connection_id` when the version
    /// carries it, else `VMBUS_EVENT_CONNECTION_ID` (`vmbus_setup_channel_state()`).
    pub const fn signal_connection_id(&self, version: u32) -> u32 {
        if crate::version::has_offer_connection_id(version) {
            self.connection_id
        } else {
            crate::version::EVENT_CONNECTION_ID
        }
    }
}

/// `struct vmbus_channel_rescind_offer` (`CHANNELMSG_RESCIND_CHANNELOFFER`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RescindChannelOffer {
    /// `child_relid`.
    pub child_relid: u32,
}

/// `struct vmbus_channel_open_channel` (`CHANNELMSG_OPENCHANNEL`, 148 bytes with header).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct OpenChannel {
    /// `child_relid`.
    pub child_relid: u32,
    /// `openid`: echoed in the result (Linux uses the relid).
    pub openid: u32,
    /// `ringbuffer_gpadlhandle`: the GPADL holding both rings.
    pub ringbuffer_gpadlhandle: u32,
    /// `target_vp`: the VP to interrupt for host-to-guest traffic (WIN8+; 0 before).
    pub target_vp: u32,
    /// `downstream_ringbuffer_pageoffset`: page of the GPADL where the host-to-guest ring
    /// starts; the guest-to-host ring starts at page 0.
    pub downstream_ringbuffer_pageoffset: u32,
    /// `userdata`: passed to the host's device.
    pub userdata: [u8; MAX_USER_DEFINED_BYTES],
}

impl OpenChannel {
    /// An open request with zero user data.
    pub const fn new(child_relid: u32, openid: u32, ringbuffer_gpadlhandle: u32, target_vp: u32, downstream_ringbuffer_pageoffset: u32) -> OpenChannel {
        OpenChannel {
            child_relid,
            openid,
            ringbuffer_gpadlhandle,
            target_vp,
            downstream_ringbuffer_pageoffset,
            userdata: [0; MAX_USER_DEFINED_BYTES],
        }
    }
}

/// `struct vmbus_channel_open_result` (`CHANNELMSG_OPENCHANNEL_RESULT`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct OpenResult {
    /// `child_relid`.
    pub child_relid: u32,
    /// `openid`.
    pub openid: u32,
    /// `status`: 0 on success.
    pub status: u32,
}

/// `struct vmbus_channel_close_channel` (`CHANNELMSG_CLOSECHANNEL`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CloseChannel {
    /// `child_relid`.
    pub child_relid: u32,
}

/// The fixed part of `struct vmbus_channel_gpadl_header` after the message header (the
/// `range[]` array follows).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GpadlHeaderFixed {
    /// `child_relid`.
    pub child_relid: u32,
    /// `gpadl`: the handle the guest chose.
    pub gpadl: u32,
    /// `range_buflen`: bytes of all ranges (range heads and every PFN, also those in body
    /// messages).
    pub range_buflen: u16,
    /// `rangecount`.
    pub rangecount: u16,
}

/// The fixed part of `struct vmbus_channel_gpadl_body` after the message header (the `pfn[]`
/// array follows).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GpadlBodyFixed {
    /// `msgnumber`: Linux leaves it 0.
    pub msgnumber: u32,
    /// `gpadl`.
    pub gpadl: u32,
}

/// `struct vmbus_channel_gpadl_created` (`CHANNELMSG_GPADL_CREATED`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GpadlCreated {
    /// `child_relid`.
    pub child_relid: u32,
    /// `gpadl`.
    pub gpadl: u32,
    /// `creation_status`: 0 on success.
    pub creation_status: u32,
}

/// `struct vmbus_channel_gpadl_teardown` (`CHANNELMSG_GPADL_TEARDOWN`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GpadlTeardown {
    /// `child_relid`.
    pub child_relid: u32,
    /// `gpadl`.
    pub gpadl: u32,
}

/// `struct vmbus_channel_gpadl_torndown` (`CHANNELMSG_GPADL_TORNDOWN`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GpadlTorndown {
    /// `gpadl`.
    pub gpadl: u32,
}

/// `struct vmbus_channel_relid_released` (`CHANNELMSG_RELID_RELEASED`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RelIdReleased {
    /// `child_relid`.
    pub child_relid: u32,
}

/// `struct vmbus_channel_initiate_contact` (`CHANNELMSG_INITIATE_CONTACT`, 40 bytes with
/// header).
///
/// The third field is a union: before 5.0 the GPA of the guest's interrupt page
/// (`interrupt_page`); from 5.0 `msg_sint` (byte 0), `msg_vtl` (byte 1), two reserved bytes
/// and from 6.0 `feature_flags` (bytes 4..8). See [`InitiateContact::target`].
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct InitiateContact {
    /// `vmbus_version_requested`.
    pub vmbus_version_requested: u32,
    /// `target_vcpu`: the VP the host sends messages to.
    pub target_vcpu: u32,
    /// `interrupt_page` / `{msg_sint, msg_vtl, reserved[2], feature_flags}`.
    pub interrupt_page: u64,
    /// `monitor_page1`: GPA of the host-to-guest monitor page.
    pub monitor_page1: u64,
    /// `monitor_page2`: GPA of the guest-to-host monitor page.
    pub monitor_page2: u64,
}

/// The version-dependent third field of [`InitiateContact`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactTarget {
    /// Before 5.0: GPA of the interrupt page (its second half is the guest's send page).
    InterruptPage(u64),
    /// 5.0 and later.
    TargetInfo {
        /// `msg_sint`: the SINT the host posts messages to (`VMBUS_MESSAGE_SINT`).
        msg_sint: u8,
        /// `msg_vtl`: the guest's VTL.
        msg_vtl: u8,
        /// `feature_flags` (6.0; zero before).
        feature_flags: u32,
    },
}

impl InitiateContact {
    /// The request for `version`, with the third field as [`ContactTarget`] says.
    pub const fn new(version: u32, target_vcpu: u32, target: ContactTarget, monitor_page1: u64, monitor_page2: u64) -> InitiateContact {
        let interrupt_page = match target {
            ContactTarget::InterruptPage(gpa) => gpa,
            ContactTarget::TargetInfo { msg_sint, msg_vtl, feature_flags } => {
                msg_sint as u64 | (msg_vtl as u64) << 8 | (feature_flags as u64) << 32
            }
        };
        InitiateContact { vmbus_version_requested: version, target_vcpu, interrupt_page, monitor_page1, monitor_page2 }
    }
    /// The third field, read as the requested version defines it.
    pub const fn target(&self) -> ContactTarget {
        let v = self.interrupt_page;
        if crate::version::contact_has_target_info(self.vmbus_version_requested) {
            ContactTarget::TargetInfo { msg_sint: v as u8, msg_vtl: (v >> 8) as u8, feature_flags: (v >> 32) as u32 }
        } else {
            ContactTarget::InterruptPage(v)
        }
    }
}

/// `struct vmbus_channel_version_response` (`CHANNELMSG_VERSION_RESPONSE`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct VersionResponse {
    /// `version_supported`: non-zero when the requested version is accepted.
    pub version_supported: u8,
    /// `connection_state`: 0 on success (Hyper-V: 1 low resources, 2 unknown failure).
    pub connection_state: u8,
    /// `padding`.
    pub padding: u16,
    /// `msg_conn_id`: from 5.0, the connection id for every later message.
    pub msg_conn_id: u32,
}

/// `struct vmbus_channel_tl_connect_request` (`CHANNELMSG_TL_CONNECT_REQUEST`): a guest
/// `connect()` on a Hyper-V socket.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TlConnectRequest {
    /// `guest_endpoint_id`.
    pub guest_endpoint_id: Guid,
    /// `host_service_id`.
    pub host_service_id: Guid,
}

/// `struct vmbus_channel_modifychannel` (`CHANNELMSG_MODIFYCHANNEL`, 4.1+).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ModifyChannel {
    /// `child_relid`.
    pub child_relid: u32,
    /// `target_vp`: the new VP for the channel's interrupts.
    pub target_vp: u32,
}

/// `struct vmbus_channel_modifychannel_response` (`CHANNELMSG_MODIFYCHANNEL_RESPONSE`, 5.3+).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ModifyChannelResponse {
    /// `child_relid`.
    pub child_relid: u32,
    /// `status`: 0 on success.
    pub status: u32,
}

/// `CHANNELMSG_TL_CONNECT_RESULT`: the host's answer to a [`TlConnectRequest`]. Linux has no
/// struct for it (it ignores the message); this is the Hyper-V layout: the request's two
/// GUIDs and an NTSTATUS.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TlConnectResult {
    /// The request's `guest_endpoint_id`.
    pub guest_endpoint_id: Guid,
    /// The request's `host_service_id`.
    pub host_service_id: Guid,
    /// NTSTATUS, 0 on success.
    pub status: u32,
}

macro_rules! message_body {
    ($($t:ident => $ty:ident),* $(,)?) => {
        $(impl MessageBody for $t {
            const TYPE: MessageType = MessageType::$ty;
        })*
    };
}

message_body! {
    OfferChannel => OfferChannel,
    RescindChannelOffer => RescindChannelOffer,
    OpenChannel => OpenChannel,
    OpenResult => OpenChannelResult,
    CloseChannel => CloseChannel,
    GpadlCreated => GpadlCreated,
    GpadlTeardown => GpadlTeardown,
    GpadlTorndown => GpadlTorndown,
    RelIdReleased => RelIdReleased,
    InitiateContact => InitiateContact,
    VersionResponse => VersionResponse,
    TlConnectRequest => TlConnectRequest,
    ModifyChannel => ModifyChannel,
    TlConnectResult => TlConnectResult,
    ModifyChannelResponse => ModifyChannelResponse,
}

/// `CHANNELMSG_GPADL_HEADER` (`struct vmbus_channel_gpadl_header`), as a view of the payload:
/// the fixed fields, the first range's head and the PFNs this message carries.
///
/// Linux sends one range (`rangecount` 1) with up to
/// [`MAX_HEADER_PFNS`](crate::gpadl::MAX_HEADER_PFNS) PFNs here and the rest in
/// [`GpadlBody`] messages. [`pfns`](Self::pfns) are the whole 8-byte words after the first
/// range head; [`crate::gpadl::GpadlAssembler`] checks them against the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpadlHeader<'a> {
    /// `child_relid`.
    pub child_relid: u32,
    /// `gpadl`.
    pub gpadl: u32,
    /// `range_buflen`.
    pub range_buflen: u16,
    /// `rangecount`.
    pub rangecount: u16,
    /// `range[0].byte_count`, `range[0].byte_offset`.
    pub range: GpaRange,
    /// The PFN words in this message.
    pub pfns: Pfns<'a>,
}

impl<'a> GpadlHeader<'a> {
    /// Smallest header message: header, fixed part and one range head (28 bytes). The C
    /// `sizeof` (20) has no range; Linux always sends one.
    pub const MIN_SIZE: usize = HEADER_SIZE + size_of::<GpadlHeaderFixed>() + size_of::<GpaRange>();

    fn parse(body: &'a [u8]) -> Result<GpadlHeader<'a>, MessageError> {
        let (fixed, rest) = GpadlHeaderFixed::read_from_prefix(body).map_err(|_| MessageError::TooShort(MessageType::GpadlHeader))?;
        let (range, rest) = GpaRange::read_from_prefix(rest).map_err(|_| MessageError::TooShort(MessageType::GpadlHeader))?;
        Ok(GpadlHeader {
            child_relid: fixed.child_relid,
            gpadl: fixed.gpadl,
            range_buflen: fixed.range_buflen,
            rangecount: fixed.rangecount,
            range,
            pfns: Pfns::from_bytes(rest),
        })
    }

    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        Self::MIN_SIZE.saturating_add(self.pfns.as_bytes().len())
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, MessageError> {
        let len = self.encoded_len();
        if len > MAX_MESSAGE_SIZE {
            return Err(MessageError::TooLong(len));
        }
        let fixed = GpadlHeaderFixed {
            child_relid: self.child_relid,
            gpadl: self.gpadl,
            range_buflen: self.range_buflen,
            rangecount: self.rangecount,
        };
        let dst = out.get_mut(..len).ok_or(MessageError::BufferTooSmall)?;
        put_all(dst, &[MessageHeader::new(MessageType::GpadlHeader).as_bytes(), fixed.as_bytes(), self.range.as_bytes(), self.pfns.as_bytes()])?;
        Ok(len)
    }
}

/// `CHANNELMSG_GPADL_BODY` (`struct vmbus_channel_gpadl_body`), as a view of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpadlBody<'a> {
    /// `msgnumber` (Linux sends 0).
    pub msgnumber: u32,
    /// `gpadl`.
    pub gpadl: u32,
    /// `pfn[]`: the whole 8-byte words after the fixed part.
    pub pfns: Pfns<'a>,
}

impl<'a> GpadlBody<'a> {
    /// Smallest body message: the C `sizeof` (16).
    pub const MIN_SIZE: usize = HEADER_SIZE + size_of::<GpadlBodyFixed>();

    fn parse(body: &'a [u8]) -> Result<GpadlBody<'a>, MessageError> {
        let (fixed, rest) = GpadlBodyFixed::read_from_prefix(body).map_err(|_| MessageError::TooShort(MessageType::GpadlBody))?;
        Ok(GpadlBody { msgnumber: fixed.msgnumber, gpadl: fixed.gpadl, pfns: Pfns::from_bytes(rest) })
    }

    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        Self::MIN_SIZE.saturating_add(self.pfns.as_bytes().len())
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, MessageError> {
        let len = self.encoded_len();
        if len > MAX_MESSAGE_SIZE {
            return Err(MessageError::TooLong(len));
        }
        let fixed = GpadlBodyFixed { msgnumber: self.msgnumber, gpadl: self.gpadl };
        let dst = out.get_mut(..len).ok_or(MessageError::BufferTooSmall)?;
        put_all(dst, &[MessageHeader::new(MessageType::GpadlBody).as_bytes(), fixed.as_bytes(), self.pfns.as_bytes()])?;
        Ok(len)
    }
}

/// Copies `parts` one after the other into `dst`.
fn put_all(dst: &mut [u8], parts: &[&[u8]]) -> Result<(), MessageError> {
    let mut off = 0usize;
    for p in parts {
        bytes::put(dst, off, p).ok_or(MessageError::BufferTooSmall)?;
        off = off.checked_add(p.len()).ok_or(MessageError::BufferTooSmall)?;
    }
    Ok(())
}

/// One channel message, parsed or to be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelMessage<'a> {
    /// `CHANNELMSG_OFFERCHANNEL`.
    OfferChannel(OfferChannel),
    /// `CHANNELMSG_RESCIND_CHANNELOFFER`.
    RescindChannelOffer(RescindChannelOffer),
    /// `CHANNELMSG_REQUESTOFFERS` (header only).
    RequestOffers,
    /// `CHANNELMSG_ALLOFFERS_DELIVERED` (header only).
    AllOffersDelivered,
    /// `CHANNELMSG_OPENCHANNEL`.
    OpenChannel(OpenChannel),
    /// `CHANNELMSG_OPENCHANNEL_RESULT`.
    OpenResult(OpenResult),
    /// `CHANNELMSG_CLOSECHANNEL`.
    CloseChannel(CloseChannel),
    /// `CHANNELMSG_GPADL_HEADER`.
    GpadlHeader(GpadlHeader<'a>),
    /// `CHANNELMSG_GPADL_BODY`.
    GpadlBody(GpadlBody<'a>),
    /// `CHANNELMSG_GPADL_CREATED`.
    GpadlCreated(GpadlCreated),
    /// `CHANNELMSG_GPADL_TEARDOWN`.
    GpadlTeardown(GpadlTeardown),
    /// `CHANNELMSG_GPADL_TORNDOWN`.
    GpadlTorndown(GpadlTorndown),
    /// `CHANNELMSG_RELID_RELEASED`.
    RelIdReleased(RelIdReleased),
    /// `CHANNELMSG_INITIATE_CONTACT`.
    InitiateContact(InitiateContact),
    /// `CHANNELMSG_VERSION_RESPONSE`.
    VersionResponse(VersionResponse),
    /// `CHANNELMSG_UNLOAD` (header only).
    Unload,
    /// `CHANNELMSG_UNLOAD_RESPONSE` (header only).
    UnloadResponse,
    /// `CHANNELMSG_TL_CONNECT_REQUEST`.
    TlConnectRequest(TlConnectRequest),
    /// `CHANNELMSG_MODIFYCHANNEL`.
    ModifyChannel(ModifyChannel),
    /// `CHANNELMSG_TL_CONNECT_RESULT`.
    TlConnectResult(TlConnectResult),
    /// `CHANNELMSG_MODIFYCHANNEL_RESPONSE`.
    ModifyChannelResponse(ModifyChannelResponse),
}

fn read_body<T: MessageBody>(body: &[u8]) -> Result<T, MessageError> {
    T::read_from_prefix(body).map(|(v, _)| v).map_err(|_| MessageError::TooShort(T::TYPE))
}

/// The message type of a payload (validating the header and the 240-byte limit only).
pub fn peek_type(payload: &[u8]) -> Result<MessageType, MessageError> {
    if payload.len() > MAX_MESSAGE_SIZE {
        return Err(MessageError::TooLong(payload.len()));
    }
    let (hdr, _) = MessageHeader::read_from_prefix(payload).map_err(|_| MessageError::NoHeader)?;
    let raw = hdr.msgtype;
    MessageType::from_raw(raw).ok_or(MessageError::UnknownType(raw))
}

/// Parses one message payload (the `payload_size` bytes of the SynIC message): checks the
/// header's type and the minimum size of that type; trailing bytes are ignored.
pub fn parse(payload: &[u8]) -> Result<ChannelMessage<'_>, MessageError> {
    let ty = peek_type(payload)?;
    let body = payload.get(HEADER_SIZE..).unwrap_or(&[]);
    Ok(match ty {
        MessageType::Invalid | MessageType::Reserved18 | MessageType::Reserved19 | MessageType::Reserved20 => {
            return Err(MessageError::Unsupported(ty))
        }
        MessageType::OfferChannel => ChannelMessage::OfferChannel(read_body(body)?),
        MessageType::RescindChannelOffer => ChannelMessage::RescindChannelOffer(read_body(body)?),
        MessageType::RequestOffers => ChannelMessage::RequestOffers,
        MessageType::AllOffersDelivered => ChannelMessage::AllOffersDelivered,
        MessageType::OpenChannel => ChannelMessage::OpenChannel(read_body(body)?),
        MessageType::OpenChannelResult => ChannelMessage::OpenResult(read_body(body)?),
        MessageType::CloseChannel => ChannelMessage::CloseChannel(read_body(body)?),
        MessageType::GpadlHeader => ChannelMessage::GpadlHeader(GpadlHeader::parse(body)?),
        MessageType::GpadlBody => ChannelMessage::GpadlBody(GpadlBody::parse(body)?),
        MessageType::GpadlCreated => ChannelMessage::GpadlCreated(read_body(body)?),
        MessageType::GpadlTeardown => ChannelMessage::GpadlTeardown(read_body(body)?),
        MessageType::GpadlTorndown => ChannelMessage::GpadlTorndown(read_body(body)?),
        MessageType::RelIdReleased => ChannelMessage::RelIdReleased(read_body(body)?),
        MessageType::InitiateContact => ChannelMessage::InitiateContact(read_body(body)?),
        MessageType::VersionResponse => ChannelMessage::VersionResponse(read_body(body)?),
        MessageType::Unload => ChannelMessage::Unload,
        MessageType::UnloadResponse => ChannelMessage::UnloadResponse,
        MessageType::TlConnectRequest => ChannelMessage::TlConnectRequest(read_body(body)?),
        MessageType::ModifyChannel => ChannelMessage::ModifyChannel(read_body(body)?),
        MessageType::TlConnectResult => ChannelMessage::TlConnectResult(read_body(body)?),
        MessageType::ModifyChannelResponse => ChannelMessage::ModifyChannelResponse(read_body(body)?),
    })
}

/// Parses a payload that must be of `T`'s type.
pub fn parse_body<T: MessageBody>(payload: &[u8]) -> Result<T, MessageError> {
    let found = peek_type(payload)?;
    if found != T::TYPE {
        return Err(MessageError::WrongType { expected: T::TYPE, found });
    }
    read_body(payload.get(HEADER_SIZE..).unwrap_or(&[]))
}

/// Encodes `body` with its header into `out`; returns the length ([`MessageBody::SIZE`]).
pub fn encode_body<T: MessageBody>(body: &T, out: &mut [u8]) -> Result<usize, MessageError> {
    let dst = out.get_mut(..T::SIZE).ok_or(MessageError::BufferTooSmall)?;
    put_all(dst, &[MessageHeader::new(T::TYPE).as_bytes(), body.as_bytes()])?;
    Ok(T::SIZE)
}

fn encode_empty(t: MessageType, out: &mut [u8]) -> Result<usize, MessageError> {
    let dst = out.get_mut(..HEADER_SIZE).ok_or(MessageError::BufferTooSmall)?;
    dst.copy_from_slice(MessageHeader::new(t).as_bytes());
    Ok(HEADER_SIZE)
}

impl ChannelMessage<'_> {
    /// The message's type.
    pub const fn message_type(&self) -> MessageType {
        match self {
            ChannelMessage::OfferChannel(_) => MessageType::OfferChannel,
            ChannelMessage::RescindChannelOffer(_) => MessageType::RescindChannelOffer,
            ChannelMessage::RequestOffers => MessageType::RequestOffers,
            ChannelMessage::AllOffersDelivered => MessageType::AllOffersDelivered,
            ChannelMessage::OpenChannel(_) => MessageType::OpenChannel,
            ChannelMessage::OpenResult(_) => MessageType::OpenChannelResult,
            ChannelMessage::CloseChannel(_) => MessageType::CloseChannel,
            ChannelMessage::GpadlHeader(_) => MessageType::GpadlHeader,
            ChannelMessage::GpadlBody(_) => MessageType::GpadlBody,
            ChannelMessage::GpadlCreated(_) => MessageType::GpadlCreated,
            ChannelMessage::GpadlTeardown(_) => MessageType::GpadlTeardown,
            ChannelMessage::GpadlTorndown(_) => MessageType::GpadlTorndown,
            ChannelMessage::RelIdReleased(_) => MessageType::RelIdReleased,
            ChannelMessage::InitiateContact(_) => MessageType::InitiateContact,
            ChannelMessage::VersionResponse(_) => MessageType::VersionResponse,
            ChannelMessage::Unload => MessageType::Unload,
            ChannelMessage::UnloadResponse => MessageType::UnloadResponse,
            ChannelMessage::TlConnectRequest(_) => MessageType::TlConnectRequest,
            ChannelMessage::ModifyChannel(_) => MessageType::ModifyChannel,
            ChannelMessage::TlConnectResult(_) => MessageType::TlConnectResult,
            ChannelMessage::ModifyChannelResponse(_) => MessageType::ModifyChannelResponse,
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            ChannelMessage::GpadlHeader(h) => h.encoded_len(),
            ChannelMessage::GpadlBody(b) => b.encoded_len(),
            other => other.message_type().min_size().unwrap_or(HEADER_SIZE),
        }
    }

    /// Encodes the message (header with zero padding, then the struct) into `out`; returns
    /// the length to post. Bytes of `out` past the length are not touched.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, MessageError> {
        match self {
            ChannelMessage::OfferChannel(m) => encode_body(m, out),
            ChannelMessage::RescindChannelOffer(m) => encode_body(m, out),
            ChannelMessage::RequestOffers => encode_empty(MessageType::RequestOffers, out),
            ChannelMessage::AllOffersDelivered => encode_empty(MessageType::AllOffersDelivered, out),
            ChannelMessage::OpenChannel(m) => encode_body(m, out),
            ChannelMessage::OpenResult(m) => encode_body(m, out),
            ChannelMessage::CloseChannel(m) => encode_body(m, out),
            ChannelMessage::GpadlHeader(h) => h.encode(out),
            ChannelMessage::GpadlBody(b) => b.encode(out),
            ChannelMessage::GpadlCreated(m) => encode_body(m, out),
            ChannelMessage::GpadlTeardown(m) => encode_body(m, out),
            ChannelMessage::GpadlTorndown(m) => encode_body(m, out),
            ChannelMessage::RelIdReleased(m) => encode_body(m, out),
            ChannelMessage::InitiateContact(m) => encode_body(m, out),
            ChannelMessage::VersionResponse(m) => encode_body(m, out),
            ChannelMessage::Unload => encode_empty(MessageType::Unload, out),
            ChannelMessage::UnloadResponse => encode_empty(MessageType::UnloadResponse, out),
            ChannelMessage::TlConnectRequest(m) => encode_body(m, out),
            ChannelMessage::ModifyChannel(m) => encode_body(m, out),
            ChannelMessage::TlConnectResult(m) => encode_body(m, out),
            ChannelMessage::ModifyChannelResponse(m) => encode_body(m, out),
        }
    }

    /// The channel the message is about, for the messages that name one.
    pub fn child_relid(&self) -> Option<u32> {
        Some(match self {
            ChannelMessage::OfferChannel(m) => m.child_relid,
            ChannelMessage::RescindChannelOffer(m) => m.child_relid,
            ChannelMessage::OpenChannel(m) => m.child_relid,
            ChannelMessage::OpenResult(m) => m.child_relid,
            ChannelMessage::CloseChannel(m) => m.child_relid,
            ChannelMessage::GpadlHeader(h) => h.child_relid,
            ChannelMessage::GpadlCreated(m) => m.child_relid,
            ChannelMessage::GpadlTeardown(m) => m.child_relid,
            ChannelMessage::RelIdReleased(m) => m.child_relid,
            ChannelMessage::ModifyChannel(m) => m.child_relid,
            ChannelMessage::ModifyChannelResponse(m) => m.child_relid,
            _ => return None,
        })
    }
}
