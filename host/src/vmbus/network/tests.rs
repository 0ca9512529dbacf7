//! NetVSP tests: a fake guest (this file) drives NICs through the real VMBus host over guest
//! RAM in a temporary file, as the network VSC would: VMBus messages for GPADLs and channel
//! opening, rings in "guest" pages, NVSP set-up, RNDIS control messages and data frames both
//! ways through the loopback and switch backends, sub-channels, and every `inject` kind.
//! Guest-side parsing uses the same `netvsc_proto` parsers the driver uses.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU32;
use std::time::Instant;

use netvsc_proto::nvsp::{NvspMessage, NvspVersion, Sender};
use netvsc_proto::oid;
use netvsc_proto::packet::{build_tx_header, PacketMessage, TxInfo};
use netvsc_proto::ppi::{LsoV2Tx, PacketInfo, TxChecksum, VlanInfo};
use netvsc_proto::rndis::{self, RndisError, RndisMessage, StatusEvent};
use vmbus_proto::gpadl::{GpadlSplitter, Pfns};
use vmbus_proto::message::{self as msg, ChannelMessage, ContactTarget};
use vmbus_proto::packet::{MultiPageBufferHeader, TransferPageView, FLAG_COMPLETION_REQUESTED};
use vmbus_proto::ring::{init_ring, RingReader, RingWriter};

use super::*;
use crate::hv::{Hypervisor, Partition, Status};
use crate::net::offload::tests::{tcp4, udp6};
use crate::vmbus::ring::GuestRing;

const RAM: u64 = 64 << 20;
/// `vmbus::CONNECTION_ID_BASE`: a channel's event connection id is this plus its relid.
const CONNECTION_ID_BASE: u32 = 0x1000;
const WAIT: Duration = Duration::from_secs(10);
const RECV_PAGES: u64 = 256;
const SEND_PAGES: u64 = 256;

// ---------------------------------------------------------------------------------------
// The fake partition: guest RAM, the VMBus host, VMBus messages.

struct Machine {
    _dir: tempfile::TempDir,
    ram: Arc<GuestRam>,
    vmbus: Arc<VmbusHost>,
    next_pfn: Mutex<u64>,
    next_gpadl: AtomicU32,
}

impl Machine {
    fn new(devices: Vec<Arc<dyn DeviceModel>>) -> Arc<Machine> {
        let dir = tempfile::tempdir().unwrap();
        let ram = Arc::new(GuestRam::create(&dir.path().join("ram"), RAM).unwrap());
        let (bar, _fd) = crate::bar::Bar::create(&sim_proto::BarHeader::new_host(2, RAM, 1)).unwrap();
        let hv = Arc::new(Hypervisor::new(ram.clone(), Arc::new(bar), 2));
        let vmbus = VmbusHost::new(hv.clone(), devices, vmbus_proto::version::NEWEST, false);
        hv.set_partition(vmbus.clone());
        let m = Arc::new(Machine { _dir: dir, ram, vmbus, next_pfn: Mutex::new(0x100), next_gpadl: AtomicU32::new(0x100) });
        let target = ContactTarget::TargetInfo { msg_sint: 2, msg_vtl: 0, feature_flags: 0 };
        m.post(&ChannelMessage::InitiateContact(msg::InitiateContact::new(vmbus_proto::version::NEWEST, 0, target, 0, 0)));
        m.post(&ChannelMessage::RequestOffers);
        assert!(m.vmbus.connected());
        m
    }

    fn post(&self, m: &ChannelMessage<'_>) {
        let mut b = [0u8; msg::MAX_MESSAGE_SIZE];
        let n = m.encode(&mut b).unwrap();
        let s = self.vmbus.post_message(0, vmbus_proto::version::MESSAGE_CONNECTION_ID_4, 1, &b[..n]);
        assert!(matches!(s, Status::Success));
    }

    /// `n` contiguous guest pages.
    fn alloc(&self, n: u64) -> Vec<u64> {
        let mut p = lock(&self.next_pfn);
        let first = *p;
        *p += n;
        assert!(*p <= RAM / 4096, "fake guest out of RAM");
        (first..first + n).collect()
    }

    fn gpadl(&self, relid: u32, pfns: &[u64]) -> u32 {
        let g = self.next_gpadl.fetch_add(1, Ordering::Relaxed);
        let mut s = GpadlSplitter::for_pages(relid, g, pfns).unwrap();
        while let Some(m) = s.next_view() {
            self.post(&m);
        }
        assert!(self.vmbus.has_gpadl(relid, g));
        g
    }

    /// Opens channel `relid` with a 16-page ring each way... and 64 pages host to guest.
    fn open(self: &Arc<Self>, relid: u32) -> Chan {
        let pfns = self.alloc(17 + 65);
        let g = self.gpadl(relid, &pfns);
        let out = GuestRing::new(self.ram.clone(), pfns[..17].to_vec()).unwrap();
        let inp = GuestRing::new(self.ram.clone(), pfns[17..].to_vec()).unwrap();
        init_ring(&out);
        init_ring(&inp);
        self.post(&ChannelMessage::OpenChannel(msg::OpenChannel::new(relid, relid, g, 0, 17)));
        assert!(self.vmbus.describe().contains(&format!("ch{relid}(")), "{}", self.vmbus.describe());
        Chan { m: self.clone(), relid, out: RingWriter::new(out).unwrap(), inp: RingReader::new(inp).unwrap() }
    }
}

/// A packet from the host.
#[derive(Debug)]
struct Pkt {
    ty: Option<PacketType>,
    trans_id: u64,
    flags: u16,
    ext: Vec<u8>,
    payload: Vec<u8>,
}

/// One open channel as the guest sees it.
struct Chan {
    m: Arc<Machine>,
    relid: u32,
    out: RingWriter<GuestRing>,
    inp: RingReader<GuestRing>,
}

impl Chan {
    fn send(&mut self, pkt: &OutgoingPacket<'_>) {
        let need = pkt.ring_len().unwrap();
        let t0 = Instant::now();
        while !self.out.can_write(need).unwrap() {
            assert!(t0.elapsed() < WAIT, "the host does not drain channel {}", self.relid);
            std::thread::sleep(Duration::from_millis(1));
        }
        self.out.write(pkt).unwrap();
        self.m.vmbus.signal_event(0, CONNECTION_ID_BASE + self.relid, 0);
    }

    fn try_recv(&mut self) -> Option<Pkt> {
        let mut b = self.inp.batch();
        let p = b.peek().unwrap()?;
        let mut raw = vec![0u8; p.packet_len() as usize];
        b.copy_raw(&p, &mut raw).unwrap();
        b.consume(&p).unwrap();
        b.commit();
        let hl = p.header_len() as usize;
        let pl = p.packet_len() as usize;
        Some(Pkt { ty: p.packet_type(), trans_id: p.trans_id(), flags: p.flags(), ext: raw[16..hl].to_vec(), payload: raw[hl..pl].to_vec() })
    }
}

// ---------------------------------------------------------------------------------------
// The fake network VSC.

