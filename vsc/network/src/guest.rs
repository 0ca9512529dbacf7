// SPDX-License-Identifier: GPL-2.0-only
//! Guest side: the network VSC's decisions that need no kernel object, so they are tested on
//! the host. The kernel module (`drivers/netvsc/`) only moves bytes between the kernel's
//! objects (skbs, the `net_device`, channels) and these functions.
//!
//! | item | what | Linux counterpart |
//! |------|------|-------------------|
//! | [`TransId`] | transaction ids: (queue, slot, generation) for sends, a sequence for NVSP requests | `vmbus_next_request_id()` |
//! | [`TxSlot`], [`IndexBitmap`] | in-flight sends claimed exactly once; send sections and slots allocated lock-free | `netvsc_send_pkt()`'s request ids, `netvsc_get_next_send_section()` |
//! | [`NvspSetup`] | the NVSP negotiation: version, NDIS config and version, receive and send buffers | `netvsc_connect_vsp()`, `netvsc_init_buf()` |
//! | [`RequestIds`], [`response`], [`InitParams`], [`query_info`] | RNDIS request ids and the checks of a control response | `rndis_filter_receive_response()`, `rndis_filter_query_device()` |
//! | [`classify`], [`completion`] | what a packet from the host is, every length, id and index checked | `netvsc_process_raw_pkt()`, `netvsc_send_completion()` |
//! | [`parse_rx`] | one RNDIS message of a receive section: frame and its metadata, a response or a status | `rndis_filter_receive()`, `netvsc_linkstatus_callback()` |
//! | [`IdQueue`] | receive completions waiting for room in the ring | `netvsc_send_recv_completion()`'s `recv_completion` ring |
//! | [`plan_tx`], [`PageList`] | frame metadata → RNDIS per-packet info, section or page list | `netvsc_xmit()`, `netvsc_build_page_buffer()` |
//! | [`link_action`] | status indication → carrier and speed | `netvsc_linkstatus_callback()` |
//! | [`SendTable`], [`rss_table`] | transmit queue from the host's send table; receive indirection table | `netvsc_select_queue()`, `rndis_set_rss_param_msg()` |
//! | [`rx_filter`] | interface flags → RNDIS packet filter | `rndis_set_multicast()` |
//! | [`DropKind`] | why host input was dropped, one counter each | the `netvsc_ethtool_stats` |
//!
//! Nothing here allocates or panics on any input.

use core::ops::{DerefMut, Range};
use core::sync::atomic::{AtomicU64, Ordering};

use vmbus_proto::packet::{PacketType, TransferPageRange, TransferPageView, DESCRIPTOR_SIZE};

use crate::nvsp::{
    self, NvspError, NvspMessage, NvspVersion, ReceiveBufferLayout, SendBufferLayout, Sender, SendIndirectionTable,
    NVSP_CAP_RSC, NVSP_STAT_SUCCESS, VRSS_CHANNEL_MAX, VRSS_SEND_TAB_SIZE,
};
use crate::oid::{self, NdisError, NdisOffload, NdisRecvScaleCap, OffloadPlan, RssParams};
use crate::bytes;
use crate::packet::{self, TxInfo};
use crate::ppi::{self, LsoV2Tx, PacketInfo, TxChecksum, VlanInfo};
use crate::rndis::{self, RndisError, RndisMessage, StatusEvent};

// ---------------------------------------------------------------------------------------
// Transaction ids.

pub use vmbus_proto::slot::{IdError, MAX_QUEUES, MAX_SLOTS, TRANS_CONTROL};
use vmbus_proto::slot::SlotId;

/// What a transaction id names.
///
/// Layout ([`vmbus_proto::slot::SlotId`], shared with the storage VSC): a send (data frame
/// or RNDIS control message) is `0 | queue:15 | slot:16 | generation:32`; an NVSP request the
/// guest waits for (setup, sub-channels) is `1 | 0:31 | sequence:32`. Generations and
/// sequences are never zero, so no id the guest sends is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransId {
    /// An RNDIS message sent on `queue` from send slot `slot`.
    Send {
        /// Queue (= channel index).
        queue: u16,
        /// Send slot of the queue.
        slot: u16,
        /// Generation of the slot when the message was sent ([`TxSlot`]).
        generation: u32,
    },
    /// An NVSP request (INIT, buffers, sub-channels).
    Control {
        /// Sequence number.
        seq: u32,
    },
}

impl TransId {
    /// The 64-bit id. Queue numbers above 15 bits are truncated; callers use queues below
    /// [`MAX_QUEUES`].
    pub const fn encode(self) -> u64 {
        match self {
            TransId::Send { queue, slot, generation } => SlotId::Slot { queue, slot, generation }.encode(),
            TransId::Control { seq } => SlotId::Control { seq }.encode(),
        }
    }

