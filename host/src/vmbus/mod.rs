//! The VMBus host: the parent partition's side of the channel-management protocol, on the same
//! `vmbus_proto` crate the guest uses.
//!
//! It answers version negotiation, offers the configured devices (and the sub-channels a
//! device asks for), assembles GPADLs (checking every page against guest RAM), opens and closes
//! channels (handing open channels to their device model), tears GPADLs down, and rescinds and
//! re-offers devices on command. Guest messages arrive as HvPostMessage hypercalls
//! ([`Partition::post_message`]) on the hypervisor's doorbell threads, so nothing here waits for
//! the guest: answers are posted to the guest's SynIC and the call returns.

pub mod channel;
pub mod echo;
pub mod network;
pub mod ring;
pub mod storage;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use vmbus_proto::gpadl::{header_info, GpadlAssembler, Progress};
use vmbus_proto::guid::Guid;
use vmbus_proto::message::{self as msg, ChannelMessage, OfferChannel};
use vmbus_proto::version;

use crate::hv::{Hypervisor, Partition, Status};
use channel::HostChannel;

/// SINT VMBus messages and events use.
pub const VMBUS_SINT: usize = 2;
/// SynIC message type of VMBus messages.
const VMBUS_MESSAGE_TYPE: u32 = 1;
/// First event connection id handed out (1..4 are reserved by VMBus).
const CONNECTION_ID_BASE: u32 = 0x1000;

/// A device the host offers.
pub trait DeviceModel: Send + Sync {
    /// Short name for commands and logs ("echo0", "storage0", ...).
    fn name(&self) -> &str;
    /// Device class (interface type).
    fn class_id(&self) -> Guid;
    /// Device instance.
    fn instance_id(&self) -> Guid;
    /// The offer's 120 user-defined bytes.
    fn user_defined(&self) -> [u8; msg::MAX_USER_DEFINED_BYTES] {
        [0; msg::MAX_USER_DEFINED_BYTES]
    }
    /// The guest opened channel `ch` of this device (primary or sub-channel): serve it until it
    /// is closed (`ch.is_closed()`). `user_data` is OPENCHANNEL's.
    fn open(&self, host: &Arc<VmbusHost>, ch: Arc<HostChannel>, user_data: &[u8]) -> anyhow::Result<()>;
    /// Channel `relid` closed (the model stops using it; `ch.is_closed()` is already true).
    fn close(&self, relid: u32) {
        let _ = relid;
    }
    /// One-line state for the `stats` command.
    fn stats(&self) -> String {
        String::new()
    }
    /// A device-specific command (`dev NAME ...`).
    fn command(&self, host: &Arc<VmbusHost>, args: &[&str]) -> anyhow::Result<String> {
        let _ = (host, args);
        anyhow::bail!("{} takes no commands", self.name())
    }
}

/// One channel the host offered.
struct ChannelState {
    device: usize,
    offer: OfferChannel,
    open: Option<Arc<HostChannel>>,
    /// GPADLs the guest created on this channel: handle → PFNs.
    gpadls: BTreeMap<u32, Vec<u64>>,
    /// Assemblies in progress: handle → (assembler, PFN buffer).
    assembling: BTreeMap<u32, (GpadlAssembler, Vec<u64>)>,
    rescinded: bool,
}

struct DeviceSlot {
    model: Arc<dyn DeviceModel>,
    /// Offered to the guest (not rescinded).
    offered: bool,
    /// Rescinded by the host (`rescind`): not offered again, even to a reconnecting guest,
    /// until `reoffer`.
    unplugged: bool,
    /// Sub-channels offered so far.
    subs: u16,
}

struct State {
    version: u32,
    msg_target_vp: u32,
    devices: Vec<DeviceSlot>,
    channels: BTreeMap<u32, ChannelState>,
    next_relid: u32,
}

/// Counters.
#[derive(Default)]
pub struct HostStats {
    /// Guest messages handled.
    pub messages: AtomicU64,
    /// Guest messages refused (malformed, unexpected, for unknown channels, ...).
    pub refused: AtomicU64,
}

