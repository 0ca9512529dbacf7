// SPDX-License-Identifier: GPL-2.0-only
//! Counters: per queue (= channel) and per device, shown by `ethtool -S`, summed for
//! `ip -s link` (`ndo_get_stats64`), and in debugfs
//! (`/sys/kernel/debug/pvg_netvsc/<device instance GUID>/{info,queues}`).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

use kernel::{debugfs, fmt, prelude::*, str::CString, sync::Arc};
use netvsc_proto::guest::DropKind;

/// `ETH_GSTRING_LEN`.
pub(crate) const ETH_GSTRING_LEN: usize = 32;

/// Counters of one queue.
#[derive(Default)]
pub(crate) struct QueueStats {
    pub(crate) tx_packets: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    pub(crate) rx_packets: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    /// Sends in flight (issued, not completed).
    pub(crate) tx_inflight: AtomicU64,
    /// Polls run.
    pub(crate) polls: AtomicU64,
}

/// The per-queue counters `ethtool -S` shows, in order.
const QUEUE_STATS: [&str; 4] = ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"];

/// Device counters other than the drop kinds, in `ethtool -S` order.
#[derive(Clone, Copy)]
pub(crate) enum Counter {
    /// A received frame could not get an skb.
    RxNoMemory,
    /// Multicast frames received.
    RxMulticast,
    /// Receive completions that waited for ring space.
    RxCompletionsDeferred,
    /// Receive completions lost (their queue was full).
    RxCompletionsLost,
    /// Frames sent in a send-buffer section.
    TxSections,
    /// Frames sent as a page list.
    TxPageLists,
    /// Frames linearised to fit a page list.
    TxLinearized,
    /// Partial checksums completed in software.
    TxSwChecksum,
    /// Transmit queue stopped for lack of send slots or ring space.
    TxBusy,
    /// Frames dropped on transmit (cannot be described or sent).
    TxDropped,
    /// Sends the host completed with a failure status.
    TxHostErrors,
    /// Control requests the host did not answer in time.
    ControlTimeouts,
    /// Carrier changes from the host's indications.
    LinkChanges,
}

impl Counter {
    const ALL: [Counter; 13] = [
        Counter::RxNoMemory,
        Counter::RxMulticast,
        Counter::RxCompletionsDeferred,
        Counter::RxCompletionsLost,
        Counter::TxSections,
        Counter::TxPageLists,
        Counter::TxLinearized,
        Counter::TxSwChecksum,
        Counter::TxBusy,
        Counter::TxDropped,
        Counter::TxHostErrors,
        Counter::ControlTimeouts,
        Counter::LinkChanges,
    ];

    const fn name(self) -> &'static str {
        match self {
            Counter::RxNoMemory => "rx_no_memory",
            Counter::RxMulticast => "rx_multicast",
            Counter::RxCompletionsDeferred => "rx_completions_deferred",
            Counter::RxCompletionsLost => "rx_completions_lost",
            Counter::TxSections => "tx_send_sections",
            Counter::TxPageLists => "tx_page_lists",
            Counter::TxLinearized => "tx_linearized",
            Counter::TxSwChecksum => "tx_sw_checksum",
            Counter::TxBusy => "tx_busy",
            Counter::TxDropped => "tx_dropped",
            Counter::TxHostErrors => "tx_host_errors",
            Counter::ControlTimeouts => "control_timeouts",
            Counter::LinkChanges => "link_changes",
        }
    }
}