/// What the host sent, as the guest's receive path sees it.
#[derive(Debug)]
enum Event {
    /// A completion packet.
    Completion { trans_id: u64, payload: Vec<u8> },
    /// An inband NVSP message.
    Inband(Vec<u8>),
    /// A transfer-page packet: its RNDIS messages (one per range), completed by the guest.
    Xfer { control: bool, pageset: u16, msgs: Vec<Vec<u8>> },
    /// A transfer-page packet the guest cannot use (ranges outside its buffer): raw ranges.
    BadXfer { pageset: u16, ranges: Vec<(u32, u32)> },
}

struct Guest {
    m: Arc<Machine>,
    chans: Vec<Option<Chan>>,
    primary: u32,
    recv_base: u64,
    recv_size: u32,
    send_base: u64,
    next_trans: u64,
    next_req: u32,
    /// Events seen while waiting for something else: (channel index, event).
    stash: VecDeque<(usize, Event)>,
    /// Complete transfer-page packets automatically (a guest that never does tests the
    /// host's accounting).
    auto_complete: bool,
}

impl Guest {
    fn open(m: &Arc<Machine>, relid: u32) -> Guest {
        let c = m.open(relid);
        Guest {
            m: m.clone(),
            chans: vec![Some(c)],
            primary: relid,
            recv_base: 0,
            recv_size: 0,
            send_base: 0,
            next_trans: 0x1000,
            next_req: 1,
            stash: VecDeque::new(),
            auto_complete: true,
        }
    }

    fn chan(&mut self, i: usize) -> &mut Chan {
        self.chans[i].as_mut().unwrap()
    }

    fn send_nvsp(&mut self, ch: usize, m: &NvspMessage<'_>, completion: bool) -> u64 {
        let mut b = [0u8; 128];
        let n = m.encode(&mut b).unwrap();
        self.send_raw_inband(ch, &b[..n], completion)
    }

    fn send_raw_inband(&mut self, ch: usize, payload: &[u8], completion: bool) -> u64 {
        self.next_trans += 1;
        let t = self.next_trans;
        let flags = if completion { FLAG_COMPLETION_REQUESTED } else { 0 };
        self.chan(ch).send(&OutgoingPacket::inband(t, flags, &[payload]));
        t
    }

    /// Turns a raw packet into an event; completes transfer-page packets.
    fn event(&mut self, ch: usize, p: Pkt) -> Event {
        match p.ty {
            Some(PacketType::Completion) => Event::Completion { trans_id: p.trans_id, payload: p.payload },
            Some(PacketType::DataInband) => Event::Inband(p.payload),
            Some(PacketType::DataUsingXferPages) => {
                assert_eq!(p.flags & FLAG_COMPLETION_REQUESTED, FLAG_COMPLETION_REQUESTED);
                let v = TransferPageView::parse(&p.ext).unwrap();
                let pageset = v.header.xfer_pageset_id;
                let nv = nvsp::parse(&p.payload, Sender::Host).unwrap();
                let NvspMessage::SendRndisPacket(rp) = nv else { panic!("transfer-page packet carrying {nv:?}") };
                assert_eq!(({ rp.send_buf_section_index }, { rp.send_buf_section_size }), (nvsp::NETVSC_INVALID_INDEX, 0));
                let mut msgs = Vec::new();
                let mut bad = Vec::new();
                for r in v.ranges() {
                    let (off, len) = (r.byte_offset, r.byte_count);
                    if u64::from(off) + u64::from(len) > u64::from(self.recv_size) {
                        bad.push((off, len));
                        continue;
                    }
                    let mut b = vec![0u8; len as usize];
                    self.m.ram.read(self.recv_base + u64::from(off), &mut b).unwrap();
                    msgs.push(b);
                }
                if self.auto_complete {
                    let mut c = [0u8; 16];
                    let n = NvspMessage::rndis_packet_complete(nvsp::NVSP_STAT_SUCCESS).encode(&mut c).unwrap();
                    self.chan(ch).send(&OutgoingPacket::completion(p.trans_id, &[&c[..n]]));
                }
                if !bad.is_empty() {
                    return Event::BadXfer { pageset, ranges: bad };
                }
                Event::Xfer { control: { rp.channel_type } == nvsp::NVSP_RNDIS_CHANNEL_CONTROL, pageset, msgs }
            }
            other => panic!("unexpected packet type {other:?} from the host"),
        }
    }