    /// Decodes an id the host echoed, for a device with `queues` queues of `slots` slots.
    pub fn decode(id: u64, queues: u32, slots: u32) -> Result<TransId, IdError> {
        Ok(match SlotId::decode(id, queues, slots)? {
            SlotId::Slot { queue, slot, generation } => TransId::Send { queue, slot, generation },
            SlotId::Control { seq } => TransId::Control { seq },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Send slots: the send in flight under a slot is ended exactly once, by whoever claims it
// first (the host's completion, or the teardown); shared with the storage VSC
// (`vmbus_proto::slot`).

pub use vmbus_proto::slot::{next_generation, Slot as TxSlot, SlotBusy};

// ---------------------------------------------------------------------------------------
// Index bitmap (send sections, send slots).

/// Why an index could not be freed (a driver bug: indexes come from [`IndexBitmap::alloc`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// Beyond the bitmap.
    OutOfRange(u32),
    /// Not allocated.
    NotAllocated(u32),
}

/// A lock-free allocator of the indexes `0..count` over caller-owned words (one bit each,
/// set = in use), safe to use from any number of CPUs at once.
#[derive(Clone, Copy, Debug)]
pub struct IndexBitmap<'a> {
    words: &'a [AtomicU64],
    count: u32,
}

impl<'a> IndexBitmap<'a> {
    /// Words needed for `count` indexes.
    pub const fn words_for(count: u32) -> usize {
        (count as usize).div_ceil(64)
    }

    /// The allocator of `count` indexes over `words` (zero = all free); `None` when `words`
    /// is too short.
    pub fn new(words: &'a [AtomicU64], count: u32) -> Option<Self> {
        if words.len() < Self::words_for(count) {
            return None;
        }
        Some(IndexBitmap { words, count })
    }

    /// How many indexes there are.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The bits of word `w` that are indexes.
    fn valid(&self, w: usize) -> u64 {
        let first = (w as u64) * 64;
        let left = u64::from(self.count).saturating_sub(first);
        if left >= 64 {
            u64::MAX
        } else {
            (1u64 << left) - 1
        }
    }

    /// Takes a free index, searching from `hint` (callers spread their searches, e.g. by
    /// queue); `None` when all are in use.
    pub fn alloc(&self, hint: u32) -> Option<u32> {
        let n = Self::words_for(self.count);
        if n == 0 {
            return None;
        }
        let start = (hint as usize / 64) % n;
        for k in 0..n {
            let w = (start + k) % n;
            let word = self.words.get(w)?;
            let valid = self.valid(w);
            let mut cur = word.load(Ordering::Relaxed);
            loop {
                let free = !cur & valid;
                if free == 0 {
                    break;
                }
                let bit = free.trailing_zeros();
                match word.compare_exchange_weak(cur, cur | (1u64 << bit), Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => return u32::try_from(w * 64).ok()?.checked_add(bit),
                    Err(v) => cur = v,
                }
            }
        }
        None
    }

    /// Gives index `i` back.
    pub fn free(&self, i: u32) -> Result<(), FreeError> {
        if i >= self.count {
            return Err(FreeError::OutOfRange(i));
        }
        let word = self.words.get(i as usize / 64).ok_or(FreeError::OutOfRange(i))?;
        let bit = 1u64 << (i % 64);
        let old = word.fetch_and(!bit, Ordering::AcqRel);
        if old & bit == 0 {
            return Err(FreeError::NotAllocated(i));
        }
        Ok(())
    }

    /// Whether index `i` is in use.
    pub fn in_use(&self, i: u32) -> bool {
        i < self.count && self.words.get(i as usize / 64).is_some_and(|w| w.load(Ordering::Acquire) & (1u64 << (i % 64)) != 0)
    }

    /// Indexes in use now.
    pub fn used(&self) -> u32 {
        (0..Self::words_for(self.count))
            .filter_map(|w| Some((self.words.get(w)?.load(Ordering::Relaxed) & self.valid(w)).count_ones()))
            .sum()
    }
}

// ---------------------------------------------------------------------------------------
// NVSP setup.

/// What the guest asks for in the NVSP negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupConfig {
    /// The newest version to propose (older ones follow, newest first).
    pub newest: NvspVersion,
    /// The largest MTU the interface will use (announced in NDIS config; the host sizes the
    /// receive sections for it).
    pub mtu: u32,
    /// Whether the guest runs isolated (no SR-IOV capability announced).
    pub isolated: bool,
    /// Receive buffer size wanted (bytes; capped by the version's limit, whole pages).
    pub recv_buf_size: u32,
    /// Send buffer size wanted (bytes; capped at `NETVSC_SEND_BUFFER_SIZE`, whole pages).
    pub send_buf_size: u32,
}

/// The next thing the driver does to advance the negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupAction {
    /// Send `msg` (inband); when `completion`, with `COMPLETION_REQUESTED` and a control id,
    /// and feed the host's completion to [`NvspSetup::completion`]; otherwise just go on.
    Send {
        /// The message.
        msg: NvspMessage<'static>,
        /// Whether a completion is awaited.
        completion: bool,
    },
    /// Allocate the receive buffer of `size` bytes, describe it with a GPADL and report the
    /// handle with [`NvspSetup::buffer_created`].
    CreateReceiveBuffer {
        /// Bytes (a multiple of 4096).
        size: u32,
    },
    /// The same for the send buffer.
    CreateSendBuffer {
        /// Bytes (a multiple of 4096).
        size: u32,
    },
    /// Negotiated: read the results.
    Done,
}

/// Why the negotiation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The host accepted none of the versions.
    NoCommonVersion,
    /// The host's completion is not the message answering the request.
    Unexpected(u32),
    /// The host's completion is malformed.
    Malformed(NvspError),
    /// The host refused or described the buffer wrongly.
    Buffer(NvspError),
    /// A call out of order (a driver bug).
    OutOfOrder,
}

impl SetupError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SetupError::NoCommonVersion => "the host accepts no NVSP version we know",
            SetupError::Unexpected(_) => "unexpected NVSP message answering a setup request",
            SetupError::Malformed(e) => e.as_str(),
            SetupError::Buffer(e) => e.as_str(),
            SetupError::OutOfOrder => "NVSP setup step out of order",
        }
    }
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Init,
    AwaitInit,
    NdisConfig,
    NdisVersion,
    CreateRecv,
    AwaitRecvGpadl,
    SendRecv,
    AwaitRecv,
    CreateSend,
    AwaitSendGpadl,
    SendSend,
    AwaitSend,
    Done,
    Failed,
}

/// The NVSP negotiation of `netvsc_connect_vsp()` as a state machine: call
/// [`NvspSetup::next_action`] and do what it says until [`SetupAction::Done`].
#[derive(Clone, Debug)]
pub struct NvspSetup {
    cfg: SetupConfig,
    stage: Stage,
    /// Index into [`NvspVersion::NEWEST_FIRST`] of the version being proposed.
    candidate: usize,
    version: Option<NvspVersion>,
    recv_size: u32,
    recv_gpadl: u32,
    recv: Option<ReceiveBufferLayout>,
    send_size: u32,
    send_gpadl: u32,
    send: Option<SendBufferLayout>,
}

/// Rounds down to whole 4 KiB pages, at least one page.
fn whole_pages(n: u32) -> u32 {
    (n & !0xfff).max(4096)
}

impl NvspSetup {
    /// A negotiation that proposes `cfg.newest` first.
    pub fn new(cfg: SetupConfig) -> Self {
        let candidate = NvspVersion::NEWEST_FIRST.iter().position(|v| *v == cfg.newest).unwrap_or(0);
        NvspSetup {
            cfg,
            stage: Stage::Init,
            candidate,
            version: None,
            recv_size: 0,
            recv_gpadl: 0,
            recv: None,
            send_size: 0,
            send_gpadl: 0,
            send: None,
        }
    }

    fn proposed(&self) -> Result<NvspVersion, SetupError> {
        NvspVersion::NEWEST_FIRST.get(self.candidate).copied().ok_or(SetupError::NoCommonVersion)
    }

    /// The next action. After a `Send` with `completion`, call [`NvspSetup::completion`]
    /// before calling this again; after `Create*`, [`NvspSetup::buffer_created`].
    pub fn next_action(&mut self) -> Result<SetupAction, SetupError> {
        let send = |msg, completion| Ok(SetupAction::Send { msg, completion });
        match self.stage {
            Stage::Init => {
                let v = self.proposed()?;
                self.stage = Stage::AwaitInit;
                send(NvspMessage::init(v), true)
            }
            Stage::NdisConfig => {
                let v = self.version.ok_or(SetupError::OutOfOrder)?;
                self.stage = Stage::NdisVersion;
                if !v.sends_ndis_config() {
                    return self.next_action();
                }
                // Receive segment coalescing is not used: the capability is not announced.
                let mut msg = NvspMessage::ndis_config(v, self.cfg.mtu, self.cfg.isolated);
                if let NvspMessage::SendNdisConfig(c) = &mut msg {
                    let caps = c.capability.data;
                    c.capability.data = caps & !NVSP_CAP_RSC;
                }
                send(msg, false)
            }
            Stage::NdisVersion => {
                let v = self.version.ok_or(SetupError::OutOfOrder)?;
                self.stage = Stage::CreateRecv;
                send(NvspMessage::ndis_version(v), false)
            }
            Stage::CreateRecv => {
                let v = self.version.ok_or(SetupError::OutOfOrder)?;
                self.recv_size = whole_pages(self.cfg.recv_buf_size.min(v.max_receive_buffer_size()));
                self.stage = Stage::AwaitRecvGpadl;
                Ok(SetupAction::CreateReceiveBuffer { size: self.recv_size })
            }
            Stage::SendRecv => {
                self.stage = Stage::AwaitRecv;
                send(NvspMessage::send_receive_buffer(self.recv_gpadl), true)
            }
            Stage::CreateSend => {
                self.send_size = whole_pages(self.cfg.send_buf_size.min(nvsp::NETVSC_SEND_BUFFER_SIZE));
                self.stage = Stage::AwaitSendGpadl;
                Ok(SetupAction::CreateSendBuffer { size: self.send_size })
            }
            Stage::SendSend => {
                self.stage = Stage::AwaitSend;
                send(NvspMessage::send_send_buffer(self.send_gpadl), true)
            }
            Stage::Done => Ok(SetupAction::Done),
            Stage::Failed
            | Stage::AwaitInit
            | Stage::AwaitRecvGpadl
            | Stage::AwaitRecv
            | Stage::AwaitSendGpadl
            | Stage::AwaitSend => Err(SetupError::OutOfOrder),
        }
    }

