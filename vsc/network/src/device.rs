// SPDX-License-Identifier: GPL-2.0-only
//! The host's RNDIS adapter: the logic behind the control messages a NetVSC guest sends
//! (`rndis_filter.c` is the guest side of this conversation), kept pure so the host
//! simulator does all packet I/O itself.
//!
//! [`RndisDevice::handle`] answers INIT, QUERY, SET, RESET and KEEPALIVE into a caller
//! buffer (HALT gets no answer) and keeps what the guest configures: packet filter,
//! multicast list, current MAC address, offload parameters, RSS parameters. Unknown OIDs are
//! answered `RNDIS_STATUS_NOT_SUPPORTED` with an empty result (which Linux treats as "not
//! available" where it matters: the friendly name). Link state changes produce status
//! indications; [`RndisDevice::accepts`] applies the packet filter and
//! [`RndisDevice::rx_queue`] the RSS indirection table to received frames.

use crate::oid::{self, NdisOffload, NdisOffloadParams, NdisRecvScaleCap, RssParams};
use crate::rndis::{self, RndisError, RndisMessage, RndisQueryComplete};
use crate::{bytes, toeplitz};

/// Most multicast addresses kept (`RNDIS_OID_802_3_MAXIMUM_LIST_SIZE`).
pub const MAX_MULTICAST: usize = 32;
/// Most indirection table entries kept (`ITAB_NUM_MAX`).
pub const MAX_TABLE: usize = oid::ITAB_NUM_MAX as usize;
/// The link speed of a Hyper-V synthetic NIC: 10 Gbit/s in 100 bps units.
pub const LINK_SPEED_10G: u32 = 100_000_000;
/// The LSOv2 size limit Hyper-V reports.
pub const HYPERV_LSO_MAX: u32 = 62780;

/// RSS as the adapter offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RssConfig {
    /// Receive queues (channels) available; indirection table entries must be below it.
    pub queues: u32,
    /// Indirection table entries offered (`num_indirect_tabent`).
    pub table_entries: u16,
}

/// What the adapter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Permanent MAC address.
    pub mac: [u8; 6],
    /// Largest frame payload (`RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE`: the MTU).
    pub mtu: u32,
    /// Link state at start.
    pub link_up: bool,
    /// Link speed in 100 bps units.
    pub link_speed_100bps: u32,
    /// Offload capabilities.
    pub offload: NdisOffload,
    /// RSS capabilities, or `None` for no vRSS.
    pub rss: Option<RssConfig>,
    /// `max_pkt_per_msg` of INIT_C.
    pub max_pkt_per_msg: u32,
    /// `pkt_alignment_factor` of INIT_C.
    pub pkt_alignment_factor: u32,
    /// `max_xfer_size` of INIT_C.
    pub max_xfer_size: u32,
}

impl DeviceConfig {
    /// A Hyper-V-like adapter: MTU 1500, link up at 10 Gbit/s, typical offloads (no RSC),
    /// 8 queues with 128 table entries, 8 messages per batch aligned to 8 bytes.
    pub fn new(mac: [u8; 6]) -> Self {
        DeviceConfig {
            mac,
            mtu: 1500,
            link_up: true,
            link_speed_100bps: LINK_SPEED_10G,
            offload: NdisOffload::typical(HYPERV_LSO_MAX, false),
            rss: Some(RssConfig { queues: 8, table_entries: oid::ITAB_NUM as u16 }),
            max_pkt_per_msg: 8,
            pkt_alignment_factor: 3,
            max_xfer_size: 0x4000,
        }
    }
}

/// The adapter's RNDIS state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceState {
    /// Before INIT (or after a refused INIT).
    Uninitialized,
    /// After a successful INIT.
    Initialized,
    /// After HALT.
    Halted,
}