/// A lie the host tells in version negotiation (hostile mode, `lie KIND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionLie {
    /// Honest.
    None,
    /// Refuses every version the guest proposes.
    RefuseAll,
    /// Accepts, then sends a second, unsolicited VERSION_RESPONSE.
    DoubleResponse,
    /// Accepts but names a message connection id no one serves (the guest's next messages
    /// go nowhere).
    BadConnectionId,
}

impl VersionLie {
    fn parse(s: &str) -> Option<VersionLie> {
        Some(match s {
            "none" => VersionLie::None,
            "refuse-all" => VersionLie::RefuseAll,
            "double-response" => VersionLie::DoubleResponse,
            "bad-connection-id" => VersionLie::BadConnectionId,
            _ => return None,
        })
    }
}

/// The VMBus host of one guest.
pub struct VmbusHost {
    hv: Arc<Hypervisor>,
    /// The partition itself (for device models that need `Arc<VmbusHost>`).
    me: Weak<VmbusHost>,
    state: Mutex<State>,
    /// Newest protocol version accepted (for "version lies" tests it can be lowered).
    max_version: u32,
    /// How the host lies in version negotiation (hostile mode).
    lie: Mutex<VersionLie>,
    /// Counters.
    pub stats: HostStats,
    /// Log every message.
    pub trace: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl VmbusHost {
    /// A host offering `devices` once the guest asks.
    pub fn new(hv: Arc<Hypervisor>, devices: Vec<Arc<dyn DeviceModel>>, max_version: u32, trace: bool) -> Arc<VmbusHost> {
        Arc::new_cyclic(|me| VmbusHost {
            hv,
            me: me.clone(),
            state: Mutex::new(State {
                version: 0,
                msg_target_vp: 0,
                devices: devices.into_iter().map(|model| DeviceSlot { model, offered: false, unplugged: false, subs: 0 }).collect(),
                channels: BTreeMap::new(),
                next_relid: 1,
            }),
            max_version,
            lie: Mutex::new(VersionLie::None),
            stats: HostStats::default(),
            trace,
        })
    }

    /// Whether the guest has negotiated a version (is connected).
    pub fn connected(&self) -> bool {
        lock(&self.state).version != 0
    }

    /// The hypervisor (guest RAM, SynIC).
    pub fn hv(&self) -> &Arc<Hypervisor> {
        &self.hv
    }

    /// The guest pages of GPADL `gpadl` on channel `relid` (a VSP maps the guest's receive or
    /// send buffer with it). `None` when the guest created no such GPADL there (yet), or tore
    /// it down.
    pub fn gpadl_pfns(&self, relid: u32, gpadl: u32) -> Option<Vec<u64>> {
        lock(&self.state).channels.get(&relid)?.gpadls.get(&gpadl).cloned()
    }

    /// Whether GPADL `gpadl` of channel `relid` still exists (a VSP checks this before
    /// writing into a guest buffer it was given, in case the guest tore it down).
    pub fn has_gpadl(&self, relid: u32, gpadl: u32) -> bool {
        lock(&self.state).channels.get(&relid).is_some_and(|c| c.gpadls.contains_key(&gpadl))
    }

    fn send(&self, st: &State, m: &ChannelMessage<'_>) {
        let mut buf = [0u8; msg::MAX_MESSAGE_SIZE];
        match m.encode(&mut buf) {
            Ok(len) => {
                if self.trace {
                    eprintln!("pvg-host: vmbus -> guest {}", m.message_type().name());
                }
                crate::capture::message(&buf[..len]);
                self.hv.post_to_guest(st.msg_target_vp, VMBUS_SINT, VMBUS_MESSAGE_TYPE, &buf[..len]);
            }
            Err(e) => eprintln!("pvg-host: cannot encode {}: {e:?}", m.message_type().name()),
        }
    }

    fn refuse(&self, why: std::fmt::Arguments<'_>) {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        eprintln!("pvg-host: vmbus: refused: {why}");
    }

    fn offer_device(&self, st: &mut State, dev: usize, sub_index: u16) -> u32 {
        let relid = st.next_relid;
        st.next_relid += 1;
        let model = &st.devices[dev].model;
        let mut offer = OfferChannel::zeroed();
        offer.offer.if_type = model.class_id();
        offer.offer.if_instance = model.instance_id();
        offer.offer.user_def = model.user_defined();
        offer.offer.sub_channel_index = sub_index;
        offer.child_relid = relid;
        offer.interrupt_flags = 1; // dedicated interrupt: signal by connection id
        offer.connection_id = CONNECTION_ID_BASE + relid;
        crate::capture::channel_offered(relid, model.name());
        st.channels.insert(
            relid,
            ChannelState { device: dev, offer, open: None, gpadls: BTreeMap::new(), assembling: BTreeMap::new(), rescinded: false },
        );
        self.send(st, &ChannelMessage::OfferChannel(offer));
        relid
    }

    /// Offers `n` more sub-channels of the device that owns channel `relid` (devices call this
    /// when the guest asks for sub-channels through their protocol). Returns how many.
    pub fn offer_subchannels(&self, relid: u32, n: u16, max: u16) -> u16 {
        let mut st = lock(&self.state);
        let Some(dev) = st.channels.get(&relid).map(|c| c.device) else { return 0 };
        let mut made = 0;
        while made < n && st.devices[dev].subs < max {
            st.devices[dev].subs += 1;
            let idx = st.devices[dev].subs;
            self.offer_device(&mut st, dev, idx);
            made += 1;
        }
        made
    }

    fn close_channel(&self, st: &mut State, relid: u32) {
        if let Some(c) = st.channels.get_mut(&relid) {
            if let Some(ch) = c.open.take() {
                ch.close();
                let dev = c.device;
                st.devices[dev].model.close(relid);
            }
        }
    }

    /// Closing a primary channel ends its sub-channels, as on Hyper-V: the host closes and
    /// rescinds them, and a guest that opens the primary again asks for new ones.
    fn rescind_subchannels(&self, st: &mut State, relid: u32) {
        let Some(dev) = st.channels.get(&relid).filter(|c| c.offer.offer.sub_channel_index == 0).map(|c| c.device) else {
            return;
        };
        let subs: Vec<u32> = st
            .channels
            .iter()
            .filter(|(_, c)| c.device == dev && c.offer.offer.sub_channel_index != 0 && !c.rescinded)
            .map(|(r, _)| *r)
            .collect();
        for sub in subs {
            self.close_channel(st, sub);
            if let Some(c) = st.channels.get_mut(&sub) {
                c.rescinded = true;
            }
            self.send(st, &ChannelMessage::RescindChannelOffer(msg::RescindChannelOffer { child_relid: sub }));
        }
        st.devices[dev].subs = 0;
    }

    fn handle(&self, m: ChannelMessage<'_>) -> Status {
        let mut st = lock(&self.state);
        if self.trace {
            eprintln!("pvg-host: vmbus <- guest {}", m.message_type().name());
        }
        match m {
            ChannelMessage::InitiateContact(c) => {
                let v = c.vmbus_version_requested;
                let lie = *lock(&self.lie);
                let supported = version::is_known(v) && v <= self.max_version && v >= version::VERSION_WIN10 && lie != VersionLie::RefuseAll;
                st.msg_target_vp = c.target_vcpu;
                let mut resp = msg::VersionResponse::default();
                if supported {
                    st.version = v;
                    resp.version_supported = 1;
                    resp.msg_conn_id = version::message_connection_id(v, version::MESSAGE_CONNECTION_ID_4);
                    if lie == VersionLie::BadConnectionId {
                        resp.msg_conn_id = 0x00de_ad00;
                    }
                }
                self.send(&st, &ChannelMessage::VersionResponse(resp));
                if supported && lie == VersionLie::DoubleResponse {
                    self.send(&st, &ChannelMessage::VersionResponse(resp));
                }
            }
            ChannelMessage::RequestOffers => {
                if st.version == 0 {
                    self.refuse(format_args!("REQUESTOFFERS before a version was agreed"));
                    return Status::Success;
                }
                for dev in 0..st.devices.len() {
                    if !st.devices[dev].offered && !st.devices[dev].unplugged {
                        st.devices[dev].offered = true;
                        st.devices[dev].subs = 0;
                        self.offer_device(&mut st, dev, 0);
                    }
                }
                self.send(&st, &ChannelMessage::AllOffersDelivered);
            }
            ChannelMessage::GpadlHeader(h) => {
                let (relid, gpadl) = (h.child_relid, h.gpadl);
                let ram = self.hv.ram().clone();
                let info = header_info(&h);
                let Some(c) = st.channels.get_mut(&relid).filter(|c| !c.rescinded) else {
                    self.refuse(format_args!("GPADL {gpadl:#x} for unknown channel {relid}"));
                    return Status::Success;
                };
                let status = match info {
                    Ok(i) if !c.gpadls.contains_key(&gpadl) && !c.assembling.contains_key(&gpadl) => {
                        let mut a = GpadlAssembler::new();
                        let mut pfns = vec![0u64; i.pfn_count];
                        match a.header(&h, &mut pfns) {
                            Ok(Progress::Complete(_)) => Some(Self::finish_gpadl(&ram, c, gpadl, pfns)),
                            Ok(Progress::NeedMore { .. }) => {
                                c.assembling.insert(gpadl, (a, pfns));
                                None
                            }
                            Err(e) => Some(Err(e.as_str().to_string())),
                        }
                    }
                    Ok(_) => Some(Err("GPADL handle already in use".into())),
                    Err(e) => Some(Err(e.as_str().to_string())),
                };
                if let Some(r) = status {
                    self.gpadl_created(&st, relid, gpadl, r);
                }
            }
            ChannelMessage::GpadlBody(b) => {
                let gpadl = b.gpadl;
                let ram = self.hv.ram().clone();
                let found = st.channels.iter().find(|(_, c)| c.assembling.contains_key(&gpadl)).map(|(r, _)| *r);
                let Some(relid) = found else {
                    self.refuse(format_args!("GPADL body for {gpadl:#x}, which is not being created"));
                    return Status::Success;
                };
                let c = st.channels.get_mut(&relid).expect("found above");
                let (mut a, mut pfns) = c.assembling.remove(&gpadl).expect("found above");
                let r = match a.body(&b, &mut pfns) {
                    Ok(Progress::Complete(_)) => Some(Self::finish_gpadl(&ram, c, gpadl, pfns)),
                    Ok(Progress::NeedMore { .. }) => {
                        c.assembling.insert(gpadl, (a, pfns));
                        None
                    }
                    Err(e) => Some(Err(e.as_str().to_string())),
                };
                if let Some(r) = r {
                    self.gpadl_created(&st, relid, gpadl, r);
                }
            }
            ChannelMessage::GpadlTeardown(t) => {
                let (relid, gpadl) = (t.child_relid, t.gpadl);
                let ok = st.channels.get_mut(&relid).is_some_and(|c| c.gpadls.remove(&gpadl).is_some());
                if !ok {
                    self.refuse(format_args!("teardown of unknown GPADL {gpadl:#x} on channel {relid}"));
                }
                // Answer anyway: the guest must not wait forever for a GPADL we do not hold.
                self.send(&st, &ChannelMessage::GpadlTorndown(msg::GpadlTorndown { gpadl }));
            }
            ChannelMessage::OpenChannel(o) => {
                let status = self.open(&mut st, &o);
                let r = msg::OpenResult { child_relid: o.child_relid, openid: o.openid, status: u32::from(status.is_err()) };
                if let Err(e) = status {
                    self.refuse(format_args!("OPENCHANNEL {}: {e}", { o.child_relid }));
                }
                self.send(&st, &ChannelMessage::OpenResult(r));
            }
            ChannelMessage::CloseChannel(c) => {
                let relid = c.child_relid;
                self.close_channel(&mut st, relid);
                self.rescind_subchannels(&mut st, relid);
            }
            ChannelMessage::RelIdReleased(r) => {
                let relid = r.child_relid;
                match st.channels.get(&relid) {
                    Some(c) if c.rescinded => {
                        st.channels.remove(&relid);
                    }
                    _ => self.refuse(format_args!("RELID_RELEASED for channel {relid}, which was not rescinded")),
                }
            }
            ChannelMessage::ModifyChannel(m) => {
                let (relid, vp) = (m.child_relid, m.target_vp);
                if let Some(ch) = st.channels.get(&relid).and_then(|c| c.open.clone()) {
                    ch.set_target_vp(vp);
                }
                if version::modify_channel_acked(st.version) {
                    let resp = msg::ModifyChannelResponse { child_relid: relid, status: 0 };
                    self.send(&st, &ChannelMessage::ModifyChannelResponse(resp));
                }
            }
            ChannelMessage::Unload => {
                let relids: Vec<u32> = st.channels.keys().copied().collect();
                for r in relids {
                    self.close_channel(&mut st, r);
                }
                st.channels.clear();
                for d in st.devices.iter_mut() {
                    d.offered = false;
                }
                self.send(&st, &ChannelMessage::UnloadResponse);
                st.version = 0;
            }
            other => {
                self.refuse(format_args!("{} is not a guest-to-host message", other.message_type().name()));
            }
        }
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        Status::Success
    }

    fn finish_gpadl(ram: &Arc<crate::guestmem::GuestRam>, c: &mut ChannelState, gpadl: u32, pfns: Vec<u64>) -> Result<(), String> {
        for &pfn in &pfns {
            if pfn > u64::MAX >> 12 || ram.layout().offset(pfn << 12, 4096).is_none() {
                return Err(format!("page {pfn:#x} is not guest RAM"));
            }
        }
        c.gpadls.insert(gpadl, pfns);
        Ok(())
    }

    fn gpadl_created(&self, st: &State, relid: u32, gpadl: u32, r: Result<(), String>) {
        let status = match r {
            Ok(()) => 0,
            Err(e) => {
                self.refuse(format_args!("GPADL {gpadl:#x} of channel {relid}: {e}"));
                0xC000_000D // STATUS_INVALID_PARAMETER, as Hyper-V answers
            }
        };
        self.send(st, &ChannelMessage::GpadlCreated(msg::GpadlCreated { child_relid: relid, gpadl, creation_status: status }));
    }

    fn open(&self, st: &mut State, o: &msg::OpenChannel) -> Result<(), String> {
        let relid = o.child_relid;
        let (gpadl, down, vp) = (o.ringbuffer_gpadlhandle, o.downstream_ringbuffer_pageoffset, o.target_vp);
        let c = st.channels.get_mut(&relid).ok_or("unknown channel")?;
        if c.rescinded {
            return Err("channel was rescinded".into());
        }
        if c.open.is_some() {
            return Err("channel already open".into());
        }
        if vp >= sim_proto::MAX_VPS {
            return Err(format!("target VP {vp} out of range"));
        }
        let pfns = c.gpadls.get(&gpadl).ok_or("unknown ring GPADL")?;
        let (to_host, to_guest) = ring::split(self.hv.ram(), pfns, down).ok_or("bad ring split")?;
        let ch = HostChannel::new(relid, c.offer.offer.sub_channel_index, self.hv.clone(), vp, to_host, to_guest)
            .map_err(|e| format!("ring: {}", e.as_str()))?;
        let ch = Arc::new(ch);
        let model = st.devices[c.device].model.clone();
        let me = self.me.upgrade().ok_or("host going away")?;
        model.open(&me, ch.clone(), &o.userdata).map_err(|e| format!("{}: {e:#}", model.name()))?;
        c.open = Some(ch);
        Ok(())
    }

    /// Rescinds every channel of device `name` (subs first) and closes them.
    pub fn rescind(&self, name: &str) -> anyhow::Result<String> {
        let mut st = lock(&self.state);
        let dev = st.devices.iter().position(|d| d.model.name() == name).ok_or_else(|| anyhow::anyhow!("no device {name}"))?;
        if !st.devices[dev].offered {
            anyhow::bail!("{name} is not offered");
        }
        let mut relids: Vec<(u16, u32)> =
            st.channels.iter().filter(|(_, c)| c.device == dev && !c.rescinded).map(|(r, c)| (c.offer.offer.sub_channel_index, *r)).collect();
        relids.sort_by(|a, b| b.0.cmp(&a.0));
        for (_, relid) in &relids {
            self.close_channel(&mut st, *relid);
            if let Some(c) = st.channels.get_mut(relid) {
                c.rescinded = true;
            }
            self.send(&st, &ChannelMessage::RescindChannelOffer(msg::RescindChannelOffer { child_relid: *relid }));
        }
        st.devices[dev].offered = false;
        st.devices[dev].unplugged = true;
        Ok(format!("rescinded {name} ({} channels)", relids.len()))
    }

    /// Offers device `name` again (after a rescind).
    pub fn reoffer(&self, name: &str) -> anyhow::Result<String> {
        let mut st = lock(&self.state);
        let dev = st.devices.iter().position(|d| d.model.name() == name).ok_or_else(|| anyhow::anyhow!("no device {name}"))?;
        if st.devices[dev].offered {
            anyhow::bail!("{name} is already offered");
        }
        if st.version == 0 {
            st.devices[dev].unplugged = false;
            return Ok(format!("{name} will be offered when the guest connects"));
        }
        st.devices[dev].offered = true;
        st.devices[dev].unplugged = false;
        st.devices[dev].subs = 0;
        let relid = self.offer_device(&mut st, dev, 0);
        Ok(format!("offered {name} as channel {relid}"))
    }

    /// Hostile mode: the host "crashes and restarts": every offered device's channels are
    /// rescinded (in-flight work is lost, as the device models close them), then every device
    /// is offered again with new relids. Data the models had made durable stays.
    pub fn restart(&self) -> anyhow::Result<String> {
        let names: Vec<String> = {
            let st = lock(&self.state);
            if st.version == 0 {
                anyhow::bail!("the guest is not connected");
            }
            st.devices.iter().filter(|d| d.offered).map(|d| d.model.name().to_string()).collect()
        };
        for n in &names {
            self.rescind(n)?;
        }
        for n in &names {
            self.reoffer(n)?;
        }
        Ok(format!("restarted: {} devices rescinded and offered again", names.len()))
    }

    /// Hostile mode: `count` interrupts for device `name`'s channels (primary and
    /// sub-channels, round robin) with nothing new in their rings.
    pub fn interrupt_storm(&self, name: &str, count: u64) -> anyhow::Result<String> {
        let chans: Vec<Arc<HostChannel>> = {
            let st = lock(&self.state);
            let dev = st.devices.iter().position(|d| d.model.name() == name).ok_or_else(|| anyhow::anyhow!("no device {name}"))?;
            st.channels.values().filter(|c| c.device == dev).filter_map(|c| c.open.clone()).collect()
        };
        if chans.is_empty() {
            anyhow::bail!("{name} has no open channel");
        }
        for i in 0..count {
            chans[(i % chans.len() as u64) as usize].signal_guest();
        }
        Ok(format!("{count} interrupts on {} channels of {name}", chans.len()))
    }

    /// Hostile mode: how the host answers the next version negotiations.
    pub fn set_lie(&self, kind: &str) -> anyhow::Result<String> {
        let lie = VersionLie::parse(kind).ok_or_else(|| anyhow::anyhow!("lies: none, refuse-all, double-response, bad-connection-id"))?;
        *lock(&self.lie) = lie;
        Ok(format!("version negotiation: {lie:?}"))
    }

    /// Adds a device at run time (offered at once when the guest is connected).
    pub fn add_device(&self, model: Arc<dyn DeviceModel>) -> anyhow::Result<String> {
        let mut st = lock(&self.state);
        if st.devices.iter().any(|d| d.model.name() == model.name()) {
            anyhow::bail!("a device named {} exists", model.name());
        }
        let name = model.name().to_string();
        st.devices.push(DeviceSlot { model, offered: false, unplugged: false, subs: 0 });
        if st.version != 0 {
            let dev = st.devices.len() - 1;
            st.devices[dev].offered = true;
            let relid = self.offer_device(&mut st, dev, 0);
            return Ok(format!("added {name} as channel {relid}"));
        }
        Ok(format!("added {name} (offered when the guest connects)"))
    }

    /// The device named `name`.
    pub fn device(&self, name: &str) -> Option<Arc<dyn DeviceModel>> {
        lock(&self.state).devices.iter().find(|d| d.model.name() == name).map(|d| d.model.clone())
    }

    /// One line per device and channel.
    pub fn describe(&self) -> String {
        let st = lock(&self.state);
        let open = st.channels.values().filter(|c| c.open.is_some()).count();
        let mut out = format!("version={:#x} target_vp={} open_channels={open}", st.version, st.msg_target_vp);
        for d in &st.devices {
            out += &format!("; {} offered={} {}", d.model.name(), d.offered, d.model.stats());
        }
        for (relid, c) in &st.channels {
            let s = c.open.as_ref().map(|ch| {
                format!(
                    " rx={} tx={} gsig={} hsig={}",
                    ch.stats.rx_packets.load(Ordering::Relaxed),
                    ch.stats.tx_packets.load(Ordering::Relaxed),
                    ch.stats.guest_signals.load(Ordering::Relaxed),
                    ch.stats.host_signals.load(Ordering::Relaxed)
                )
            });
            out += &format!(
                "; ch{relid}({}#{}){}{}",
                st.devices[c.device].model.name(),
                { c.offer.offer.sub_channel_index },
                if c.rescinded { " rescinded" } else { "" },
                s.unwrap_or_else(|| " closed".into())
            );
        }
        out
    }

    /// Hostile host: sends what a buggy or malicious host might (see `inject` in the control
    /// commands). Returns what was done.
    pub fn inject(&self, kind: &str, args: &[&str]) -> anyhow::Result<String> {
        let st = lock(&self.state);
        if st.version == 0 {
            anyhow::bail!("the guest is not connected");
        }
        let primary = |st: &State, name: &str| -> anyhow::Result<(u32, Option<Arc<HostChannel>>)> {
            let dev = st.devices.iter().position(|d| d.model.name() == name).ok_or_else(|| anyhow::anyhow!("no device {name}"))?;
            st.channels
                .iter()
                .find(|(_, c)| c.device == dev && c.offer.offer.sub_channel_index == 0 && !c.rescinded)
                .map(|(r, c)| (*r, c.open.clone()))
                .ok_or_else(|| anyhow::anyhow!("{name} has no channel"))
        };
        let raw = |st: &State, payload: &[u8]| {
            self.hv.post_to_guest(st.msg_target_vp, VMBUS_SINT, VMBUS_MESSAGE_TYPE, payload);
        };
        match (kind, args) {
            ("unknown-message", []) => raw(&st, &[0x99, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
            ("truncated-offer", []) => raw(&st, &[1, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xbb]),
            ("duplicate-offer", [name]) => {
                let (relid, _) = primary(&st, name)?;
                let offer = st.channels[&relid].offer;
                self.send(&st, &ChannelMessage::OfferChannel(offer));
            }
            ("relid-out-of-range", []) => {
                let mut offer = OfferChannel::zeroed();
                offer.child_relid = 5000;
                offer.offer.if_type = vmbus_proto::guid::ECHO;
                self.send(&st, &ChannelMessage::OfferChannel(offer));
            }
            ("gpadl-created-unknown", []) => {
                let m = msg::GpadlCreated { child_relid: 1, gpadl: 0xdead, creation_status: 0 };
                self.send(&st, &ChannelMessage::GpadlCreated(m));
            }
            ("open-result-unknown", []) => {
                let m = msg::OpenResult { child_relid: 777, openid: 777, status: 0 };
                self.send(&st, &ChannelMessage::OpenResult(m));
            }
            ("rescind-unknown", []) => {
                self.send(&st, &ChannelMessage::RescindChannelOffer(msg::RescindChannelOffer { child_relid: 1999 }));
            }
            ("ring-bad-packet", [name]) => {
                let (_, ch) = primary(&st, name)?;
                let ch = ch.ok_or_else(|| anyhow::anyhow!("{name} is not open"))?;
                // A descriptor claiming a 512 KiB packet with its payload before its header.
                let mut p = [0u8; 24];
                p[0..2].copy_from_slice(&6u16.to_le_bytes());
                p[2..4].copy_from_slice(&0xffffu16.to_le_bytes());
                p[4..6].copy_from_slice(&0xfff0u16.to_le_bytes());
                drop(st);
                ch.inject_raw(&p);
                return Ok(format!("wrote a bogus packet into {name}'s ring"));
            }
            ("ring-bad-index", [name]) => {
                let (_, ch) = primary(&st, name)?;
                let ch = ch.ok_or_else(|| anyhow::anyhow!("{name} is not open"))?;
                drop(st);
                ch.inject_write_index(u32::MAX - 7);
                return Ok(format!("corrupted {name}'s write index"));
            }
            _ => anyhow::bail!(
                "inject kinds: unknown-message, truncated-offer, duplicate-offer NAME, relid-out-of-range, gpadl-created-unknown, open-result-unknown, rescind-unknown, ring-bad-packet NAME, ring-bad-index NAME"
            ),
        }
        Ok(format!("injected {kind}"))
    }

    /// The guest went away (QEMU exited): forget its channels, as after an UNLOAD.
    pub fn guest_gone(&self) {
        let mut st = lock(&self.state);
        let relids: Vec<u32> = st.channels.keys().copied().collect();
        for r in relids {
            self.close_channel(&mut st, r);
        }
        st.channels.clear();
        for d in st.devices.iter_mut() {
            d.offered = false;
        }
        st.version = 0;
    }
}

impl Partition for VmbusHost {
    fn post_message(&self, vp: u32, connection_id: u32, message_type: u32, payload: &[u8]) -> Status {
        if connection_id == sim_proto::TEST_CONNECTION_ID {
            // The adapter's transport self-test echoes through the hypervisor.
            return if self.hv.post_to_guest(vp, sim_proto::TEST_SINT as usize, sim_proto::TEST_MESSAGE_TYPE, payload) {
                Status::Success
            } else {
                Status::InsufficientBuffers
            };
        }
        if connection_id != version::MESSAGE_CONNECTION_ID && connection_id != version::MESSAGE_CONNECTION_ID_4 {
            return Status::InvalidConnectionId;
        }
        if message_type != VMBUS_MESSAGE_TYPE {
            return Status::InvalidParameter;
        }
        crate::leak::scan("VMBus message", payload);
        match msg::parse(payload) {
            Ok(m) => self.handle(m),
            Err(e) => {
                self.refuse(format_args!("malformed message: {}", e.as_str()));
                Status::Success
            }
        }
    }

    fn signal_event(&self, _vp: u32, connection_id: u32, _flag: u16) -> Status {
        let relid = connection_id.wrapping_sub(CONNECTION_ID_BASE);
        let ch = lock(&self.state).channels.get(&relid).and_then(|c| c.open.clone());
        match ch {
            Some(ch) => {
                ch.kick();
                Status::Success
            }
            None => Status::InvalidConnectionId,
        }
    }
}
