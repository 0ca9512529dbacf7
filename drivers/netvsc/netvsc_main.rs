// SPDX-License-Identifier: GPL-2.0-only
//! pvg_netvsc: the network VSC. Binds the synthetic NIC class on pvguest's VMBus,
//! negotiates NVSP and RNDIS, and registers an ordinary Ethernet `net_device` with the
//! host's MAC: receive through the receive buffer with NAPI, transmit through send-buffer
//! sections or page lists, checksum and TSO offloads, one queue per channel (primary +
//! sub-channels, spread by the host's RSS and send table), link state from the host's
//! indications, jumbo frames, `ethtool -i/-S/-l/-k/-g`.
//!
//! | file | what |
//! |------|------|
//! | `netvsc_main.rs` | module, parameters, driver registration |
//! | `nic.rs` | one NIC: its queues and buffers, probe, remove, teardown |
//! | `nic/setup.rs` | bring-up: NVSP, RNDIS, offloads, sub-channels, the `net_device` |
//! | `nic/control.rs` | control requests (NVSP and RNDIS) with bounded waits |
//! | `nic/ops.rs` | open, stop, receive filter, queue selection, statistics, ethtool |
//! | `rx.rs` | NAPI poll: completions, received frames, control responses, status, receive completions |
//! | `tx.rs` | transmit: send sections and page lists |
//! | `netdev.rs` | our `net_device`/NAPI/skb binding over the C shim, and its entry points |
//! | `vmbus.rs` | safe types over the VMBus core's C API |
//! | `stats.rs` | counters, `ethtool -S`, debugfs (`/sys/kernel/debug/pvg_netvsc/<device>/`) |
//! | `../common/kwork.rs` | (`work`) the work item, time helpers, log rate limit, shared with pvg_storvsc |
//! | `shim.c` | the `net_device` operation tables and the kernel inlines Rust cannot call |
//!
//! The protocol logic — NVSP messages and negotiation, RNDIS messages, OIDs and their
//! structures, per-packet info, the checks of everything the host sends, transmit planning,
//! page lists, transaction ids and send slots, queue and filter decisions — is in the
//! `netvsc_proto` crate (`vsc/network`, module `guest`), tested on the host. This module
//! moves bytes between those functions and the kernel's objects.
//!
//! **Why a C shim for the `net_device`.** Rust-for-Linux 7.3 has no `net_device`, NAPI,
//! `sk_buff` or ethtool abstraction. `shim.c` allocates the device with its NAPI contexts,
//! owns the operation tables (each entry forwards to `pvg_netvsc_rs_*` in `netdev.rs`) and
//! wraps the skb and queue helpers; `netdev.rs` gives the Rust side opaque, owned handles.

use kernel::{debugfs, prelude::*};
use vmbus_proto::guid;

#[allow(unreachable_pub, dead_code)]
#[path = "../api/pvg_vmbus_api.rs"]
mod pvg_vmbus_api;

mod netdev;
mod nic;
mod rx;
mod stats;
mod tx;
mod vmbus;
#[path = "../common/kwork.rs"]
mod work;

module! {
    type: NetvscModule,
    name: "pvg_netvsc",
    authors: ["pvguest developers"],
    description: "pvguest network VSC: synthetic NICs on VMBus as Ethernet devices",
    license: "GPL",
    alias: ["vmbus:635161f83edfc546913ff2d2f965ed0e"],
    params: {
        ring_kb: u32 {
            default: 512,
            description: "Each channel's inbound and outbound ring in KiB (as Linux netvsc's ring_size)",
        },
        recv_buffer_kb: u32 {
            default: 16384,
            description: "Receive buffer in KiB (the host cuts it into sections; at most 31 MiB)",
        },
        send_buffer_kb: u32 {
            default: 1024,
            description: "Send buffer in KiB (sections for small frames; at most 15 MiB)",
        },
        max_queues: u32 {
            default: 0,
            description: "Most queues (primary + sub-channels) per NIC; 0: one per online CPU (the host's RSS limit applies too)",
        },
        tx_slots: u32 {
            default: 512,
            description: "Sends in flight per queue (4..4096)",
        },
        ctl_timeout_ms: u32 {
            default: 10000,
            description: "Milliseconds to wait for the host to answer a control request",
        },
    },
}

/// The NIC class (`HV_NIC_GUID`, `vmbus_proto::guid::NIC`) as its 16 wire bytes.
static NIC_CLASS: [u8; 16] = *guid::NIC.as_bytes();

// The module alias above must be that class's modalias, as `pvg_vmbus`' uevent
// (`MODALIAS=vmbus:%*phN`) spells it; checked at compile time.
const _: () = assert!(guid::NIC.is_modalias(b"vmbus:635161f83edfc546913ff2d2f965ed0e"));

/// The module parameters, read once at load.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    /// Ring bytes per direction.
    pub(crate) ring_bytes: u32,
    /// Receive buffer bytes.
    pub(crate) recv_buffer: u32,
    /// Send buffer bytes.
    pub(crate) send_buffer: u32,
    /// `max_queues`.
    pub(crate) max_queues: u32,
    /// Send slots per queue.
    pub(crate) tx_slots: u32,
    /// `ctl_timeout_ms`.
    pub(crate) ctl_timeout_ms: u32,
}

impl Params {
    fn read() -> Params {
        use module_parameters as p;
        let kb = |v: u32, lo: u32, hi: u32| v.clamp(lo, hi).saturating_mul(1024);
        Params {
            ring_bytes: kb(p::ring_kb.value(), 64, 16 * 1024),
            recv_buffer: kb(p::recv_buffer_kb.value(), 256, 31 * 1024),
            send_buffer: kb(p::send_buffer_kb.value(), 64, 15 * 1024),
            max_queues: p::max_queues.value().min(nic::MAX_CHANNELS),
            tx_slots: p::tx_slots.value().clamp(4, 4096),
            ctl_timeout_ms: p::ctl_timeout_ms.value().clamp(100, 600_000),
        }
    }
}

/// Driver-wide state, alive while the driver is registered.
pub(crate) struct Shared {
    pub(crate) params: Params,
    /// `/sys/kernel/debug/pvg_netvsc/`.
    pub(crate) debugfs: debugfs::Dir,
}

struct NetvscDriver;

impl vmbus::Driver for NetvscDriver {
    type Shared = Shared;

    fn probe(shared: &Shared, dev: vmbus::Device) -> Result {
        nic::probe(shared, dev)
    }

    fn remove(shared: &Shared, dev: vmbus::Device) {
        nic::remove(shared, dev)
    }
}

struct NetvscModule {
    // Dropped first: unregistering removes every device while `shared` still exists.
    _registration: vmbus::Registration<NetvscDriver>,
    _shared: Pin<KBox<Shared>>,
}

impl kernel::Module for NetvscModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let shared = KBox::pin(Shared { params: Params::read(), debugfs: debugfs::Dir::new(c"pvg_netvsc") }, GFP_KERNEL)?;
        // SAFETY: `shared` is pinned and dropped after the registration (field order).
        let registration = unsafe { vmbus::Registration::new(c"pvg_netvsc", &NIC_CLASS, &*shared, module)? };
        Ok(NetvscModule { _registration: registration, _shared: shared })
    }
}