/// Everything counted; shared (`Arc`) between the device and its debugfs files.
#[derive(Default)]
pub(crate) struct Stats {
    /// Per queue, as many as the device may open.
    pub(crate) queues: KVec<QueueStats>,
    /// Host input dropped, one counter per [`DropKind`].
    drops: [AtomicU64; DropKind::ALL.len()],
    counters: [AtomicU64; Counter::ALL.len()],
    /// Queues in use.
    pub(crate) nr_queues: AtomicU32,
    /// NVSP version (`raw`), NDIS version `major << 16 | minor`.
    pub(crate) nvsp: AtomicU32,
    pub(crate) ndis: AtomicU32,
    /// Receive sections (count, size), send sections (count, size).
    pub(crate) recv_sections: AtomicU32,
    pub(crate) recv_section_size: AtomicU32,
    pub(crate) send_sections: AtomicU32,
    pub(crate) send_section_size: AtomicU32,
    /// Sub-channels asked for, granted, offered.
    pub(crate) sub_requested: AtomicU32,
    pub(crate) sub_granted: AtomicU32,
    pub(crate) sub_offered: AtomicU32,
    /// The host's send table arrived.
    pub(crate) send_table: AtomicBool,
}

impl Stats {
    /// Counters for `queues` queues.
    pub(crate) fn new(queues: usize) -> Result<Arc<Stats>> {
        let mut v = KVec::with_capacity(queues, GFP_KERNEL)?;
        for _ in 0..queues {
            v.push(QueueStats::default(), GFP_KERNEL)?;
        }
        Ok(Arc::new(Stats { queues: v, ..Stats::default() }, GFP_KERNEL)?)
    }

    /// Queue `q`'s counters (`None` beyond the device's queues).
    pub(crate) fn queue(&self, q: usize) -> Option<&QueueStats> {
        self.queues.get(q)
    }

