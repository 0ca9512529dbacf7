//! StorVSP: the synthetic SCSI controller (class `vmbus_proto::guid::SCSI`, `storage0`) the
//! guest's storage VSC drives, serving LUNs from raw images ([`crate::disk`]).
//!
//! Every wire definition and the protocol logic come from `vstor_proto`: the packets and
//! their parsers (`vstor`), the initialization sequence (`init::HostInit`), the SCSI target of
//! each LUN (`disk::Disk`, in [`lun`]), UNMAP lists and sense. This module is the plumbing:
//!
//! - one thread per open channel (primary and sub-channels) drains the guest's ring, answers
//!   the initialization and control requests at once and hands each `EXECUTE_SRB` to a pool
//!   of I/O workers, so many requests are in flight at once (queue depth is bounded by the
//!   guest's rings, not here);
//! - a worker runs the SRB against its LUN, moving data straight between the image and the
//!   guest pages of the packet's GPA page list (every page checked to be guest RAM), and
//!   sends the completion on the channel the request came from;
//! - sub-channels (`CREATE_SUB_CHANNELS`) are offered through `VmbusHost::offer_subchannels`,
//!   up to one channel per vCPU;
//! - LUNs are added, removed and resized at run time (`ENUMERATE_BUS` for the first two, as
//!   Hyper-V does; a unit attention CAPACITY DATA HAS CHANGED for the last);
//! - for tests: a LUN can be stalled (its requests held) or lose power (`volatile=on` images:
//!   unflushed writes are rolled back, see [`crate::disk`]), the controller muted (nothing
//!   answered), the protocol versions it accepts restricted, sub-channels refused or
//!   limited, and faults injected into completions (wrong request id, a completion twice, a
//!   transfer count above the request's, nonsense sense data).
//!
//! Commands (`disk ...` and `storage0 ...` on the control socket): see [`StorVsp::command`].

pub mod lun;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use vmbus_proto::guid::{self, Guid};
use vmbus_proto::packet::{GpaDirectView, PacketType};
use vmbus_proto::ring::{IncomingPacket, OutgoingPacket};
use vstor_proto::cdb::opcode;
use vstor_proto::command::{self, Command};
use vstor_proto::init::{HostAction, HostInit};
use vstor_proto::srb::{scsi_status, srb_status, ScsiResult};
use vstor_proto::vstor::{
    encode_completion, encode_notification, nt_status, parse_request, reply_len, srb_completion, ChannelProperties,
    CompletionBody, Notification, ProtocolVersion, SrbRequest, VersionSet, STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL,
    VSTOR_PACKET_SIZE,
};

use super::channel::HostChannel;
use super::{DeviceModel, VmbusHost};
use crate::disk::{parse_size, Image, ImageSpec};
use crate::guestmem::GuestRam;
use lun::{Lun, LunParams};

/// Largest transfer of one SRB (`max_transfer_bytes` in the channel properties).
pub const MAX_TRANSFER_BYTES: u32 = 2 << 20;
/// I/O worker threads of one controller.
const WORKERS: usize = 8;
/// How long a completion may wait for room in the guest's ring.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `--disk` / `disk add` specification: `size=SIZE[,path=IMG][,lun=N][,sector=512|4096]
/// [,discard=on][,direct=on][,create=no][,remove=on][,volatile=on]`. `{workdir}` in the path stands for the
/// simulator's work directory (`--workdir`: the test harness passes the guest's directory, so
/// `{workdir}/../x.img` is shared by the guests of one test run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    /// LUN number (`None`: the lowest free one).
    pub lun: Option<u8>,
    /// Logical block size.
    pub sector: u32,
    /// Thin provisioning (UNMAP, WRITE SAME with UNMAP).
    pub discard: bool,
    /// The image.
    pub image: ImageSpec,
    /// `size=0`: a LUN with no capacity (a broken host's disk).
    pub zero: bool,
}

fn on_off(k: &str, v: &str) -> Result<bool> {
    match v {
        "on" | "yes" | "1" | "true" => Ok(true),
        "off" | "no" | "0" | "false" => Ok(false),
        _ => bail!("{k}= takes on or off, not {v:?}"),
    }
}