/// The RSS parameters the guest set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RssState {
    /// Whether RSS is on (a table and a key were set and not disabled since).
    pub enabled: bool,
    /// `hashinfo`: function and `NDIS_HASH_*` types.
    pub hash_info: u32,
    key: [u8; oid::NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_2],
    key_len: usize,
    table: [u32; MAX_TABLE],
    table_len: usize,
}

impl RssState {
    const fn new() -> Self {
        RssState {
            enabled: false,
            hash_info: 0,
            key: [0; oid::NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_2],
            key_len: 0,
            table: [0; MAX_TABLE],
            table_len: 0,
        }
    }

    /// The hash key.
    pub fn key(&self) -> &[u8] {
        bytes::head(&self.key, self.key_len)
    }

    /// The indirection table.
    pub fn table(&self) -> &[u32] {
        self.table.get(..self.table_len).unwrap_or(&[])
    }

    /// The queue for a hash (entry `hash mod size`), if RSS is on.
    pub fn queue_for_hash(&self, hash: u32) -> Option<u32> {
        if !self.enabled {
            return None;
        }
        toeplitz::select_queue(self.table(), hash)
    }
}

/// Traffic counters the host simulator may keep here for the statistics OIDs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// `RNDIS_OID_GEN_XMIT_OK`: frames sent by the guest and delivered.
    pub xmit_ok: u64,
    /// `RNDIS_OID_GEN_RCV_OK`: frames delivered to the guest.
    pub rcv_ok: u64,
    /// `RNDIS_OID_GEN_XMIT_ERROR`.
    pub xmit_error: u64,
    /// `RNDIS_OID_GEN_RCV_ERROR`.
    pub rcv_error: u64,
    /// `RNDIS_OID_GEN_RCV_NO_BUFFER`: frames dropped for lack of receive sections.
    pub rcv_no_buffer: u64,
}

/// What handling a control message produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A completion of this many bytes was written to the output buffer; send it to the
    /// guest (in a receive-buffer sub-allocation, as NetVSP does for all its RNDIS messages).
    Message(usize),
    /// Nothing to send (HALT).
    None,
}

/// Why a message could not be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The bytes are not a valid RNDIS message.
    Message(RndisError),
    /// A data message given to the control path.
    DataMessage,
    /// A message the guest must not send (a completion or an indication).
    Unexpected(u32),
    /// The output buffer cannot hold the completion.
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

impl DeviceError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            DeviceError::Message(e) => e.as_str(),
            DeviceError::DataMessage => "data message on the control path",
            DeviceError::Unexpected(_) => "rndis message the guest must not send",
            DeviceError::BufferTooSmall { .. } => "output buffer too small",
        }
    }
}

impl core::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RndisError> for DeviceError {
    fn from(e: RndisError) -> Self {
        match e {
            RndisError::BufferTooSmall { need, have } => DeviceError::BufferTooSmall { need, have },
            other => DeviceError::Message(other),
        }
    }
}

/// The OIDs answered by queries (`RNDIS_OID_GEN_SUPPORTED_LIST`).
pub const SUPPORTED_OIDS: [u32; 29] = [
    oid::RNDIS_OID_GEN_SUPPORTED_LIST,
    oid::RNDIS_OID_GEN_HARDWARE_STATUS,
    oid::RNDIS_OID_GEN_MEDIA_SUPPORTED,
    oid::RNDIS_OID_GEN_MEDIA_IN_USE,
    oid::RNDIS_OID_GEN_PHYSICAL_MEDIUM,
    oid::RNDIS_OID_GEN_MAXIMUM_LOOKAHEAD,
    oid::RNDIS_OID_GEN_CURRENT_LOOKAHEAD,
    oid::RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE,
    oid::RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE,
    oid::RNDIS_OID_GEN_TRANSMIT_BLOCK_SIZE,
    oid::RNDIS_OID_GEN_RECEIVE_BLOCK_SIZE,
    oid::RNDIS_OID_GEN_LINK_SPEED,
    oid::RNDIS_OID_GEN_MEDIA_CONNECT_STATUS,
    oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER,
    oid::RNDIS_OID_GEN_MAC_OPTIONS,
    oid::RNDIS_OID_GEN_MAXIMUM_SEND_PACKETS,
    oid::RNDIS_OID_GEN_XMIT_OK,
    oid::RNDIS_OID_GEN_RCV_OK,
    oid::RNDIS_OID_GEN_XMIT_ERROR,
    oid::RNDIS_OID_GEN_RCV_ERROR,
    oid::RNDIS_OID_GEN_RCV_NO_BUFFER,
    oid::RNDIS_OID_802_3_PERMANENT_ADDRESS,
    oid::RNDIS_OID_802_3_CURRENT_ADDRESS,
    oid::RNDIS_OID_802_3_MULTICAST_LIST,
    oid::RNDIS_OID_802_3_MAXIMUM_LIST_SIZE,
    oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
    oid::OID_TCP_OFFLOAD_CURRENT_CONFIG,
    oid::OID_GEN_RECEIVE_SCALE_CAPABILITIES,
    oid::OID_GEN_RECEIVE_SCALE_PARAMETERS,
];

