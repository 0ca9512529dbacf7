// SPDX-License-Identifier: GPL-2.0-only
//! Per-device counters and their debugfs files,
//! `/sys/kernel/debug/pvg_storvsc/<device instance GUID>/{queues,info}`.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

use kernel::{debugfs, fmt, prelude::*, str::CString, sync::Arc};

/// Counters of one hardware queue (= one channel).
#[derive(Default)]
pub(crate) struct QueueStats {
    /// Requests sent to the host.
    pub(crate) requests: AtomicU64,
    /// Completions accepted from the host.
    pub(crate) completions: AtomicU64,
    /// Requests ended with an error status.
    pub(crate) errors: AtomicU64,
    /// blk-mq timeouts.
    pub(crate) timeouts: AtomicU64,
    /// RESET_LUN / RESET_BUS sent for this queue's timeouts.
    pub(crate) resets: AtomicU64,
    /// Requeues after a retryable status.
    pub(crate) retries: AtomicU64,
    /// Sends refused because the ring was full (blk-mq retried them).
    pub(crate) ring_full: AtomicU64,
    /// Requests in flight (wrapping counter, shown signed).
    pub(crate) in_flight: AtomicU64,
}

impl QueueStats {
    /// One more.
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    /// One less in flight.
    pub(crate) fn done(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }
}

/// Everything the debugfs files show; shared (`Arc`) between the device and its files.
#[derive(Default)]
pub(crate) struct Stats {
    /// Per queue; as many as the device may open channels.
    pub(crate) queues: KVec<QueueStats>,
    /// Hardware queues in use.
    pub(crate) nr_queues: AtomicU32,
    /// Negotiated protocol version (`major << 8 | minor`).
    pub(crate) version: AtomicU32,
    /// Largest transfer in bytes.
    pub(crate) max_transfer: AtomicU32,
    /// Tags per queue.
    pub(crate) depth: AtomicU32,
    /// Sub-channels asked for, and offered by the host.
    pub(crate) sub_requested: AtomicU32,
    /// Sub-channels offered.
    pub(crate) sub_offered: AtomicU32,
    /// Packets refused (malformed, unknown or stale ids, wrong channel).
    pub(crate) bad_packets: AtomicU64,
    /// Unsolicited host messages (ENUMERATE_BUS, REMOVE_DEVICE).
    pub(crate) unsolicited: AtomicU64,
    /// Bus rescans done.
    pub(crate) rescans: AtomicU64,
    /// Control requests the host did not answer in time.
    pub(crate) control_timeouts: AtomicU64,
    /// The device was declared dead.
    pub(crate) dead: AtomicBool,
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

    /// Queue `q`'s counters (queue 0's for an out-of-range index, which only happens if the
    /// block layer hands us a queue we did not create).
    pub(crate) fn queue(&self, q: u32) -> &QueueStats {
        static NONE: QueueStats = QueueStats {
            requests: AtomicU64::new(0),
            completions: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            ring_full: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        };
        self.queues.get(q as usize).or_else(|| self.queues.first()).unwrap_or(&NONE)
    }
}

fn show_queues(s: &Arc<Stats>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "{:<5} {:>12} {:>12} {:>8} {:>8} {:>6} {:>8} {:>9} {:>9}",
        "queue", "requests", "completions", "errors", "timeouts", "resets", "retries", "ring_full", "in_flight"
    )?;
    let n = (s.nr_queues.load(Relaxed) as usize).min(s.queues.len());
    for (i, q) in s.queues.iter().take(n).enumerate() {
        writeln!(
            f,
            "{:<5} {:>12} {:>12} {:>8} {:>8} {:>6} {:>8} {:>9} {:>9}",
            i,
            q.requests.load(Relaxed),
            q.completions.load(Relaxed),
            q.errors.load(Relaxed),
            q.timeouts.load(Relaxed),
            q.resets.load(Relaxed),
            q.retries.load(Relaxed),
            q.ring_full.load(Relaxed),
            q.in_flight.load(Relaxed) as i64
        )?;
    }
    Ok(())
}

fn show_info(s: &Arc<Stats>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let v = s.version.load(Relaxed);
    writeln!(f, "protocol {}.{}", v >> 8, v & 0xff)?;
    writeln!(f, "queues {}", s.nr_queues.load(Relaxed))?;
    writeln!(f, "sub_channels_requested {}", s.sub_requested.load(Relaxed))?;
    writeln!(f, "sub_channels_offered {}", s.sub_offered.load(Relaxed))?;
    writeln!(f, "queue_depth {}", s.depth.load(Relaxed))?;
    writeln!(f, "max_transfer_bytes {}", s.max_transfer.load(Relaxed))?;
    writeln!(f, "bad_packets {}", s.bad_packets.load(Relaxed))?;
    writeln!(f, "unsolicited {}", s.unsolicited.load(Relaxed))?;
    writeln!(f, "rescans {}", s.rescans.load(Relaxed))?;
    writeln!(f, "control_timeouts {}", s.control_timeouts.load(Relaxed))?;
    writeln!(f, "dead {}", u8::from(s.dead.load(Relaxed)))
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
