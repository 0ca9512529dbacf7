// SPDX-License-Identifier: GPL-2.0-only
//! pvg_storvsc: the storage VSC. Binds the synthetic SCSI controller class on pvguest's
//! VMBus, negotiates VSTOR, opens one channel per CPU (primary + sub-channels), discovers the
//! LUNs and exposes each as a blk-mq disk `pvd<letters>` with its partitions.
//!
//! | file | what |
//! |------|------|
//! | `storvsc_main.rs` | module, parameters, driver registration |
//! | `controller.rs` | one controller: channels, initialization, control requests, recovery, teardown |
//! | `io.rs` | the I/O path: `queue_rq`, completions (channel callback), timeouts, queue map |
//! | `lun.rs` | LUN discovery, disks, rescans, sysfs identity |
//! | `blk.rs` | our blk-mq binding (see below) |
//! | `vmbus.rs` | safe types over the VMBus core's C API |
//! | `stats.rs` | counters and debugfs (`/sys/kernel/debug/pvg_storvsc/<device>/`) |
//! | `shim.rs`, `shim.c` | kernel static inlines and macros |
//! | `../common/kwork.rs` | (`work`) the work item, time helpers, log rate limit, shared with pvg_netvsc |
//!
//! The protocol logic — packets, the initialization state machine, CDBs, sense and status
//! classification, response parsing, and the VSC's own decisions (transaction ids, in-flight
//! slots, request → command mapping, completion checks and retries, GPA page lists, LUN
//! diffs, disk limits, identity strings, names) — is in the `vstor_proto` crate
//! (`vsc/storage`, module `guest`), tested on the host. This module only moves data between
//! those functions and the kernel's objects.
//!
//! **The kernel's `block::mq` and ours.** Of `kernel::block::mq` (7.3) this driver uses the
//! design and the kernel crate's general pieces (`Opaque`, pinned initialisation, `Arc`, the
//! `static_lock_class!` key for disks), not its types: its `TagSet` fixes the operations
//! table without `timeout` or `map_queues`, its PDU to its own refcount and its
//! `driver_data` to null; its `GenDiskBuilder` sets only block sizes, rotational and capacity
//! (no discard, write zeroes, write cache/FUA, segment or transfer limits, no parent device,
//! no sysfs groups, no owner module) and its `GenDisk` cannot change capacity or be marked
//! dead; its `Request` has no operation, position, length, segments or PDU and can only end
//! with success. A disk driver over a real transport needs all of those, so `blk.rs` is a
//! small binding of our own over `kernel::bindings` (plus `shim.c` for `blk_rq_pos`,
//! `req_op`, `rq_for_each_segment`, `BLK_FEAT_*`, `THIS_MODULE` in the disk operations and
//! `DEVICE_ATTR`), shaped like upstream's `TagSet`/`GenDisk`/`Request`/`Operations` so it can
//! give way to upstream once that grows these features.

use kernel::{debugfs, new_mutex, prelude::*, sync::Mutex};
use vstor_proto::guest::IndexPool;
use vmbus_proto::guid;

#[allow(unreachable_pub, dead_code)]
#[path = "../api/pvg_vmbus_api.rs"]
mod pvg_vmbus_api;

mod blk;
mod controller;
mod io;
mod lun;
mod shim;
mod stats;
mod vmbus;
#[path = "../common/kwork.rs"]
mod work;

module! {
    type: StorvscModule,
    name: "pvg_storvsc",
    authors: ["pvguest developers"],
    description: "pvguest storage VSC: synthetic SCSI disks on VMBus as blk-mq block devices",
    license: "GPL",
    alias: ["vmbus:d96361baa104294db60572e2ffb1dc7f"],
    params: {
        send_ring_kb: u32 {
            default: 128,
            description: "Outbound ring of each channel in KiB (as Linux storvsc_ringbuffer_size)",
        },
        recv_ring_kb: u32 {
            default: 128,
            description: "Inbound ring of each channel in KiB",
        },
        max_queues: u32 {
            default: 0,
            description: "Most hardware queues (primary + sub-channels) per controller; 0: one per online CPU",
        },
        queue_depth: u32 {
            default: 0,
            description: "Tags per hardware queue; 0: as many worst-case requests as the ring holds (32..256)",
        },
        max_transfer_kb: u32 {
            default: 512,
            description: "Largest request in KiB (the host's limit applies too)",
        },
        io_timeout_s: u32 {
            default: 30,
            description: "Seconds before a request is timed out and the controller reset",
        },
        reset_timeout_ms: u32 {
            default: 5000,
            description: "Milliseconds to wait for the host to answer RESET_LUN or RESET_BUS",
        },
        ctl_timeout_ms: u32 {
            default: 10000,
            description: "Milliseconds to wait for the host to answer an initialization or discovery request",
        },
    },
}