    /// The buffer asked for by the last `Create*` action exists as GPADL `gpadl`.
    pub fn buffer_created(&mut self, gpadl: u32) -> Result<(), SetupError> {
        match self.stage {
            Stage::AwaitRecvGpadl => {
                self.recv_gpadl = gpadl;
                self.stage = Stage::SendRecv;
            }
            Stage::AwaitSendGpadl => {
                self.send_gpadl = gpadl;
                self.stage = Stage::SendSend;
            }
            _ => return Err(SetupError::OutOfOrder),
        }
        Ok(())
    }

    /// The host's completion (the payload of its `VM_PKT_COMP`) of the request just sent.
    pub fn completion(&mut self, payload: &[u8]) -> Result<(), SetupError> {
        let r = self.completion_inner(payload);
        if r.is_err() {
            self.stage = Stage::Failed;
        }
        r
    }

    fn completion_inner(&mut self, payload: &[u8]) -> Result<(), SetupError> {
        let m = nvsp::parse(payload, Sender::Host).map_err(SetupError::Malformed)?;
        match (self.stage, m) {
            (Stage::AwaitInit, NvspMessage::InitComplete(c)) => {
                let status = c.status;
                if status == NVSP_STAT_SUCCESS {
                    self.version = Some(self.proposed()?);
                    self.stage = Stage::NdisConfig;
                } else {
                    self.candidate = self.candidate.saturating_add(1);
                    self.proposed()?;
                    self.stage = Stage::Init;
                }
                Ok(())
            }
            (Stage::AwaitRecv, NvspMessage::SendReceiveBufferComplete(c)) => {
                self.recv = Some(ReceiveBufferLayout::from_complete(&c, self.recv_size).map_err(SetupError::Buffer)?);
                self.stage = Stage::CreateSend;
                Ok(())
            }
            (Stage::AwaitSend, NvspMessage::SendSendBufferComplete(c)) => {
                self.send = Some(SendBufferLayout::from_complete(&c, self.send_size).map_err(SetupError::Buffer)?);
                self.stage = Stage::Done;
                Ok(())
            }
            (Stage::AwaitInit | Stage::AwaitRecv | Stage::AwaitSend, other) => Err(SetupError::Unexpected(other.msg_type())),
            _ => Err(SetupError::OutOfOrder),
        }
    }

    /// The negotiated version.
    pub fn version(&self) -> Option<NvspVersion> {
        self.version
    }

    /// The receive buffer as the host cut it (after its completion).
    pub fn receive_layout(&self) -> Option<ReceiveBufferLayout> {
        self.recv
    }

    /// The send buffer's sections (after its completion).
    pub fn send_layout(&self) -> Option<SendBufferLayout> {
        self.send
    }
}

/// The NVSP sub-channel completion: how many sub-channels the host will offer, at most the
/// `requested` (`netvsc_sc_open()`'s caller checks the status and `num_subchannels`).
pub fn subchannels_granted(payload: &[u8], requested: u32) -> Result<u32, SetupError> {
    match nvsp::parse(payload, Sender::Host).map_err(SetupError::Malformed)? {
        NvspMessage::SubchannelComplete(c) => {
            let (status, n) = (c.status, c.num_subchannels);
            if status != NVSP_STAT_SUCCESS {
                return Ok(0);
            }
            Ok(n.min(requested))
        }
        other => Err(SetupError::Unexpected(other.msg_type())),
    }
}

/// Channels (primary + sub-channels) to use: one per online CPU, capped by the module
/// parameter (0 = no cap), the CPUs the bus allows (0 = no cap), the host's RSS queues (at
/// least 2 or no vRSS), `VRSS_CHANNEL_MAX`, and 1 before NVSP 5.
pub fn channels_wanted(online_cpus: u32, param_max: u32, bus_max_cpus: u32, rss: Option<&NdisRecvScaleCap>, v: NvspVersion) -> u16 {
    if !v.supports_vrss() {
        return 1;
    }
    let Some(rss) = rss else { return 1 };
    let queues = rss.num_recv_que;
    if queues < 2 {
        return 1;
    }
    let mut n = online_cpus.max(1).min(queues).min(VRSS_CHANNEL_MAX);
    if param_max > 0 {
        n = n.min(param_max);
    }
    if bus_max_cpus > 0 {
        n = n.min(bus_max_cpus);
    }
    u16::try_from(n.max(1)).unwrap_or(1)
}

// ---------------------------------------------------------------------------------------
// RNDIS control requests.

/// RNDIS request ids: never 0, wrapping.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIds {
    last: u32,
}

impl RequestIds {
    /// Starts before 1.
    pub const fn new() -> Self {
        RequestIds { last: 0 }
    }

    /// The next id.
    pub fn next_id(&mut self) -> u32 {
        self.last = next_generation(self.last);
        self.last
    }
}

/// Why a control response was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// Not a valid RNDIS message.
    Malformed(RndisError),
    /// Longer than Linux's response buffer (`RNDIS_MAX_RESPONSE_SIZE`).
    TooLong(usize),
    /// Not the completion type of the request.
    WrongType {
        /// Expected type.
        expected: u32,
        /// Type received.
        got: u32,
    },
    /// Another request's id (stale or made up).
    WrongId {
        /// Expected id.
        expected: u32,
        /// Id received.
        got: u32,
    },
    /// The host failed the request.
    Status(u32),
    /// The result is not what the request asks for.
    Result(NdisError),
    /// A result of the wrong length.
    ResultLength(usize),
}

impl ControlError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ControlError::Malformed(e) => e.as_str(),
            ControlError::TooLong(_) => "rndis response longer than the response buffer",
            ControlError::WrongType { .. } => "rndis response of the wrong type",
            ControlError::WrongId { .. } => "rndis response with another request's id",
            ControlError::Status(_) => "rndis request failed by the host",
            ControlError::Result(e) => e.as_str(),
            ControlError::ResultLength(_) => "rndis result of the wrong length",
        }
    }
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a control response (the bytes of one RNDIS message from a receive section)
/// against the request it should answer: a valid message no longer than Linux's response
/// buffer, of `request_type | RNDIS_MSG_COMPLETION`, carrying `req_id`.
pub fn response(buf: &[u8], req_id: u32, request_type: u32) -> Result<RndisMessage<'_>, ControlError> {
    let (m, len) = RndisMessage::parse(buf).map_err(ControlError::Malformed)?;
    if len > rndis::RNDIS_MAX_RESPONSE_SIZE {
        return Err(ControlError::TooLong(len));
    }
    let expected = request_type | rndis::RNDIS_MSG_COMPLETION;
    if m.msg_type() != expected {
        return Err(ControlError::WrongType { expected, got: m.msg_type() });
    }
    match m.request_id() {
        Some(got) if got == req_id => Ok(m),
        Some(got) => Err(ControlError::WrongId { expected: req_id, got }),
        None => Ok(m),
    }
}