/// The host's RNDIS adapter.
#[derive(Clone, Debug)]
pub struct RndisDevice {
    cfg: DeviceConfig,
    state: DeviceState,
    mac: [u8; 6],
    filter: u32,
    mcast: [[u8; 6]; MAX_MULTICAST],
    mcast_len: usize,
    offload: NdisOffloadParams,
    rss: RssState,
    link_up: bool,
    link_speed: u32,
    /// Counters for the statistics OIDs (the host simulator updates them).
    pub stats: DeviceStats,
}

/// Where a query's result starts in the output buffer.
const QUERY_INFO_OFFSET: usize = rndis::RNDIS_HEADER_SIZE + core::mem::size_of::<RndisQueryComplete>();

/// A query's answer: result bytes written, or a status without result.
type QueryResult = Result<usize, u32>;

/// Writes `src` as a query result.
fn put_result(info: &mut [u8], src: &[u8]) -> QueryResult {
    bytes::put(info, 0, src).ok_or(rndis::RNDIS_STATUS_BUFFER_TOO_SHORT)?;
    Ok(src.len())
}

/// Maps an NDIS parse error of a SET to an RNDIS status.
fn set_status(e: oid::NdisError) -> u32 {
    match e {
        oid::NdisError::TooShort { .. } | oid::NdisError::ObjectSize(_) | oid::NdisError::MulticastLength(_) => {
            rndis::RNDIS_STATUS_INVALID_LENGTH
        }
        _ => rndis::RNDIS_STATUS_INVALID_DATA,
    }
}

