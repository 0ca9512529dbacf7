// SPDX-License-Identifier: GPL-2.0-only
//! Bring-up: NVSP (version, buffers), RNDIS (INIT, queries, offloads), sub-channels, the
//! `net_device`; and the work item that opens the sub-channels the host offered after
//! `probe`, sets RSS and raises the number of queues.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;
use netvsc_proto::{
    guest::{self, IdQueue, IndexBitmap, InitParams, NvspSetup, SetupAction, SetupConfig, TxCaps},
    nvsp::{self, NvspMessage, NvspVersion},
    oid::{self, NdisRecvScaleCap, OffloadPlan},
    rndis,
};

use super::{parse_reply, DataPath, Negotiated, Nic, MAX_MTU, MAX_RECV_SECTION, TX_HEADROOM};
use crate::netdev::{self, Caps, VBuf};
use crate::stats::DebugfsFiles;
use crate::vmbus::Channel;
use crate::work;

impl Nic {
    /// NVSP: version, NDIS config and version, the receive and send buffers.
    ///
    /// The NDIS config announces the largest MTU the interface will ever use ([`MAX_MTU`]),
    /// once: later MTU changes stay inside the guest (Linux instead tears the device down and
    /// sets it up again for each change). That is safe because the MTU range offered to the
    /// stack is capped by what the host's receive sections hold (`guest::max_mtu`).
    pub(super) fn setup_nvsp(&self) -> Result {
        let cfg = SetupConfig {
            newest: NvspVersion::V61,
            mtu: MAX_MTU,
            isolated: false,
            recv_buf_size: self.params.recv_buffer,
            send_buf_size: self.params.send_buffer,
        };
        let mut s = NvspSetup::new(cfg);
        let fail = |e: guest::SetupError| {
            pr_err!("{}: NVSP negotiation failed: {}\n", self.name.as_str(), e.as_str());
            EPROTO
        };
        loop {
            match s.next_action().map_err(fail)? {
                SetupAction::Send { msg, completion } => {
                    if let Some(reply) = self.nvsp(&msg, completion)? {
                        s.completion(&reply).map_err(fail)?;
                    }
                }
                SetupAction::CreateReceiveBuffer { size } => {
                    let h = self.create_buffer(size, true)?;
                    s.buffer_created(h).map_err(fail)?;
                }
                SetupAction::CreateSendBuffer { size } => {
                    let h = self.create_buffer(size, false)?;
                    s.buffer_created(h).map_err(fail)?;
                }
                SetupAction::Done => break,
            }
        }
        let (Some(version), Some(recv), Some(send)) = (s.version(), s.receive_layout(), s.send_layout()) else {
            return Err(EPROTO);
        };
        if recv.section_size > MAX_RECV_SECTION {
            pr_err!("{}: the host's receive sections of {} bytes are larger than {}\n", self.name.as_str(), recv.section_size, MAX_RECV_SECTION);
            return Err(EPROTO);
        }
        let (recv_base, send_base) = {
            let b = self.bufs.lock();
            (b.recv.as_ref().map(|v| v.as_ptr()), b.send.as_ref().map(|v| v.as_ptr()))
        };
        let (Some(recv_base), Some(send_base)) = (recv_base, send_base) else { return Err(EPROTO) };
        let nwords = IndexBitmap::words_for(send.section_count);
        let mut section_words = KVec::with_capacity(nwords, GFP_KERNEL)?;
        for _ in 0..nwords {
            section_words.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        // Each transfer packet has at least one range: at most one completion per section
        // can be outstanding, so this queue never fills (`recv_completion_cnt`).
        let cap = recv.section_count as usize + 1;
        for q in self.queues.iter() {
            let mut v = KVec::with_capacity(cap, GFP_KERNEL)?;
            v.resize(cap, 0, GFP_KERNEL)?;
            *q.pending.lock() = IdQueue::new(v);
        }
        let n = version.ndis_version();
        self.stats.nvsp.store(version.raw(), Ordering::Relaxed);
        self.stats.ndis.store(n.major << 16 | n.minor, Ordering::Relaxed);
        self.stats.recv_sections.store(recv.section_count, Ordering::Relaxed);
        self.stats.recv_section_size.store(recv.section_size, Ordering::Relaxed);
        self.stats.send_sections.store(send.section_count, Ordering::Relaxed);
        self.stats.send_section_size.store(send.section_size, Ordering::Relaxed);
        self.data.populate(DataPath { version, recv, recv_base, send, send_base, section_words });
        Ok(())
    }

    /// A zeroed buffer of `size` bytes with its GPADL on the primary channel.
    pub(super) fn create_buffer(&self, size: u32, recv: bool) -> Result<u32> {
        let chan = self.primary().ok_or(ENODEV)?;
        let buf = VBuf::new(size)?;
        // SAFETY: `buf` lives in `bufs` until its GPADL is torn down (or it is leaked).
        let h = unsafe { chan.gpadl_create(buf.as_ptr(), buf.len())? };
        let mut b = self.bufs.lock();
        if recv {
            b.recv = Some(buf);
            b.recv_gpadl = Some(h);
        } else {
            b.send = Some(buf);
            b.send_gpadl = Some(h);
        }
        Ok(h)
    }

    /// RNDIS: INIT, the queries and the offload parameters; returns how many channels to
    /// ask for.
    pub(super) fn setup_rndis(&self, info_max_cpus: u32) -> Result<u32> {
        let v = self.data.as_ref().map(|d| d.version).ok_or(ENODEV)?;
        let recv_section = self.data.as_ref().map_or(0, |d| d.recv.section_size);
        let mut ids = self.ctl.lock();
        let name = self.name.as_str();
        let proto = |what: &str, e: guest::ControlError| {
            pr_err!("{}: {}: {}\n", name, what, e.as_str());
            EPROTO
        };

        let r = self.rndis_request(&mut ids, rndis::RNDIS_MSG_INIT, |b, id| rndis::build_init(b, id, rndis::LINUX_MAX_XFER_SIZE))?;
        let m = parse_reply(&r).map_err(|e| proto("RNDIS INIT", e))?;
        // One message per send and no batching: only the status matters.
        InitParams::from_response(&m).map_err(|e| proto("RNDIS INIT", e))?;

        let r = self.query(&mut ids, oid::RNDIS_OID_802_3_PERMANENT_ADDRESS, &[])?;
        let mac = parse_reply(&r).and_then(|m| guest::query_mac(&m)).map_err(|e| proto("MAC address query", e))?;

        let host_frame = self.query(&mut ids, oid::RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, &[]).ok().and_then(|r| parse_reply(&r).and_then(|m| guest::query_u32(&m)).ok());
        let link_up = self
            .query(&mut ids, oid::RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, &[])
            .ok()
            .and_then(|r| parse_reply(&r).and_then(|m| guest::query_u32(&m)).ok())
            .is_none_or(|s| s == rndis::RNDIS_MEDIA_STATE_CONNECTED);
        if v.supports_vrss() {
            if let Some(s) = self.query(&mut ids, oid::RNDIS_OID_GEN_LINK_SPEED, &[]).ok().and_then(|r| parse_reply(&r).and_then(|m| guest::query_u32(&m)).ok()) {
                self.link_speed.store(s / 10_000, Ordering::Relaxed);
            }
        }

        // Offloads: what the host can do, and Linux's choice of what to use.
        let mut hdr = [0u8; oid::NDIS_OFFLOAD_SIZE];
        let hn = oid::build_offload_caps_query(&mut hdr, v).map_err(|_| EINVAL)?;
        let caps = self
            .query(&mut ids, oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, hdr.get(..hn).unwrap_or(&[]))
            .ok()
            .and_then(|r| parse_reply(&r).and_then(|m| guest::query_offload(&m)).ok());
        let mut plan = OffloadPlan::default();
        if let Some(caps) = caps {
            let p = OffloadPlan::linux(&caps, false);
            let mut b = [0u8; 64];
            let n = p.params.write(&mut b, v).map_err(|_| EINVAL)?;
            match self.set(&mut ids, oid::OID_TCP_OFFLOAD_PARAMETERS, b.get(..n).unwrap_or(&[])) {
                Ok(()) => plan = p,
                Err(e) => pr_warn!("{}: offload parameters refused ({:?}); no checksum or segmentation offload\n", name, e),
            }
        } else {
            pr_info!("{}: the host offers no offloads\n", name);
        }

        let rss = if v.supports_vrss() {
            let mut q = [0u8; 64];
            let qn = NdisRecvScaleCap::build_query(&mut q).map_err(|_| EINVAL)?;
            self.query(&mut ids, oid::OID_GEN_RECEIVE_SCALE_CAPABILITIES, q.get(..qn).unwrap_or(&[]))
                .ok()
                .and_then(|r| parse_reply(&r).and_then(|m| guest::query_rss_caps(&m)).ok())
        } else {
            None
        };
        let channels = guest::channels_wanted(netdev::num_online_cpus(), self.params.max_queues, info_max_cpus, rss.as_ref(), v);
        let channels = u32::from(channels).min(self.max_queues());
        self.neg.populate(Negotiated {
            mac,
            tx: TxCaps::from_plan(&plan),
            plan,
            max_mtu: guest::max_mtu(MAX_MTU, host_frame, recv_section),
            rss_entries: rss.map_or(oid::ITAB_NUM, |r| u32::from(r.num_indirect_tabent)),
            link_up,
        });
        Ok(channels)
    }

    /// Asks the host for `n` sub-channels; records how many it granted.
    pub(super) fn request_subchannels(&self, n: u32) {
        self.stats.sub_requested.store(n, Ordering::Relaxed);
        let _ids = self.ctl.lock();
        let granted = match self.nvsp(&NvspMessage::subchannel_request(n), true) {
            Ok(Some(r)) => guest::subchannels_granted(&r, n).unwrap_or_else(|e| {
                pr_warn!("{}: bad sub-channel completion: {}\n", self.name.as_str(), e.as_str());
                0
            }),
            Ok(None) => 0,
            Err(e) => {
                pr_warn!("{}: sub-channel request failed ({:?}); one queue only\n", self.name.as_str(), e);
                0
            }
        };
        self.stats.sub_granted.store(granted, Ordering::Release);
    }

    /// `probe`'s part of the bring-up.
    pub(super) fn start(&self, primary: Channel, max_cpus: u32) -> Result {
        let name = self.name.as_str();
        self.open_queue(0, primary).map_err(|e| {
            pr_err!("{}: cannot open the primary channel: {:?}\n", name, e);
            e
        })?;
        self.setup_nvsp()?;
        let channels = self.setup_rndis(max_cpus)?;
        if channels > 1 {
            self.request_subchannels(channels - 1);
        }
        let neg = self.neg.copy().ok_or(EPROTO)?;
        let dev = self.ndev.copy().ok_or(ENODEV)?;
        let p = neg.plan;
        dev.setup(&Caps {
            mac: neg.mac,
            csum_ip4: u8::from(p.ip_csum),
            csum_ip6: u8::from(p.ipv6_csum),
            tso4: u8::from(p.tso),
            tso6: u8::from(p.tso6),
            pad: [0; 2],
            min_mtu: nvsp::NETVSC_MTU_MIN,
            max_mtu: neg.max_mtu,
            tso_max: p.gso_max_size,
            headroom: TX_HEADROOM,
        });
        dev.set_carrier(neg.link_up);
        dev.register().map_err(|e| {
            pr_err!("{}: cannot register the network device: {:?}\n", name, e);
            e
        })?;
        self.registered.store(true, Ordering::Release);
        match DebugfsFiles::new(&self.shared().debugfs, name, &self.stats) {
            Ok(d) => {
                self.debugfs.populate(d);
            }
            Err(e) => pr_warn!("{}: no debugfs files ({:?})\n", name, e),
        }
        let (v, d) = (self.stats.nvsp.load(Ordering::Relaxed), self.stats.ndis.load(Ordering::Relaxed));
        let m = neg.mac;
        pr_info!(
            "{}: {} is {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, NVSP {}.{} NDIS {}.{}, link {}, max MTU {}, offloads{}{}{}{}\n",
            name,
            self.ifname(),
            m[0], m[1], m[2], m[3], m[4], m[5],
            v >> 16, v & 0xffff, d >> 16, d & 0xffff,
            if neg.link_up { "up" } else { "down" },
            neg.max_mtu,
            if p.ip_csum || p.ipv6_csum { " csum" } else { "" },
            if p.tso { " tso4" } else { "" },
            if p.tso6 { " tso6" } else { "" },
            if !(p.ip_csum || p.ipv6_csum || p.tso || p.tso6) { " none" } else { "" }
        );
        Ok(())
    }

    /// The work item: open the granted sub-channels, set RSS, raise the queue count.
    pub(super) fn setup_subchannels(&self) {
        let granted = self.stats.sub_granted.load(Ordering::Acquire);
        if granted == 0 {
            return;
        }
        let start = work::now();
        while self.stats.sub_offered.load(Ordering::Acquire) < granted
            && !self.removing.load(Ordering::Acquire)
            && !work::elapsed_ms(&start, self.params.ctl_timeout_ms)
        {
            work::sleep_ms(5);
        }
        let mut n = 1u32;
        for i in 1..=granted as usize {
            if self.removing.load(Ordering::Acquire) {
                return;
            }
            let Some(q) = self.queues.get(i) else { break };
            // SAFETY: a sub-channel the core offered for our device.
            let Some(ch) = (unsafe { Channel::from_raw(q.raw.load(Ordering::Acquire)) }) else { break };
            if let Err(e) = self.open_queue(i, ch) {
                pr_warn!("{}: cannot open sub-channel {}: {:?}\n", self.ifname(), i, e);
                break;
            }
            n += 1;
        }
        if n > 1 {
            let entries = self.neg.as_ref().map_or(oid::ITAB_NUM, |g| g.rss_entries);
            let mut b = KVec::new();
            let built = b.resize(oid::NDIS_RECV_SCALE_PARAM_SIZE + 4 * oid::ITAB_NUM_MAX as usize + 64, 0, GFP_KERNEL).is_ok();
            let len = if built { guest::build_rss_params(&mut b, n as u16, entries).ok() } else { None };
            let r = match len {
                Some(len) => {
                    let mut ids = self.ctl.lock();
                    self.set(&mut ids, oid::OID_GEN_RECEIVE_SCALE_PARAMETERS, b.get(..len).unwrap_or(&[]))
                }
                None => Err(ENOMEM),
            };
            if let Err(e) = r {
                pr_warn!("{}: RSS parameters refused ({:?}); received frames all arrive on queue 0\n", self.ifname(), e);
            }
        }
        if !self.stats.send_table.load(Ordering::Acquire) {
            // Until the host sends its table: flows spread round robin (as Linux does).
            self.set_default_send_table(n as u16);
        }
        self.nr_queues.store(n, Ordering::Release);
        self.stats.nr_queues.store(n, Ordering::Relaxed);
        if let Some(dev) = self.ndev.copy() {
            if let Err(e) = dev.set_queues(n) {
                pr_warn!("{}: cannot use {} queues ({:?})\n", self.ifname(), n, e);
            }
        }
        pr_info!("{}: {} queue(s) ({} of {} sub-channels offered)\n", self.ifname(), n, self.stats.sub_offered.load(Ordering::Relaxed), granted);
    }
}
