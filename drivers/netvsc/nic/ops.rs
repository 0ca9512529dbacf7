// SPDX-License-Identifier: GPL-2.0-only
//! The `net_device` operations other than the data path: open, stop, receive filter, queue
//! selection, statistics and the ethtool queries.

use core::sync::atomic::Ordering;

use netvsc_proto::{guest, nvsp, oid};

use super::Nic;
use crate::netdev::NetStats;
use crate::stats::{Counter, Stats};
use kernel::prelude::*;

impl Nic {

    /// `ndo_open`: the host starts delivering (Linux's open filter; the rx-mode callback
    /// follows with the exact one).
    pub(crate) fn ndo_open(&self) -> Result {
        if self.removing.load(Ordering::Acquire) {
            return Err(ENODEV);
        }
        let mut ids = self.ctl.lock();
        self.set(&mut ids, oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &oid::LINUX_OPEN_PACKET_FILTER.to_le_bytes())?;
        self.up.store(true, Ordering::Release);
        Ok(())
    }

    /// `ndo_stop`: the host stops delivering.
    pub(crate) fn ndo_stop(&self) {
        self.up.store(false, Ordering::Release);
        if self.primary().is_some_and(|c| !c.rescinded()) {
            let mut ids = self.ctl.lock();
            let _ = self.set(&mut ids, oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &0u32.to_le_bytes());
        }
    }

    /// `ndo_set_rx_mode_async` (process context): the packet filter and multicast list.
    pub(crate) fn rx_mode(&self, promisc: bool, allmulti: bool, list: &[u8], total: usize) -> Result {
        if !self.up.load(Ordering::Acquire) || self.removing.load(Ordering::Acquire) {
            return Ok(());
        }
        let (filter, use_list) = guest::rx_filter(true, promisc, allmulti, total);
        let mut ids = self.ctl.lock();
        if use_list {
            self.set(&mut ids, oid::RNDIS_OID_802_3_MULTICAST_LIST, list)?;
        }
        self.set(&mut ids, oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter.to_le_bytes())
    }

    /// `ndo_select_queue`: the host's send table.
    pub(crate) fn select_queue(&self, hash: u32, nqueues: u32) -> u16 {
        let n = nqueues.min(self.nr_queues.load(Ordering::Acquire)).max(1);
        let e = self.send_table.get(hash as usize % nvsp::VRSS_SEND_TAB_SIZE).map_or(0, |e| e.load(Ordering::Relaxed));
        if u32::from(e) < n {
            e
        } else {
            hash.checked_rem(n).unwrap_or(0) as u16
        }
    }

    /// NAPI: the host's send indirection table (entries checked against the channels the
    /// device can have; used modulo the queues open).
    pub(crate) fn set_send_table(&self, t: &nvsp::SendIndirectionTable) {
        match guest::SendTable::from_host(t, self.max_queues() as u16) {
            Ok(table) => {
                for (d, s) in self.send_table.iter().zip(table.entries().iter()) {
                    d.store(*s, Ordering::Relaxed);
                }
                self.stats.send_table.store(true, Ordering::Relaxed);
            }
            Err(e) => self.dropped(e),
        }
    }

    /// Linux's default send table for `n` queues (entry `i` is `i % n`).
    pub(super) fn set_default_send_table(&self, n: u16) {
        let t = guest::SendTable::round_robin(n);
        for (d, s) in self.send_table.iter().zip(t.entries().iter()) {
            d.store(*s, Ordering::Relaxed);
        }
    }

    /// `ndo_get_stats64`.
    pub(crate) fn stats64(&self, out: &mut NetStats) {
        for q in self.stats.queues.iter() {
            out.rx_packets += q.rx_packets.load(Ordering::Relaxed);
            out.rx_bytes += q.rx_bytes.load(Ordering::Relaxed);
            out.tx_packets += q.tx_packets.load(Ordering::Relaxed);
            out.tx_bytes += q.tx_bytes.load(Ordering::Relaxed);
        }
        out.rx_dropped = self.stats.get(Counter::RxNoMemory);
        out.rx_errors = self.stats.drops_total();
        out.tx_dropped = self.stats.get(Counter::TxDropped);
        out.multicast = self.stats.get(Counter::RxMulticast);
    }

    /// ethtool `-i` firmware version: the negotiated protocols.
    pub(crate) fn fw_version<'a>(&self, buf: &'a mut [u8; 32]) -> &'a [u8] {
        let (v, d) = (self.stats.nvsp.load(Ordering::Relaxed), self.stats.ndis.load(Ordering::Relaxed));
        let mut w = SliceWriter { buf: &mut buf[..], len: 0 };
        let _ = core::fmt::Write::write_fmt(&mut w, format_args!("NVSP {}.{} NDIS {}.{}", v >> 16, v & 0xffff, d >> 16, d & 0xffff));
        let n = w.len;
        buf.get(..n).unwrap_or(&[])
    }

    /// `ethtool -S`: entries for the queues in use.
    pub(crate) fn stat_count(&self) -> usize {
        Stats::count(self.nr_queues.load(Ordering::Acquire) as usize)
    }

    /// `ethtool -S` names for a buffer sized by [`Nic::stat_count`].
    pub(crate) fn stat_strings(&self, out: &mut [u8]) {
        Stats::strings(queues_for(out.len() / crate::stats::ETH_GSTRING_LEN), out);
    }

    /// `ethtool -S` values for an array sized by [`Nic::stat_count`].
    pub(crate) fn stat_values(&self, out: &mut [u64]) {
        self.stats.values(queues_for(out.len()), out);
    }

    /// `ethtool -l`: (most, in use).
    pub(crate) fn channels(&self) -> (u32, u32) {
        let granted = self.stats.sub_granted.load(Ordering::Relaxed);
        (granted + 1, self.nr_queues.load(Ordering::Relaxed))
    }

    /// `ethtool -g`: receive and send sections.
    pub(crate) fn rings(&self) -> (u32, u32) {
        self.data.as_ref().map_or((0, 0), |d| (d.recv.section_count, d.send.section_count))
    }

    /// Link speed for ethtool.
    pub(crate) fn speed_mbps(&self) -> u32 {
        self.link_speed.load(Ordering::Relaxed)
    }
}

/// The queues described by an `ethtool -S` buffer of `n` entries.
fn queues_for(n: usize) -> usize {
    n.saturating_sub(Stats::count(0)) / 4
}

/// `core::fmt::Write` into a byte slice (truncating).
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if let Some(d) = self.buf.get_mut(self.len) {
                *d = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}