impl DiskSpec {
    /// Parses a specification (see the type).
    pub fn parse(s: &str, workdir: &std::path::Path) -> Result<DiskSpec> {
        let mut d = DiskSpec { lun: None, sector: 512, discard: false, image: ImageSpec::default(), zero: false };
        for item in s.split(',').filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').with_context(|| format!("disk option {item:?} is not key=value"))?;
            match k {
                "size" => d.image.size = Some(parse_size(v)?),
                "path" => d.image.path = Some(PathBuf::from(v.replace("{workdir}", &workdir.to_string_lossy()))),
                "lun" => d.lun = Some(v.parse().with_context(|| format!("lun={v:?} is not 0..255"))?),
                "sector" => {
                    d.sector = match v {
                        "512" => 512,
                        "4096" | "4k" | "4K" => 4096,
                        _ => bail!("sector= must be 512 or 4096"),
                    }
                }
                "discard" => d.discard = on_off(k, v)?,
                "direct" => d.image.direct = on_off(k, v)?,
                "create" => d.image.must_exist = !on_off(k, v)?,
                "remove" => d.image.remove = on_off(k, v)?,
                "volatile" => d.image.volatile = on_off(k, v)?,
                _ => bail!("unknown disk option {k:?} (size, path, lun, sector, discard, direct, create, remove, volatile)"),
            }
        }
        if d.image.size.is_none() && d.image.path.is_none() {
            bail!("a disk needs size= (and optionally path=)");
        }
        d.zero = d.image.size == Some(0);
        if d.zero && d.image.path.is_some() {
            bail!("size=0 makes a LUN without an image; leave path= out");
        }
        if let Some(s) = d.image.size.filter(|s| *s % u64::from(d.sector) != 0) {
            bail!("size {s} is not a multiple of the {}-byte sector", d.sector);
        }
        Ok(d)
    }
}

/// A fault to inject into the next block I/O completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The completion names a request id the guest never used (the real one never comes).
    WrongId,
    /// The completion is sent twice.
    Twice,
    /// The completion claims more bytes than the request asked for.
    Overlong,
    /// CHECK CONDITION with garbage sense data and a sense length beyond the buffer.
    BadSense,
}

impl Fault {
    const ALL: [(&'static str, Fault); 4] = [
        ("wrong-id", Fault::WrongId),
        ("twice", Fault::Twice),
        ("overlong", Fault::Overlong),
        ("bad-sense", Fault::BadSense),
    ];

    fn parse(s: &str) -> Option<Fault> {
        Fault::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f)
    }

    fn name(self) -> &'static str {
        Fault::ALL.iter().find(|(_, f)| *f == self).map_or("?", |(n, _)| n)
    }
}

/// How the controller answers CREATE_SUB_CHANNELS (`storage0 subchannels ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubchannelMode {
    /// Offers what the guest asks for, up to one channel per vCPU.
    Offer,
    /// Offers at most this many.
    AtMost(u16),
    /// Answers with an error status and offers none (the properties still claim support).
    Refuse,
    /// Answers success but never offers any.
    Silent,
}

impl SubchannelMode {
    fn parse(s: &str) -> Result<SubchannelMode> {
        Ok(match s {
            "offer" | "on" => SubchannelMode::Offer,
            "refuse" => SubchannelMode::Refuse,
            "silent" => SubchannelMode::Silent,
            n => SubchannelMode::AtMost(n.parse().with_context(|| format!("subchannels takes offer, refuse, silent or a number, not {n:?}"))?),
        })
    }

    fn describe(self) -> String {
        match self {
            SubchannelMode::Offer => "sub-channels offered as asked (one per vCPU at most)".into(),
            SubchannelMode::AtMost(n) => format!("at most {n} sub-channel(s) offered"),
            SubchannelMode::Refuse => "CREATE_SUB_CHANNELS refused (error status, nothing offered)".into(),
            SubchannelMode::Silent => "CREATE_SUB_CHANNELS answered with success, nothing offered".into(),
        }
    }
}

/// Counters.
#[derive(Default)]
pub struct StorStats {
    /// SRBs executed.
    pub srbs: AtomicU64,
    /// Bytes read from images into the guest.
    pub read_bytes: AtomicU64,
    /// Bytes written from the guest to images.
    pub written_bytes: AtomicU64,
    /// SYNCHRONIZE CACHE and FUA writes made durable.
    pub flushes: AtomicU64,
    /// UNMAP and WRITE SAME commands.
    pub discards: AtomicU64,
    /// SRBs completed with anything but GOOD.
    pub errors: AtomicU64,
    /// Guest packets refused as malformed.
    pub refused: AtomicU64,
    /// Guest packets dropped while muted.
    pub dropped: AtomicU64,
    /// Faults injected.
    pub faults: AtomicU64,
    /// ENUMERATE_BUS notifications sent.
    pub notifications: AtomicU64,
}

/// One `EXECUTE_SRB` in flight.
pub struct Job {
    ch: Arc<HostChannel>,
    ram: Arc<GuestRam>,
    trans_id: u64,
    /// Whether the guest asked for a completion.
    reply: bool,
    /// Bytes of the request packet (the completion has the same size).
    wire_len: usize,
    version: ProtocolVersion,
    srb: SrbRequest,
    /// The data buffer: validated guest RAM.
    segs: Vec<(u64, usize)>,
}

/// The protocol state of the controller (its primary channel).
struct Ctl {
    init: HostInit,
    primary: Option<Arc<HostChannel>>,
}