/// What the host's `REMOTE_NDIS_INITIALIZE_CMPLT` tells the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitParams {
    /// `max_pkt_per_msg`: data messages per send section (at least 1).
    pub max_pkt_per_msg: u32,
    /// `1 << pkt_alignment_factor`.
    pub pkt_align: u32,
}

impl InitParams {
    /// Reads a checked INIT completion: status success, a sane alignment.
    pub fn from_response(m: &RndisMessage<'_>) -> Result<Self, ControlError> {
        let RndisMessage::InitComplete(c) = m else {
            return Err(ControlError::WrongType { expected: rndis::RNDIS_MSG_INIT_C, got: m.msg_type() });
        };
        if c.status != rndis::RNDIS_STATUS_SUCCESS {
            return Err(ControlError::Status(c.status));
        }
        let pkt_align = c.pkt_align().map_err(ControlError::Malformed)?;
        Ok(InitParams { max_pkt_per_msg: c.max_pkt_per_msg.max(1), pkt_align })
    }
}

/// The result of a checked QUERY completion: status success and at most `max` bytes
/// (`rndis_filter_query_device()` refuses results longer than the caller's buffer).
pub fn query_info<'a>(m: &RndisMessage<'a>, max: usize) -> Result<&'a [u8], ControlError> {
    let RndisMessage::QueryComplete(q) = m else {
        return Err(ControlError::WrongType { expected: rndis::RNDIS_MSG_QUERY_C, got: m.msg_type() });
    };
    let status = q.cmplt.status;
    if status != rndis::RNDIS_STATUS_SUCCESS {
        return Err(ControlError::Status(status));
    }
    if q.info.len() > max {
        return Err(ControlError::ResultLength(q.info.len()));
    }
    Ok(q.info)
}

/// A 4-byte query result.
pub fn query_u32(m: &RndisMessage<'_>) -> Result<u32, ControlError> {
    let info = query_info(m, 4)?;
    let b: [u8; 4] = info.try_into().map_err(|_| ControlError::ResultLength(info.len()))?;
    Ok(u32::from_le_bytes(b))
}

/// A MAC address query result: 6 bytes, a unicast address that is not all zeros.
pub fn query_mac(m: &RndisMessage<'_>) -> Result<[u8; 6], ControlError> {
    let info = query_info(m, 6)?;
    let mac: [u8; 6] = info.try_into().map_err(|_| ControlError::ResultLength(info.len()))?;
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(ControlError::Result(NdisError::FieldValue(u32::from(mac[0]))));
    }
    Ok(mac)
}

/// A checked SET completion: status success.
pub fn set_status(m: &RndisMessage<'_>) -> Result<(), ControlError> {
    let RndisMessage::SetComplete(c) = m else {
        return Err(ControlError::WrongType { expected: rndis::RNDIS_MSG_SET_C, got: m.msg_type() });
    };
    if c.status != rndis::RNDIS_STATUS_SUCCESS {
        return Err(ControlError::Status(c.status));
    }
    Ok(())
}

/// The host's offload capabilities from a checked QUERY completion.
pub fn query_offload(m: &RndisMessage<'_>) -> Result<NdisOffload, ControlError> {
    let info = query_info(m, oid::NDIS_OFFLOAD_SIZE)?;
    NdisOffload::parse_caps(info).map_err(ControlError::Result)
}

/// The host's RSS capabilities from a checked QUERY completion.
pub fn query_rss_caps(m: &RndisMessage<'_>) -> Result<NdisRecvScaleCap, ControlError> {
    let info = query_info(m, oid::NDIS_RECV_SCALE_CAP_SIZE)?;
    NdisRecvScaleCap::parse(info).map_err(ControlError::Result)
}

// ---------------------------------------------------------------------------------------
// Host input: what was dropped and why.

/// Why a packet (or part of one) from the host was dropped: one counter each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropKind {
    /// A VMBus packet of a type or shape NetVSC does not use, or an NVSP message that is
    /// malformed or not expected from the host.
    BadNvsp,
    /// A transfer range outside the receive buffer or longer than a section, or a transfer
    /// page set that is not the receive buffer.
    BadRange,
    /// An RNDIS message that is malformed (lengths past the range, offsets inside headers,
    /// unknown type) or a frame shorter than an Ethernet header.
    BadRndis,
    /// An RNDIS data message with bogus per-packet info.
    BadPpi,
    /// A completion for a send the guest never made (or already completed).
    BadCompletion,
    /// An RNDIS status indication of a type NetVSC does not know.
    UnknownStatus,
    /// A control response nobody waits for (late, duplicated or made up).
    StaleResponse,
    /// A receive-segment-coalescing fragment (not negotiated).
    Rsc,
    /// A send indirection table with entries beyond the channels.
    BadSendTable,
}

impl DropKind {
    /// Every kind, in counter order.
    pub const ALL: [DropKind; 9] = [
        DropKind::BadNvsp,
        DropKind::BadRange,
        DropKind::BadRndis,
        DropKind::BadPpi,
        DropKind::BadCompletion,
        DropKind::UnknownStatus,
        DropKind::StaleResponse,
        DropKind::Rsc,
        DropKind::BadSendTable,
    ];

    /// Position in [`DropKind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The `ethtool -S` name of its counter.
    pub const fn name(self) -> &'static str {
        match self {
            DropKind::BadNvsp => "rx_bad_nvsp",
            DropKind::BadRange => "rx_bad_range",
            DropKind::BadRndis => "rx_bad_rndis",
            DropKind::BadPpi => "rx_bad_ppi",
            DropKind::BadCompletion => "tx_bad_completion",
            DropKind::UnknownStatus => "rx_status_unknown",
            DropKind::StaleResponse => "rx_stale_response",
            DropKind::Rsc => "rx_rsc_dropped",
            DropKind::BadSendTable => "rx_bad_send_table",
        }
    }
}

/// Why something from the host was refused, with the counter it goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// A VMBus packet type NetVSC does not expect.
    PacketType(u16),
    /// The packet's payload offset is outside the packet.
    PayloadOffset(usize),
    /// The transfer page header or ranges are malformed.
    TransferHeader,
    /// A transfer page set other than the receive buffer.
    PageSet(u16),
    /// An NVSP message error.
    Nvsp(NvspError),
    /// An NVSP message type that does not belong where it came.
    NvspType(u32),
    /// A bad transfer range.
    Range(NvspError),
    /// A bad RNDIS message.
    Rndis(RndisError),
    /// A frame shorter than an Ethernet header.
    ShortFrame(usize),
    /// An RSC fragment.
    Rsc,
    /// A transaction id that names no send.
    Id(IdError),
    /// A send indirection table entry beyond the channels.
    SendTableEntry(u32),
}

