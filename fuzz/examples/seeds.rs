//! Seed inputs for the fuzz targets, in the formats of `pvguest_fuzz`:
//!
//! - from a capture of the simulator's traffic (`pvg-host --capture DIR`, see
//!   host/src/capture.rs): VMBus channel messages (`vmbus_message`), each channel's ring
//!   packets as the guest found them (`ring_read`: as laid out, wrapped, with a moving write
//!   index, rewritten), the storage channel's completions in order (`vstor_completion`:
//!   initialization, block I/O, control requests, notifications);
//! - from the simulator's own device logic where a capture sees no bytes (SCSI data-in and
//!   RNDIS messages travel in guest buffers, not rings; the network VSP is not in the
//!   simulator yet): `vstor_proto::disk` answering the discovery commands for the disks the
//!   tests use (`scsi_discovery`), the NVSP messages a NetVSP sends (`nvsp_message`), and
//!   `netvsc_proto::device` answering a guest's RNDIS requests, its status indications and
//!   received frames with per-packet info (`rndis_message`), and the hypervisor-side
//!   encoders of `hcall_abi` (`hcall_result`) and pvg-host's BAR header (`sim_header`).
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds -- OUT_DIR [CAPTURE_DIR...]
//! ```
//! `scripts/fuzz --seed CAPTURE_DIR` (repeatable) runs this and merges the seeds, minimised, into
//! fuzz/corpus/<target>.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use netvsc_proto::device::{DeviceConfig, Reply, RndisDevice};
use netvsc_proto::nvsp::{NvspMessage, NvspVersion, ReceiveBufferComplete, ReceiveBufferLayout, NVSP_STAT_SUCCESS};
use netvsc_proto::oid;
use netvsc_proto::packet::{build_rx_packet, RxInfo};
use netvsc_proto::ppi::{RxChecksum, VlanInfo};
use netvsc_proto::rndis;
use pvguest_fuzz::ring::{op, HostileRing};
use pvguest_fuzz::scsi::Discovery;
use pvguest_fuzz::vstor::{Event, IoSetup, MAX_DEPTH, MAX_QUEUES, MODE_INIT};
use pvguest_fuzz::nvsp::{NvspPacket, SETUP};
use pvguest_fuzz::{rndis::Section, Output};
use vmbus_proto::packet::PacketType;
use vstor_proto::cdb::{self, mode_page, select_report, vpd, PageControl};
use vstor_proto::disk::{self, Action, DiscardConfig, Disk, DiskConfig, Identifier, NON_ROTATING};
use vstor_proto::vstor::{parse_completion, CompletionBody, DataDirection, Expect, ProtocolVersion};

type Res<T> = Result<T, Box<dyn Error>>;

/// The crates' `no_std` errors as boxed errors.
fn de<E: std::fmt::Debug>(e: E) -> Box<dyn Error> {
    format!("{e:?}").into()
}

struct Seeds {
    out: PathBuf,
    counts: BTreeMap<&'static str, usize>,
}

impl Seeds {
    fn add(&mut self, target: &'static str, name: &str, bytes: &[u8]) -> Res<()> {
        let dir = self.out.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
        *self.counts.entry(target).or_default() += 1;
        Ok(())
    }
}

/// Files of `dir` in name order (none if it does not exist).
fn files(dir: &Path) -> Res<Vec<PathBuf>> {
    let mut v = match std::fs::read_dir(dir) {
        Ok(d) => d.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?,
        Err(_) => Vec::new(),
    };
    v.sort();
    Ok(v)
}

/// A captured ring stream cut into packets (descriptor to padding; trailers dropped).
fn packets(stream: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    let mut off = 0;
    while let Some(d) = stream.get(off..off + 16) {
        let len = usize::from(u16::from_le_bytes([d[4], d[5]])) * 8;
        let Some(p) = stream.get(off..off + len) else { break };
        if len < 16 {
            break;
        }
        v.push(p);
        off += len + 8;
    }
    v
}

/// (type, trans_id, payload) of a packet.
fn split(p: &[u8]) -> (u16, u64, &[u8]) {
    let t = u16::from_le_bytes([p[0], p[1]]);
    let off = usize::from(u16::from_le_bytes([p[2], p[3]])) * 8;
    let id = u64::from_le_bytes(p[8..16].try_into().unwrap());
    (t, id, p.get(off..).unwrap_or(&[]))
}