    /// The next event on any channel (stashed ones first), or `None` after `timeout`.
    fn next(&mut self, timeout: Duration) -> Option<(usize, Event)> {
        if let Some(e) = self.stash.pop_front() {
            return Some(e);
        }
        let t0 = Instant::now();
        loop {
            for i in 0..self.chans.len() {
                let p = match self.chans[i].as_mut() {
                    Some(c) => c.try_recv(),
                    None => None,
                };
                if let Some(p) = p {
                    let e = self.event(i, p);
                    return Some((i, e));
                }
            }
            if t0.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Waits for an event `f` accepts, stashing the others.
    fn wait_for<T>(&mut self, what: &str, mut f: impl FnMut(usize, &Event) -> Option<T>) -> T {
        let mut skipped = Vec::new();
        let t0 = Instant::now();
        let r = loop {
            let left = WAIT.saturating_sub(t0.elapsed());
            let Some((ch, e)) = self.next(left) else { panic!("no {what} from the host; saw {skipped:?}") };
            if let Some(v) = f(ch, &e) {
                break v;
            }
            skipped.push((ch, e));
        };
        for s in skipped.into_iter().rev() {
            self.stash.push_front(s);
        }
        r
    }

    /// Sends an NVSP request with completion requested and returns the completion payload.
    fn request(&mut self, ch: usize, m: &NvspMessage<'_>) -> Vec<u8> {
        let t = self.send_nvsp(ch, m, true);
        self.wait_for("completion", |_, e| match e {
            Event::Completion { trans_id, payload } if *trans_id == t => Some(payload.clone()),
            _ => None,
        })
    }

    fn inband(&mut self, what: &str, ty: u32) -> Vec<u8> {
        self.wait_for(what, |_, e| match e {
            Event::Inband(p) if p.get(..4) == Some(&ty.to_le_bytes()[..]) => Some(p.clone()),
            _ => None,
        })
    }

    /// NVSP set-up as Linux does it: INIT, NDIS version, NDIS config, receive and send buffers.
    fn init(&mut self, v: NvspVersion, mtu: u32) {
        let c = self.request(0, &NvspMessage::init(v));
        let NvspMessage::InitComplete(ic) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
        assert_eq!(({ ic.status }, { ic.negotiated_protocol_ver }, { ic.max_mdl_chain_len }), (nvsp::NVSP_STAT_SUCCESS, v.raw(), 34));
        self.send_nvsp(0, &NvspMessage::ndis_version(v), false);
        if v.sends_ndis_config() {
            self.send_nvsp(0, &NvspMessage::ndis_config(v, mtu, false), false);
        }
        let pfns = self.m.alloc(RECV_PAGES);
        self.recv_base = pfns[0] * 4096;
        self.recv_size = (RECV_PAGES * 4096) as u32;
        let g = self.m.gpadl(self.primary, &pfns);
        let c = self.request(0, &NvspMessage::send_receive_buffer(g));
        let NvspMessage::SendReceiveBufferComplete(rc) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
        let layout = ReceiveBufferLayout::from_complete(&rc, self.recv_size).unwrap();
        assert_eq!((layout.section_size, layout.section_count), (RECV_SECTION_SIZE, self.recv_size / RECV_SECTION_SIZE));
        let pfns = self.m.alloc(SEND_PAGES);
        self.send_base = pfns[0] * 4096;
        let g = self.m.gpadl(self.primary, &pfns);
        let c = self.request(0, &NvspMessage::send_send_buffer(g));
        let NvspMessage::SendSendBufferComplete(sc) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
        assert_eq!(({ sc.status }, { sc.section_size }), (nvsp::NVSP_STAT_SUCCESS, 6144));
        if v.supports_vrss() {
            let t = self.inband("send table", nvsp::NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE);
            let NvspMessage::SendIndirectionTable(tab) = nvsp::parse_negotiated(&t, Sender::Host, v).unwrap() else { panic!() };
            assert_eq!(tab.entries, [0; 16]);
        }
    }

    /// Puts `data` in fresh guest pages; returns the GPA-direct extension describing them.
    fn gpa_ext(&mut self, data: &[u8]) -> Vec<u8> {
        let pages = (data.len() as u64).div_ceil(4096).max(1);
        let pfns = self.m.alloc(pages);
        self.m.ram.write(pfns[0] * 4096, data).unwrap();
        let mut ext = MultiPageBufferHeader::new(data.len() as u32, 0).as_bytes().to_vec();
        ext.extend_from_slice(Pfns::from_slice(&pfns).as_bytes());
        ext
    }

    /// Sends `data` (RNDIS messages) in GPA ranges as `SEND_RNDIS_PKT`; returns the status
    /// of the host's completion.
    fn send_gpa(&mut self, ch: usize, data: &[u8], control: bool, section: Option<(u32, u32)>) -> u32 {
        let ext = self.gpa_ext(data);
        let mut b = [0u8; 64];
        let n = NvspMessage::rndis_packet(control, section).encode(&mut b).unwrap();
        self.next_trans += 1;
        let t = self.next_trans;
        self.chan(ch).send(&OutgoingPacket::gpa_direct(t, &[&ext], &[&b[..n]]));
        self.rndis_status(t)
    }

    /// Writes `data` into send section `index` and sends `SEND_RNDIS_PKT` naming it.
    fn send_section(&mut self, ch: usize, index: u32, data: &[u8], control: bool) -> u32 {
        self.m.ram.write(self.send_base + u64::from(index) * 6144, data).unwrap();
        let t = self.send_nvsp(ch, &NvspMessage::rndis_packet(control, Some((index, data.len() as u32))), true);
        self.rndis_status(t)
    }

    fn rndis_status(&mut self, t: u64) -> u32 {
        let c = self.wait_for("RNDIS packet completion", |_, e| match e {
            Event::Completion { trans_id, payload } if *trans_id == t => Some(payload.clone()),
            _ => None,
        });
        let NvspMessage::SendRndisPacketComplete(s) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
        s.status
    }

    /// The next RNDIS control message from the host.
    fn control_reply(&mut self) -> Vec<u8> {
        self.wait_for("RNDIS control message", |ch, e| match e {
            Event::Xfer { control: true, msgs, .. } => {
                assert_eq!(ch, 0, "control messages come on the primary channel");
                assert_eq!(msgs.len(), 1);
                Some(msgs[0].clone())
            }
            _ => None,
        })
    }

    /// An RNDIS request (built by `build(out, req_id)`) and its completion.
    fn rndis_request(&mut self, build: impl FnOnce(&mut [u8], u32) -> usize) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        self.next_req += 1;
        let id = self.next_req;
        let n = build(&mut b, id);
        assert_eq!(self.send_gpa(0, &b[..n], true, None), nvsp::NVSP_STAT_SUCCESS);
        let r = self.control_reply();
        let (m, _) = RndisMessage::parse(&r).unwrap();
        assert_eq!(m.request_id(), Some(id), "{m:?}");
        r
    }

    fn query(&mut self, o: u32) -> Vec<u8> {
        let r = self.rndis_request(|b, id| rndis::build_query(b, id, o, &[]).unwrap());
        let (RndisMessage::QueryComplete(q), _) = RndisMessage::parse(&r).unwrap() else { panic!() };
        assert_eq!({ q.cmplt.status }, rndis::RNDIS_STATUS_SUCCESS, "query {o:#x}");
        q.info.to_vec()
    }

    fn set(&mut self, o: u32, info: &[u8]) -> u32 {
        let r = self.rndis_request(|b, id| rndis::build_set(b, id, o, info).unwrap());
        let (RndisMessage::SetComplete(s), _) = RndisMessage::parse(&r).unwrap() else { panic!() };
        s.status
    }

    /// RNDIS INIT, then the packet filter (directed, broadcast, all multicast).
    fn rndis_init(&mut self) {
        let r = self.rndis_request(|b, id| rndis::build_init(b, id, rndis::LINUX_MAX_XFER_SIZE).unwrap());
        let (RndisMessage::InitComplete(c), _) = RndisMessage::parse(&r).unwrap() else { panic!() };
        assert_eq!(({ c.status }, { c.major_ver }, { c.max_pkt_per_msg }, { c.pkt_alignment_factor }), (0, 1, 8, 3));
        let f = oid::NDIS_PACKET_TYPE_DIRECTED | oid::NDIS_PACKET_TYPE_BROADCAST | oid::NDIS_PACKET_TYPE_ALL_MULTICAST;
        assert_eq!(self.set(oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &f.to_le_bytes()), rndis::RNDIS_STATUS_SUCCESS);
    }

    /// Received data messages (channel, message) until `n` arrived.
    fn rx_data(&mut self, n: usize) -> Vec<(usize, Vec<u8>)> {
        let mut got = Vec::new();
        while got.len() < n {
            let (ch, msgs) = self.wait_for("data message", |ch, e| match e {
                Event::Xfer { control: false, msgs, pageset } => {
                    assert_eq!(*pageset, nvsp::NETVSC_RECEIVE_BUFFER_ID);
                    Some((ch, msgs.clone()))
                }
                _ => None,
            });
            got.extend(msgs.into_iter().map(|m| (ch, m)));
        }
        assert_eq!(got.len(), n, "more data messages than expected");
        got
    }

    /// Opens sub-channel `relid` as channel index `i`.
    fn open_sub(&mut self, i: usize, relid: u32) {
        let c = self.m.open(relid);
        if self.chans.len() <= i {
            self.chans.resize_with(i + 1, || None);
        }
        self.chans[i] = Some(c);
    }
}

/// A data message for `frame` with `info`'s PPIs.
fn tx_message(frame: &[u8], info: &TxInfo) -> Vec<u8> {
    let mut b = vec![0u8; 256 + frame.len()];
    let n = build_tx_header(&mut b, frame.len() as u32, info).unwrap();
    b.truncate(n);
    b.extend_from_slice(frame);
    b
}

fn nic(name: &str, index: u8, spec: &str) -> Arc<NetVsp> {
    NetVsp::new(name, index, NicSpec::parse(spec, index).unwrap()).unwrap()
}

fn stat(n: &NetVsp, key: &str) -> String {
    let line = n.stats_line();
    line.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key} in {line}")).to_string()
}