impl RxError {
    /// The counter of this error.
    pub const fn kind(&self) -> DropKind {
        match self {
            RxError::PacketType(_) | RxError::PayloadOffset(_) | RxError::Nvsp(_) | RxError::NvspType(_) => DropKind::BadNvsp,
            RxError::TransferHeader | RxError::PageSet(_) | RxError::Range(_) => DropKind::BadRange,
            RxError::Rndis(e) => rndis_kind(e),
            RxError::ShortFrame(_) => DropKind::BadRndis,
            RxError::Rsc => DropKind::Rsc,
            RxError::Id(_) => DropKind::BadCompletion,
            RxError::SendTableEntry(_) => DropKind::BadSendTable,
        }
    }

    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RxError::PacketType(_) => "vmbus packet of an unexpected type",
            RxError::PayloadOffset(_) => "vmbus packet payload offset outside the packet",
            RxError::TransferHeader => "malformed transfer page header",
            RxError::PageSet(_) => "transfer page set is not the receive buffer",
            RxError::Nvsp(e) => e.as_str(),
            RxError::NvspType(_) => "nvsp message not expected here",
            RxError::Range(e) => e.as_str(),
            RxError::Rndis(e) => e.as_str(),
            RxError::ShortFrame(_) => "frame shorter than an ethernet header",
            RxError::Rsc => "receive segment coalescing fragment (not negotiated)",
            RxError::Id(_) => "completion for a send never made",
            RxError::SendTableEntry(_) => "send indirection table entry beyond the channels",
        }
    }
}

impl core::fmt::Display for RxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PPI errors count as [`DropKind::BadPpi`], every other RNDIS error as [`DropKind::BadRndis`].
const fn rndis_kind(e: &RndisError) -> DropKind {
    match e {
        RndisError::PpiOffsetInHeader(_)
        | RndisError::PpiPastMessage { .. }
        | RndisError::PpiOverlapsData
        | RndisError::PpiOverlapsOob
        | RndisError::PpiMisaligned(_)
        | RndisError::PpiTruncated(_)
        | RndisError::PpiSizeTooSmall(_)
        | RndisError::PpiSizePastArea(_)
        | RndisError::PpiDataOffset(_)
        | RndisError::PpiDataTooShort(_) => DropKind::BadPpi,
        _ => DropKind::BadRndis,
    }
}

// ---------------------------------------------------------------------------------------
// Inbound packets.

/// A packet from the host, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// `VM_PKT_COMP`: the answer to a packet the guest sent with `COMPLETION_REQUESTED`.
    Completion {
        /// The echoed transaction id.
        id: u64,
        /// The NVSP message it carries.
        payload: &'a [u8],
    },
    /// `VM_PKT_DATA_USING_XFER_PAGES` carrying `SEND_RNDIS_PKT`: RNDIS messages in receive
    /// sections. Complete it (with `id`) once every range is copied out.
    Transfer {
        /// The transaction id to complete.
        id: u64,
        /// The ranges (header and count validated; each range still to check with
        /// [`rx_range`]).
        ranges: TransferPageView<'a>,
    },
    /// An inband NVSP message from the host (send indirection table, VF association).
    Message(NvspMessage<'a>),
}

/// Classifies one packet as the VMBus core copied it (`pkt`: descriptor included;
/// `data_offset`: where the payload starts). `version` is the negotiated NVSP version, if
/// any yet.
pub fn classify(pkt: &[u8], packet_type: u16, id: u64, data_offset: usize, version: Option<NvspVersion>) -> Result<Inbound<'_>, RxError> {
    let desc = DESCRIPTOR_SIZE as usize;
    if data_offset < desc || data_offset > pkt.len() {
        return Err(RxError::PayloadOffset(data_offset));
    }
    let ext = pkt.get(desc..data_offset).ok_or(RxError::PayloadOffset(data_offset))?;
    let payload = pkt.get(data_offset..).ok_or(RxError::PayloadOffset(data_offset))?;
    let parse = |b| match version {
        Some(v) => nvsp::parse_negotiated(b, Sender::Host, v),
        None => nvsp::parse(b, Sender::Host),
    };
    match PacketType::from_raw(packet_type) {
        Some(PacketType::Completion) => Ok(Inbound::Completion { id, payload }),
        Some(PacketType::DataUsingXferPages) => {
            let ranges = TransferPageView::parse(ext).map_err(|_| RxError::TransferHeader)?;
            let set = ranges.header.xfer_pageset_id;
            if set != nvsp::NETVSC_RECEIVE_BUFFER_ID {
                return Err(RxError::PageSet(set));
            }
            match parse(payload).map_err(RxError::Nvsp)? {
                NvspMessage::SendRndisPacket(_) => Ok(Inbound::Transfer { id, ranges }),
                other => Err(RxError::NvspType(other.msg_type())),
            }
        }
        Some(PacketType::DataInband) => match parse(payload).map_err(RxError::Nvsp)? {
            m @ (NvspMessage::SendIndirectionTable(_) | NvspMessage::SendVfAssociation(_)) => Ok(Inbound::Message(m)),
            other => Err(RxError::NvspType(other.msg_type())),
        },
        _ => Err(RxError::PacketType(packet_type)),
    }
}

/// A completion, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completed<'a> {
    /// A send: claim slot `slot` of `queue` under `generation`; `ok` is the host's status.
    Send {
        /// Queue.
        queue: u16,
        /// Slot.
        slot: u16,
        /// Generation.
        generation: u32,
        /// Whether the host reported success.
        ok: bool,
    },
    /// An NVSP request: hand `payload` to whoever waits for `seq`.
    Control {
        /// Sequence.
        seq: u32,
        /// The NVSP message.
        payload: &'a [u8],
    },
}

/// Resolves a completion's id (for a device with `queues` queues of `slots` send slots) and,
/// for sends, its `SEND_RNDIS_PKT_COMPLETE`.
pub fn completion(id: u64, payload: &[u8], queues: u32, slots: u32) -> Result<Completed<'_>, RxError> {
    match TransId::decode(id, queues, slots).map_err(RxError::Id)? {
        TransId::Control { seq } => Ok(Completed::Control { seq, payload }),
        TransId::Send { queue, slot, generation } => match nvsp::parse(payload, Sender::Host).map_err(RxError::Nvsp)? {
            NvspMessage::SendRndisPacketComplete(c) => {
                let status = c.status;
                Ok(Completed::Send { queue, slot, generation, ok: status == NVSP_STAT_SUCCESS })
            }
            other => Err(RxError::NvspType(other.msg_type())),
        },
    }
}

/// The bytes of one transfer range inside the receive buffer, checked as `netvsc_receive()`
/// does (inside the buffer, at most a section).
pub fn rx_range(layout: &ReceiveBufferLayout, r: TransferPageRange) -> Result<Range<usize>, RxError> {
    layout.range(r.byte_offset, r.byte_count).map_err(RxError::Range)
}

/// Metadata of a received frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxMeta {
    /// The host verified the TCP or UDP checksum (`CHECKSUM_UNNECESSARY`).
    pub csum_verified: bool,
    /// The stripped VLAN tag (TCI).
    pub vlan_tci: Option<u16>,
    /// The RSS hash.
    pub hash: Option<u32>,
}

