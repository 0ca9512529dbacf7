//! NetVSP: the synthetic NIC (class `vmbus_proto::guid::NIC`, `nic0`, `nic1`, ...) the
//! guest's network VSC drives, attached to a TAP device, a software switch or a loopback
//! ([`crate::net`]).
//!
//! Every wire definition and the protocol logic come from `netvsc_proto`: NVSP messages and
//! their validating parser (`nvsp`), RNDIS messages and batches (`rndis`, `packet`, `ppi`),
//! the RNDIS adapter that answers INIT/QUERY/SET/... and keeps the packet filter and RSS
//! state (`device::RndisDevice`). This module is the plumbing, as described in
//! `/work/notes/netvsc-contract.md`:
//!
//! - one thread per open channel (primary and sub-channels) drains the guest's ring: NVSP
//!   set-up requests are answered with completion packets, `SEND_RNDIS_PKT` messages are read
//!   out of the guest's send-buffer section and/or GPA ranges (every index, size and page
//!   checked), their RNDIS messages handled (data frames get their offloads applied and go to
//!   the backend on the channel's queue; control messages go to the RNDIS adapter) and the
//!   packet completed;
//! - one receive thread per NIC writes everything the host sends the guest (frames from the
//!   backend, RNDIS completions and indications) into free sub-allocations of the guest's
//!   receive buffer and sends transfer-page packets (up to 64 ranges each) on the channel RSS
//!   picks; the guest's completions return the sub-allocations. When none is free, frames
//!   wait in a bounded queue and are dropped (`rx_no_buffer`) beyond it;
//! - nothing the guest sends can make the host panic or touch memory outside the guest's
//!   buffers: bad messages are counted (`bad=`), answered with a failure status where the
//!   protocol has one, and dropped;
//! - control commands (`dev nicN ...`): `stats`, `link up|down`, `speed MBPS`,
//!   `network-change`, and `inject KIND` (one hostile message for the guest's tests).
//!
//! Lock order: the VMBus host's state lock, then [`NetVsp`]'s protocol state, then its receive
//! queue. The VMBus host calls `open`/`close` with its lock held, so nothing here calls into
//! the VMBus host while holding the protocol state.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use netvsc_proto::device::{self, DeviceConfig, DeviceState, Reply, RndisDevice, RssConfig};
use netvsc_proto::nvsp::{
    self, Nvsp1SendRndisPacket, NvspMessage, NvspVersion, ReceiveBufferComplete, ReceiveBufferLayout, SendBufferLayout, Sender,
};
use netvsc_proto::oid::{self, NdisOffload};
use netvsc_proto::packet::{self, RxInfo};
use netvsc_proto::ppi::{RndisPerPacketInfo, RxChecksum, VlanInfo};
use netvsc_proto::rndis::{self, Messages, RndisMessage, RndisMessageHeader, RndisPacket};
use vmbus_proto::guid::{self, Guid};
use vmbus_proto::packet::{GpaDirectView, PacketType, TransferPageHeader, TransferPageRange};
use vmbus_proto::ring::{IncomingPacket, OutgoingPacket};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::channel::HostChannel;
use super::{DeviceModel, VmbusHost};
use crate::guestmem::GuestRam;
use crate::net::{offload, Backend, Frame, FrameSink};

/// Most channels (primary + sub-channels) a NIC grants.
pub const MAX_QUEUES: u16 = 16;
/// Default channel count.
pub const DEFAULT_QUEUES: u16 = 4;
/// Largest MTU a NIC may be configured with.
pub const MAX_MTU: u32 = 9000;
/// Smallest MTU.
pub const MIN_MTU: u32 = nvsp::NETVSC_MTU_MIN;
/// Receive-buffer sub-allocation size: a 9000-byte MTU frame with a VLAN tag, the RNDIS
/// header and every receive PPI fit.
pub const RECV_SECTION_SIZE: u32 = 9216;
/// Send-buffer section size announced to the guest.
pub const SEND_SECTION_SIZE: u32 = nvsp::NETVSC_SEND_SECTION_SIZE;
/// `max_mdl_chain_len` of INIT_COMPLETE.
const MAX_MDL_CHAIN_LEN: u32 = 34;
/// Most ranges in one transfer-page packet.
const MAX_RANGES: usize = 64;
/// Largest RNDIS message (batch) the guest may send in one `SEND_RNDIS_PKT`: a 64 KiB LSO
/// frame, its headers and slack for a batch.
const MAX_TX_BYTES: usize = 128 << 10;
/// Largest LSO frame accepted (an IP datagram of 64 KiB plus link headers).
const MAX_LSO_FRAME: usize = 65535 + 14 + 4;
/// Frames waiting for receive sections before new ones are dropped.
const RX_QUEUE_FRAMES: usize = 2048;
/// Control messages (completions, indications) waiting for receive sections.
const RX_QUEUE_CONTROL: usize = 256;
/// How long a packet to the guest may wait for room in its ring.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The versions offered, oldest first.
const VERSIONS: [NvspVersion; 6] =
    [NvspVersion::V1, NvspVersion::V2, NvspVersion::V4, NvspVersion::V5, NvspVersion::V6, NvspVersion::V61];
/// The transaction id of `inject send-completion-unknown` (never one the guest used: guest
/// ids of real requests are its own).
pub const INJECT_UNKNOWN_TRANS_ID: u64 = 0xdead_beef_0bad_c0de;
/// The status of `inject status-unknown`.
pub const INJECT_UNKNOWN_STATUS: u32 = 0x4002_0099;
/// The pageset id of `inject xfer-wrong-pageset`.
pub const INJECT_WRONG_PAGESET: u16 = 0xbeef;
/// The hostile messages `inject` sends.
pub const INJECT_KINDS: [&str; 6] = [
    "rndis-len-past-buffer",
    "rx-section-out-of-range",
    "send-completion-unknown",
    "status-unknown",
    "ppi-bad-offset",
    "xfer-wrong-pageset",
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------
// Configuration.

/// Where a NIC's frames go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendSpec {
    /// `tap=NAME[,netns=NS]`.
    Tap {
        /// The TAP device.
        name: String,
        /// The network namespace it lives in (`/run/netns/NS`, or a path).
        netns: Option<String>,
    },
    /// `switch=NAME`.
    Switch(String),
    /// `loopback`.
    Loopback,
}

/// A `--nic` specification (see the contract): `tap=NAME[,netns=NS] | switch=NAME |
/// loopback`, `[,mac=..][,queues=N][,mtu=N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NicSpec {
    /// The backend.
    pub backend: BackendSpec,
    /// Permanent MAC address.
    pub mac: [u8; 6],
    /// Channels granted (primary + sub-channels).
    pub queues: u16,
    /// Largest MTU supported.
    pub mtu: u32,
}

/// Parses `xx:xx:xx:xx:xx:xx`.
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        bail!("MAC {s:?} is not six bytes xx:xx:xx:xx:xx:xx");
    }
    let mut mac = [0u8; 6];
    for (d, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            bail!("MAC {s:?}: {p:?} is not two hex digits");
        }
        *d = u8::from_str_radix(p, 16).with_context(|| format!("MAC {s:?}: {p:?} is not hex"))?;
    }
    if mac[0] & 1 != 0 || mac == [0; 6] {
        bail!("MAC {s:?} is not a unicast address");
    }
    Ok(mac)
}

fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