fn vmbus_messages(cap: &Path, s: &mut Seeds) -> Res<()> {
    for f in files(&cap.join("vmbus-message"))? {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        s.add("vmbus_message", &name, &std::fs::read(&f)?)?;
    }
    Ok(())
}

/// `ring_read` inputs from each channel's stream: the first packets of the ring as they were
/// laid out, wrapped around the end, with the write index moving, and rewritten under the
/// reader.
fn rings(cap: &Path, s: &mut Seeds) -> Res<()> {
    const OPS: [u8; 8] = [
        op::WALK,
        op::DRIVER_RECV | 16 << 3,
        op::CRATE_RECV | 31 << 3,
        op::BATCH_COMMIT | 3 << 3,
        op::MASK_UNMASK,
        op::BATCH_DROP | 2 << 3,
        op::DRAIN,
        op::WALK,
    ];
    for f in files(cap)? {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("ring-") {
            continue;
        }
        let stream = std::fs::read(&f)?;
        // Whole packets (with trailers) up to 2 KiB.
        let mut len = 0;
        let mut first_end = 0;
        for p in packets(&stream) {
            if len + p.len() + 8 > 2048 {
                break;
            }
            len += p.len() + 8;
            if first_end == 0 {
                first_end = len;
            }
        }
        if len == 0 {
            continue;
        }
        let size = ((len + 64 + 7) & !7) as u32;
        let prefix = &stream[..len];
        let base = HostileRing {
            data_len: size as u16,
            read: 0,
            writes: vec![len as u32],
            features: 1,
            pending: 0,
            rewrite: 0,
            rewrite_after: 255,
            ops: &OPS,
            data: prefix,
        };
        let stem = name.trim_end_matches(".bin");
        let mut o = Output::new();
        base.encode(&mut o);
        s.add("ring_read", &format!("{stem}-laid-out"), &o.0)?;

        // The same packets starting 8 bytes before the end: the first descriptor wraps.
        let start = size - 8;
        let mut wrapped = vec![0u8; size as usize];
        for (i, b) in prefix.iter().enumerate() {
            wrapped[(start as usize + i) % size as usize] = *b;
        }
        let w = HostileRing { read: start, writes: vec![(start + len as u32) % size], data: &wrapped, ..base.clone() };
        let mut o = Output::new();
        w.encode(&mut o);
        s.add("ring_read", &format!("{stem}-wrapped"), &o.0)?;

        // The host publishes the packets one load at a time, then lies about the index.
        let m = HostileRing { writes: vec![first_end as u32, len as u32, 0, first_end as u32], pending: 64, ..base.clone() };
        let mut o = Output::new();
        m.encode(&mut o);
        s.add("ring_read", &format!("{stem}-moving"), &o.0)?;

        // The host rewrites the ring while the guest copies.
        let r = HostileRing { rewrite: 0x5a, rewrite_after: 2, ..base.clone() };
        let mut o = Output::new();
        r.encode(&mut o);
        s.add("ring_read", &format!("{stem}-rewritten"), &o.0)?;
    }
    Ok(())
}