/// The storage controller.
pub struct StorVsp {
    me: Weak<StorVsp>,
    name: String,
    instance: Guid,
    /// Sub-channels at most (vCPUs - 1).
    max_subchannels: u16,
    /// Where temporary images go.
    workdir: PathBuf,
    luns: RwLock<BTreeMap<u8, Arc<Lun>>>,
    ctl: Mutex<Ctl>,
    versions: Mutex<VersionSet>,
    jobs: Mutex<mpsc::Sender<Job>>,
    muted: AtomicBool,
    faults: Mutex<Option<(Fault, u32)>>,
    subchannels: Mutex<SubchannelMode>,
    /// Counters.
    pub stats: StorStats,
}

impl StorVsp {
    /// A controller with the LUNs of `specs`, for a guest with `vps` vCPUs; temporary images
    /// go into `workdir`.
    pub fn new(name: &str, index: u8, specs: &[DiskSpec], vps: u32, workdir: PathBuf) -> Result<Arc<StorVsp>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let vsp = Arc::new_cyclic(|me| StorVsp {
            me: me.clone(),
            name: name.to_string(),
            instance: Guid::from_fields(0x5076_6753, 0x746f, 0x7200 | u16::from(index), [0x80, 0, 0, 0, 0, 0, 0, index]),
            max_subchannels: u16::try_from(vps.saturating_sub(1)).unwrap_or(u16::MAX),
            workdir,
            luns: RwLock::new(BTreeMap::new()),
            ctl: Mutex::new(Ctl { init: HostInit::new(VersionSet::ALL, ChannelProperties::default()), primary: None }),
            versions: Mutex::new(VersionSet::ALL),
            jobs: Mutex::new(tx),
            muted: AtomicBool::new(false),
            faults: Mutex::new(None),
            subchannels: Mutex::new(SubchannelMode::Offer),
            stats: StorStats::default(),
        });
        for s in specs {
            vsp.add_lun(s)?;
        }
        let rx = Arc::new(Mutex::new(rx));
        let weak = Arc::downgrade(&vsp);
        for i in 0..WORKERS {
            let (rx, weak) = (rx.clone(), weak.clone());
            std::thread::Builder::new().name(format!("{name}-io{i}")).spawn(move || worker(rx, weak))?;
        }
        Ok(vsp)
    }

    fn properties(&self) -> ChannelProperties {
        ChannelProperties {
            max_channel_count: self.max_subchannels,
            flags: if self.max_subchannels > 0 { STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL } else { 0 },
            max_transfer_bytes: MAX_TRANSFER_BYTES,
        }
    }

    fn luns_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u8, Arc<Lun>>> {
        self.luns.read().unwrap_or_else(|e| e.into_inner())
    }

    fn luns_write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u8, Arc<Lun>>> {
        self.luns.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lun(&self, n: u8) -> Option<Arc<Lun>> {
        self.luns_read().get(&n).cloned()
    }

    /// Adds a LUN; returns its number.
    pub fn add_lun(&self, spec: &DiskSpec) -> Result<u8> {
        let mut luns = self.luns_write();
        let n = match spec.lun {
            Some(n) if luns.contains_key(&n) => bail!("LUN {n} exists"),
            Some(n) => n,
            None => (0..=u8::MAX).find(|n| !luns.contains_key(n)).context("all 256 LUNs are in use")?,
        };
        let image = if spec.zero { None } else { Some(Image::open(&spec.image, &self.workdir)?) };
        let d1 = self.instance.data1();
        let mut naa = [0u8; 16];
        naa[..4].copy_from_slice(&[0x60, 0x02, 0x24, 0x80]);
        naa[4..8].copy_from_slice(&d1.to_be_bytes());
        naa[8] = self.instance.data4()[7];
        naa[15] = n;
        let lun = Lun::new(LunParams {
            lun: n,
            sector: spec.sector,
            discard: spec.discard,
            image,
            serial: format!("PVG{d1:08X}{:02X}L{n:03}", self.instance.data4()[7]),
            naa,
        })?;
        luns.insert(n, Arc::new(lun));
        Ok(n)
    }

    fn describe_lun(l: &Lun) -> String {
        match l.image() {
            Some(img) => format!(
                "LUN {}: {} bytes, {}-byte sectors, {}{}{}{}",
                l.lun,
                l.bytes(),
                l.sector(),
                img.name,
                if img.is_direct() { " (O_DIRECT)" } else { "" },
                if img.is_volatile() { " (volatile cache)" } else { "" },
                if img.is_off() { " (power cut)" } else { "" }
            ),
            None => format!("LUN {}: size 0 (no image)", l.lun),
        }
    }

    // -- channels -----------------------------------------------------------------------

    fn serve(self: Arc<Self>, host: Arc<VmbusHost>, ch: Arc<HostChannel>) {
        let ram = host.hv().ram().clone();
        let mut buf = Vec::new();
        while ch.wait(Duration::from_millis(100)) {
            let r = ch.drain(&mut buf, |p, raw| self.packet(&host, &ram, &ch, p, raw));
            if let Err(e) = r {
                eprintln!("pvg-host: {} channel {}: {}; stopping it", self.name, ch.relid, e.as_str());
                return;
            }
        }
    }

    fn refuse(&self, ch: &HostChannel, why: std::fmt::Arguments<'_>) {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        eprintln!("pvg-host: {} channel {}: refused a packet: {why}", self.name, ch.relid);
    }

    /// One packet from the guest.
    fn packet(&self, host: &Arc<VmbusHost>, ram: &Arc<GuestRam>, ch: &Arc<HostChannel>, p: &IncomingPacket, raw: &[u8]) {
        if self.muted.load(Ordering::Acquire) {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (hl, pl) = (p.header_len() as usize, p.packet_len() as usize);
        let (Some(payload), Some(ext)) = (raw.get(hl..pl), raw.get(16..hl)) else {
            return self.refuse(ch, format_args!("lengths beyond the packet"));
        };
        let segs = match p.packet_type() {
            Some(PacketType::DataInband) => Vec::new(),
            Some(PacketType::DataUsingGpaDirect) => match guest_buffer(ram, ext) {
                Ok(s) => s,
                Err(why) => {
                    self.refuse(ch, format_args!("{why}"));
                    return self.reply(ch, p, payload.len(), nt_status::INVALID_PARAMETER, &CompletionBody::None);
                }
            },
            _ => return self.refuse(ch, format_args!("packet type {}", p.raw_type())),
        };
        let version = lock(&self.ctl).init.version();
        let req = match parse_request(payload, version) {
            Ok(r) => r,
            Err(e) => {
                self.refuse(ch, format_args!("{}", e.as_str()));
                return self.reply(ch, p, payload.len(), nt_status::INVALID_PARAMETER, &CompletionBody::None);
            }
        };
        let action = lock(&self.ctl).init.on_request(&req.body);
        match action {
            HostAction::Reply { status, body } => self.reply(ch, p, payload.len(), status, &body),
            HostAction::Reset(_) => {
                // A reset aborts the requests held by stalled LUNs, as a SCSI target aborts
                // its tasks: they are never executed and never answered, so the host will not
                // touch their pages after the guest has failed them.
                let luns: Vec<Arc<Lun>> = self.luns_read().values().cloned().collect();
                let aborted: usize = luns.iter().map(|l| std::mem::take(&mut *lock(&l.held)).len()).sum();
                if aborted > 0 {
                    eprintln!("pvg-host: {}: reset aborted {aborted} held request(s)", self.name);
                }
                self.reply(ch, p, payload.len(), nt_status::SUCCESS, &CompletionBody::None)
            }
            HostAction::CreateSubChannels(n) => {
                let mode = *lock(&self.subchannels);
                let max = match mode {
                    SubchannelMode::Offer => self.max_subchannels,
                    SubchannelMode::AtMost(m) => m.min(self.max_subchannels),
                    SubchannelMode::Refuse | SubchannelMode::Silent => 0,
                };
                let primary = lock(&self.ctl).primary.as_ref().map(|c| c.relid);
                let made = primary.map_or(0, |relid| if max > 0 { host.offer_subchannels(relid, n, max) } else { 0 });
                eprintln!("pvg-host: {}: offered {made} of {n} sub-channels ({})", self.name, mode.describe());
                let st = match mode {
                    SubchannelMode::Silent => nt_status::SUCCESS,
                    _ if made > 0 => nt_status::SUCCESS,
                    _ => nt_status::UNSUCCESSFUL,
                };
                self.reply(ch, p, payload.len(), st, &CompletionBody::None);
            }
            HostAction::ExecuteSrb(srb) => {
                let Some(version) = version else { return };
                let total: usize = segs.iter().map(|s| s.1).sum();
                let job = Job {
                    ch: ch.clone(),
                    ram: ram.clone(),
                    trans_id: p.trans_id(),
                    reply: p.completion_requested(),
                    wire_len: reply_len(payload.len()),
                    version,
                    srb,
                    segs,
                };
                if let Err(e) = srb.check_transfer(total, MAX_TRANSFER_BYTES) {
                    self.refuse(ch, format_args!("{}", e.as_str()));
                    return self.complete(&job, &ScsiResult::srb_error(srb_status::INVALID_REQUEST));
                }
                self.submit(job);
            }
        }
    }

    /// Answers a control request.
    fn reply(&self, ch: &HostChannel, p: &IncomingPacket, request_len: usize, status: u32, body: &CompletionBody) {
        if !p.completion_requested() {
            return;
        }
        let mut pkt = [0u8; VSTOR_PACKET_SIZE];
        let Ok(n) = encode_completion(&mut pkt, reply_len(request_len), status, body) else { return };
        if let Err(e) = ch.send(&OutgoingPacket::completion(p.trans_id(), &[&pkt[..n]]), SEND_TIMEOUT) {
            eprintln!("pvg-host: {} channel {}: completion not sent: {e}", self.name, ch.relid);
        }
    }

    /// Queues an SRB for the workers (or holds it, if its LUN is stalled).
    fn submit(&self, job: Job) {
        if let Some(l) = self.lun(job.srb.addr.lun).filter(|l| l.stalled.load(Ordering::Acquire)) {
            let mut held = lock(&l.held);
            if l.stalled.load(Ordering::Acquire) {
                held.push(job);
                return;
            }
        }
        if let Err(mpsc::SendError(job)) = lock(&self.jobs).send(job) {
            self.run(&job);
        }
    }

    /// Executes an SRB and completes it (a worker).
    fn run(&self, job: &Job) {
        self.stats.srbs.fetch_add(1, Ordering::Relaxed);
        let srb = &job.srb;
        let lun = if srb.addr.path_id == 0 && srb.addr.target_id == 0 { self.lun(srb.addr.lun) } else { None };
        let result = match lun {
            Some(l) => {
                let luns: Vec<u8> = self.luns_read().keys().copied().collect();
                l.execute(&job.ram, srb, &job.segs, &luns)
            }
            // REPORT LUNS belongs to the target: it is answered whatever LUN it names.
            None if srb.opcode() == opcode::REPORT_LUNS && srb.addr.target_id == 0 && srb.addr.path_id == 0 => {
                match command::parse(srb.cdb()) {
                    Ok(Command::ReportLuns { select, alloc }) => {
                        let luns: Vec<u8> = self.luns_read().keys().copied().collect();
                        lun::report_luns(&job.ram, srb, &job.segs, &luns, select, alloc)
                    }
                    Ok(_) => ScsiResult::srb_error(srb_status::INVALID_REQUEST),
                    Err(e) => ScsiResult::check_condition(e.sense()),
                }
            }
            None => ScsiResult::invalid_lun(),
        };
        self.account(srb, &result);
        self.complete(job, &result);
    }

    fn account(&self, srb: &SrbRequest, r: &ScsiResult) {
        let s = &self.stats;
        if r.srb_status != srb_status::SUCCESS || r.scsi_status != scsi_status::GOOD {
            s.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match srb.opcode() {
            opcode::READ_10 | opcode::READ_16 => s.read_bytes.fetch_add(u64::from(r.transferred), Ordering::Relaxed),
            opcode::WRITE_10 | opcode::WRITE_16 => s.written_bytes.fetch_add(u64::from(r.transferred), Ordering::Relaxed),
            opcode::SYNCHRONIZE_CACHE_10 | opcode::SYNCHRONIZE_CACHE_16 => s.flushes.fetch_add(1, Ordering::Relaxed),
            opcode::UNMAP | opcode::WRITE_SAME_16 => s.discards.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// The next armed fault, for a block READ/WRITE.
    fn take_fault(&self, srb: &SrbRequest) -> Option<Fault> {
        if !matches!(srb.opcode(), opcode::READ_10 | opcode::READ_16 | opcode::WRITE_10 | opcode::WRITE_16) {
            return None;
        }
        let mut f = lock(&self.faults);
        let (fault, left) = (*f)?;
        *f = if left > 1 { Some((fault, left - 1)) } else { None };
        self.stats.faults.fetch_add(1, Ordering::Relaxed);
        eprintln!("pvg-host: {}: injecting fault {} into the completion of opcode {:#04x}", self.name, fault.name(), srb.opcode());
        Some(fault)
    }

    /// Sends an SRB's completion (with an armed fault applied).
    fn complete(&self, job: &Job, result: &ScsiResult) {
        if !job.reply {
            return;
        }
        let mut c = srb_completion(job.version, &job.srb, result);
        let (mut id, mut times) = (job.trans_id, 1);
        match self.take_fault(&job.srb) {
            None => {}
            // Another generation of the same tag: the shape of a real id, not the request's.
            Some(Fault::WrongId) => id = (id & !0xffff_ffff) | u64::from((id as u32).wrapping_add(0x5a5a) | 1),
            Some(Fault::Twice) => times = 2,
            Some(Fault::Overlong) => c.data_transfer_length = job.srb.data_transfer_length.saturating_add(4096),
            Some(Fault::BadSense) => {
                c.srb_status = srb_status::ERROR | vstor_proto::srb::srb_status::AUTOSENSE_VALID;
                c.scsi_status = scsi_status::CHECK_CONDITION;
                for (i, b) in c.sense.iter_mut().enumerate() {
                    *b = 0x7f ^ (i as u8).wrapping_mul(37);
                }
                c.sense_len = u8::MAX;
                c.data_transfer_length = 0;
            }
        }
        let mut pkt = [0u8; VSTOR_PACKET_SIZE];
        let status = nt_status::for_srb_status(c.srb_status);
        let Ok(n) = encode_completion(&mut pkt, job.wire_len, status, &CompletionBody::Srb(c)) else { return };
        for _ in 0..times {
            if let Err(e) = job.ch.send(&OutgoingPacket::completion(id, &[&pkt[..n]]), SEND_TIMEOUT) {
                if !job.ch.is_closed() {
                    eprintln!("pvg-host: {} channel {}: completion not sent: {e}", self.name, job.ch.relid);
                }
                return;
            }
        }
    }

    /// Tells the guest to rescan the bus (LUNs came or went).
    fn notify(&self) -> &'static str {
        let (ch, version) = {
            let c = lock(&self.ctl);
            (c.primary.clone(), c.init.version())
        };
        let (Some(ch), Some(v)) = (ch, version) else { return "the guest is not connected; it sees the change when it connects" };
        if ch.is_closed() {
            return "the controller is closed";
        }
        let mut pkt = [0u8; VSTOR_PACKET_SIZE];
        let Ok(n) = encode_notification(&mut pkt, v.packet_size(), Notification::EnumerateBus) else { return "encoding failed" };
        match ch.send(&OutgoingPacket::inband(0, 0, &[&pkt[..n]]), SEND_TIMEOUT) {
            Ok(()) => {
                self.stats.notifications.fetch_add(1, Ordering::Relaxed);
                "ENUMERATE_BUS sent"
            }
            Err(_) => "ENUMERATE_BUS could not be sent",
        }
    }

    // -- commands -------------------------------------------------------------------------

    fn parse_lun(&self, s: &str) -> Result<Arc<Lun>> {
        let n: u8 = s.parse().with_context(|| format!("{s:?} is not a LUN number"))?;
        self.lun(n).with_context(|| format!("{} has no LUN {n}", self.name))
    }

    /// `disk add SPEC`, `disk remove LUN`, `disk resize LUN SIZE`, `disk alloc LUN` (allocated
    /// bytes of the image), `disk stall LUN on|off`, `disk power-cut LUN` (a `volatile=on`
    /// LUN loses its unflushed writes and answers NOT READY), `disk power-on LUN` (it answers
    /// again, with a POWER ON unit attention first), `disk list`.
    fn disk_command(&self, args: &[&str]) -> Result<String> {
        match args {
            ["add", spec] => {
                let n = self.add_lun(&DiskSpec::parse(spec, &self.workdir)?)?;
                let l = self.lun(n).context("LUN gone")?;
                Ok(format!("added {}; {}", Self::describe_lun(&l), self.notify()))
            }
            ["remove", n] => {
                let l = self.parse_lun(n)?;
                self.luns_write().remove(&l.lun);
                let held = std::mem::take(&mut *lock(&l.held));
                for job in held {
                    self.complete(&job, &ScsiResult::invalid_lun());
                }
                Ok(format!("removed LUN {}; {}", l.lun, self.notify()))
            }
            ["resize", n, size] => {
                let l = self.parse_lun(n)?;
                l.resize(parse_size(size)?)?;
                Ok(format!("LUN {} is now {} bytes (unit attention 2A/09 pending)", l.lun, l.bytes()))
            }
            ["alloc", n] => {
                let l = self.parse_lun(n)?;
                let a = l.image().map_or(Ok(0), |i| i.allocated())?;
                Ok(format!("{a} bytes"))
            }
            ["stall", n, v] => {
                let l = self.parse_lun(n)?;
                let on = on_off("stall", v)?;
                l.stalled.store(on, Ordering::Release);
                if on {
                    return Ok(format!("LUN {}: requests are held", l.lun));
                }
                let held = std::mem::take(&mut *lock(&l.held));
                let k = held.len();
                for job in held {
                    self.submit(job);
                }
                Ok(format!("LUN {}: answering again ({k} held requests released)", l.lun))
            }
            ["power-cut", n] => {
                let l = self.parse_lun(n)?;
                let img = l.image().with_context(|| format!("LUN {} has no image", l.lun))?;
                let lost = img.power_cut().with_context(|| format!("LUN {}", l.lun))?;
                Ok(format!("LUN {}: power cut; {lost} unflushed 4 KiB block(s) rolled back; it answers NOT READY", l.lun))
            }
            ["power-on", n] => {
                let l = self.parse_lun(n)?;
                if !l.power_on() {
                    bail!("LUN {} is not cut off", l.lun);
                }
                Ok(format!("LUN {}: power on (unit attention 29/00 pending)", l.lun))
            }
            ["list"] | [] => Ok(self.luns_read().values().map(|l| Self::describe_lun(l)).collect::<Vec<_>>().join("; ")),
            _ => bail!("disk commands: add SPEC, remove LUN, resize LUN SIZE, alloc LUN, stall LUN on|off, power-cut LUN, power-on LUN, list"),
        }
    }

    fn versions_command(&self, args: &[&str]) -> Result<String> {
        let mut set = VersionSet::EMPTY;
        for a in args {
            if *a == "all" {
                set = VersionSet::ALL;
                continue;
            }
            let v = ProtocolVersion::NEWEST_FIRST
                .iter()
                .find(|v| v.name().to_ascii_lowercase().starts_with(&a.to_ascii_lowercase()) && !a.is_empty())
                .with_context(|| format!("unknown version {a:?} (win6, win7, win8, win8_1, win10, all)"))?;
            set = set.with(*v);
        }
        if set == VersionSet::EMPTY {
            bail!("name at least one version");
        }
        *lock(&self.versions) = set;
        let names: Vec<&str> = ProtocolVersion::NEWEST_FIRST.iter().filter(|v| set.contains(**v)).map(|v| v.name()).collect();
        Ok(format!("accepting {} from the next initialization", names.join(", ")))
    }
}

impl DeviceModel for StorVsp {
    fn name(&self) -> &str {
        &self.name
    }

    fn class_id(&self) -> Guid {
        guid::SCSI
    }

    fn instance_id(&self) -> Guid {
        self.instance
    }

    fn open(&self, host: &Arc<VmbusHost>, ch: Arc<HostChannel>, _user_data: &[u8]) -> Result<()> {
        if ch.sub_index == 0 {
            let versions = *lock(&self.versions);
            let mut c = lock(&self.ctl);
            c.init = HostInit::new(versions, self.properties());
            c.primary = Some(ch.clone());
        }
        let vsp = self.me.upgrade().context("controller going away")?;
        let (h, c) = (host.clone(), ch.clone());
        std::thread::Builder::new().name(format!("{}-ch{}", self.name, ch.relid)).spawn(move || vsp.serve(h, c))?;
        Ok(())
    }

    fn close(&self, relid: u32) {
        let mut c = lock(&self.ctl);
        if c.primary.as_ref().is_some_and(|p| p.relid == relid) {
            c.primary = None;
            c.init.reset();
        }
    }

    fn stats(&self) -> String {
        let s = &self.stats;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "luns={} srbs={} read_bytes={} written_bytes={} flushes={} discards={} errors={} refused={} dropped={} faults={} notifications={}",
            self.luns_read().len(),
            g(&s.srbs),
            g(&s.read_bytes),
            g(&s.written_bytes),
            g(&s.flushes),
            g(&s.discards),
            g(&s.errors),
            g(&s.refused),
            g(&s.dropped),
            g(&s.faults),
            g(&s.notifications)
        )
    }

    /// `disk ...` ([`StorVsp::disk_command`]), `mute on|off` (answer nothing at all),
    /// `fault KIND [N]` / `fault off` (KIND: wrong-id, twice, overlong, bad-sense; the next N
    /// block READ/WRITE completions), `versions V...|all` (protocol versions accepted from
    /// the next initialization), `subchannels offer|refuse|silent|N` (how the next
    /// CREATE_SUB_CHANNELS is answered: see [`SubchannelMode`]), `stats`.
    fn command(&self, _host: &Arc<VmbusHost>, args: &[&str]) -> Result<String> {
        match args {
            ["disk", rest @ ..] => self.disk_command(rest),
            ["mute", v] => {
                let on = on_off("mute", v)?;
                self.muted.store(on, Ordering::Release);
                Ok(if on { "muted: nothing is answered".into() } else { "answering again".into() })
            }
            ["fault", "off"] => {
                *lock(&self.faults) = None;
                Ok("no fault armed".into())
            }
            ["fault", kind, rest @ ..] => {
                let f = Fault::parse(kind).with_context(|| {
                    let names: Vec<&str> = Fault::ALL.iter().map(|(n, _)| *n).collect();
                    format!("fault kinds: {}", names.join(", "))
                })?;
                let n: u32 = rest.first().map_or(Ok(1), |s| s.parse()).context("count")?;
                *lock(&self.faults) = (n > 0).then_some((f, n));
                Ok(format!("fault {kind} armed for the next {n} block I/O completion(s)"))
            }
            ["versions", rest @ ..] => self.versions_command(rest),
            ["subchannels", mode] => {
                let m = SubchannelMode::parse(mode)?;
                *lock(&self.subchannels) = m;
                Ok(format!("{} from the next CREATE_SUB_CHANNELS", m.describe()))
            }
            ["stats"] => Ok(self.stats()),
            _ => bail!("{} commands: disk ..., mute on|off, fault KIND [N] | fault off, versions V...|all, subchannels offer|refuse|silent|N, stats", self.name),
        }
    }
}

/// The workers' loop: run jobs until the controller is gone.
fn worker(rx: Arc<Mutex<mpsc::Receiver<Job>>>, vsp: Weak<StorVsp>) {
    loop {
        let job = match lock(&rx).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        let Some(v) = vsp.upgrade() else { return };
        v.run(&job);
    }
}

/// Validates a GPA-direct extension and turns it into guest RAM pieces (contiguous pages
/// merged).
fn guest_buffer(ram: &GuestRam, ext: &[u8]) -> Result<Vec<(u64, usize)>, String> {
    const PAGE: u64 = 4096;
    let view = GpaDirectView::parse(ext).map_err(|e| e.as_str().to_string())?;
    let mut segs: Vec<(u64, usize)> = Vec::new();
    for r in view.ranges() {
        let mut left = u64::from(r.range.byte_count);
        let mut off = u64::from(r.range.byte_offset);
        for pfn in r.pfns.iter() {
            if left == 0 {
                break;
            }
            let gpa = pfn.checked_mul(PAGE).and_then(|a| a.checked_add(off)).ok_or("page number out of range")?;
            let len = (PAGE - off).min(left);
            match segs.last_mut() {
                Some((g, l)) if *g + *l as u64 == gpa => *l += len as usize,
                _ => segs.push((gpa, len as usize)),
            }
            left -= len;
            off = 0;
        }
        if left != 0 {
            return Err("GPA range shorter than its byte count".into());
        }
    }
    for &(gpa, len) in &segs {
        if ram.layout().offset(gpa, len as u64).is_none() {
            return Err(format!("buffer {gpa:#x}+{len:#x} is not guest RAM"));
        }
    }
    Ok(segs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vstor_proto::cdb;
    use vstor_proto::sense::{asc, key};
    use vstor_proto::vstor::{DataDirection, ScsiAddress};

    #[test]
    fn disk_specs() {
        let wd = std::path::Path::new("/w/guest1");
        let d = DiskSpec::parse("size=64M,path={workdir}/../p.img,lun=3,volatile=on,create=no", wd).unwrap();
        assert_eq!(d.lun, Some(3));
        assert_eq!(d.image.path.as_deref(), Some(std::path::Path::new("/w/guest1/../p.img")));
        assert!(d.image.volatile && d.image.must_exist && !d.zero);
        assert!(DiskSpec::parse("size=0", wd).unwrap().zero);
        for bad in ["size=0,path=/x", "size=1000", "size=1M,volatile=maybe", "size=1M,colour=red", "lun=1", "size=1M,sector=1024"] {
            assert!(DiskSpec::parse(bad, wd).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn subchannel_modes() {
        assert_eq!(SubchannelMode::parse("offer").unwrap(), SubchannelMode::Offer);
        assert_eq!(SubchannelMode::parse("refuse").unwrap(), SubchannelMode::Refuse);
        assert_eq!(SubchannelMode::parse("silent").unwrap(), SubchannelMode::Silent);
        assert_eq!(SubchannelMode::parse("2").unwrap(), SubchannelMode::AtMost(2));
        assert!(SubchannelMode::parse("many").is_err());
    }

    /// A LUN whose disk loses power answers NOT READY; powered on, it reports the power-on
    /// unit attention once and works again; what was not flushed is gone.
    #[test]
    fn power_cut_lun() {
        let dir = tempfile::tempdir().unwrap();
        let ram = GuestRam::create(&dir.path().join("ram"), 1 << 20).unwrap();
        let spec = DiskSpec::parse("size=1M,volatile=on", dir.path()).unwrap();
        let image = Some(Image::open(&spec.image, dir.path()).unwrap());
        let l = Lun::new(LunParams { lun: 0, sector: 512, discard: false, image, serial: "S".into(), naa: [0x60; 16] }).unwrap();
        let addr = ScsiAddress { port_number: 0, path_id: 0, target_id: 0, lun: 0 };
        let run = |c: &[u8], dir: DataDirection, len: u32| {
            let srb = SrbRequest::new(addr, c, dir, len, true).unwrap();
            l.execute(&ram, &srb, &[(0x10000, len as usize)], &[0])
        };
        let tur = || run(cdb::test_unit_ready().as_bytes(), DataDirection::None, 0);
        assert_eq!(tur().scsi_status, scsi_status::GOOD);
        ram.write(0x10000, &[0xa5; 4096]).unwrap();
        assert_eq!(run(cdb::write_10(8, 8, false).as_bytes(), DataDirection::Write, 4096).transferred, 4096);
        let lost = l.image().unwrap().power_cut().unwrap();
        assert_eq!(lost, 1);
        for r in [tur(), run(cdb::read_10(8, 8, false).as_bytes(), DataDirection::Read, 4096)] {
            assert_eq!(r.scsi_status, scsi_status::CHECK_CONDITION);
            let s = r.sense.unwrap();
            assert_eq!((s.key(), s.asc_ascq()), (key::NOT_READY, asc::NOT_READY_CAUSE_NOT_REPORTABLE));
        }
        assert!(l.power_on());
        assert!(!l.power_on(), "already on");
        let ua = tur();
        assert_eq!(ua.sense.map(|s| (s.key(), s.asc_ascq())), Some((key::UNIT_ATTENTION, asc::POWER_ON_RESET)));
        assert_eq!(tur().scsi_status, scsi_status::GOOD);
        ram.write(0x10000, &[0xff; 4096]).unwrap();
        assert_eq!(run(cdb::read_10(8, 8, false).as_bytes(), DataDirection::Read, 4096).transferred, 4096);
        let mut back = [0u8; 4096];
        ram.read(0x10000, &mut back).unwrap();
        assert!(back.iter().all(|b| *b == 0), "the unflushed write was rolled back");
    }
}