impl NicSpec {
    /// Parses the specification of NIC number `index`.
    pub fn parse(s: &str, index: u8) -> Result<NicSpec> {
        let mut backend = None;
        let mut netns = None;
        let mut spec = NicSpec {
            backend: BackendSpec::Loopback,
            mac: [0x00, 0x15, 0x5d, 0x00, 0x00, 0x10u8.wrapping_add(index)],
            queues: DEFAULT_QUEUES,
            mtu: MAX_MTU,
        };
        for item in s.split(',').filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            let set = |b: &mut Option<BackendSpec>, new: BackendSpec| -> Result<()> {
                if b.is_some() {
                    bail!("a NIC has one backend (tap=, switch= or loopback)");
                }
                *b = Some(new);
                Ok(())
            };
            match k {
                "tap" if !v.is_empty() => {
                    if v.len() >= 16 {
                        bail!("tap={v}: an interface name has at most 15 characters");
                    }
                    set(&mut backend, BackendSpec::Tap { name: v.to_string(), netns: None })?
                }
                "switch" if !v.is_empty() => set(&mut backend, BackendSpec::Switch(v.to_string()))?,
                "loopback" if v.is_empty() => set(&mut backend, BackendSpec::Loopback)?,
                "netns" if !v.is_empty() => netns = Some(v.to_string()),
                "mac" => spec.mac = parse_mac(v)?,
                "queues" => {
                    spec.queues = v.parse().ok().filter(|q| (1..=MAX_QUEUES).contains(q)).with_context(|| format!("queues={v}: 1..={MAX_QUEUES}"))?
                }
                "mtu" => {
                    spec.mtu = v.parse().ok().filter(|m| (MIN_MTU..=MAX_MTU).contains(m)).with_context(|| format!("mtu={v}: {MIN_MTU}..={MAX_MTU}"))?
                }
                _ => bail!("unknown NIC option {item:?} (tap=NAME, netns=NS, switch=NAME, loopback, mac=, queues=, mtu=)"),
            }
        }
        spec.backend = match (backend, netns) {
            (None, _) => bail!("a NIC needs a backend: tap=NAME, switch=NAME or loopback"),
            (Some(BackendSpec::Tap { name, .. }), ns) => BackendSpec::Tap { name, netns: ns },
            (Some(_), Some(_)) => bail!("netns= goes with tap="),
            (Some(b), None) => b,
        };
        Ok(spec)
    }

    /// Opens the backend.
    pub fn open_backend(&self) -> Result<Arc<dyn Backend>> {
        let b: Arc<dyn Backend> = match &self.backend {
            BackendSpec::Tap { name, netns } => crate::net::tap::Tap::open(name, usize::from(self.queues), netns.as_deref())?,
            BackendSpec::Switch(name) => crate::net::switch::Switch::get(name)?.port(),
            BackendSpec::Loopback => crate::net::Loopback::new(),
        };
        Ok(b)
    }
}

// ---------------------------------------------------------------------------------------
// Guest buffers.

const PAGE: usize = 4096;

/// A guest buffer described by a GPADL (every page checked to be guest RAM when the GPADL
/// was created).
struct GuestBuf {
    pfns: Vec<u64>,
}

impl GuestBuf {
    fn len(&self) -> usize {
        self.pfns.len().saturating_mul(PAGE)
    }

    /// Calls `f(gpa, range in the caller's buffer)` for the page pieces of `off..off+len`.
    fn pieces(&self, off: usize, len: usize, mut f: impl FnMut(u64, std::ops::Range<usize>) -> bool) -> bool {
        let Some(end) = off.checked_add(len) else { return false };
        if end > self.len() {
            return false;
        }
        let mut done = 0;
        while done < len {
            let o = off + done;
            let (page, in_page) = (o / PAGE, o % PAGE);
            let n = (PAGE - in_page).min(len - done);
            let Some(gpa) = self.pfns.get(page).and_then(|p| p.checked_mul(PAGE as u64)).and_then(|g| g.checked_add(in_page as u64))
            else {
                return false;
            };
            if !f(gpa, done..done + n) {
                return false;
            }
            done += n;
        }
        true
    }

    fn write(&self, ram: &GuestRam, off: usize, data: &[u8]) -> bool {
        self.pieces(off, data.len(), |gpa, r| ram.write(gpa, &data[r]).is_ok())
    }

    fn read(&self, ram: &GuestRam, off: usize, buf: &mut [u8]) -> bool {
        let len = buf.len();
        self.pieces(off, len, |gpa, r| ram.read(gpa, &mut buf[r]).is_ok())
    }
}