fn wait_stat(n: &NetVsp, key: &str, want: &str) {
    let t0 = Instant::now();
    while stat(n, key) != want {
        assert!(t0.elapsed() < WAIT, "{key} stays {} (want {want}): {}", stat(n, key), n.stats_line());
        std::thread::sleep(Duration::from_millis(2));
    }
}

const MAC0: [u8; 6] = [0x00, 0x15, 0x5d, 0x00, 0x00, 0x10];
const PEER: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x99];

/// A TCP frame from MAC0 to PEER with `payload` (checksums correct).
fn frame_to_peer(payload: &[u8]) -> Vec<u8> {
    let mut f = tcp4(payload, 7, 0x18);
    f[..6].copy_from_slice(&PEER);
    f[6..12].copy_from_slice(&MAC0);
    f
}

fn data_of(m: &[u8]) -> (Vec<u8>, PacketInfo) {
    let (RndisMessage::Packet(p), _) = RndisMessage::parse(m).unwrap() else { panic!("not a data message") };
    (p.data.to_vec(), p.info())
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn nic_specs() {
    let s = NicSpec::parse("tap=pvt0,netns=ns1,queues=2,mtu=1500,mac=02:00:00:00:00:07", 3).unwrap();
    assert_eq!(s.backend, BackendSpec::Tap { name: "pvt0".into(), netns: Some("ns1".into()) });
    assert_eq!((s.queues, s.mtu, s.mac), (2, 1500, [2, 0, 0, 0, 0, 7]));
    let s = NicSpec::parse("loopback", 2).unwrap();
    assert_eq!((s.backend, s.queues, s.mtu, s.mac), (BackendSpec::Loopback, 4, 9000, [0, 0x15, 0x5d, 0, 0, 0x12]));
    assert_eq!(NicSpec::parse("switch=/tmp/x/sw", 0).unwrap().backend, BackendSpec::Switch("/tmp/x/sw".into()));
    for bad in [
        "",
        "queues=2",
        "loopback,switch=a",
        "loopback,queues=0",
        "loopback,queues=17",
        "loopback,mtu=67",
        "loopback,mtu=9001",
        "loopback,mac=01:00:00:00:00:01",
        "loopback,mac=00:00:00:00:00:00",
        "loopback,mac=0:1:2:3:4:5",
        "loopback,netns=x",
        "tap=a-name-much-too-long",
        "loopback,bogus=1",
    ] {
        assert!(NicSpec::parse(bad, 0).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn setup_control_and_loopback_data() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    wait_stat(&n0, "mtu", "1500");
    assert_eq!(stat(&n0, "version"), "6.1");
    assert_eq!(stat(&n0, "sections_total"), (RECV_PAGES * 4096 / 9216).to_string());
    g.rndis_init();
    assert_eq!(g.query(oid::RNDIS_OID_802_3_PERMANENT_ADDRESS), MAC0);
    assert_eq!(g.query(oid::RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE), 9000u32.to_le_bytes());
    assert_eq!(g.query(oid::RNDIS_OID_GEN_LINK_SPEED), 100_000_000u32.to_le_bytes());
    assert_eq!(stat(&n0, "filter"), "0xd");

    // A frame with checksum offload, in a send section: comes back with MACs swapped, its
    // checksums filled in and the receive checksum PPI set.
    let good = frame_to_peer(b"hello through the loopback");
    let mut f = good.clone();
    f[24..26].fill(0); // IP header checksum
    f[50..52].fill(0); // TCP checksum
    let csum = TxChecksum { is_ipv4: true, tcp_checksum: true, ip_header_checksum: true, tcp_header_offset: 34, ..Default::default() };
    let msg = tx_message(&f, &TxInfo { checksum: Some(csum), ..Default::default() });
    assert_eq!(g.send_section(0, 3, &msg, false), nvsp::NVSP_STAT_SUCCESS);
    let rx = g.rx_data(1);
    let (data, info) = data_of(&rx[0].1);
    let mut want = good.clone();
    want[..6].copy_from_slice(&MAC0);
    want[6..12].copy_from_slice(&PEER);
    assert_eq!(data, want);
    let c = info.rx_checksum().unwrap();
    assert!(c.tcp_checksum_succeeded && c.ip_checksum_succeeded && !c.udp_checksum_succeeded);

    // An LSO frame in GPA ranges: seven segments with good checksums, the payload in order.
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 13) as u8).collect();
    let mut big = frame_to_peer(&payload);
    big[16..18].fill(0);
    let lso = LsoV2Tx { mss: 1448, tcp_header_offset: 34, ipv6: false };
    assert_eq!(g.send_gpa(0, &tx_message(&big, &TxInfo { lso: Some(lso), ..Default::default() }), false, None), 1);
    let segs = g.rx_data(7);
    let mut joined = Vec::new();
    for (_, s) in &segs {
        let (d, info) = data_of(s);
        assert_eq!(offload::checksums_ok(&d), Some(true));
        assert!(d.len() <= 14 + 20 + 20 + 1448);
        assert!(info.rx_checksum().unwrap().tcp_checksum_succeeded);
        joined.extend_from_slice(&d[54..]);
    }
    assert_eq!(joined, payload);

    // VLAN: the tag from the PPI is on the wire and comes back as a PPI, untagged.
    let v = VlanInfo { priority: 5, cfi: false, vlan_id: 42 };
    assert_eq!(g.send_gpa(0, &tx_message(&good, &TxInfo { vlan: Some(v), ..Default::default() }), false, None), 1);
    let (d, info) = data_of(&g.rx_data(1)[0].1);
    assert_eq!((d, info.vlan), (want.clone(), Some(v)));

    // A batch of two messages in one section, each padded to 8 bytes.
    let mut batch = Vec::new();
    for p in [&b"one"[..], &b"two!"[..]] {
        let mut m1 = tx_message(&frame_to_peer(p), &TxInfo::default());
        let pad = packet::padding(m1.len() as u32, 8).unwrap();
        packet::add_padding(&mut m1, pad).unwrap();
        m1.resize(m1.len() + pad as usize, 0);
        batch.extend_from_slice(&m1);
    }
    assert_eq!(g.send_section(0, 5, &batch, false), 1);
    let got = g.rx_data(2);
    assert!(data_of(&got[0].1).0.ends_with(b"one") && data_of(&got[1].1).0.ends_with(b"two!"));

    // A frame whose looped-back destination is not the guest's MAC is filtered.
    let mut other = good.clone();
    other[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x55]);
    assert_eq!(g.send_gpa(0, &tx_message(&other, &TxInfo::default()), false, None), 1);
    wait_stat(&n0, "rx_filtered", "1");
    assert_eq!(stat(&n0, "tx_frames"), "6");
    assert_eq!(stat(&n0, "rx_frames"), "11");
    assert_eq!(stat(&n0, "bad"), "0");
    wait_stat(&n0, "sections_free", &stat(&n0, "sections_total"));
}