/// `vstor_completion` inputs from the storage channels' streams.
fn storage(cap: &Path, s: &mut Seeds) -> Res<()> {
    let version = ProtocolVersion::Win10;
    let vindex = ProtocolVersion::NEWEST_FIRST.iter().position(|v| *v == version).unwrap() as u8;
    for f in files(cap)? {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("ring-storage") {
            continue;
        }
        let stream = std::fs::read(&f)?;
        let stem = name.trim_end_matches(".bin");
        let pkts: Vec<_> = packets(&stream).into_iter().map(split).collect();

        // Initialization: the first control completions, in order.
        let ctl: Vec<_> = pkts.iter().filter(|(_, id, _)| id >> 63 == 1).collect();
        if !ctl.is_empty() {
            let mut o = Output::new();
            o.u8(MODE_INIT).u8(0);
            for (_, _, p) in ctl.iter().take(6) {
                o.chunk(p);
            }
            s.add("vstor_completion", &format!("{stem}-init"), &o.0)?;
        }

        // Block I/O, control requests and notifications, 48 events per seed.
        let ios: Vec<_> = pkts.iter().filter(|(_, id, _)| id >> 63 == 0 && *id != 0).collect();
        let max_q = ios.iter().map(|(_, id, _)| (id >> 48) & 0x7fff).max().unwrap_or(0);
        let max_t = ios.iter().map(|(_, id, _)| (id >> 32) & 0xffff).max().unwrap_or(0);
        let setup = IoSetup { version: vindex, queues: max_q.min(u64::from(MAX_QUEUES) - 1) as u8, depth: max_t.min(u64::from(MAX_DEPTH) - 1) as u16 };
        let depth = u64::from(setup.nr_depth());
        let mut events = Vec::new();
        for (t, id, p) in pkts.iter().skip(4) {
            if *id == 0 {
                events.push(Event::Raw { trans_id: 0, packet_type: *t, payload: p });
            } else if id >> 63 == 1 {
                events.push(Event::Control { data_len: 255, opcode: 0x12 });
                events.push(Event::ControlComplete { payload: p });
            } else {
                let (q, tag) = ((id >> 48) & 0x7fff, (id >> 32) & 0xffff);
                if q >= u64::from(setup.nr_queues()) || tag >= depth {
                    continue;
                }
                let slot = (q * depth + tag) as u16;
                let data_len = match parse_completion(p, Expect::Srb(version)) {
                    Ok(c) => match c.body {
                        CompletionBody::Srb(b) => b.data_transfer_length,
                        _ => 0,
                    },
                    Err(_) => 0,
                };
                events.push(Event::Issue { slot, opcode: 0x28, data_len, full_transfer: true });
                events.push(Event::Complete { slot, packet_type: *t, payload: p });
                // The same id again, as a host repeating a completion would send it.
                if events.len() % 16 == 2 {
                    events.push(Event::Raw { trans_id: *id, packet_type: *t, payload: p });
                }
            }
        }
        for (k, chunk) in events.chunks(48).take(8).enumerate() {
            let mut o = Output::new();
            setup.encode(&mut o);
            for e in chunk {
                e.encode(&mut o);
            }
            s.add("vstor_completion", &format!("{stem}-io{k}"), &o.0)?;
        }
    }
    Ok(())
}

/// What the simulator's disk answers to one discovery command (`None`: the command failed).
fn answer(d: &mut Disk<'_>, cdb: &cdb::Cdb, alloc: u32) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; alloc as usize];
    match d.execute(cdb.as_bytes(), DataDirection::Read, alloc, &mut buf) {
        Action::Done(r) if r.srb_status == vstor_proto::srb::srb_status::SUCCESS && r.sense.is_none() => {
            buf.truncate(r.transferred as usize);
            Some(buf)
        }
        _ => None,
    }
}