/// Reads the data of a GPA-direct packet's ranges (validated: in-page offsets, PFNs present,
/// every piece guest RAM, at most `max` bytes in all) and appends it to `out`.
fn read_gpa_ranges(ram: &GuestRam, ext: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let view = GpaDirectView::parse(ext).map_err(|e| e.as_str().to_string())?;
    if view.total_bytes() > max as u64 {
        return Err(format!("GPA ranges hold {} bytes, more than {max}", view.total_bytes()));
    }
    for r in view.ranges() {
        let mut left = r.range.byte_count as usize;
        let mut off = r.range.byte_offset as usize;
        for pfn in r.pfns.iter() {
            if left == 0 {
                break;
            }
            let gpa = pfn.checked_mul(PAGE as u64).and_then(|a| a.checked_add(off as u64)).ok_or("page number out of range")?;
            let n = (PAGE - off).min(left);
            let start = out.len();
            out.resize(start + n, 0);
            ram.read(gpa, &mut out[start..]).map_err(|e| e.to_string())?;
            left -= n;
            off = 0;
        }
        if left != 0 {
            return Err("GPA range shorter than its byte count".into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// State.

/// The receive buffer.
struct RecvBuf {
    gpadl: u32,
    /// The transfer page set id the guest named (`NETVSC_RECEIVE_BUFFER_ID`).
    id: u16,
    mem: GuestBuf,
    layout: ReceiveBufferLayout,
    free: Vec<u32>,
}

/// The send buffer.
struct SendBuf {
    mem: GuestBuf,
    layout: SendBufferLayout,
}

/// A transfer-page packet the guest has not completed yet.
struct Pending {
    /// [`Nic::generation`] when it was sent (sections of an older buffer are not returned).
    generation: u64,
    sections: Vec<u32>,
}

/// The protocol state of one NIC, from the primary channel's opening to its closing.
struct Nic {
    host: Option<Weak<VmbusHost>>,
    /// Open channels by sub-channel index (0: primary).
    channels: Vec<Option<Arc<HostChannel>>>,
    version: Option<NvspVersion>,
    /// The MTU of the guest's NDIS config (frame size - 14).
    ndis_mtu: Option<u32>,
    recv: Option<RecvBuf>,
    send: Option<SendBuf>,
    rndis: RndisDevice,
    subchannels: u16,
    datapath_vf: bool,
    pending: HashMap<u64, Pending>,
    next_trans: u64,
    /// Bumped whenever the receive buffer goes away.
    generation: u64,
}

impl Nic {
    fn primary(&self) -> Option<&Arc<HostChannel>> {
        self.channels.first().and_then(|c| c.as_ref())
    }

    fn channel(&self, i: usize) -> Option<&Arc<HostChannel>> {
        self.channels.get(i).and_then(|c| c.as_ref()).filter(|c| !c.is_closed())
    }

    fn drop_recv(&mut self) {
        self.recv = None;
        self.pending.clear();
        self.generation = self.generation.wrapping_add(1);
    }
}

/// What waits for a receive section.
enum Outgoing {
    /// An RNDIS control message (completion or indication) for the primary channel.
    Control(Vec<u8>),
    /// A frame from the backend.
    Data(Frame),
}

#[derive(Default)]
struct RxQueue {
    items: VecDeque<Outgoing>,
    frames: usize,
    control: usize,
    /// Something changed (new items, sections returned): the receive thread looks again.
    kick: bool,
}

/// Counters.
#[derive(Default)]
pub struct NicStats {
    /// Frames delivered to the guest.
    pub rx_frames: AtomicU64,
    /// Bytes of those frames.
    pub rx_bytes: AtomicU64,
    /// Frames from the backend dropped (link down, adapter not ready, too large, no buffer).
    pub rx_dropped: AtomicU64,
    /// Frames dropped because no receive section was free and the queue was full.
    pub rx_no_buffer: AtomicU64,
    /// Frames the packet filter did not pass.
    pub rx_filtered: AtomicU64,
    /// Frames the guest sent that went to the backend.
    pub tx_frames: AtomicU64,
    /// Bytes of those frames.
    pub tx_bytes: AtomicU64,
    /// Frames the guest sent that were dropped (link down, bad offload request, too large).
    pub tx_dropped: AtomicU64,
    /// Bad messages from the guest (malformed, unexpected, out of range).
    pub bad: AtomicU64,
    /// Control messages answered.
    pub control: AtomicU64,
    /// Status indications sent.
    pub indications: AtomicU64,
    /// Hostile messages injected.
    pub injected: AtomicU64,
    per_channel_rx: [AtomicU64; MAX_QUEUES as usize],
    per_channel_tx: [AtomicU64; MAX_QUEUES as usize],
}

/// One synthetic NIC.
pub struct NetVsp {
    name: String,
    instance: Guid,
    spec: NicSpec,
    backend: Arc<dyn Backend>,
    me: Weak<NetVsp>,
    st: Mutex<Nic>,
    rxq: Mutex<RxQueue>,
    rx_wake: Condvar,
    link_up: AtomicBool,
    link_speed: AtomicU64,
    /// The RNDIS adapter is initialized (a copy of its state for the transmit path).
    rndis_ready: AtomicBool,
    /// Counters.
    pub stats: NicStats,
}

impl NetVsp {
    /// NIC `name` (number `index`) with its backend opened.
    pub fn new(name: &str, index: u8, spec: NicSpec) -> Result<Arc<NetVsp>> {
        let backend = spec.open_backend().with_context(|| format!("{name}: opening its backend"))?;
        Self::with_backend(name, index, spec, backend)
    }

    /// NIC `name` over an already open backend.
    pub fn with_backend(name: &str, index: u8, spec: NicSpec, backend: Arc<dyn Backend>) -> Result<Arc<NetVsp>> {
        let i = u32::from(index);
        let instance = Guid::from_fields(0x5e7c_0000 | i, 0x4e1c, 0x4f5a, [0x9d, 0x10, 0, 0, 0, 0, 0, index]);
        let nic = Arc::new_cyclic(|me| NetVsp {
            name: name.to_string(),
            instance,
            backend: backend.clone(),
            me: me.clone(),
            st: Mutex::new(Nic {
                host: None,
                channels: Vec::new(),
                version: None,
                ndis_mtu: None,
                recv: None,
                send: None,
                rndis: RndisDevice::new(Self::device_config(&spec, true, device::LINK_SPEED_10G)),
                subchannels: 0,
                datapath_vf: false,
                pending: HashMap::new(),
                next_trans: 1,
                generation: 0,
            }),
            spec,
            rxq: Mutex::new(RxQueue::default()),
            rx_wake: Condvar::new(),
            link_up: AtomicBool::new(true),
            link_speed: AtomicU64::new(u64::from(device::LINK_SPEED_10G)),
            rndis_ready: AtomicBool::new(false),
            stats: NicStats::default(),
        });
        let sink: Arc<dyn FrameSink> = nic.clone();
        backend.attach(Arc::downgrade(&sink))?;
        let w = Arc::downgrade(&nic);
        std::thread::Builder::new().name(format!("{name}-rx")).spawn(move || rx_thread(w))?;
        Ok(nic)
    }

    fn device_config(spec: &NicSpec, link_up: bool, speed: u32) -> DeviceConfig {
        let mut c = DeviceConfig::new(spec.mac);
        c.mtu = spec.mtu;
        c.link_up = link_up;
        c.link_speed_100bps = speed;
        c.offload = NdisOffload::typical(device::HYPERV_LSO_MAX, false);
        c.rss = (spec.queues > 1).then_some(RssConfig { queues: u32::from(spec.queues), table_entries: oid::ITAB_NUM as u16 });
        c
    }

    fn bad(&self, ch: &HostChannel, why: std::fmt::Arguments<'_>) {
        let n = self.stats.bad.fetch_add(1, Ordering::Relaxed);
        if n < 100 {
            eprintln!("pvg-host: {} channel {}: bad message from the guest: {why}", self.name, ch.relid);
        }
    }

    fn kick_rx(&self) {
        lock(&self.rxq).kick = true;
        self.rx_wake.notify_all();
    }

    fn queue_control(&self, msg: Vec<u8>) {
        let mut q = lock(&self.rxq);
        if q.control >= RX_QUEUE_CONTROL {
            drop(q);
            eprintln!("pvg-host: {}: control message dropped: too many waiting for receive sections", self.name);
            return;
        }
        q.control += 1;
        q.items.push_back(Outgoing::Control(msg));
        q.kick = true;
        drop(q);
        self.rx_wake.notify_all();
    }

    // -- packets from the guest -----------------------------------------------------------

    fn serve(self: Arc<Self>, ch: Arc<HostChannel>) {
        let mut buf = Vec::new();
        while ch.wait(Duration::from_millis(100)) {
            let r = ch.drain(&mut buf, |p, raw| self.packet(&ch, p, raw));
            if let Err(e) = r {
                eprintln!("pvg-host: {} channel {}: {}; stopping it", self.name, ch.relid, e.as_str());
                return;
            }
        }
    }

    fn packet(&self, ch: &Arc<HostChannel>, p: &IncomingPacket, raw: &[u8]) {
        let (hl, pl) = (p.header_len() as usize, p.packet_len() as usize);
        let (Some(payload), Some(ext)) = (raw.get(hl..pl), raw.get(16..hl)) else {
            return self.bad(ch, format_args!("packet lengths beyond the packet"));
        };
        match p.packet_type() {
            Some(PacketType::Completion) => self.guest_completion(ch, p.trans_id(), payload),
            Some(PacketType::DataInband) => self.nvsp(ch, p, payload, None),
            Some(PacketType::DataUsingGpaDirect) => self.nvsp(ch, p, payload, Some(ext)),
            _ => self.bad(ch, format_args!("packet type {}", p.raw_type())),
        }
    }

    /// The guest completed a transfer-page packet: its sections are free again.
    fn guest_completion(&self, ch: &HostChannel, trans_id: u64, payload: &[u8]) {
        let ok = matches!(nvsp::parse(payload, Sender::Guest), Ok(NvspMessage::SendRndisPacketComplete(_)));
        let mut st = lock(&self.st);
        let Some(pend) = st.pending.remove(&trans_id) else {
            drop(st);
            return self.bad(ch, format_args!("completion for transaction {trans_id:#x}, which the host never sent"));
        };
        if pend.generation == st.generation {
            if let Some(r) = st.recv.as_mut() {
                r.free.extend_from_slice(&pend.sections);
            }
        }
        drop(st);
        if !ok {
            self.bad(ch, format_args!("completion {trans_id:#x} without SEND_RNDIS_PKT_COMPLETE"));
        }
        self.kick_rx();
    }

    fn complete(&self, ch: &HostChannel, p: &IncomingPacket, msg: Option<&NvspMessage<'_>>) {
        if !p.completion_requested() {
            return;
        }
        let mut out = [0u8; 128];
        let n = match msg {
            Some(m) => match m.encode(&mut out) {
                Ok(n) => n,
                Err(e) => return eprintln!("pvg-host: {}: cannot encode a completion: {e}", self.name),
            },
            None => 0,
        };
        if let Err(e) = ch.send(&OutgoingPacket::completion(p.trans_id(), &[&out[..n]]), SEND_TIMEOUT) {
            eprintln!("pvg-host: {} channel {}: completion not sent: {e}", self.name, ch.relid);
        }
    }

    fn send_inband(&self, ch: &HostChannel, m: &NvspMessage<'_>) {
        let mut out = [0u8; 128];
        let Ok(n) = m.encode(&mut out) else { return };
        if let Err(e) = ch.send(&OutgoingPacket::inband(0, 0, &[&out[..n]]), SEND_TIMEOUT) {
            eprintln!("pvg-host: {} channel {}: message not sent: {e}", self.name, ch.relid);
        }
    }

    fn nvsp(&self, ch: &Arc<HostChannel>, p: &IncomingPacket, payload: &[u8], gpa: Option<&[u8]>) {
        let version = lock(&self.st).version;
        let parsed = match version {
            Some(v) => nvsp::parse_negotiated(payload, Sender::Guest, v),
            None => nvsp::parse(payload, Sender::Guest),
        };
        let m = match parsed {
            Ok(m) => m,
            Err(e) => return self.bad(ch, format_args!("{e} ({e:?})")),
        };
        let primary = ch.sub_index == 0;
        match m {
            NvspMessage::Init(i) => {
                if !primary {
                    return self.bad(ch, format_args!("INIT on a sub-channel"));
                }
                let v = NvspVersion::negotiate(i.min_protocol_ver, i.max_protocol_ver, &VERSIONS);
                let mut st = lock(&self.st);
                if st.version.is_some() && st.version != v {
                    // A second INIT (driver re-initialising without closing): start over.
                    self.reset_protocol(&mut st);
                }
                st.version = v;
                drop(st);
                self.complete(ch, p, Some(&NvspMessage::init_complete(v, MAX_MDL_CHAIN_LEN)));
            }
            _ if version.is_none() => self.bad(ch, format_args!("message type {} before INIT", m.msg_type())),
            NvspMessage::SendNdisVersion(v) => {
                let major = v.ndis_major_ver;
                if major != 6 {
                    self.bad(ch, format_args!("NDIS version {major} (only 6.x)"));
                }
            }
            NvspMessage::SendNdisConfig(c) => {
                // The guest announces the largest MTU it may use (frames are checked against
                // the host's MTU on their own).
                let mtu = c.mtu;
                if !(MIN_MTU + 14..=MAX_MTU + 14).contains(&mtu) {
                    return self.bad(ch, format_args!("NDIS config MTU field {mtu} outside {}..={}", MIN_MTU + 14, MAX_MTU + 14));
                }
                lock(&self.st).ndis_mtu = Some(mtu - 14);
            }
            NvspMessage::SendReceiveBuffer(b) => {
                let r = self.set_recv_buffer(ch, b.gpadl_handle, b.id, version);
                let reply = match r {
                    Ok(layout) => NvspMessage::SendReceiveBufferComplete(ReceiveBufferComplete::single(layout.section())),
                    Err(why) => {
                        self.bad(ch, format_args!("receive buffer: {why}"));
                        NvspMessage::SendReceiveBufferComplete(ReceiveBufferComplete::failed(nvsp::NVSP_STAT_FAIL))
                    }
                };
                self.complete(ch, p, Some(&reply));
            }
            NvspMessage::SendSendBuffer(b) => {
                let r = self.set_send_buffer(ch, b.gpadl_handle);
                let status = match &r {
                    Ok(()) => nvsp::NVSP_STAT_SUCCESS,
                    Err(why) => {
                        self.bad(ch, format_args!("send buffer: {why}"));
                        nvsp::NVSP_STAT_FAIL
                    }
                };
                self.complete(ch, p, Some(&NvspMessage::send_buffer_complete(status, SEND_SECTION_SIZE)));
                if r.is_ok() && version.is_some_and(|v| v.supports_vrss()) {
                    let n = u32::from(lock(&self.st).subchannels) + 1;
                    self.send_inband(ch, &NvspMessage::send_table_round_robin(n));
                }
            }
            NvspMessage::RevokeReceiveBuffer(_) => lock(&self.st).drop_recv(),
            NvspMessage::RevokeSendBuffer(_) => lock(&self.st).send = None,
            NvspMessage::SendRndisPacket(m) => {
                // Complete as soon as the data is copied out (the guest reuses its section),
                // then hand the frames to the backend.
                let (status, frames) = self.rndis_packet(ch, &m, gpa);
                self.complete(ch, p, Some(&NvspMessage::rndis_packet_complete(status)));
                if !frames.is_empty() {
                    let q = usize::from(ch.sub_index);
                    if let Some(c) = self.stats.per_channel_tx.get(q) {
                        c.fetch_add(frames.len() as u64, Ordering::Relaxed);
                    }
                    self.backend.transmit(q, frames);
                }
            }
            NvspMessage::SubchannelRequest(r) => {
                let (op, n) = (r.op, r.num_subchannels);
                if !primary || op != nvsp::NVSP_SUBCHANNEL_ALLOCATE || n == 0 {
                    self.bad(ch, format_args!("sub-channel request op {op} for {n} on channel index {}", ch.sub_index));
                    return self.complete(ch, p, Some(&NvspMessage::subchannel_complete(nvsp::NVSP_STAT_FAIL, 0)));
                }
                let max = self.spec.queues - 1;
                let want = u16::try_from(n).unwrap_or(u16::MAX).min(max);
                let host = lock(&self.st).host.as_ref().and_then(|h| h.upgrade());
                self.complete(ch, p, Some(&NvspMessage::subchannel_complete(nvsp::NVSP_STAT_SUCCESS, u32::from(want))));
                // Sub-channels offered before (a re-initialising guest) stay offered.
                let made = host.map_or(0, |h| h.offer_subchannels(ch.relid, want, max));
                let granted = {
                    let mut st = lock(&self.st);
                    st.subchannels = st.subchannels.max(want);
                    st.subchannels
                };
                eprintln!("pvg-host: {}: {n} sub-channels asked for, {want} granted, {made} newly offered", self.name);
                self.send_inband(ch, &NvspMessage::send_table_round_robin(u32::from(granted) + 1));
            }
            NvspMessage::SwitchDataPath(d) => {
                let dp = d.active_datapath;
                if dp != nvsp::NVSP_DATAPATH_SYNTHETIC && dp != nvsp::NVSP_DATAPATH_VF {
                    return self.bad(ch, format_args!("data path {dp}"));
                }
                lock(&self.st).datapath_vf = dp == nvsp::NVSP_DATAPATH_VF;
                self.complete(ch, p, None);
            }
            other => self.bad(ch, format_args!("message type {} is not served", other.msg_type())),
        }
    }

    fn set_recv_buffer(&self, ch: &HostChannel, gpadl: u32, id: u16, version: Option<NvspVersion>) -> Result<ReceiveBufferLayout, String> {
        if ch.sub_index != 0 {
            return Err("on a sub-channel".into());
        }
        let host = lock(&self.st).host.as_ref().and_then(|h| h.upgrade()).ok_or("host going away")?;
        let pfns = host.gpadl_pfns(ch.relid, gpadl).ok_or_else(|| format!("unknown GPADL {gpadl:#x}"))?;
        let mem = GuestBuf { pfns };
        let max = version.map_or(nvsp::NETVSC_RECEIVE_BUFFER_SIZE, |v| v.max_receive_buffer_size());
        let size = u32::try_from(mem.len()).ok().filter(|s| *s <= max).ok_or_else(|| format!("{} bytes, more than {max}", mem.len()))?;
        let layout = ReceiveBufferLayout::host(size, RECV_SECTION_SIZE).map_err(|e| e.to_string())?;
        if layout.section_count == 0 {
            return Err(format!("{size} bytes hold no {RECV_SECTION_SIZE}-byte section"));
        }
        let mut st = lock(&self.st);
        if st.recv.is_some() {
            return Err("a receive buffer is already set".into());
        }
        let free = (0..layout.section_count).rev().collect();
        st.recv = Some(RecvBuf { gpadl, id, mem, layout, free });
        drop(st);
        self.kick_rx();
        Ok(layout)
    }

    fn set_send_buffer(&self, ch: &HostChannel, gpadl: u32) -> Result<(), String> {
        if ch.sub_index != 0 {
            return Err("on a sub-channel".into());
        }
        let host = lock(&self.st).host.as_ref().and_then(|h| h.upgrade()).ok_or("host going away")?;
        let pfns = host.gpadl_pfns(ch.relid, gpadl).ok_or_else(|| format!("unknown GPADL {gpadl:#x}"))?;
        let mem = GuestBuf { pfns };
        let size = u32::try_from(mem.len())
            .ok()
            .filter(|s| *s <= nvsp::NETVSC_SEND_BUFFER_SIZE)
            .ok_or_else(|| format!("{} bytes, more than {}", mem.len(), nvsp::NETVSC_SEND_BUFFER_SIZE))?;
        let layout = SendBufferLayout::new(size, SEND_SECTION_SIZE).map_err(|e| e.to_string())?;
        let mut st = lock(&self.st);
        if st.send.is_some() {
            return Err("a send buffer is already set".into());
        }
        st.send = Some(SendBuf { mem, layout });
        Ok(())
    }

    /// `SEND_RNDIS_PKT` from the guest: reads its RNDIS message(s) and handles them; returns
    /// the completion status and the data frames to transmit.
    fn rndis_packet(&self, ch: &Arc<HostChannel>, m: &Nvsp1SendRndisPacket, gpa: Option<&[u8]>) -> (u32, Vec<Frame>) {
        let mut frames = Vec::new();
        let status = self.rndis_messages(ch, m, gpa, &mut frames);
        (status, frames)
    }

    fn rndis_messages(&self, ch: &Arc<HostChannel>, m: &Nvsp1SendRndisPacket, gpa: Option<&[u8]>, frames: &mut Vec<Frame>) -> u32 {
        let invalid = nvsp::NVSP_STAT_INVALID_RNDIS_PKT;
        let Some(host) = lock(&self.st).host.as_ref().and_then(|h| h.upgrade()) else { return invalid };
        let ram = host.hv().ram().clone();
        let mut bytes = Vec::new();
        {
            let st = lock(&self.st);
            let section = match st.send.as_ref().map(|s| (s, s.layout.message_range(m))) {
                None if m.send_buf_section_index == nvsp::NETVSC_INVALID_INDEX => None,
                None => {
                    drop(st);
                    self.bad(ch, format_args!("send section {} without a send buffer", { m.send_buf_section_index }));
                    return invalid;
                }
                Some((_, Ok(None))) => None,
                Some((s, Ok(Some(r)))) => Some((s, r)),
                Some((_, Err(e))) => {
                    drop(st);
                    self.bad(ch, format_args!("{e} ({e:?})"));
                    return invalid;
                }
            };
            if let Some((s, r)) = section {
                bytes.resize(r.len(), 0);
                if !s.mem.read(&ram, r.start, &mut bytes) {
                    drop(st);
                    self.bad(ch, format_args!("send section not readable"));
                    return invalid;
                }
                if crate::leak::enabled() {
                    crate::leak::scan(&format!("RNDIS message in send section {}", { m.send_buf_section_index }), &bytes);
                }
            }
        }
        if let Some(ext) = gpa {
            let before = bytes.len();
            if let Err(why) = read_gpa_ranges(&ram, ext, MAX_TX_BYTES, &mut bytes) {
                self.bad(ch, format_args!("RNDIS packet ranges: {why}"));
                return invalid;
            }
            if crate::leak::enabled() {
                crate::leak::scan("RNDIS message in GPA ranges", &bytes[before..]);
            }
        }
        if bytes.is_empty() {
            self.bad(ch, format_args!("RNDIS packet without a message"));
            return invalid;
        }
        let mut status = nvsp::NVSP_STAT_SUCCESS;
        for msg in Messages::new(&bytes) {
            match msg {
                Ok(RndisMessage::Packet(pm)) => {
                    if let Some(f) = self.tx_frame(ch, &pm) {
                        frames.push(f);
                    }
                }
                Ok(other) => self.control(ch, &other),
                Err(e) => {
                    self.bad(ch, format_args!("RNDIS: {e} ({e:?})"));
                    status = invalid;
                    break;
                }
            }
        }
        status
    }

    /// An RNDIS control message: the adapter answers it (the answer goes out in a receive
    /// section on the primary channel).
    fn control(&self, ch: &HostChannel, m: &RndisMessage<'_>) {
        let mut out = vec![0u8; RECV_SECTION_SIZE as usize];
        let r = {
            let mut st = lock(&self.st);
            let r = st.rndis.handle(m, &mut out);
            let ready = st.rndis.state() == DeviceState::Initialized;
            self.rndis_ready.store(ready, Ordering::Relaxed);
            if !ready {
                // HALT (or a refused INIT): what waits for the guest is dropped.
                let mut q = lock(&self.rxq);
                q.items.retain(|i| matches!(i, Outgoing::Control(_)));
                q.frames = 0;
            }
            r
        };
        match r {
            Ok(Reply::Message(n)) => {
                self.stats.control.fetch_add(1, Ordering::Relaxed);
                out.truncate(n);
                self.queue_control(out);
            }
            Ok(Reply::None) => {}
            Err(e) => self.bad(ch, format_args!("RNDIS control message {:#x}: {e}", m.msg_type())),
        }
    }

    /// A data message from the guest: the frame with its offloads done, or `None` (dropped,
    /// counted).
    fn tx_frame(&self, ch: &HostChannel, pm: &packet::PacketMessage<'_>) -> Option<Frame> {
        if !self.rndis_ready.load(Ordering::Relaxed) || !self.link_up.load(Ordering::Relaxed) {
            self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let info = pm.info();
        let mut data = pm.data.to_vec();
        let drop = |why: std::fmt::Arguments<'_>| {
            self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
            self.bad(ch, why);
            None
        };
        let mut gso = None;
        if let Some(lso) = info.lso_v2() {
            if data.len() > MAX_LSO_FRAME {
                return drop(format_args!("LSO frame of {} bytes", data.len()));
            }
            match offload::prepare_lso(&mut data, usize::from(lso.tcp_header_offset), lso.mss, lso.ipv6) {
                Ok(g) => gso = Some(g),
                Err(why) => return drop(format_args!("{why}")),
            }
        } else {
            if data.len() > self.spec.mtu as usize + offload::ETH_HLEN + offload::VLAN_HLEN || data.len() < offload::ETH_HLEN {
                self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            if let Some(c) = info.tx_checksum() {
                if c.ip_header_checksum || c.tcp_checksum || c.udp_checksum {
                    let Some(h) = offload::headers(&data) else {
                        return drop(format_args!("checksum offload for a frame without IP headers"));
                    };
                    if (c.tcp_checksum || c.udp_checksum) && h.l4 != usize::from(c.tcp_header_offset) {
                        return drop(format_args!("checksum offload: transport header at {} not {}", h.l4, { c.tcp_header_offset }));
                    }
                    if c.ip_header_checksum && offload::fill_ipv4_checksum(&mut data, &h).is_none() {
                        return drop(format_args!("checksum offload: short IP header"));
                    }
                    let l4 = (c.tcp_checksum && h.proto == offload::IPPROTO_TCP) || (c.udp_checksum && h.proto == offload::IPPROTO_UDP);
                    if l4 && offload::fill_l4_checksum(&mut data, &h).is_none() {
                        return drop(format_args!("checksum offload: short transport header"));
                    }
                }
            }
        }
        if let Some(v) = info.vlan {
            if offload::insert_vlan(&mut data, v.to_tci()).is_none() {
                return drop(format_args!("VLAN tag for a frame shorter than its MAC header"));
            }
            if let Some(g) = gso.as_mut() {
                g.l4 += offload::VLAN_HLEN;
                g.hdr_len += offload::VLAN_HLEN;
            }
        }
        self.stats.tx_frames.fetch_add(1, Ordering::Relaxed);
        self.stats.tx_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        Some(Frame { data, gso, csum_valid: false })
    }

    // -- to the guest ---------------------------------------------------------------------

    /// Writes `msg` into a free receive section; `None` when none is free (or the buffer or
    /// guest memory failed).
    fn place(&self, st: &mut Nic, ram: &GuestRam, msg: &[u8]) -> Option<Result<(u32, u32), ()>> {
        let r = st.recv.as_mut()?;
        let sec = r.free.pop()?;
        let len = u32::try_from(msg.len()).ok().filter(|l| *l <= r.layout.section_size);
        let off = r.layout.section_offset(sec);
        match (len, off) {
            (Some(len), Some(off)) if r.mem.write(ram, off as usize, msg) => Some(Ok((sec, len))),
            _ => {
                r.free.push(sec);
                Some(Err(()))
            }
        }
    }

    /// The RNDIS data message for a frame and the channel it goes to, or why it is dropped.
    fn rx_message(&self, st: &Nic, frame: &Frame, buf: &mut Vec<u8>) -> Result<usize, &'static str> {
        if !self.link_up.load(Ordering::Relaxed) || st.rndis.state() != DeviceState::Initialized {
            return Err("down");
        }
        let Some(dst) = frame.dst() else { return Err("short") };
        if !st.rndis.accepts(&dst) {
            return Err("filtered");
        }
        let (q, hash) = st.rndis.rx_queue(&frame.data);
        let mut info = RxInfo::default();
        if let Some(h) = hash {
            info.hash_value = Some(h.hash);
            info.hash_info = Some(h.hash_info);
        }
        let untagged;
        let mut data: &[u8] = &frame.data;
        if data.get(12..14) == Some(&[0x81, 0x00][..]) {
            let mut d = frame.data.clone();
            if let Some(tci) = offload::strip_vlan(&mut d) {
                info.vlan = Some(VlanInfo::from_tci(tci));
            }
            untagged = d;
            data = &untagged;
        }
        let valid = frame.csum_valid || offload::checksums_ok(data) == Some(true);
        if valid {
            if let Some(h) = offload::headers(data) {
                info.checksum = Some(RxChecksum {
                    ip_checksum_succeeded: !h.ipv6,
                    tcp_checksum_succeeded: h.proto == offload::IPPROTO_TCP,
                    udp_checksum_succeeded: h.proto == offload::IPPROTO_UDP,
                    ..RxChecksum::default()
                });
            }
        }
        let need = info.message_len(data.len()).ok_or("too large")?;
        if need > RECV_SECTION_SIZE as usize {
            return Err("too large");
        }
        buf.resize(need, 0);
        packet::build_rx_packet(buf, data, &info).map_err(|_| "too large")?;
        let ch = usize::try_from(q).ok().filter(|q| st.channel(*q).is_some()).unwrap_or(0);
        Ok(ch)
    }

    /// Sends what waits for the guest, as far as receive sections allow. Runs on the receive
    /// thread only.
    fn rx_pump(&self) {
        let mut buf = Vec::with_capacity(RECV_SECTION_SIZE as usize);
        loop {
            let (host, gpadl, primary_relid) = {
                let st = lock(&self.st);
                let h = st.host.as_ref().and_then(|h| h.upgrade());
                (h, st.recv.as_ref().map(|r| r.gpadl), st.primary().map(|c| c.relid))
            };
            let (Some(host), Some(gpadl), Some(relid)) = (host, gpadl, primary_relid) else {
                // No receive buffer: nothing can be delivered.
                let mut q = lock(&self.rxq);
                let frames = q.frames as u64;
                q.items.retain(|i| matches!(i, Outgoing::Control(_)));
                q.frames = 0;
                drop(q);
                self.stats.rx_dropped.fetch_add(frames, Ordering::Relaxed);
                return;
            };
            // A guest that tore the buffer down without revoking it first gets nothing more.
            if !host.has_gpadl(relid, gpadl) {
                let mut st = lock(&self.st);
                if st.recv.as_ref().is_some_and(|r| r.gpadl == gpadl) {
                    eprintln!("pvg-host: {}: the guest tore down its receive buffer without revoking it", self.name);
                    self.stats.bad.fetch_add(1, Ordering::Relaxed);
                    st.drop_recv();
                }
                continue;
            }
            let ram = host.hv().ram().clone();
            let mut st = lock(&self.st);
            let mut ranges: Vec<TransferPageRange> = Vec::new();
            let mut sections = Vec::new();
            let mut target: Option<(usize, bool)> = None; // (channel, control)
            let mut starved = false;
            loop {
                if ranges.len() >= MAX_RANGES {
                    break;
                }
                let item = {
                    let mut q = lock(&self.rxq);
                    let it = q.items.pop_front();
                    match &it {
                        Some(Outgoing::Control(_)) => q.control = q.control.saturating_sub(1),
                        Some(Outgoing::Data(_)) => q.frames = q.frames.saturating_sub(1),
                        None => {}
                    }
                    it
                };
                let Some(item) = item else { break };
                let (ch, control, len) = match &item {
                    Outgoing::Control(m) => {
                        buf.clear();
                        buf.extend_from_slice(m);
                        (0, true, m.len())
                    }
                    Outgoing::Data(f) => match self.rx_message(&st, f, &mut buf) {
                        Ok(ch) => (ch, false, buf.len()),
                        Err(why) => {
                            let c = if why == "filtered" { &self.stats.rx_filtered } else { &self.stats.rx_dropped };
                            c.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    },
                };
                if target.is_some_and(|t| t != (ch, control)) {
                    self.requeue(item);
                    break;
                }
                match self.place(&mut st, &ram, &buf[..len]) {
                    None => {
                        self.requeue(item);
                        starved = true;
                        break;
                    }
                    Some(Err(())) => {
                        self.stats.rx_dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Some(Ok((sec, l))) => {
                        let off = st.recv.as_ref().and_then(|r| r.layout.section_offset(sec)).unwrap_or(0);
                        ranges.push(TransferPageRange { byte_count: l, byte_offset: off });
                        sections.push(sec);
                        target = Some((ch, control));
                        if let Outgoing::Data(f) = &item {
                            self.stats.rx_frames.fetch_add(1, Ordering::Relaxed);
                            self.stats.rx_bytes.fetch_add(f.data.len() as u64, Ordering::Relaxed);
                            if let Some(c) = self.stats.per_channel_rx.get(ch) {
                                c.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
            let Some((ch_index, control)) = target else { return };
            let ch = st.channel(ch_index).or_else(|| st.primary()).cloned();
            let id = st.recv.as_ref().map_or(nvsp::NETVSC_RECEIVE_BUFFER_ID, |r| r.id);
            let trans_id = st.next_trans;
            st.next_trans = st.next_trans.wrapping_add(1);
            let generation = st.generation;
            st.pending.insert(trans_id, Pending { generation, sections });
            drop(st);
            let sent = ch.is_some_and(|ch| self.send_xfer(&ch, trans_id, id, &ranges, control).is_ok());
            if !sent {
                self.forget(trans_id);
                self.stats.rx_dropped.fetch_add(ranges.len() as u64, Ordering::Relaxed);
            }
            if starved {
                return;
            }
        }
    }

    fn requeue(&self, item: Outgoing) {
        let mut q = lock(&self.rxq);
        match &item {
            Outgoing::Control(_) => q.control += 1,
            Outgoing::Data(_) => q.frames += 1,
        }
        q.items.push_front(item);
    }

    /// A transfer-page packet that could not be sent: its sections are free again.
    fn forget(&self, trans_id: u64) {
        let mut st = lock(&self.st);
        if let Some(p) = st.pending.remove(&trans_id) {
            if p.generation == st.generation {
                if let Some(r) = st.recv.as_mut() {
                    r.free.extend_from_slice(&p.sections);
                }
            }
        }
    }

    /// Sends a `VM_PKT_DATA_USING_XFER_PAGES` packet naming `ranges` of pageset `id`.
    fn send_xfer(&self, ch: &HostChannel, trans_id: u64, id: u16, ranges: &[TransferPageRange], control: bool) -> Result<()> {
        let hdr = TransferPageHeader {
            xfer_pageset_id: id,
            sender_owns_set: 0,
            reserved: 0,
            range_cnt: u32::try_from(ranges.len()).context("range count")?,
        };
        let mut msg = [0u8; nvsp::NVSP_MESSAGE_SIZE];
        let n = NvspMessage::rndis_packet(control, None).encode(&mut msg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let ext = [hdr.as_bytes(), ranges.as_bytes()];
        let payload = [&msg[..n]];
        let pkt = OutgoingPacket {
            packet_type: PacketType::DataUsingXferPages,
            flags: vmbus_proto::packet::FLAG_COMPLETION_REQUESTED,
            trans_id,
            ext: &ext,
            payload: &payload,
        };
        ch.send(&pkt, SEND_TIMEOUT).map_err(|e| anyhow::anyhow!("{e}"))
    }

    // -- commands -------------------------------------------------------------------------

    /// Forgets everything negotiated (the primary channel closed, or a new INIT).
    fn reset_protocol(&self, st: &mut Nic) {
        st.version = None;
        st.ndis_mtu = None;
        st.send = None;
        st.drop_recv();
        st.subchannels = 0;
        st.datapath_vf = false;
        let speed = u32::try_from(self.link_speed.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        st.rndis = RndisDevice::new(Self::device_config(&self.spec, self.link_up.load(Ordering::Relaxed), speed));
        self.rndis_ready.store(false, Ordering::Relaxed);
        let mut q = lock(&self.rxq);
        let frames = q.frames as u64;
        *q = RxQueue::default();
        drop(q);
        self.stats.rx_dropped.fetch_add(frames, Ordering::Relaxed);
    }

    fn link(&self, up: bool) -> Result<String> {
        self.link_up.store(up, Ordering::Relaxed);
        let mut out = vec![0u8; 64];
        let (n, ready) = {
            let mut st = lock(&self.st);
            let n = st.rndis.set_link(up, &mut out).map_err(|e| anyhow::anyhow!("{e}"))?;
            (n, st.rndis.state() == DeviceState::Initialized)
        };
        Ok(self.indicate(out, n, ready, if up { "link up" } else { "link down" }))
    }

    fn indicate(&self, mut out: Vec<u8>, n: usize, ready: bool, what: &str) -> String {
        if !ready {
            return format!("{what} (the guest's adapter is not initialized: no indication)");
        }
        out.truncate(n);
        self.stats.indications.fetch_add(1, Ordering::Relaxed);
        self.queue_control(out);
        format!("{what}: indication sent")
    }

    fn speed(&self, mbps: u32) -> Result<String> {
        let speed = mbps.checked_mul(10_000).context("speed too large")?;
        self.link_speed.store(u64::from(speed), Ordering::Relaxed);
        let mut out = vec![0u8; 64];
        let (n, ready) = {
            let mut st = lock(&self.st);
            let n = st.rndis.set_link_speed(speed, &mut out).map_err(|e| anyhow::anyhow!("{e}"))?;
            (n, st.rndis.state() == DeviceState::Initialized)
        };
        Ok(self.indicate(out, n, ready, &format!("speed {mbps} Mbit/s")))
    }

    fn network_change(&self) -> Result<String> {
        let mut out = vec![0u8; 64];
        let (n, ready) = {
            let st = lock(&self.st);
            (st.rndis.network_change(&mut out).map_err(|e| anyhow::anyhow!("{e}"))?, st.rndis.state() == DeviceState::Initialized)
        };
        Ok(self.indicate(out, n, ready, "network change"))
    }

    /// A small data message for the guest's current MAC (what the injected bad messages are
    /// made of).
    fn inject_frame(st: &Nic, buf: &mut Vec<u8>, checksum_ppi: bool) -> Result<usize> {
        let mut frame = Vec::with_capacity(64);
        frame.extend_from_slice(&st.rndis.mac());
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
        frame.extend_from_slice(&0x88b5u16.to_be_bytes());
        frame.extend_from_slice(b"pvguest: injected bad message");
        frame.resize(60, 0);
        let mut info = RxInfo::default();
        if checksum_ppi {
            info.checksum = Some(RxChecksum { ip_checksum_succeeded: true, ..RxChecksum::default() });
        }
        buf.resize(info.message_len(frame.len()).context("size")?, 0);
        packet::build_rx_packet(buf, &frame, &info).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// `inject KIND`: one bad message for the guest on the primary channel.
    fn inject(&self, kind: &str) -> Result<String> {
        let host = lock(&self.st).host.as_ref().and_then(|h| h.upgrade()).context("the NIC is not open")?;
        let ram = host.hv().ram().clone();
        let mut st = lock(&self.st);
        let ch = st.primary().filter(|c| !c.is_closed()).cloned().context("the NIC is not open")?;
        if kind == "send-completion-unknown" {
            drop(st);
            let mut m = [0u8; 16];
            let n = NvspMessage::rndis_packet_complete(nvsp::NVSP_STAT_SUCCESS).encode(&mut m).map_err(|e| anyhow::anyhow!("{e}"))?;
            ch.send(&OutgoingPacket::completion(INJECT_UNKNOWN_TRANS_ID, &[&m[..n]]), SEND_TIMEOUT).map_err(|e| anyhow::anyhow!("{e}"))?;
            self.stats.injected.fetch_add(1, Ordering::Relaxed);
            return Ok(format!("injected {kind}"));
        }
        let recv = st.recv.as_ref().context("the guest has no receive buffer")?;
        let (id, buffer_size) = (recv.id, recv.layout.buffer_size);
        let mut msgs: Vec<Vec<u8>> = Vec::new();
        let mut pageset = id;
        let mut control = false;
        let mut out_of_range = false;
        let mut b = Vec::new();
        match kind {
            "rndis-len-past-buffer" => {
                let n = Self::inject_frame(&st, &mut b, false)?;
                b.truncate(n);
                // msg_len claims 4 KiB more than the range holds.
                edit(&mut b, 0, |h: &mut RndisMessageHeader| h.msg_len = h.msg_len.saturating_add(4096))?;
                msgs.push(b);
            }
            "rx-section-out-of-range" => out_of_range = true,
            "status-unknown" => {
                b.resize(64, 0);
                let n = rndis::build_indicate_status(&mut b, INJECT_UNKNOWN_STATUS, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
                b.truncate(n);
                control = true;
                msgs.push(b);
            }
            "ppi-bad-offset" => {
                let n = Self::inject_frame(&st, &mut b, true)?;
                b.truncate(n);
                let mut ppi_at = 0;
                edit(&mut b, rndis::RNDIS_HEADER_SIZE, |p: &mut RndisPacket| ppi_at = p.per_pkt_info_offset as usize)?;
                let rec = rndis::RNDIS_HEADER_SIZE + ppi_at;
                // The PPI record's data offset points past the record...
                let mut first = b.clone();
                edit(&mut first, rec, |r: &mut RndisPerPacketInfo| r.ppi_offset = r.size.saturating_mul(4))?;
                msgs.push(first);
                // ...and the PPI area runs past the message.
                edit(&mut b, rndis::RNDIS_HEADER_SIZE, |p: &mut RndisPacket| p.per_pkt_info_len = 4096)?;
                msgs.push(b);
            }
            "xfer-wrong-pageset" => {
                let n = Self::inject_frame(&st, &mut b, false)?;
                b.truncate(n);
                pageset = INJECT_WRONG_PAGESET;
                msgs.push(b);
            }
            _ => bail!("inject kinds: {}", INJECT_KINDS.join(", ")),
        }
        let mut ranges = Vec::new();
        let mut sections = Vec::new();
        if out_of_range {
            ranges.push(TransferPageRange { byte_count: 64, byte_offset: buffer_size });
        }
        for m in &msgs {
            match self.place(&mut st, &ram, m) {
                Some(Ok((sec, len))) => {
                    let off = st.recv.as_ref().and_then(|r| r.layout.section_offset(sec)).unwrap_or(0);
                    ranges.push(TransferPageRange { byte_count: len, byte_offset: off });
                    sections.push(sec);
                }
                _ => {
                    if let Some(r) = st.recv.as_mut() {
                        r.free.extend_from_slice(&sections);
                    }
                    bail!("no free receive section for the injected message");
                }
            }
        }
        let trans_id = st.next_trans;
        st.next_trans = st.next_trans.wrapping_add(1);
        let generation = st.generation;
        st.pending.insert(trans_id, Pending { generation, sections });
        drop(st);
        if let Err(e) = self.send_xfer(&ch, trans_id, pageset, &ranges, control) {
            self.forget(trans_id);
            return Err(e);
        }
        self.stats.injected.fetch_add(1, Ordering::Relaxed);
        Ok(format!("injected {kind}"))
    }

    /// The `stats` line.
    fn stats_line(&self) -> String {
        let s = &self.stats;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let st = lock(&self.st);
        let version = match st.version {
            None => "none",
            Some(NvspVersion::V1) => "1",
            Some(NvspVersion::V2) => "2",
            Some(NvspVersion::V4) => "4",
            Some(NvspVersion::V5) => "5",
            Some(NvspVersion::V6) => "6",
            Some(NvspVersion::V61) => "6.1",
        };
        let n = usize::from(self.spec.queues);
        let per = |a: &[AtomicU64]| a.iter().take(n).map(|c| g(c).to_string()).collect::<Vec<_>>().join("/");
        let (free, total) = st.recv.as_ref().map_or((0, 0), |r| (r.free.len(), r.layout.section_count));
        let open = st.channels.iter().flatten().filter(|c| !c.is_closed()).count();
        format!(
            "version={version} mtu={} channels={open} rx_frames={} rx_bytes={} tx_frames={} tx_bytes={} rx_dropped={} rx_no_buffer={} \
             tx_dropped={} bad={} sections_free={free} sections_total={total} per_channel_rx={} per_channel_tx={} link={} rss={} \
             filter={:#x} injected={} rx_filtered={} control={} indications={} mac={} host_mtu={} queues={} subchannels={} \
             datapath={} rndis={:?} {}",
            st.ndis_mtu.map_or("none".to_string(), |m| m.to_string()),
            g(&s.rx_frames),
            g(&s.rx_bytes),
            g(&s.tx_frames),
            g(&s.tx_bytes),
            g(&s.rx_dropped),
            g(&s.rx_no_buffer),
            g(&s.tx_dropped),
            g(&s.bad),
            per(&s.per_channel_rx),
            per(&s.per_channel_tx),
            if self.link_up.load(Ordering::Relaxed) { "up" } else { "down" },
            if st.rndis.rss().enabled { "on" } else { "off" },
            st.rndis.packet_filter(),
            g(&s.injected),
            g(&s.rx_filtered),
            g(&s.control),
            g(&s.indications),
            fmt_mac(&st.rndis.mac()),
            self.spec.mtu,
            self.spec.queues,
            st.subchannels,
            if st.datapath_vf { "vf" } else { "synthetic" },
            st.rndis.state(),
            self.backend.describe(),
        )
    }
}

impl FrameSink for NetVsp {
    fn deliver(&self, frames: Vec<Frame>) {
        if !self.link_up.load(Ordering::Relaxed) {
            self.stats.rx_dropped.fetch_add(frames.len() as u64, Ordering::Relaxed);
            return;
        }
        let mut q = lock(&self.rxq);
        let mut dropped = 0;
        for f in frames {
            if q.frames >= RX_QUEUE_FRAMES {
                dropped += 1;
                continue;
            }
            q.frames += 1;
            q.items.push_back(Outgoing::Data(f));
        }
        q.kick = true;
        drop(q);
        if dropped > 0 {
            self.stats.rx_no_buffer.fetch_add(dropped, Ordering::Relaxed);
        }
        self.rx_wake.notify_all();
    }
}

/// Applies `f` to the wire struct `T` at `off` of `buf` (hostile messages are made by editing
/// good ones).
fn edit<T: FromBytes + IntoBytes + Immutable + KnownLayout>(buf: &mut [u8], off: usize, f: impl FnOnce(&mut T)) -> Result<()> {
    let end = off.checked_add(std::mem::size_of::<T>()).context("offset")?;
    let bytes = buf.get_mut(off..end).context("message too short to edit")?;
    let mut v = T::read_from_bytes(bytes).map_err(|_| anyhow::anyhow!("message too short to edit"))?;
    f(&mut v);
    bytes.copy_from_slice(v.as_bytes());
    Ok(())
}

/// The receive thread of a NIC: runs until the NIC is gone.
fn rx_thread(nic: Weak<NetVsp>) {
    loop {
        let Some(n) = nic.upgrade() else { return };
        {
            let q = lock(&n.rxq);
            let (mut q, _) = n.rx_wake.wait_timeout_while(q, Duration::from_millis(100), |q| !q.kick).unwrap_or_else(|e| e.into_inner());
            q.kick = false;
        }
        n.rx_pump();
    }
}

impl DeviceModel for NetVsp {
    fn name(&self) -> &str {
        &self.name
    }

    fn class_id(&self) -> Guid {
        guid::NIC
    }

    fn instance_id(&self) -> Guid {
        self.instance
    }

    fn open(&self, host: &Arc<VmbusHost>, ch: Arc<HostChannel>, _user_data: &[u8]) -> Result<()> {
        let idx = usize::from(ch.sub_index);
        if idx >= usize::from(self.spec.queues) {
            bail!("sub-channel {idx} beyond the {} granted", self.spec.queues);
        }
        {
            let mut st = lock(&self.st);
            if idx == 0 {
                self.reset_protocol(&mut st);
                st.channels.clear();
                st.host = Some(Arc::downgrade(host));
            } else if st.primary().is_none() {
                bail!("sub-channel {idx} opened before its primary channel");
            }
            if st.channels.len() <= idx {
                st.channels.resize(idx + 1, None);
            }
            st.channels[idx] = Some(ch.clone());
        }
        let me = self.me.upgrade().context("NIC going away")?;
        std::thread::Builder::new().name(format!("{}-ch{}", self.name, ch.relid)).spawn(move || me.serve(ch))?;
        Ok(())
    }

    fn close(&self, relid: u32) {
        let mut st = lock(&self.st);
        let Some(i) = st.channels.iter().position(|c| c.as_ref().is_some_and(|c| c.relid == relid)) else { return };
        st.channels[i] = None;
        if i == 0 {
            self.reset_protocol(&mut st);
            st.channels.clear();
        }
    }

    fn stats(&self) -> String {
        let s = &self.stats;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "rx_frames={} tx_frames={} bad={} link={}",
            g(&s.rx_frames),
            g(&s.tx_frames),
            g(&s.bad),
            if self.link_up.load(Ordering::Relaxed) { "up" } else { "down" }
        )
    }

    /// `stats`, `link up|down`, `speed MBPS`, `network-change`, `inject KIND`.
    fn command(&self, _host: &Arc<VmbusHost>, args: &[&str]) -> Result<String> {
        match args {
            ["stats"] => Ok(self.stats_line()),
            ["link", "up"] => self.link(true),
            ["link", "down"] => self.link(false),
            ["speed", mbps] => self.speed(mbps.parse().with_context(|| format!("speed {mbps:?} is not Mbit/s"))?),
            ["network-change"] => self.network_change(),
            ["inject", kind] => self.inject(kind),
            _ => bail!(
                "{} commands: stats, link up|down, speed MBPS, network-change, inject KIND ({})",
                self.name,
                INJECT_KINDS.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests;