#[test]
fn older_versions_and_version_refusal() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    // A version the host does not know is refused; the guest then tries an older one.
    let c = g.request(0, &NvspMessage::Init(nvsp::NvspMessageInit { min_protocol_ver: 0x70000, max_protocol_ver: 0x70000 }));
    let NvspMessage::InitComplete(ic) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
    assert_eq!({ ic.status }, nvsp::NVSP_STAT_FAIL);
    g.init(NvspVersion::V2, 1500);
    assert_eq!(stat(&n0, "version"), "2");
    // Version 2 has no sub-channels: the request is refused as not in the version.
    g.send_nvsp(0, &NvspMessage::subchannel_request(3), true);
    wait_stat(&n0, "bad", "1");
    g.rndis_init();
    assert_eq!(g.send_gpa(0, &tx_message(&frame_to_peer(b"v2"), &TxInfo::default()), false, None), 1);
    assert!(data_of(&g.rx_data(1)[0].1).0.ends_with(b"v2"));
}

#[test]
fn subchannels_send_table_and_rss() {
    let n0 = nic("nic0", 0, "loopback,queues=4");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    // Ask for 7: the host grants 3 (queues - 1) and offers them as relids 2, 3, 4.
    let c = g.request(0, &NvspMessage::subchannel_request(7));
    let NvspMessage::SubchannelComplete(sc) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
    assert_eq!(({ sc.status }, { sc.num_subchannels }), (nvsp::NVSP_STAT_SUCCESS, 3));
    let t = g.inband("send table", nvsp::NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE);
    let NvspMessage::SendIndirectionTable(tab) = nvsp::parse_negotiated(&t, Sender::Host, NvspVersion::V61).unwrap() else { panic!() };
    assert_eq!(tab.entries.to_vec(), (0..16).map(|i| i % 4).collect::<Vec<u32>>());
    for (i, relid) in [(1, 2), (2, 3), (3, 4)] {
        g.open_sub(i, relid);
    }
    wait_stat(&n0, "channels", "4");
    assert!(m.vmbus.describe().contains("ch4(nic0#3)"), "{}", m.vmbus.describe());

    // Data on sub-channel 2; without RSS the answer comes on channel 0.
    assert_eq!(g.send_gpa(2, &tx_message(&frame_to_peer(b"sub"), &TxInfo::default()), false, None), 1);
    let rx = g.rx_data(1);
    assert_eq!(rx[0].0, 0);
    assert_eq!(stat(&n0, "per_channel_tx"), "0/0/1/0");

    // RSS: every table entry 3, TCP/IPv4 hashing: frames come on channel 3 with the hash.
    let table = [3u16; 128];
    let key = netvsc_proto::toeplitz::DEFAULT_KEY;
    let hash_info = oid::NDIS_HASH_FUNC_TOEPLITZ | oid::NDIS_HASH_IPV4 | oid::NDIS_HASH_TCP_IPV4;
    let mut p = vec![0u8; 1024];
    let n = oid::RssParams::build(&mut p, 0, hash_info, &table, &key).unwrap();
    assert_eq!(g.set(oid::OID_GEN_RECEIVE_SCALE_PARAMETERS, &p[..n]), rndis::RNDIS_STATUS_SUCCESS);
    assert_eq!(stat(&n0, "rss"), "on");
    let f = frame_to_peer(b"rss");
    assert_eq!(g.send_gpa(1, &tx_message(&f, &TxInfo::default()), false, None), 1);
    let rx = g.rx_data(1);
    assert_eq!(rx[0].0, 3);
    let (d, info) = data_of(&rx[0].1);
    let h = netvsc_proto::toeplitz::hash_frame(&key, hash_info, &d).unwrap();
    assert_eq!((info.hash_value, info.hash_info), (Some(h.hash), Some(h.hash_info)));
    assert_eq!(stat(&n0, "per_channel_rx"), "1/0/0/1");
    // An indirection table naming a queue that does not exist is refused.
    let n = oid::RssParams::build(&mut p, 0, hash_info, &[4u16; 128], &key).unwrap();
    assert_eq!(g.set(oid::OID_GEN_RECEIVE_SCALE_PARAMETERS, &p[..n]), rndis::RNDIS_STATUS_INVALID_DATA);

    // Closing the primary ends everything; opening it again starts from scratch.
    m.post(&ChannelMessage::CloseChannel(msg::CloseChannel { child_relid: 1 }));
    wait_stat(&n0, "channels", "0");
    assert_eq!(stat(&n0, "version"), "none");
}

#[test]
fn switch_connects_nics() {
    let sw = format!("unit-switch-{}", std::process::id());
    let n0 = nic("nic0", 0, &format!("switch={sw}"));
    let n1 = nic("nic1", 1, &format!("switch={sw}"));
    let m = Machine::new(vec![n0.clone(), n1.clone()]);
    let mut g0 = Guest::open(&m, 1);
    let mut g1 = Guest::open(&m, 2);
    for g in [&mut g0, &mut g1] {
        g.init(NvspVersion::V61, 1500);
        g.rndis_init();
    }
    let mac1 = [0x00, 0x15, 0x5d, 0x00, 0x00, 0x11];
    // Broadcast from nic0 reaches nic1 (flooded), the unicast answer comes back.
    let mut bcast = frame_to_peer(b"who is there");
    bcast[..6].fill(0xff);
    assert_eq!(g0.send_gpa(0, &tx_message(&bcast, &TxInfo::default()), false, None), 1);
    let (d, _) = data_of(&g1.rx_data(1)[0].1);
    assert_eq!(d, bcast);
    let mut reply = frame_to_peer(b"nic1 here");
    reply[..6].copy_from_slice(&MAC0);
    reply[6..12].copy_from_slice(&mac1);
    assert_eq!(g1.send_gpa(0, &tx_message(&reply, &TxInfo::default()), false, None), 1);
    let (d, info) = data_of(&g0.rx_data(1)[0].1);
    assert_eq!(d, reply);
    assert!(info.rx_checksum().unwrap().tcp_checksum_succeeded);
    // An LSO frame from nic1 arrives at nic0 segmented.
    let mut big = tcp4(&vec![0x5a; 5000], 1, 0);
    big[..6].copy_from_slice(&MAC0);
    big[6..12].copy_from_slice(&mac1);
    let lso = LsoV2Tx { mss: 1000, tcp_header_offset: 34, ipv6: false };
    assert_eq!(g1.send_gpa(0, &tx_message(&big, &TxInfo { lso: Some(lso), ..Default::default() }), false, None), 1);
    let segs = g0.rx_data(5);
    assert!(segs.iter().all(|(_, s)| offload::checksums_ok(&data_of(s).0) == Some(true)));
    assert!(n0.stats_line().contains(&format!("switch={sw}")));
}