impl RndisDevice {
    /// A new, uninitialized adapter.
    pub fn new(cfg: DeviceConfig) -> Self {
        RndisDevice {
            cfg,
            state: DeviceState::Uninitialized,
            mac: cfg.mac,
            filter: 0,
            mcast: [[0; 6]; MAX_MULTICAST],
            mcast_len: 0,
            offload: NdisOffloadParams::default(),
            rss: RssState::new(),
            link_up: cfg.link_up,
            link_speed: cfg.link_speed_100bps,
            stats: DeviceStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    /// The RNDIS state.
    pub fn state(&self) -> DeviceState {
        self.state
    }

    /// The current MAC address (the permanent one unless the guest set `NetworkAddress`).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The packet filter (`NDIS_PACKET_TYPE_*`; 0 until the guest opens the interface).
    pub fn packet_filter(&self) -> u32 {
        self.filter
    }

    /// The multicast list.
    pub fn multicast_list(&self) -> &[[u8; 6]] {
        self.mcast.get(..self.mcast_len).unwrap_or(&[])
    }

    /// The offload parameters the guest set (accumulated: "no change" fields keep earlier
    /// values).
    pub fn offload_params(&self) -> &NdisOffloadParams {
        &self.offload
    }

    /// The RSS parameters the guest set.
    pub fn rss(&self) -> &RssState {
        &self.rss
    }

    /// Whether the link is up.
    pub fn link_up(&self) -> bool {
        self.link_up
    }

    /// The link speed in 100 bps units.
    pub fn link_speed(&self) -> u32 {
        self.link_speed
    }

    /// Parses `buf` (one control message, as the guest sent it) and handles it.
    pub fn handle_bytes(&mut self, buf: &[u8], out: &mut [u8]) -> Result<Reply, DeviceError> {
        let (m, _) = RndisMessage::parse(buf)?;
        self.handle(&m, out)
    }

    /// Handles one control message from the guest, writing the completion into `out`.
    /// Before INIT (and after HALT) queries, sets, resets and keepalives are answered
    /// `RNDIS_STATUS_ADAPTER_NOT_READY`.
    pub fn handle(&mut self, msg: &RndisMessage<'_>, out: &mut [u8]) -> Result<Reply, DeviceError> {
        let ready = self.state == DeviceState::Initialized;
        let not_ready = rndis::RNDIS_STATUS_ADAPTER_NOT_READY;
        let n = match msg {
            RndisMessage::Init(i) => self.init(i, out)?,
            RndisMessage::Halt(_) => {
                if ready {
                    self.state = DeviceState::Halted;
                }
                return Ok(Reply::None);
            }
            RndisMessage::Query(q) if !ready => rndis::build_query_complete(out, q.req.req_id, not_ready, &[])?,
            RndisMessage::Query(q) => self.query(q.req.req_id, q.req.oid, q.info, out)?,
            RndisMessage::Set(s) if !ready => rndis::build_set_complete(out, s.req.req_id, not_ready)?,
            RndisMessage::Set(s) => {
                let status = self.set(s.req.oid, s.info);
                rndis::build_set_complete(out, s.req.req_id, status)?
            }
            RndisMessage::Reset(_) => {
                let status = if ready { rndis::RNDIS_STATUS_SUCCESS } else { not_ready };
                rndis::build_reset_complete(out, status, false)?
            }
            RndisMessage::Keepalive(k) => {
                let status = if ready { rndis::RNDIS_STATUS_SUCCESS } else { not_ready };
                rndis::build_keepalive_complete(out, k.req_id, status)?
            }
            RndisMessage::Packet(_) => return Err(DeviceError::DataMessage),
            other => return Err(DeviceError::Unexpected(other.msg_type())),
        };
        Ok(Reply::Message(n))
    }

    fn init(&mut self, i: &rndis::RndisInitializeRequest, out: &mut [u8]) -> Result<usize, DeviceError> {
        let ok = i.major_ver == rndis::RNDIS_MAJOR_VERSION;
        let c = rndis::RndisInitializeComplete {
            req_id: i.req_id,
            status: if ok { rndis::RNDIS_STATUS_SUCCESS } else { rndis::RNDIS_STATUS_BAD_VERSION },
            major_ver: rndis::RNDIS_MAJOR_VERSION,
            minor_ver: rndis::RNDIS_MINOR_VERSION,
            dev_flags: rndis::RNDIS_DF_CONNECTIONLESS,
            medium: rndis::RNDIS_MEDIUM_802_3,
            max_pkt_per_msg: self.cfg.max_pkt_per_msg,
            max_xfer_size: self.cfg.max_xfer_size,
            pkt_alignment_factor: self.cfg.pkt_alignment_factor,
            af_list_offset: 0,
            af_list_size: 0,
        };
        let n = rndis::build_init_complete(out, &c)?;
        if ok {
            self.state = DeviceState::Initialized;
            self.filter = 0;
            self.mcast_len = 0;
            self.offload = NdisOffloadParams::default();
            self.rss = RssState::new();
        } else {
            self.state = DeviceState::Uninitialized;
        }
        Ok(n)
    }

    fn query(&self, req_id: u32, oid: u32, input: &[u8], out: &mut [u8]) -> Result<usize, DeviceError> {
        let have = out.len();
        let info = out.get_mut(QUERY_INFO_OFFSET..).ok_or(DeviceError::BufferTooSmall { need: QUERY_INFO_OFFSET, have })?;
        let (status, len) = match self.query_info(oid, input, info) {
            Ok(len) => (rndis::RNDIS_STATUS_SUCCESS, len),
            Err(status) => (status, 0),
        };
        let total = QUERY_INFO_OFFSET + len;
        let c = RndisQueryComplete {
            req_id,
            status,
            info_buflen: u32::try_from(len).map_err(|_| DeviceError::BufferTooSmall { need: total, have })?,
            info_buf_offset: core::mem::size_of::<RndisQueryComplete>() as u32,
        };
        let h = rndis::RndisMessageHeader {
            ndis_msg_type: rndis::RNDIS_MSG_QUERY_C,
            msg_len: u32::try_from(total).map_err(|_| DeviceError::BufferTooSmall { need: total, have })?,
        };
        bytes::write(out, 0, &h)
            .and_then(|_| bytes::write(out, rndis::RNDIS_HEADER_SIZE, &c))
            .ok_or(DeviceError::BufferTooSmall { need: total, have })?;
        Ok(total)
    }

    fn query_info(&self, oid: u32, input: &[u8], info: &mut [u8]) -> QueryResult {
        let u32_result = |info: &mut [u8], v: u32| put_result(info, &v.to_le_bytes());
        let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let frame = self.cfg.mtu.saturating_add(crate::nvsp::ETH_HLEN);
        match oid {
            oid::RNDIS_OID_GEN_SUPPORTED_LIST => {
                let mut n = 0;
                for o in SUPPORTED_OIDS {
                    bytes::put_u32(info, n, o).ok_or(rndis::RNDIS_STATUS_BUFFER_TOO_SHORT)?;
                    n += 4;
                }
                Ok(n)
            }
            oid::RNDIS_OID_GEN_HARDWARE_STATUS => u32_result(info, 0),
            oid::RNDIS_OID_GEN_MEDIA_SUPPORTED | oid::RNDIS_OID_GEN_MEDIA_IN_USE => u32_result(info, rndis::RNDIS_MEDIUM_802_3),
            oid::RNDIS_OID_GEN_PHYSICAL_MEDIUM => u32_result(info, rndis::RNDIS_PHYSICAL_MEDIUM_UNSPECIFIED),
            oid::RNDIS_OID_GEN_MAXIMUM_LOOKAHEAD | oid::RNDIS_OID_GEN_CURRENT_LOOKAHEAD | oid::RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE => {
                u32_result(info, self.cfg.mtu)
            }
            oid::RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE | oid::RNDIS_OID_GEN_TRANSMIT_BLOCK_SIZE | oid::RNDIS_OID_GEN_RECEIVE_BLOCK_SIZE => {
                u32_result(info, frame)
            }
            oid::RNDIS_OID_GEN_LINK_SPEED => u32_result(info, self.link_speed),
            oid::RNDIS_OID_GEN_MEDIA_CONNECT_STATUS => u32_result(
                info,
                if self.link_up { rndis::RNDIS_MEDIA_STATE_CONNECTED } else { rndis::RNDIS_MEDIA_STATE_DISCONNECTED },
            ),
            oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER => u32_result(info, self.filter),
            oid::RNDIS_OID_GEN_MAC_OPTIONS => u32_result(
                info,
                rndis::RNDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA
                    | rndis::RNDIS_MAC_OPTION_TRANSFERS_NOT_PEND
                    | rndis::RNDIS_MAC_OPTION_NO_LOOPBACK
                    | rndis::RNDIS_MAC_OPTION_FULL_DUPLEX,
            ),
            oid::RNDIS_OID_GEN_MAXIMUM_SEND_PACKETS => u32_result(info, self.cfg.max_pkt_per_msg),
            oid::RNDIS_OID_GEN_XMIT_OK => u32_result(info, sat(self.stats.xmit_ok)),
            oid::RNDIS_OID_GEN_RCV_OK => u32_result(info, sat(self.stats.rcv_ok)),
            oid::RNDIS_OID_GEN_XMIT_ERROR => u32_result(info, sat(self.stats.xmit_error)),
            oid::RNDIS_OID_GEN_RCV_ERROR => u32_result(info, sat(self.stats.rcv_error)),
            oid::RNDIS_OID_GEN_RCV_NO_BUFFER => u32_result(info, sat(self.stats.rcv_no_buffer)),
            oid::RNDIS_OID_802_3_PERMANENT_ADDRESS => put_result(info, &self.cfg.mac),
            oid::RNDIS_OID_802_3_CURRENT_ADDRESS => put_result(info, &self.mac),
            oid::RNDIS_OID_802_3_MULTICAST_LIST => {
                let mut n = 0;
                for a in self.multicast_list() {
                    bytes::put(info, n, a).ok_or(rndis::RNDIS_STATUS_BUFFER_TOO_SHORT)?;
                    n += a.len();
                }
                Ok(n)
            }
            oid::RNDIS_OID_802_3_MAXIMUM_LIST_SIZE => u32_result(info, MAX_MULTICAST as u32),
            oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES | oid::OID_TCP_OFFLOAD_CURRENT_CONFIG => {
                let request: Option<oid::NdisObjectHeader> =
                    bytes::read(input, 0).filter(|h: &oid::NdisObjectHeader| h.obj_type == oid::NDIS_OBJECT_TYPE_OFFLOAD);
                self.cfg.offload.write_caps(info, request).map_err(|_| rndis::RNDIS_STATUS_BUFFER_TOO_SHORT)
            }
            oid::OID_GEN_RECEIVE_SCALE_CAPABILITIES => match self.cfg.rss {
                Some(r) => NdisRecvScaleCap::new(r.queues, r.table_entries)
                    .write(info)
                    .map_err(|_| rndis::RNDIS_STATUS_BUFFER_TOO_SHORT),
                None => Err(rndis::RNDIS_STATUS_NOT_SUPPORTED),
            },
            oid::OID_GEN_RECEIVE_SCALE_PARAMETERS => match self.cfg.rss {
                Some(_) => self.rss_params(info),
                None => Err(rndis::RNDIS_STATUS_NOT_SUPPORTED),
            },
            oid::OID_OFFLOAD_ENCAPSULATION => {
                put_result(info, zerocopy::IntoBytes::as_bytes(&oid::NdisOffloadEncapsulation::ethernet()))
            }
            _ => Err(rndis::RNDIS_STATUS_NOT_SUPPORTED),
        }
    }

    /// The current RSS parameters as an `OID_GEN_RECEIVE_SCALE_PARAMETERS` result.
    fn rss_params(&self, info: &mut [u8]) -> QueryResult {
        let mut table = [0u16; MAX_TABLE];
        for (d, s) in table.iter_mut().zip(self.rss.table()) {
            *d = u16::try_from(*s).unwrap_or(u16::MAX);
        }
        let flag = if self.rss.enabled { 0 } else { oid::NDIS_RSS_PARAM_FLAG_DISABLE_RSS };
        let t = table.get(..self.rss.table_len).unwrap_or(&[]);
        RssParams::build(info, flag, self.rss.hash_info, t, self.rss.key()).map_err(|_| rndis::RNDIS_STATUS_BUFFER_TOO_SHORT)
    }

    /// Applies a SET; returns the status to complete it with.
    fn set(&mut self, oid: u32, info: &[u8]) -> u32 {
        let r = match oid {
            oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER => match bytes::u32_at(info, 0) {
                Some(f) => {
                    self.filter = f;
                    Ok(())
                }
                None => Err(rndis::RNDIS_STATUS_INVALID_LENGTH),
            },
            oid::RNDIS_OID_802_3_MULTICAST_LIST => self.set_multicast(info),
            oid::OID_TCP_OFFLOAD_PARAMETERS => self.set_offload(info),
            oid::OID_GEN_RECEIVE_SCALE_PARAMETERS => self.set_rss(info),
            oid::RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER => self.set_config_parameter(info),
            oid::OID_OFFLOAD_ENCAPSULATION => oid::NdisOffloadEncapsulation::parse(info).map(|_| ()).map_err(set_status),
            oid::RNDIS_OID_GEN_CURRENT_LOOKAHEAD => Ok(()),
            _ => Err(rndis::RNDIS_STATUS_NOT_SUPPORTED),
        };
        match r {
            Ok(()) => rndis::RNDIS_STATUS_SUCCESS,
            Err(status) => status,
        }
    }

    fn set_multicast(&mut self, info: &[u8]) -> Result<(), u32> {
        let addrs = oid::multicast_addresses(info).map_err(set_status)?;
        if info.len() / oid::ETH_ALEN > MAX_MULTICAST {
            return Err(rndis::RNDIS_STATUS_MULTICAST_FULL);
        }
        let mut n = 0;
        for (slot, a) in self.mcast.iter_mut().zip(addrs) {
            *slot = a;
            n += 1;
        }
        self.mcast_len = n;
        Ok(())
    }

    fn set_offload(&mut self, info: &[u8]) -> Result<(), u32> {
        let p = NdisOffloadParams::parse(info).map_err(set_status)?;
        let o = &mut self.offload;
        let merge = |cur: &mut u8, new: u8| {
            if new != oid::NDIS_OFFLOAD_PARAMETERS_NO_CHANGE {
                *cur = new;
            }
        };
        merge(&mut o.ip_v4_csum, p.ip_v4_csum);
        merge(&mut o.tcp_ip_v4_csum, p.tcp_ip_v4_csum);
        merge(&mut o.udp_ip_v4_csum, p.udp_ip_v4_csum);
        merge(&mut o.tcp_ip_v6_csum, p.tcp_ip_v6_csum);
        merge(&mut o.udp_ip_v6_csum, p.udp_ip_v6_csum);
        merge(&mut o.lso_v1, p.lso_v1);
        merge(&mut o.ip_sec_v1, p.ip_sec_v1);
        merge(&mut o.lso_v2_ipv4, p.lso_v2_ipv4);
        merge(&mut o.lso_v2_ipv6, p.lso_v2_ipv6);
        merge(&mut o.tcp_connection_ip_v4, p.tcp_connection_ip_v4);
        merge(&mut o.tcp_connection_ip_v6, p.tcp_connection_ip_v6);
        merge(&mut o.ip_sec_v2, p.ip_sec_v2);
        merge(&mut o.ip_sec_v2_ip_v4, p.ip_sec_v2_ip_v4);
        merge(&mut o.rsc_ip_v4, p.rsc_ip_v4);
        merge(&mut o.rsc_ip_v6, p.rsc_ip_v6);
        merge(&mut o.encapsulated_packet_task_offload, p.encapsulated_packet_task_offload);
        merge(&mut o.encapsulation_types, p.encapsulation_types);
        o.header = p.header;
        o.flags = p.flags;
        Ok(())
    }

    fn set_rss(&mut self, info: &[u8]) -> Result<(), u32> {
        let cfg = self.cfg.rss.ok_or(rndis::RNDIS_STATUS_NOT_SUPPORTED)?;
        let p = RssParams::parse(info).map_err(set_status)?;
        if p.disables() {
            self.rss.enabled = false;
            return Ok(());
        }
        if p.entries().any(|e| e >= cfg.queues) {
            return Err(rndis::RNDIS_STATUS_INVALID_DATA);
        }
        if p.flag & oid::NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED == 0 {
            self.rss.hash_info = p.hash_info;
        }
        if !p.table.is_empty() {
            let mut n = 0;
            for (d, e) in self.rss.table.iter_mut().zip(p.entries()) {
                *d = e;
                n += 1;
            }
            self.rss.table_len = n;
        }
        if !p.key.is_empty() {
            bytes::copy_truncated(&mut self.rss.key, p.key);
            self.rss.key_len = p.key.len();
        }
        self.rss.enabled = self.rss.table_len != 0 && self.rss.key_len != 0;
        Ok(())
    }

    fn set_config_parameter(&mut self, info: &[u8]) -> Result<(), u32> {
        let c = oid::ConfigParameter::parse(info).map_err(set_status)?;
        if c.name_is(oid::NWADR_STR) {
            let mac = c.value_mac().ok_or(rndis::RNDIS_STATUS_INVALID_DATA)?;
            if mac[0] & 1 != 0 || mac == [0; 6] {
                return Err(rndis::RNDIS_STATUS_INVALID_DATA);
            }
            self.mac = mac;
        }
        Ok(())
    }

    /// Changes the link state and writes the indication to send (`MEDIA_CONNECT` or
    /// `MEDIA_DISCONNECT`); returns its length.
    pub fn set_link(&mut self, up: bool, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.link_up = up;
        let status = if up { rndis::RNDIS_STATUS_MEDIA_CONNECT } else { rndis::RNDIS_STATUS_MEDIA_DISCONNECT };
        Ok(rndis::build_indicate_status(out, status, &[])?)
    }

    /// Changes the link speed (100 bps units) and writes the `LINK_SPEED_CHANGE` indication.
    pub fn set_link_speed(&mut self, speed_100bps: u32, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.link_speed = speed_100bps;
        Ok(rndis::build_link_speed_indication(out, speed_100bps)?)
    }

    /// Writes a `NETWORK_CHANGE` indication (the guest renews its addresses).
    pub fn network_change(&self, out: &mut [u8]) -> Result<usize, DeviceError> {
        Ok(rndis::build_indicate_status(out, rndis::RNDIS_STATUS_NETWORK_CHANGE, &[])?)
    }

    /// Whether a frame to `dst` passes the packet filter (the adapter must be initialized):
    /// promiscuous takes all; broadcast needs `BROADCAST`; multicast needs `ALL_MULTICAST`,
    /// or `MULTICAST` and the address in the list; unicast needs `DIRECTED` and the current
    /// address.
    pub fn accepts(&self, dst: &[u8; 6]) -> bool {
        if self.state != DeviceState::Initialized {
            return false;
        }
        let f = self.filter;
        if f & oid::NDIS_PACKET_TYPE_PROMISCUOUS != 0 {
            return true;
        }
        if *dst == [0xff; 6] {
            return f & oid::NDIS_PACKET_TYPE_BROADCAST != 0;
        }
        if dst[0] & 1 != 0 {
            return f & oid::NDIS_PACKET_TYPE_ALL_MULTICAST != 0
                || (f & oid::NDIS_PACKET_TYPE_MULTICAST != 0 && self.multicast_list().contains(dst));
        }
        f & oid::NDIS_PACKET_TYPE_DIRECTED != 0 && *dst == self.mac
    }

    /// The receive channel for a frame and the hash to report with it: with RSS on, the
    /// Toeplitz hash of the enabled types ([`toeplitz::hash_frame`]) and the indirection
    /// table entry for it; otherwise (or for frames the types do not cover) channel 0 and no
    /// hash.
    pub fn rx_queue(&self, frame: &[u8]) -> (u32, Option<toeplitz::FlowHash>) {
        if !self.rss.enabled {
            return (0, None);
        }
        match toeplitz::hash_frame(self.rss.key(), self.rss.hash_info, frame) {
            Some(h) => (self.rss.queue_for_hash(h.hash).unwrap_or(0), Some(h)),
            None => (0, None),
        }
    }
}