/// One RNDIS message from a receive section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RxMessage<'a> {
    /// A frame: its bytes in the message, and metadata.
    Data {
        /// Where the Ethernet frame is in the message.
        frame: Range<usize>,
        /// Its metadata.
        meta: RxMeta,
    },
    /// A completion of a control request (match it with [`response`]).
    Response(RndisMessage<'a>),
    /// A status indication.
    Status(StatusEvent),
    /// A message the guest ignores (a keepalive from the host): its type.
    Ignored(u32),
}

/// `ETH_HLEN`.
pub const ETH_HLEN: usize = 14;

/// Parses one RNDIS message (`msg`: a private copy of the transfer range; `msg_len` must
/// lie inside it, bytes after the message are ignored).
pub fn parse_rx(msg: &[u8]) -> Result<RxMessage<'_>, RxError> {
    if bytes::u32_at(msg, 0) == Some(rndis::RNDIS_MSG_PACKET) {
        return parse_rx_packet(msg);
    }
    let (m, _) = RndisMessage::parse(msg).map_err(RxError::Rndis)?;
    match m {
        RndisMessage::IndicateStatus(s) => Ok(RxMessage::Status(s.event().map_err(RxError::Rndis)?)),
        RndisMessage::InitComplete(_)
        | RndisMessage::QueryComplete(_)
        | RndisMessage::SetComplete(_)
        | RndisMessage::ResetComplete(_)
        | RndisMessage::KeepaliveComplete(_) => Ok(RxMessage::Response(m)),
        RndisMessage::Keepalive(_) => Ok(RxMessage::Ignored(m.msg_type())),
        RndisMessage::Packet(_)
        | RndisMessage::Init(_)
        | RndisMessage::Halt(_)
        | RndisMessage::Query(_)
        | RndisMessage::Set(_)
        | RndisMessage::Reset(_) => Err(RxError::Rndis(RndisError::UnknownType(m.msg_type()))),
    }
}

/// A data message: the frame's place and its metadata (`rndis_filter_receive_data()`).
fn parse_rx_packet(msg: &[u8]) -> Result<RxMessage<'_>, RxError> {
    let h = packet::parse_packet_header(msg).map_err(RxError::Rndis)?;
    let msg_len = h.msg_len;
    if usize::try_from(msg_len).map_or(true, |l| l > msg.len()) {
        return Err(RxError::Rndis(RndisError::LengthPastBuffer { msg_len, have: msg.len() }));
    }
    let info = PacketInfo::from_area(h.ppi);
    if let Some(id) = info.pktinfo_id {
        let whole = ppi::RNDIS_PKTINFO_1ST_FRAG | ppi::RNDIS_PKTINFO_LAST_FRAG;
        if id.flag & ppi::RNDIS_PKTINFO_SUBALLOC != 0 && id.flag & whole != whole {
            return Err(RxError::Rsc);
        }
    }
    if h.data.len() < ETH_HLEN {
        return Err(RxError::ShortFrame(h.data.len()));
    }
    let meta = RxMeta {
        csum_verified: info.rx_checksum().is_some_and(|c| c.l4_verified()),
        vlan_tci: info.vlan.map(|v| v.to_tci()),
        hash: info.hash_value,
    };
    Ok(RxMessage::Data { frame: h.data, meta })
}

/// Whether a status event is one NetVSC acts on (the others are counted as unknown).
pub const fn status_known(e: &StatusEvent) -> bool {
    !matches!(e, StatusEvent::Other(_))
}

// ---------------------------------------------------------------------------------------
// Receive completions waiting for ring space.

/// The queue is full (more receive packets outstanding than it holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// A FIFO of transaction ids over caller storage: the receive completions that did not fit
/// in the outbound ring, sent in order once there is room.
#[derive(Debug)]
pub struct IdQueue<S> {
    buf: S,
    head: usize,
    len: usize,
}

impl<S: DerefMut<Target = [u64]>> IdQueue<S> {
    /// An empty queue holding up to `buf.len()` ids.
    pub fn new(buf: S) -> Self {
        IdQueue { buf, head: 0, len: 0 }
    }

    /// Ids waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `id`.
    pub fn push(&mut self, id: u64) -> Result<(), QueueFull> {
        let cap = self.buf.len();
        if self.len >= cap {
            return Err(QueueFull);
        }
        let i = (self.head + self.len) % cap;
        let slot = self.buf.get_mut(i).ok_or(QueueFull)?;
        *slot = id;
        self.len += 1;
        Ok(())
    }

    /// The oldest id.
    pub fn front(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        self.buf.get(self.head).copied()
    }

    /// Drops the oldest id.
    pub fn pop(&mut self) -> Option<u64> {
        let id = self.front()?;
        self.head = (self.head + 1) % self.buf.len().max(1);
        self.len -= 1;
        Some(id)
    }

    /// Forgets every id.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

// ---------------------------------------------------------------------------------------
// Transmit.

/// The network layer of a frame to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// Anything else.
    Other,
}

/// The transport of a frame to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// Anything else.
    Other,
}

/// What the kernel says about a frame to send (from its skb).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxFrame {
    /// Frame length (bytes).
    pub len: u32,
    /// Network layer.
    pub l3: L3,
    /// Transport.
    pub l4: L4,
    /// Offset of the transport header from the frame start.
    pub transport_offset: u32,
    /// TCP segmentation with this MSS (`gso_size`), if requested.
    pub gso_mss: Option<u32>,
    /// The stack asks for the L4 checksum (`CHECKSUM_PARTIAL`).
    pub csum_partial: bool,
    /// The flow hash to pass on (Linux sends it with several queues).
    pub hash: Option<u32>,
    /// A VLAN tag to insert (TCI).
    pub vlan_tci: Option<u16>,
}

/// What the host offers for transmit (from [`OffloadPlan`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxCaps {
    /// `TRANSPORT_INFO_*` bits whose checksums the host computes.
    pub csum_mask: u32,
    /// TSO for IPv4.
    pub tso4: bool,
    /// TSO for IPv6.
    pub tso6: bool,
    /// Largest TSO frame.
    pub gso_max: u32,
}

impl TxCaps {
    /// From Linux's offload decision.
    pub fn from_plan(p: &OffloadPlan) -> Self {
        TxCaps { csum_mask: p.tx_checksum_mask, tso4: p.tso, tso6: p.tso6, gso_max: p.gso_max_size }
    }
}

/// The TCP/IP headers the guest fixes before a segmentation request (`netvsc_xmit()`): IPv4
/// total length and header checksum zeroed and the TCP checksum seeded with the pseudo
/// header without length; for IPv6 the payload length zeroed and the same seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsoPrep {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// How to send one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxPlan {
    /// The per-packet info to write ([`crate::packet::build_tx_header`]).
    pub info: TxInfo,
    /// Bytes of the RNDIS header (RNDIS header, `rndis_packet`, PPIs).
    pub header_len: u32,
    /// Header plus frame.
    pub msg_len: u32,
    /// Whether the whole message fits a send section (else: a GPA page list).
    pub fits_section: bool,
    /// The stack's checksum request cannot be offloaded: compute it in software first.
    pub software_checksum: bool,
    /// Header fix-up before a segmentation request.
    pub lso_prep: Option<LsoPrep>,
}