/// The storage controller class (`HV_SCSI_GUID`, `vmbus_proto::guid::SCSI`) as its 16 wire bytes.
static SCSI_CLASS: [u8; 16] = *guid::SCSI.as_bytes();

// The module alias above must be that class's modalias, as `pvg_vmbus`' uevent
// (`MODALIAS=vmbus:%*phN`) spells it; checked at compile time.
const _: () = assert!(guid::SCSI.is_modalias(b"vmbus:d96361baa104294db60572e2ffb1dc7f"));

/// The module parameters, read once at load.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    /// Outbound ring bytes.
    pub(crate) send_ring: u32,
    /// Inbound ring bytes.
    pub(crate) recv_ring: u32,
    /// `max_queues`.
    pub(crate) max_queues: u32,
    /// `queue_depth`.
    pub(crate) queue_depth: u32,
    /// Largest transfer in bytes.
    pub(crate) max_transfer: u32,
    /// `io_timeout_s`.
    pub(crate) io_timeout_s: u32,
    /// `reset_timeout_ms`.
    pub(crate) reset_timeout_ms: u32,
    /// `ctl_timeout_ms`.
    pub(crate) ctl_timeout_ms: u32,
}

impl Params {
    fn read() -> Params {
        use module_parameters as p;
        let kb = |v: u32| v.clamp(16, 64 * 1024).saturating_mul(1024);
        Params {
            send_ring: kb(p::send_ring_kb.value()),
            recv_ring: kb(p::recv_ring_kb.value()),
            max_queues: p::max_queues.value(),
            queue_depth: p::queue_depth.value(),
            max_transfer: p::max_transfer_kb.value().clamp(4, 32 * 1024).saturating_mul(1024),
            io_timeout_s: (p::io_timeout_s.value()).clamp(1, 3600),
            reset_timeout_ms: (p::reset_timeout_ms.value()).clamp(100, 600_000),
            ctl_timeout_ms: (p::ctl_timeout_ms.value()).clamp(100, 600_000),
        }
    }
}

/// Driver-wide state, alive while the driver is registered.
#[pin_data]
pub(crate) struct Shared {
    pub(crate) params: Params,
    /// `/sys/kernel/debug/pvg_storvsc/`.
    pub(crate) debugfs: debugfs::Dir,
    /// Disk name indexes in use, over all controllers.
    #[pin]
    pub(crate) indexes: Mutex<IndexPool>,
}

struct StorvscDriver;

impl vmbus::Driver for StorvscDriver {
    type Shared = Shared;

    fn probe(shared: &Shared, dev: vmbus::Device) -> Result {
        controller::probe(shared, dev)
    }

    fn remove(shared: &Shared, dev: vmbus::Device) {
        controller::remove(shared, dev)
    }
}

struct StorvscModule {
    // Dropped first: unregistering removes every device while `shared` still exists.
    _registration: vmbus::Registration<StorvscDriver>,
    _shared: Pin<KBox<Shared>>,
}

impl kernel::Module for StorvscModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let shared = KBox::pin_init(
            pin_init!(Shared {
                params: Params::read(),
                debugfs: debugfs::Dir::new(c"pvg_storvsc"),
                indexes <- new_mutex!(IndexPool::new()),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `shared` is pinned and dropped after the registration (field order).
        let registration = unsafe { vmbus::Registration::new(c"pvg_storvsc", &SCSI_CLASS, &*shared, module)? };
        Ok(StorvscModule { _registration: registration, _shared: shared })
    }
}