#[test]
fn ipv6_udp_checksum_offload() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 9000);
    g.rndis_init();
    let mut f = udp6(&[3u8; 8000]);
    f[..6].copy_from_slice(&PEER);
    f[6..12].copy_from_slice(&MAC0);
    let good = f.clone();
    f[60..62].fill(0);
    let csum = TxChecksum { is_ipv6: true, udp_checksum: true, tcp_header_offset: 54, ..Default::default() };
    assert_eq!(g.send_gpa(0, &tx_message(&f, &TxInfo { checksum: Some(csum), ..Default::default() }), false, None), 1);
    let (d, info) = data_of(&g.rx_data(1)[0].1);
    assert_eq!(d[12..], good[12..]);
    assert!(info.rx_checksum().unwrap().udp_checksum_succeeded);
    // Above the host MTU (9000 + 14 + 4): dropped.
    let mut huge = udp6(&[1u8; 9000]);
    huge[6..12].copy_from_slice(&MAC0);
    assert_eq!(g.send_gpa(0, &tx_message(&huge, &TxInfo::default()), false, None), 1);
    wait_stat(&n0, "tx_dropped", "1");
}

#[test]
fn link_speed_and_network_change_indications() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    let event = |g: &mut Guest| {
        let r = g.control_reply();
        let (RndisMessage::IndicateStatus(s), _) = RndisMessage::parse(&r).unwrap() else { panic!() };
        s.event().unwrap()
    };
    n0.command(&m.vmbus, &["link", "down"]).unwrap();
    assert_eq!(event(&mut g), StatusEvent::MediaDisconnect);
    assert_eq!(g.query(oid::RNDIS_OID_GEN_MEDIA_CONNECT_STATUS), 1u32.to_le_bytes());
    // While down, frames are dropped both ways.
    assert_eq!(g.send_gpa(0, &tx_message(&frame_to_peer(b"x"), &TxInfo::default()), false, None), 1);
    wait_stat(&n0, "tx_dropped", "1");
    assert_eq!(stat(&n0, "link"), "down");
    n0.command(&m.vmbus, &["link", "up"]).unwrap();
    assert_eq!(event(&mut g), StatusEvent::MediaConnect);
    n0.command(&m.vmbus, &["speed", "1000"]).unwrap();
    assert_eq!(event(&mut g), StatusEvent::LinkSpeedChange { speed_100bps: 10_000_000 });
    n0.command(&m.vmbus, &["network-change"]).unwrap();
    assert_eq!(event(&mut g), StatusEvent::NetworkChange);
    assert_eq!(g.send_gpa(0, &tx_message(&frame_to_peer(b"y"), &TxInfo::default()), false, None), 1);
    assert!(data_of(&g.rx_data(1)[0].1).0.ends_with(b"y"));
    assert!(n0.command(&m.vmbus, &["speed", "fast"]).is_err());
    assert!(n0.command(&m.vmbus, &["bogus"]).is_err());
}

#[test]
fn every_inject_kind_sends_its_bad_message() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    assert!(n0.command(&m.vmbus, &["inject", "status-unknown"]).is_err(), "no receive buffer yet");
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    let layout = ReceiveBufferLayout::host(g.recv_size, RECV_SECTION_SIZE).unwrap();
    for kind in INJECT_KINDS {
        assert_eq!(n0.command(&m.vmbus, &["inject", kind]).unwrap(), format!("injected {kind}"));
        let (_, e) = g.next(WAIT).unwrap_or_else(|| panic!("{kind}: nothing arrived"));
        match (kind, e) {
            ("rndis-len-past-buffer", Event::Xfer { control: false, msgs, .. }) => {
                assert_eq!(msgs.len(), 1);
                assert!(matches!(RndisMessage::parse(&msgs[0]), Err(RndisError::LengthPastBuffer { .. })));
            }
            ("rx-section-out-of-range", Event::BadXfer { ranges, pageset }) => {
                assert_eq!((ranges.len(), pageset), (1, nvsp::NETVSC_RECEIVE_BUFFER_ID));
                let (off, len) = ranges[0];
                assert_eq!(off, g.recv_size);
                assert!(layout.range(off, len).is_err());
            }
            ("send-completion-unknown", Event::Completion { trans_id, payload }) => {
                assert_eq!(trans_id, INJECT_UNKNOWN_TRANS_ID);
                assert!(matches!(nvsp::parse(&payload, Sender::Host), Ok(NvspMessage::SendRndisPacketComplete(_))));
            }
            ("status-unknown", Event::Xfer { control: true, msgs, .. }) => {
                let (RndisMessage::IndicateStatus(s), _) = RndisMessage::parse(&msgs[0]).unwrap() else { panic!() };
                assert_eq!(s.event().unwrap(), StatusEvent::Other(INJECT_UNKNOWN_STATUS));
            }
            ("ppi-bad-offset", Event::Xfer { control: false, msgs, .. }) => {
                assert_eq!(msgs.len(), 2);
                assert!(matches!(PacketMessage::parse_message(&msgs[0]), Err(RndisError::PpiDataOffset(64))));
                assert!(matches!(PacketMessage::parse_message(&msgs[1]), Err(RndisError::PpiPastMessage { .. })));
            }
            ("xfer-wrong-pageset", Event::Xfer { control: false, pageset, msgs }) => {
                assert_eq!(pageset, INJECT_WRONG_PAGESET);
                assert!(RndisMessage::parse(&msgs[0]).is_ok());
            }
            (k, e) => panic!("{k}: unexpected {e:?}"),
        }
    }
    assert_eq!(stat(&n0, "injected"), "6");
    // The guest completed every transfer packet: all sections are back.
    wait_stat(&n0, "sections_free", &stat(&n0, "sections_total"));
    assert!(n0.command(&m.vmbus, &["inject", "nonsense"]).is_err());
}