/// Why a frame cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// Empty, or longer than the largest TSO frame.
    Length(u32),
    /// Segmentation asked for a frame the host cannot segment (not TCP over IPv4/IPv6 with
    /// TSO offered, or an MSS that does not fit the field).
    Segmentation,
    /// The transport header is beyond what the 10-bit offset fields hold.
    HeaderOffset(u32),
    /// The VLAN tag does not fit.
    Vlan(u16),
}

impl TxError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            TxError::Length(_) => "frame length out of range",
            TxError::Segmentation => "segmentation the host does not offer",
            TxError::HeaderOffset(_) => "transport header offset too large",
            TxError::Vlan(_) => "vlan tag out of range",
        }
    }
}

/// Largest frame the guest sends (a 64 KiB TSO frame plus its Ethernet and VLAN headers).
pub const TX_MAX_FRAME: u32 = 65536 + 18;

/// Decides how to send `f` given the host's offloads and its send section size (`netvsc_xmit()`
/// and `netvsc_send()`): LSOv2 for segmentation, the checksum PPI for a partial checksum the
/// host computes (else software), the hash with several queues, the VLAN tag; a send section
/// when the whole message fits.
pub fn plan_tx(f: &TxFrame, caps: &TxCaps, section_size: u32) -> Result<TxPlan, TxError> {
    if f.len == 0 || f.len > TX_MAX_FRAME {
        return Err(TxError::Length(f.len));
    }
    let offset = |o: u32| -> Result<u16, TxError> {
        u16::try_from(o).ok().filter(|o| *o <= ppi::HEADER_OFFSET_MAX).ok_or(TxError::HeaderOffset(o))
    };
    let mut info = TxInfo { hash: f.hash, ..TxInfo::default() };
    if let Some(tci) = f.vlan_tci {
        let v = VlanInfo::from_tci(tci);
        v.to_bits().ok_or(TxError::Vlan(tci))?;
        info.vlan = Some(v);
    }
    let mut software_checksum = false;
    let mut lso_prep = None;
    if let Some(mss) = f.gso_mss {
        let (ipv6, ok) = match f.l3 {
            L3::Ipv4 => (false, caps.tso4),
            L3::Ipv6 => (true, caps.tso6),
            L3::Other => (false, false),
        };
        if !ok || f.l4 != L4::Tcp || mss == 0 || mss > ppi::LSO_MSS_MAX || f.len > caps.gso_max.saturating_add(18) {
            return Err(TxError::Segmentation);
        }
        info.lso = Some(LsoV2Tx { mss, tcp_header_offset: offset(f.transport_offset)?, ipv6 });
        lso_prep = Some(if ipv6 { LsoPrep::Ipv6 } else { LsoPrep::Ipv4 });
    } else if f.csum_partial {
        let bit = match (f.l3, f.l4) {
            (L3::Ipv4, L4::Tcp) => oid::TRANSPORT_INFO_IPV4_TCP,
            (L3::Ipv4, L4::Udp) => oid::TRANSPORT_INFO_IPV4_UDP,
            (L3::Ipv6, L4::Tcp) => oid::TRANSPORT_INFO_IPV6_TCP,
            (L3::Ipv6, L4::Udp) => oid::TRANSPORT_INFO_IPV6_UDP,
            _ => 0,
        };
        match offset(f.transport_offset) {
            Ok(o) if bit != 0 && caps.csum_mask & bit != 0 => {
                info.checksum = Some(TxChecksum {
                    is_ipv4: f.l3 == L3::Ipv4,
                    is_ipv6: f.l3 == L3::Ipv6,
                    tcp_checksum: f.l4 == L4::Tcp,
                    udp_checksum: f.l4 == L4::Udp,
                    ip_header_checksum: false,
                    tcp_header_offset: o,
                });
            }
            _ => software_checksum = true,
        }
    }
    let header_len = u32::try_from(info.header_len()).map_err(|_| TxError::Length(f.len))?;
    let msg_len = header_len.checked_add(f.len).ok_or(TxError::Length(f.len))?;
    Ok(TxPlan { info, header_len, msg_len, fits_section: msg_len <= section_size, software_checksum, lso_prep })
}

/// Guest page size (Hyper-V pages are 4 KiB whatever the guest's page size).
pub const PAGE_SIZE: u64 = 4096;
/// Most ranges in one GPA-direct packet (`MAX_MULTIPAGE_BUFFER_COUNT`).
pub const MAX_PAGE_RANGES: usize = vmbus_proto::packet::MAX_MULTIPAGE_BUFFER_COUNT;

/// One guest-physical range of a page-list send: `len` bytes from `offset` into the first of
/// its page frames, which are `pfns[first..first + count]` of the [`PageList`]'s storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRange {
    /// Byte count.
    pub len: u32,
    /// Offset into the first page.
    pub offset: u32,
    /// Index of the first page frame in the storage.
    pub first: usize,
    /// Number of page frames.
    pub count: usize,
}

/// Why a frame could not be described as a page list (the driver linearises or drops it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageListError {
    /// An empty piece.
    Empty,
    /// More ranges than a GPA-direct packet holds.
    TooManyRanges,
    /// More page frames than the storage holds.
    TooManyPages,
    /// A piece whose end overflows the address space.
    Overflow,
}

/// The page list of a send (`netvsc_build_page_buffer()`): physically contiguous pieces
/// (the RNDIS header with the skb's linear part, then each fragment) become GPA ranges with
/// their page frames in caller storage; a piece that continues the previous one in physical
/// memory extends its range.
#[derive(Debug)]
pub struct PageList<'a> {
    pfns: &'a mut [u64],
    used: usize,
    ranges: [PageRange; MAX_PAGE_RANGES],
    count: usize,
    /// Physical address just past the last piece.
    end: u64,
    bytes: u64,
}

impl<'a> PageList<'a> {
    /// An empty list over `pfns`.
    pub fn new(pfns: &'a mut [u64]) -> Self {
        PageList { pfns, used: 0, ranges: [PageRange::default(); MAX_PAGE_RANGES], count: 0, end: 0, bytes: 0 }
    }

    /// Appends `len` bytes at guest-physical address `phys`.
    pub fn push(&mut self, phys: u64, len: u32) -> Result<(), PageListError> {
        if len == 0 {
            return Err(PageListError::Empty);
        }
        let end = phys.checked_add(u64::from(len)).ok_or(PageListError::Overflow)?;
        let first_pfn = phys / PAGE_SIZE;
        let last_pfn = (end - 1) / PAGE_SIZE;
        let merge = self.count > 0 && phys == self.end;
        if merge {
            let Some(r) = self.ranges.get(self.count - 1).copied() else { return Err(PageListError::TooManyRanges) };
            let new_len = r.len.checked_add(len).ok_or(PageListError::Overflow)?;
            // The previous range's last frame is `first_pfn` when the piece starts inside it.
            let have_last = self.pfns.get(self.used.wrapping_sub(1)).copied();
            let skip = u64::from(have_last == Some(first_pfn));
            let extra = usize::try_from(last_pfn - first_pfn + 1 - skip).map_err(|_| PageListError::TooManyPages)?;
            self.fill(first_pfn + skip, extra)?;
            if let Some(slot) = self.ranges.get_mut(self.count - 1) {
                *slot = PageRange { len: new_len, count: r.count + extra, ..r };
            }
        } else {
            if self.count >= MAX_PAGE_RANGES {
                return Err(PageListError::TooManyRanges);
            }
            let n = usize::try_from(last_pfn - first_pfn + 1).map_err(|_| PageListError::TooManyPages)?;
            let first = self.used;
            self.fill(first_pfn, n)?;
            let r = PageRange { len, offset: (phys % PAGE_SIZE) as u32, first, count: n };
            if let Some(slot) = self.ranges.get_mut(self.count) {
                *slot = r;
            }
            self.count += 1;
        }
        self.end = end;
        self.bytes += u64::from(len);
        Ok(())
    }