    /// One more dropped message of `kind`.
    pub(crate) fn drop_one(&self, kind: DropKind) {
        if let Some(c) = self.drops.get(kind.index()) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// All drops of host input.
    pub(crate) fn drops_total(&self) -> u64 {
        self.drops.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// One more of `c`.
    pub(crate) fn inc(&self, c: Counter) {
        self.add(c, 1);
    }

    /// `n` more of `c`.
    pub(crate) fn add(&self, c: Counter, n: u64) {
        if let Some(x) = self.counters.get(c as usize) {
            x.fetch_add(n, Relaxed);
        }
    }

    /// The value of `c`.
    pub(crate) fn get(&self, c: Counter) -> u64 {
        self.counters.get(c as usize).map_or(0, |x| x.load(Relaxed))
    }

    /// `ethtool -S` entries for `nq` queues.
    pub(crate) fn count(nq: usize) -> usize {
        DropKind::ALL.len() + Counter::ALL.len() + QUEUE_STATS.len() * nq
    }

    /// Writes the names for `nq` queues into `out` (32 bytes each, NUL padded).
    pub(crate) fn strings(nq: usize, out: &mut [u8]) {
        let mut slots = out.chunks_exact_mut(ETH_GSTRING_LEN);
        let mut put = |name: &[&[u8]]| {
            if let Some(s) = slots.next() {
                s.fill(0);
                let mut at = 0;
                for part in name {
                    for b in *part {
                        if at + 1 < ETH_GSTRING_LEN {
                            s[at] = *b;
                            at += 1;
                        }
                    }
                }
            }
        };
        for k in DropKind::ALL {
            put(&[k.name().as_bytes()]);
        }
        for c in Counter::ALL {
            put(&[c.name().as_bytes()]);
        }
        for q in 0..nq {
            let mut num = [0u8; 3];
            let digits = fmt_u8(q, &mut num);
            for s in QUEUE_STATS {
                put(&[b"queue_", digits, b"_", s.as_bytes()]);
            }
        }
    }

    /// Writes the values for `nq` queues into `out`.
    pub(crate) fn values(&self, nq: usize, out: &mut [u64]) {
        let mut it = out.iter_mut();
        let mut put = |v: u64| {
            if let Some(d) = it.next() {
                *d = v;
            }
        };
        for c in &self.drops {
            put(c.load(Relaxed));
        }
        for c in &self.counters {
            put(c.load(Relaxed));
        }
        for q in self.queues.iter().take(nq) {
            put(q.tx_packets.load(Relaxed));
            put(q.tx_bytes.load(Relaxed));
            put(q.rx_packets.load(Relaxed));
            put(q.rx_bytes.load(Relaxed));
        }
    }
}

/// `q` (below 1000) in decimal; the digits are at the start of `buf`.
fn fmt_u8(q: usize, buf: &mut [u8; 3]) -> &[u8] {
    let q = q.min(999);
    if q >= 100 {
        *buf = [b'0' + (q / 100) as u8, b'0' + (q / 10 % 10) as u8, b'0' + (q % 10) as u8];
        &buf[..3]
    } else if q >= 10 {
        buf[0] = b'0' + (q / 10) as u8;
        buf[1] = b'0' + (q % 10) as u8;
        &buf[..2]
    } else {
        buf[0] = b'0' + q as u8;
        &buf[..1]
    }
}

fn show_queues(s: &Arc<Stats>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{:<5} {:>12} {:>14} {:>12} {:>14} {:>9} {:>10}", "queue", "tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "inflight", "polls")?;
    let n = (s.nr_queues.load(Relaxed) as usize).min(s.queues.len());
    for (i, q) in s.queues.iter().take(n).enumerate() {
        writeln!(
            f,
            "{:<5} {:>12} {:>14} {:>12} {:>14} {:>9} {:>10}",
            i,
            q.tx_packets.load(Relaxed),
            q.tx_bytes.load(Relaxed),
            q.rx_packets.load(Relaxed),
            q.rx_bytes.load(Relaxed),
            q.tx_inflight.load(Relaxed),
            q.polls.load(Relaxed)
        )?;
    }
    Ok(())
}

fn show_info(s: &Arc<Stats>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let v = s.nvsp.load(Relaxed);
    let n = s.ndis.load(Relaxed);
    writeln!(f, "nvsp {}.{}", v >> 16, v & 0xffff)?;
    writeln!(f, "ndis {}.{}", n >> 16, n & 0xffff)?;
    writeln!(f, "queues {}", s.nr_queues.load(Relaxed))?;
    writeln!(f, "sub_channels_requested {}", s.sub_requested.load(Relaxed))?;
    writeln!(f, "sub_channels_granted {}", s.sub_granted.load(Relaxed))?;
    writeln!(f, "sub_channels_offered {}", s.sub_offered.load(Relaxed))?;
    writeln!(f, "recv_sections {} x {}", s.recv_sections.load(Relaxed), s.recv_section_size.load(Relaxed))?;
    writeln!(f, "send_sections {} x {}", s.send_sections.load(Relaxed), s.send_section_size.load(Relaxed))?;
    writeln!(f, "send_table_from_host {}", u8::from(s.send_table.load(Relaxed)))?;
    for (k, c) in DropKind::ALL.iter().zip(s.drops.iter()) {
        writeln!(f, "{} {}", k.name(), c.load(Relaxed))?;
    }
    for (k, c) in Counter::ALL.iter().zip(s.counters.iter()) {
        writeln!(f, "{} {}", k.name(), c.load(Relaxed))?;
    }
    Ok(())
}

/// A device's debugfs directory; removed when dropped.
pub(crate) struct DebugfsFiles {
    _queues: Pin<KBox<debugfs::File<Arc<Stats>>>>,
    _info: Pin<KBox<debugfs::File<Arc<Stats>>>>,
    _dir: debugfs::Dir,
}

impl DebugfsFiles {
    /// Creates `<root>/<name>/{queues,info}`.
    pub(crate) fn new(root: &debugfs::Dir, name: &str, stats: &Arc<Stats>) -> Result<Self> {
        let cname = CString::try_from_fmt(fmt!("{}", name))?;
        let dir = root.subdir(&cname);
        let queues = KBox::pin_init(dir.read_callback_file(c"queues", stats.clone(), &show_queues), GFP_KERNEL)?;
        let info = KBox::pin_init(dir.read_callback_file(c"info", stats.clone(), &show_info), GFP_KERNEL)?;
        Ok(DebugfsFiles { _queues: queues, _info: info, _dir: dir })
    }
}