#[test]
fn hostile_guest_is_refused_and_counted() {
    let n0 = nic("nic0", 0, "loopback,queues=2");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    let mut bad = 0;
    let mut expect_bad = |g: &mut Guest, n: u64| {
        bad += n;
        let _ = g;
        wait_stat(&n0, "bad", &bad.to_string());
    };
    // Before INIT, only INIT is served.
    g.send_nvsp(0, &NvspMessage::send_receive_buffer(1), true);
    expect_bad(&mut g, 1);
    // Garbage NVSP: unknown type, short message, host-only type.
    g.send_raw_inband(0, &[0x99, 0, 0, 0, 1, 2, 3, 4], true);
    g.send_raw_inband(0, &[1, 0], true);
    let mut b = [0u8; 64];
    let n = NvspMessage::init_complete(Some(NvspVersion::V61), 1).encode(&mut b).unwrap();
    g.send_raw_inband(0, &b[..n], true);
    expect_bad(&mut g, 3);
    g.init(NvspVersion::V61, 1500);
    // A second receive buffer, an unknown GPADL, a send buffer on a GPADL of another
    // channel: refused with a failure status.
    let c = g.request(0, &NvspMessage::send_receive_buffer(0x100));
    let NvspMessage::SendReceiveBufferComplete(rc) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
    assert_eq!(rc.status, nvsp::NVSP_STAT_FAIL);
    let c = g.request(0, &NvspMessage::send_send_buffer(0xdead));
    let NvspMessage::SendSendBufferComplete(sc) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
    assert_eq!({ sc.status }, nvsp::NVSP_STAT_FAIL);
    expect_bad(&mut g, 2);
    // NDIS config with an MTU above the host's.
    g.send_nvsp(0, &NvspMessage::ndis_config(NvspVersion::V61, 9001, false), false);
    expect_bad(&mut g, 1);
    g.rndis_init();
    let ok_msg = tx_message(&frame_to_peer(b"fine"), &TxInfo::default());
    // Send section out of range, section size above the section, no message at all.
    let t = g.send_nvsp(0, &NvspMessage::rndis_packet(false, Some((10_000, 100))), true);
    assert_eq!(g.rndis_status(t), nvsp::NVSP_STAT_INVALID_RNDIS_PKT);
    let t = g.send_nvsp(0, &NvspMessage::rndis_packet(false, Some((1, 6145))), true);
    assert_eq!(g.rndis_status(t), nvsp::NVSP_STAT_INVALID_RNDIS_PKT);
    let t = g.send_nvsp(0, &NvspMessage::rndis_packet(false, None), true);
    assert_eq!(g.rndis_status(t), nvsp::NVSP_STAT_INVALID_RNDIS_PKT);
    expect_bad(&mut g, 3);
    // GPA ranges outside guest RAM, and with a bad page offset.
    let mut ext = MultiPageBufferHeader::new(100, 0).as_bytes().to_vec();
    ext.extend_from_slice(Pfns::from_slice(&[RAM / 4096 + 5]).as_bytes());
    let mut nb = [0u8; 64];
    let nn = NvspMessage::rndis_packet(false, None).encode(&mut nb).unwrap();
    g.next_trans += 1;
    let t = g.next_trans;
    g.chan(0).send(&OutgoingPacket::gpa_direct(t, &[&ext], &[&nb[..nn]]));
    assert_eq!(g.rndis_status(t), nvsp::NVSP_STAT_INVALID_RNDIS_PKT);
    let mut ext = MultiPageBufferHeader::new(100, 5000).as_bytes().to_vec();
    ext.extend_from_slice(Pfns::from_slice(&[0x200]).as_bytes());
    g.next_trans += 1;
    let t = g.next_trans;
    g.chan(0).send(&OutgoingPacket::gpa_direct(t, &[&ext], &[&nb[..nn]]));
    assert_eq!(g.rndis_status(t), nvsp::NVSP_STAT_INVALID_RNDIS_PKT);
    expect_bad(&mut g, 2);
    // A batch whose second message lies about its length: the first is still sent.
    let mut batch = ok_msg.clone();
    let mut second = ok_msg.clone();
    second[4..8].copy_from_slice(&100_000u32.to_le_bytes());
    batch.extend_from_slice(&second);
    assert_eq!(g.send_section(0, 2, &batch, false), nvsp::NVSP_STAT_INVALID_RNDIS_PKT);
    assert!(data_of(&g.rx_data(1)[0].1).0.ends_with(b"fine"));
    expect_bad(&mut g, 1);
    // LSO requests that do not match the frame; a checksum request for a non-IP frame.
    let f = frame_to_peer(&[1u8; 3000]);
    for lso in [LsoV2Tx { mss: 1448, tcp_header_offset: 30, ipv6: false }, LsoV2Tx { mss: 10, tcp_header_offset: 34, ipv6: false }] {
        assert_eq!(g.send_gpa(0, &tx_message(&f, &TxInfo { lso: Some(lso), ..Default::default() }), false, None), 1);
    }
    let mut arp = vec![0u8; 60];
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    let csum = TxChecksum { is_ipv4: true, tcp_checksum: true, tcp_header_offset: 34, ..Default::default() };
    assert_eq!(g.send_gpa(0, &tx_message(&arp, &TxInfo { checksum: Some(csum), ..Default::default() }), false, None), 1);
    expect_bad(&mut g, 3);
    assert_eq!(stat(&n0, "tx_dropped"), "3");
    // A completion for a transfer packet the host never sent; a bogus packet type.
    g.chan(0).send(&OutgoingPacket::completion(0x5555, &[&[108, 0, 0, 0, 1, 0, 0, 0]]));
    g.chan(0).send(&OutgoingPacket { packet_type: PacketType::CancelRequest, flags: 0, trans_id: 1, ext: &[], payload: &[&[0; 8]] });
    expect_bad(&mut g, 2);
    // Sub-channel requests on a sub-channel or with a bad op.
    let c = g.request(0, &NvspMessage::SubchannelRequest(nvsp::Nvsp5SubchannelRequest { op: 7, num_subchannels: 1 }));
    let NvspMessage::SubchannelComplete(sc) = nvsp::parse(&c, Sender::Host).unwrap() else { panic!() };
    assert_eq!({ sc.status }, nvsp::NVSP_STAT_FAIL);
    expect_bad(&mut g, 1);
    // Random packets: counted, never fatal. Then the NIC still works.
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let len = (next() % 64) as usize;
        let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len >= 4 && next() % 2 == 0 {
            // A plausible type, so the per-type checks are reached.
            let t = [1u32, 100, 101, 103, 104, 106, 107, 108, 125, 129, 133][(next() % 11) as usize];
            p[..4].copy_from_slice(&t.to_le_bytes());
        }
        if p.get(..4) == Some(&1u32.to_le_bytes()[..]) || p.get(..4) == Some(&103u32.to_le_bytes()[..]) || p.get(..4) == Some(&106u32.to_le_bytes()[..]) {
            continue; // INIT and revokes would legitimately reset the NIC
        }
        g.send_raw_inband(0, &p, next() % 2 == 0);
    }
    // Let the host get through them, dropping whatever it answered.
    std::thread::sleep(Duration::from_millis(300));
    while g.next(Duration::from_millis(100)).is_some() {}
    assert_eq!(g.send_gpa(0, &ok_msg, false, None), 1);
    assert!(data_of(&g.rx_data(1)[0].1).0.ends_with(b"fine"));
}

#[test]
fn rx_waits_for_sections_and_drops_beyond_the_queue() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    let total: usize = stat(&n0, "sections_total").parse().unwrap();
    // A guest that does not complete: the host fills every section, then queues.
    g.auto_complete = false;
    let f = frame_to_peer(&[7u8; 1000]);
    let msg = tx_message(&f, &TxInfo::default());
    let n = total + 10;
    for i in 0..n {
        assert_eq!(g.send_section(0, (i % 100) as u32, &msg, false), 1);
    }
    wait_stat(&n0, "sections_free", "0");
    wait_stat(&n0, "rx_frames", &total.to_string());
    // The guest sees exactly the frames that fit.
    let mut seen = 0;
    while seen < total {
        if let (_, Event::Xfer { msgs, .. }) = g.next(WAIT).expect("the frames that fit") {
            seen += msgs.len();
        }
    }
    // And nothing more: the rest waits for sections the guest never returns.
    assert!(g.next(Duration::from_millis(300)).is_none());
    assert_eq!(seen, total);
    // Revoking the buffer makes the NIC forget the sections the guest never completed;
    // frames queued meanwhile are dropped.
    g.send_nvsp(0, &NvspMessage::revoke_receive_buffer(), false);
    wait_stat(&n0, "sections_total", "0");
    assert_eq!(stat(&n0, "rx_frames"), total.to_string());
    // Frames while the guest has no receive buffer are dropped.
    assert_eq!(g.send_section(0, 0, &msg, false), 1);
    let t0 = Instant::now();
    while stat(&n0, "rx_dropped") == "0" {
        assert!(t0.elapsed() < WAIT, "{}", n0.stats_line());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stat(&n0, "bad"), "0");
}