/// `scsi_discovery` inputs: the simulator's disk target (as host/src/vmbus/storage/lun.rs
/// configures it) answering what drivers/storvsc/lun.rs asks, for the tests' disks.
fn scsi(s: &mut Seeds) -> Res<()> {
    let disks: [(&str, u32, u64, bool, bool, &[u8]); 4] = [
        ("512-thin", 512, 256 << 11, true, false, b"pvg0000000000001"),
        ("4096-thick", 4096, 64 << 8, false, false, b"pvg0000000000002"),
        ("512-readonly", 512, 1 << 20, false, true, b""),
        ("4096-huge", 4096, 1 << 33, true, false, b"serial with spaces   "),
    ];
    for (name, bs, blocks, discard, read_only, serial) in disks {
        let cfg = DiskConfig {
            capacity_blocks: blocks,
            logical_block_size: bs,
            physical_block_exponent: if bs == 512 { 3 } else { 0 },
            vendor: b"Msft",
            product: b"Virtual Disk",
            revision: b"1.0",
            serial,
            identifier: Identifier::NaaExtended([0x60, 0x02, 0x24, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
            write_cache: !read_only,
            fua: true,
            read_only,
            rotation_rate: NON_ROTATING,
            max_transfer_blocks: 0,
            optimal_transfer_blocks: 0,
            discard: discard.then_some(DiscardConfig {
                max_unmap_lba_count: 0x40_0000,
                max_unmap_descriptors: 1,
                granularity: 4096 / bs,
                alignment: 0,
                lbprz: true,
            }),
            max_write_same_blocks: 0x40_0000,
        };
        let mut d = Disk::new(cfg).map_err(|e| format!("disk {name}: {e:?}"))?;
        let mut luns = vec![0u8; 4096];
        let n = disk::report_luns(&[0, 1], select_report::ALL_LUNS, &mut luns) as usize;
        luns.truncate(n);
        let answers = [
            answer(&mut d, &cdb::inquiry(cdb::INQUIRY_STANDARD_LEN), u32::from(cdb::INQUIRY_STANDARD_LEN)),
            answer(&mut d, &cdb::inquiry_vpd(vpd::SUPPORTED_PAGES, 255), 255),
            answer(&mut d, &cdb::inquiry_vpd(vpd::UNIT_SERIAL_NUMBER, 255), 255),
            answer(&mut d, &cdb::inquiry_vpd(vpd::DEVICE_IDENTIFICATION, 255), 255),
            answer(&mut d, &cdb::inquiry_vpd(vpd::BLOCK_LIMITS, 255), 255),
            answer(&mut d, &cdb::inquiry_vpd(vpd::BLOCK_DEVICE_CHARACTERISTICS, 255), 255),
            answer(&mut d, &cdb::inquiry_vpd(vpd::LOGICAL_BLOCK_PROVISIONING, 255), 255),
            answer(&mut d, &cdb::read_capacity_16(cdb::RC16_LEN), cdb::RC16_LEN),
            answer(&mut d, &cdb::read_capacity_10(), 8),
            answer(&mut d, &cdb::mode_sense_6(true, PageControl::Current, mode_page::CACHING, 0, 255), 255),
            Some(luns),
        ];
        // Block requests: (op, lba, blocks, flags) for read, write, flush, discard, write
        // zeroes, at the start and the end of the disk.
        let mut reqs = Output::new();
        for (op, lba, n, flags) in [(0u8, 0u64, 8u32, 0u8), (1, u64::MAX, 64, 1), (2, 0, 0, 0), (3, 7, 1 << 20, 0), (4, 123, 16, 2)] {
            reqs.u8(op).u64(lba).u32(n).u8(flags).u16(0);
        }
        let answers: Vec<Option<&[u8]>> = answers.iter().map(|a| a.as_deref()).collect();
        let disc = Discovery { max_transfer: 0x20_0000, answers: answers.try_into().unwrap(), requests: &reqs.0 };
        let mut o = Output::new();
        disc.encode(&mut o);
        s.add("scsi_discovery", name, &o.0)?;
    }
    Ok(())
}

/// A transfer-page extension with `ranges` (byte_count, byte_offset).
fn xfer_ext(ranges: &[(u32, u32)]) -> Vec<u8> {
    let mut o = Output::new();
    o.u16(0xcafe).u8(0).u8(0).u32(ranges.len() as u32);
    for (count, off) in ranges {
        o.u32(*count).u32(*off);
    }
    o.0
}

/// `nvsp_message` inputs: the messages a NetVSP sends, for every version.
fn network_nvsp(s: &mut Seeds) -> Res<()> {
    const RECV_BUF: u32 = 16 << 20;
    const SEND_BUF: u32 = 1 << 20;
    const SECTION: u32 = 1728;
    let layout = ReceiveBufferLayout::host(RECV_BUF, SECTION).map_err(de)?;
    for (vi, v) in NvspVersion::NEWEST_FIRST.iter().enumerate() {
        let comp = PacketType::Completion.raw();
        let inband = PacketType::DataInband.raw();
        let xfer = PacketType::DataUsingXferPages.raw();
        let ranges = xfer_ext(&[(90, 0), (1514 + 60, SECTION), (60, 5 * SECTION)]);
        let msgs: Vec<(&str, u16, Vec<u8>, NvspMessage<'static>)> = vec![
            ("init-complete", comp, vec![], NvspMessage::init_complete(Some(*v), 0)),
            ("init-refused", comp, vec![], NvspMessage::init_complete(None, 0)),
            ("recv-buf-complete", comp, vec![], NvspMessage::SendReceiveBufferComplete(ReceiveBufferComplete::single(layout.section()))),
            ("send-buf-complete", comp, vec![], NvspMessage::send_buffer_complete(NVSP_STAT_SUCCESS, 6144)),
            ("rndis-receive", xfer, ranges.clone(), NvspMessage::rndis_packet(false, None)),
            ("rndis-control-receive", xfer, xfer_ext(&[(28, 0)]), NvspMessage::rndis_packet(true, None)),
            ("rndis-send-complete", comp, vec![], NvspMessage::rndis_packet_complete(NVSP_STAT_SUCCESS)),
            ("subchannel-complete", comp, vec![], NvspMessage::subchannel_complete(NVSP_STAT_SUCCESS, 3)),
            ("send-table", inband, vec![], NvspMessage::send_table_round_robin(4)),
            ("vf-association", inband, vec![], NvspMessage::vf_association(Some(1))),
        ];
        for (name, t, ext, m) in msgs {
            let mut buf = vec![0u8; m.encoded_len()];
            let n = m.encode(&mut buf).map_err(de)?;
            // Completions answer a control request (sequence 1); receives carry the host's id.
            let trans_id = if t == comp { (1 << 63) | 1 } else { 0x1234 };
            let p = NvspPacket { version: vi as u8, recv_buf: RECV_BUF, send_buf: SEND_BUF, packet_type: t, trans_id, ext: &ext, payload: &buf[..n] };
            let mut o = Output::new();
            p.encode(&mut o);
            s.add("nvsp_message", &format!("{}-{name}", v.name().replace(' ', "").to_lowercase()), &o.0)?;
        }
        // The whole setup conversation: INIT accepted, both buffers described; and a host
        // that refuses this version first.
        let enc = |m: NvspMessage<'_>| -> Res<Vec<u8>> {
            let mut b = vec![0u8; m.encoded_len()];
            let n = m.encode(&mut b).map_err(de)?;
            b.truncate(n);
            Ok(b)
        };
        let recv = enc(NvspMessage::SendReceiveBufferComplete(ReceiveBufferComplete::single(layout.section())))?;
        let send = enc(NvspMessage::send_buffer_complete(NVSP_STAT_SUCCESS, 6144))?;
        for (name, first) in [("setup", vec![enc(NvspMessage::init_complete(Some(*v), 0))?]),
                              ("setup-refused-first", vec![enc(NvspMessage::init_complete(None, 0))?, enc(NvspMessage::init_complete(Some(*v), 0))?])] {
            let mut chunks = Output::new();
            for c in first.iter().chain([&recv, &send]) {
                chunks.chunk(c);
            }
            let p = NvspPacket { version: SETUP | vi as u8, recv_buf: RECV_BUF, send_buf: SEND_BUF, packet_type: 0, trans_id: 0, ext: &[], payload: &chunks.0 };
            let mut o = Output::new();
            p.encode(&mut o);
            s.add("nvsp_message", &format!("{}-{name}", v.name().replace(' ', "").to_lowercase()), &o.0)?;
        }
    }
    Ok(())
}

/// `rndis_message` inputs: the simulator's RNDIS adapter answering a guest, its
/// indications, and received frames with per-packet info.
fn network_rndis(s: &mut Seeds) -> Res<()> {
    let mut dev = RndisDevice::new(DeviceConfig::new([0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]));
    let mut out = vec![0u8; 4096];
    let mut req = vec![0u8; 512];
    // The request each answer completes (index into pvguest_fuzz::rndis::REQUESTS).
    const INIT: u8 = 0;
    const QUERY: u8 = 1;
    const SET: u8 = 2;
    const RESET: u8 = 3;
    const KEEPALIVE: u8 = 4;
    let add = |s: &mut Seeds, name: &str, req_id: u32, oid: u8, request: u8, bytes: &[u8]| {
        let mut o = Output::new();
        Section { req_id, oid, request, bytes }.encode(&mut o);
        s.add("rndis_message", name, &o.0)
    };
    let reply = |dev: &mut RndisDevice, req: &[u8], out: &mut Vec<u8>| -> Res<Vec<u8>> {
        match dev.handle_bytes(req, out).map_err(de)? {
            Reply::Message(n) => Ok(out[..n].to_vec()),
            Reply::None => Ok(Vec::new()),
        }
    };
    let n = rndis::build_init(&mut req, 1, 0x4000).map_err(de)?;
    let r = reply(&mut dev, &req[..n], &mut out)?;
    add(s, "init-complete", 1, 0, INIT, &r)?;
    for (i, oid) in pvguest_fuzz::rndis::OIDS.iter().enumerate() {
        let mut info = [0u8; 256];
        let len = match *oid {
            oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES => oid::build_offload_caps_query(&mut info, NvspVersion::V61).map_err(de)?,
            oid::OID_GEN_RECEIVE_SCALE_CAPABILITIES => oid::NdisRecvScaleCap::build_query(&mut info).map_err(de)?,
            _ => 0,
        };
        let id = 2 + i as u32;
        let n = rndis::build_query(&mut req, id, *oid, &info[..len]).map_err(de)?;
        let r = reply(&mut dev, &req[..n], &mut out)?;
        add(s, &format!("query-{oid:08x}"), id, i as u8, QUERY, &r)?;
    }
    let filter = (oid::NDIS_PACKET_TYPE_DIRECTED | oid::NDIS_PACKET_TYPE_BROADCAST).to_le_bytes();
    let n = rndis::build_set(&mut req, 20, oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter).map_err(de)?;
    let r = reply(&mut dev, &req[..n], &mut out)?;
    add(s, "set-complete", 20, 0, SET, &r)?;
    let n = rndis::build_keepalive(&mut req, 21).map_err(de)?;
    let r = reply(&mut dev, &req[..n], &mut out)?;
    add(s, "keepalive-complete", 21, 0, KEEPALIVE, &r)?;
    let n = rndis::build_reset(&mut req).map_err(de)?;
    let r = reply(&mut dev, &req[..n], &mut out)?;
    add(s, "reset-complete", 0, 0, RESET, &r)?;
    let n = dev.set_link(false, &mut out).map_err(de)?;
    add(s, "link-down", 0, 0, 0, &out[..n].to_vec())?;
    let n = dev.set_link_speed(100_000, &mut out).map_err(de)?;
    add(s, "link-speed", 0, 0, 0, &out[..n].to_vec())?;
    let n = dev.network_change(&mut out).map_err(de)?;
    add(s, "network-change", 0, 0, 0, &out[..n].to_vec())?;

    // Received frames: a small and a full-size one, with the metadata a host attaches.
    let mut frame = vec![0u8; 1514];
    frame[..6].copy_from_slice(&[0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    let csum = RxChecksum { tcp_checksum_succeeded: true, ip_checksum_succeeded: true, ..RxChecksum::default() };
    let infos = [
        ("rx-plain", RxInfo::default(), 60),
        ("rx-csum", RxInfo { checksum: Some(csum), ..RxInfo::default() }, 1514),
        ("rx-vlan-hash", RxInfo { vlan: Some(VlanInfo::from_tci(0x2005)), hash_value: Some(0x1234_5678), hash_info: Some(0x0c01), ..RxInfo::default() }, 342),
    ];
    let mut batch = Vec::new();
    for (name, info, len) in infos {
        let n = build_rx_packet(&mut out, &frame[..len], &info).map_err(de)?;
        add(s, name, 0, 0, 0, &out[..n].to_vec())?;
        batch.extend_from_slice(&out[..n]);
    }
    add(s, "rx-batch", 0, 0, 0, &batch)?;
    Ok(())
}

/// `hcall_result` inputs from the host-side encoders the simulator uses: rep-call results
/// (one step, several steps, a failure part-way), SynIC message slots as `host_post` leaves
/// them (free, busy with a message pending), event flags, a reference TSC page for a 2.5 GHz
/// TSC, a pvclock record.
fn hcall(s: &mut Seeds) -> Res<()> {
    use hcall_abi::status::Status;
    use hcall_abi::{reftsc, synic, tlfs};
    let rep = |r: u16| tlfs::rep_result(Status::Success, r).map_err(de);
    let mut o = Output::new();
    o.u8(0).u64(rep(0)?);
    s.add("hcall_result", "result-success", &o.0)?;
    let mut o = Output::new();
    o.u8(0).u64(u64::MAX);
    s.add("hcall_result", "result-no-page", &o.0)?;
    for (name, count, steps) in [("rep-one-step", 16u16, vec![16u16]), ("rep-three-steps", 100, vec![10, 60, 100])] {
        let mut o = Output::new();
        o.u8(1).u16(0x0013).u16(count).u8(0);
        for st in steps {
            o.u64(rep(st)?);
        }
        s.add("hcall_result", name, &o.0)?;
    }
    let mut o = Output::new();
    o.u8(1).u16(0x0013).u16(50).u8(0).u64(rep(20)?).u64(tlfs::rep_result(Status::InsufficientMemory, 30).map_err(de)?);
    s.add("hcall_result", "rep-fails", &o.0)?;

    let mut slot = [0u8; synic::MESSAGE_SIZE];
    synic::host_post(&mut slot, 1, 0, &[0x11; 48]).map_err(de)?;
    let mut o = Output::new();
    o.u8(2).bytes(&slot).u32(1).u64(7).u8(200);
    s.add("hcall_result", "synic-slot", &o.0)?;
    synic::host_post(&mut slot, 1, 0, &[0x22; 8]).map_err(de)?;
    let mut o = Output::new();
    o.u8(2).bytes(&slot).u32(1).u64(7).u8(8);
    s.add("hcall_result", "synic-slot-pending", &o.0)?;

    let mut page = vec![0u8; synic::PAGE_SIZE];
    for f in [1u32, 5, 64, 2047] {
        synic::flag_set(&mut page, 2, f).map_err(de)?;
    }
    let mut o = Output::new();
    o.u8(3).u8(2).bytes(synic::flags_area(&page, 2).map_err(de)?);
    s.add("hcall_result", "event-flags", &o.0)?;

    let scale = reftsc::scale_for_tsc_hz(2_500_000_000).map_err(de)?;
    let mut o = Output::new();
    o.u8(4).u8(4);
    for (before, after) in [(1u32, 1u32), (2, 3), (0, 0), (5, 5)] {
        o.u32(before).u64(scale).u64(1000).u64(123_456_789).u32(after);
    }
    s.add("hcall_result", "tsc-page", &o.0)?;

    let mut o = Output::new();
    o.u8(5).u32(2).u64(1_000_000).u64(5_000_000_000).u32(0xcccc_cccc).u8(0xff).u8(1).u64(2_000_000).u32(2).u8(3);
    o.u32(4).u32(1_700_000_000).u32(500).u32(4).u64(5_000_000_000);
    s.add("hcall_result", "pvclock", &o.0)?;
    Ok(())
}

/// `sim_header` inputs: the header pvg-host publishes (as main.rs builds it for the tests'
/// guests), then with the guest's fields filled in, and a slot word being polled.
fn sim(s: &mut Seeds) -> Res<()> {
    use zerocopy::IntoBytes;
    for (name, vps, ram) in [("2vp-2g", 2u32, 2u64 << 30), ("4vp-4g", 4, 4 << 30)] {
        let mut h = sim_proto::BarHeader::new_host(vps, ram, 1);
        let mut o = Output::new();
        o.bytes(h.as_bytes());
        s.add("sim_header", &format!("host-{name}"), &o.0)?;
        h.vps = vps;
        h.slots_gpa = 0x1_2345_6000;
        h.guest_state = sim_proto::guest_state::ACTIVE;
        h.guest_generation = 1;
        let mut o = Output::new();
        o.bytes(h.as_bytes()).u64(7u64 << 32 | u64::from(sim_proto::slot_state::DONE)).u32(7);
        s.add("sim_header", &format!("guest-{name}"), &o.0)?;
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, caps)) = args.split_first() else {
        return Err("usage: seeds OUT_DIR [CAPTURE_DIR...] (capture directories from pvg-host --capture)".into());
    };
    let mut s = Seeds { out: PathBuf::from(out), counts: BTreeMap::new() };
    for cap in caps {
        let cap = Path::new(cap);
        vmbus_messages(cap, &mut s)?;
        rings(cap, &mut s)?;
        storage(cap, &mut s)?;
    }
    scsi(&mut s)?;
    network_nvsp(&mut s)?;
    network_rndis(&mut s)?;
    hcall(&mut s)?;
    sim(&mut s)?;
    for (t, n) in &s.counts {
        println!("{t}: {n} seeds");
    }
    Ok(())
}