    /// Appends `n` consecutive frames from `pfn`.
    fn fill(&mut self, pfn: u64, n: usize) -> Result<(), PageListError> {
        let stop = self.used.checked_add(n).ok_or(PageListError::TooManyPages)?;
        let dst = self.pfns.get_mut(self.used..stop).ok_or(PageListError::TooManyPages)?;
        for (i, d) in (0u64..).zip(dst.iter_mut()) {
            *d = pfn + i;
        }
        self.used = stop;
        Ok(())
    }

    /// The ranges so far.
    pub fn ranges(&self) -> &[PageRange] {
        self.ranges.get(..self.count).unwrap_or(&[])
    }

    /// The page frames of `r` (a range of this list).
    pub fn pfns_of(&self, r: &PageRange) -> &[u64] {
        let end = r.first.saturating_add(r.count);
        self.pfns.get(r.first..end).unwrap_or(&[])
    }

    /// Bytes described.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

// ---------------------------------------------------------------------------------------
// Link state.

/// What the interface does for a status indication (`netvsc_linkstatus_callback()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    /// Carrier on.
    Up,
    /// Carrier off.
    Down,
    /// Carrier off and on again (the host's network changed: peers must re-learn us).
    Bounce,
    /// The link speed changed (Mbit/s).
    Speed(u32),
}

/// The action for a known status event; `None` for [`StatusEvent::Other`] (counted as
/// unknown).
pub const fn link_action(e: &StatusEvent) -> Option<LinkAction> {
    match e {
        StatusEvent::MediaConnect => Some(LinkAction::Up),
        StatusEvent::MediaDisconnect => Some(LinkAction::Down),
        StatusEvent::NetworkChange => Some(LinkAction::Bounce),
        StatusEvent::LinkSpeedChange { speed_100bps } => Some(LinkAction::Speed(*speed_100bps / 10_000)),
        StatusEvent::Other(_) => None,
    }
}

// ---------------------------------------------------------------------------------------
// Queues.

/// The host's send indirection table (`netvsc_send_table()`): flow hash → transmit queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendTable {
    entries: [u16; VRSS_SEND_TAB_SIZE],
}

impl SendTable {
    /// Linux's default before the host sends one: entry `i` is `i % queues`.
    pub fn round_robin(queues: u16) -> Self {
        let mut entries = [0u16; VRSS_SEND_TAB_SIZE];
        let n = queues.max(1);
        for (i, e) in (0u16..).zip(entries.iter_mut()) {
            *e = i % n;
        }
        SendTable { entries }
    }

    /// The host's table for `queues` queues; refused (the current one stays) when an entry
    /// names no queue.
    pub fn from_host(t: &SendIndirectionTable, queues: u16) -> Result<Self, RxError> {
        let mut entries = [0u16; VRSS_SEND_TAB_SIZE];
        for (d, s) in entries.iter_mut().zip(t.entries.iter()) {
            *d = u16::try_from(*s).ok().filter(|q| *q < queues.max(1)).ok_or(RxError::SendTableEntry(*s))?;
        }
        Ok(SendTable { entries })
    }

    /// The queue for a flow hash.
    pub fn queue(&self, hash: u32) -> u16 {
        self.entries.get(hash as usize % VRSS_SEND_TAB_SIZE).copied().unwrap_or(0)
    }

    /// The entries.
    pub fn entries(&self) -> &[u16; VRSS_SEND_TAB_SIZE] {
        &self.entries
    }
}

/// Linux's default receive indirection table for `queues` queues (`i % queues`) into `out`
/// (typically [`oid::ITAB_NUM`] entries).
pub fn rss_table(queues: u16, out: &mut [u16]) {
    let n = queues.max(1);
    for (i, e) in (0u32..).zip(out.iter_mut()) {
        *e = u16::try_from(oid::default_rx_table_entry(i, u32::from(n))).unwrap_or(0);
    }
}

/// The `OID_GEN_RECEIVE_SCALE_PARAMETERS` buffer for `queues` queues (Linux's hash types and
/// key, a table of `entries` entries); returns its length.
pub fn build_rss_params(out: &mut [u8], queues: u16, entries: u32) -> Result<usize, NdisError> {
    let mut table = [0u16; oid::ITAB_NUM_MAX as usize];
    let n = usize::try_from(entries.clamp(1, oid::ITAB_NUM_MAX)).unwrap_or(oid::ITAB_NUM as usize);
    let t = table.get_mut(..n).ok_or(NdisError::TableSize(0))?;
    rss_table(queues, t);
    RssParams::build(out, 0, oid::LINUX_RSS_HASH_INFO, t, &oid::NETVSC_HASH_KEY)
}

// ---------------------------------------------------------------------------------------
// Receive filter and MTU.

/// Most multicast addresses sent as a list (beyond: all multicast).
pub const MAX_MULTICAST: usize = 32;

/// The packet filter for the interface flags, and whether to send the multicast list:
/// promiscuous takes everything; all-multicast (or a list too long) takes every multicast
/// frame; a list of at most [`MAX_MULTICAST`] addresses is sent and filtered by the host.
/// `up` false (interface down) gives 0: the host delivers nothing.
pub fn rx_filter(up: bool, promisc: bool, allmulti: bool, mc_count: usize) -> (u32, bool) {
    if !up {
        return (0, false);
    }
    if promisc {
        return (oid::NDIS_PACKET_TYPE_PROMISCUOUS, false);
    }
    let mut f = oid::NDIS_PACKET_TYPE_DIRECTED | oid::NDIS_PACKET_TYPE_BROADCAST;
    let list = !allmulti && mc_count > 0 && mc_count <= MAX_MULTICAST;
    if allmulti || mc_count > MAX_MULTICAST {
        f |= oid::NDIS_PACKET_TYPE_ALL_MULTICAST;
    } else if list {
        f |= oid::NDIS_PACKET_TYPE_MULTICAST;
    }
    (f, list)
}

/// Bytes of the largest RNDIS receive header the guest expects around a frame: the RNDIS
/// header, `rndis_packet` and five 16-byte PPIs.
pub const RX_HEADER_MAX: u32 = (rndis::RNDIS_HEADER_SIZE + rndis::RNDIS_PACKET_SIZE + 5 * ppi::NDIS_HASH_PPI_SIZE) as u32;

/// The largest MTU: the guest's ceiling, the host's frame limit (if it answered), and what a
/// receive section holds (Ethernet and VLAN header plus [`RX_HEADER_MAX`] around the
/// payload).
pub fn max_mtu(ceiling: u32, host_frame: Option<u32>, recv_section: u32) -> u32 {
    let by_section = recv_section.saturating_sub(RX_HEADER_MAX + 18);
    let mut m = ceiling.min(by_section);
    if let Some(h) = host_frame {
        m = m.min(h);
    }
    m.max(nvsp::NETVSC_MTU_MIN)
}