#[test]
fn tearing_the_receive_buffer_down_unrevoked_stops_rx() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    // The receive buffer is the first GPADL after the ring's.
    let recv_gpadl = 0x101;
    assert!(m.vmbus.has_gpadl(1, recv_gpadl));
    m.post(&ChannelMessage::GpadlTeardown(msg::GpadlTeardown { child_relid: 1, gpadl: recv_gpadl }));
    assert_eq!(g.send_gpa(0, &tx_message(&frame_to_peer(b"z"), &TxInfo::default()), false, None), 1);
    wait_stat(&n0, "sections_total", "0");
    assert_eq!(stat(&n0, "bad"), "1");
    assert_eq!(stat(&n0, "rx_frames"), "0");
}

#[test]
fn random_rndis_messages_never_break_the_nic() {
    let n0 = nic("nic0", 0, "loopback,queues=4");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    let mut seed = 0x0dd_ba11_cafe_f00du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let oids = [
        oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER,
        oid::RNDIS_OID_802_3_MULTICAST_LIST,
        oid::OID_TCP_OFFLOAD_PARAMETERS,
        oid::OID_GEN_RECEIVE_SCALE_PARAMETERS,
        oid::RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER,
        oid::OID_OFFLOAD_ENCAPSULATION,
        oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
        oid::RNDIS_OID_GEN_SUPPORTED_LIST,
        0x1234_5678,
    ];
    for i in 0..400 {
        let len = 8 + (next() % 200) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Mostly well-framed messages of real types with random bodies, so the adapter's
        // OID handlers see garbage; sometimes garbage framing too.
        let ty = [rndis::RNDIS_MSG_QUERY, rndis::RNDIS_MSG_SET, rndis::RNDIS_MSG_PACKET, rndis::RNDIS_MSG_KEEPALIVE, rndis::RNDIS_MSG_RESET][(next() % 5) as usize];
        b[..4].copy_from_slice(&ty.to_le_bytes());
        if next() % 4 != 0 {
            b[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        }
        if len >= 28 && matches!(ty, rndis::RNDIS_MSG_QUERY | rndis::RNDIS_MSG_SET) {
            b[12..16].copy_from_slice(&oids[(next() % oids.len() as u64) as usize].to_le_bytes());
            if next() % 2 == 0 {
                let info = (len - 8 - 20) as u32;
                b[16..20].copy_from_slice(&(next() as u32 % (info + 8)).to_le_bytes());
                b[20..24].copy_from_slice(&20u32.to_le_bytes());
            }
        }
        let status = if i % 2 == 0 { g.send_section(0, (i % 50) as u32, &b, true) } else { g.send_gpa(0, &b, true, None) };
        assert!(status == nvsp::NVSP_STAT_SUCCESS || status == nvsp::NVSP_STAT_INVALID_RNDIS_PKT);
    }
    // Drain whatever the adapter answered, then the NIC still works after a fresh INIT.
    while g.next(Duration::from_millis(200)).is_some() {}
    g.rndis_init();
    assert_eq!(g.query(oid::RNDIS_OID_802_3_PERMANENT_ADDRESS), MAC0);
    // Both the refusals and the adapter's answers were exercised.
    let (bad, control): (u64, u64) = (stat(&n0, "bad").parse().unwrap(), stat(&n0, "control").parse().unwrap());
    assert!(bad > 50 && control > 50, "bad={bad} control={control}");
    // A random SET may have turned RSS on: off again for the check.
    let mut p = vec![0u8; 256];
    let n = oid::RssParams::build(&mut p, oid::NDIS_RSS_PARAM_FLAG_DISABLE_RSS, 0, &[], &[]).unwrap();
    g.set(oid::OID_GEN_RECEIVE_SCALE_PARAMETERS, &p[..n]);
    assert_eq!(g.send_gpa(0, &tx_message(&frame_to_peer(b"still here"), &TxInfo::default()), false, None), 1);
    assert!(data_of(&g.rx_data(1)[0].1).0.ends_with(b"still here"));
}

#[test]
fn leak_check_scans_send_sections_and_ranges() {
    let n0 = nic("nic0", 0, "loopback");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    // Global switch: other tests' traffic is scanned too from here on, which only counts.
    crate::leak::enable();
    let mut poisoned = frame_to_peer(&[0u8; 64]);
    poisoned[60..100].fill(crate::leak::POISON);
    let msg = tx_message(&poisoned, &TxInfo::default());
    assert_eq!(g.send_section(0, 41, &msg, false), 1);
    assert_eq!(g.send_gpa(0, &msg, false, None), 1);
    g.rx_data(2);
    let r = crate::leak::report();
    assert!(r.contains("RNDIS message in send section 41: poison"), "{r}");
    assert!(r.contains("RNDIS message in GPA ranges: poison"), "{r}");
}

#[test]
fn rescind_during_traffic_and_reoffer() {
    let n0 = nic("nic0", 0, "loopback,queues=2");
    let m = Machine::new(vec![n0.clone()]);
    let mut g = Guest::open(&m, 1);
    g.init(NvspVersion::V61, 1500);
    g.rndis_init();
    let c = g.request(0, &NvspMessage::subchannel_request(1));
    assert!(matches!(nvsp::parse(&c, Sender::Host), Ok(NvspMessage::SubchannelComplete(_))));
    g.open_sub(1, 2);
    // Traffic the guest does not read: sections run out, frames queue up in the host.
    g.auto_complete = false;
    let msg = tx_message(&frame_to_peer(&[1u8; 1400]), &TxInfo::default());
    for i in 0..300u32 {
        assert_eq!(g.send_section((i % 2) as usize, i % 100, &msg, false), 1);
    }
    wait_stat(&n0, "sections_free", "0");
    assert_eq!(m.vmbus.rescind("nic0").unwrap(), "rescinded nic0 (2 channels)");
    wait_stat(&n0, "channels", "0");
    assert_eq!(stat(&n0, "version"), "none");
    assert_eq!(stat(&n0, "sections_total"), "0");
    // Offered again under a new relid: a fresh NIC, working.
    let r = m.vmbus.reoffer("nic0").unwrap();
    let relid: u32 = r.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(relid > 2, "{r}");
    let mut g2 = Guest::open(&m, relid);
    g2.init(NvspVersion::V61, 1500);
    g2.rndis_init();
    assert_eq!(g2.send_gpa(0, &tx_message(&frame_to_peer(b"again"), &TxInfo::default()), false, None), 1);
    assert!(data_of(&g2.rx_data(1)[0].1).0.ends_with(b"again"));
    assert_eq!(stat(&n0, "bad"), "0");
}
