//! The wire side of the synthetic NICs: frames with their offload state, and the backends a
//! NIC is attached to (a TAP device, a software switch, a loopback).
//!
//! A NIC hands its backend frames whose checksums are complete, except TCP super-frames
//! carrying a [`offload::Gso`] request (normalised as Linux's `CHECKSUM_PARTIAL`: a TAP
//! device takes them as is, the switch segments them). A backend hands the NIC complete
//! frames (never GSO), telling whether their checksums are known to be good.

pub mod offload;
pub mod switch;
pub mod tap;

use std::sync::{Arc, Weak};

/// One Ethernet frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The frame, from the destination MAC (no FCS).
    pub data: Vec<u8>,
    /// A TCP segmentation request (guest to backend only).
    pub gso: Option<offload::Gso>,
    /// The IP and TCP/UDP checksums are known to be correct (backend to guest).
    pub csum_valid: bool,
}

impl Frame {
    /// A plain frame.
    pub fn new(data: Vec<u8>) -> Frame {
        Frame { data, gso: None, csum_valid: false }
    }

    /// Destination MAC.
    pub fn dst(&self) -> Option<[u8; 6]> {
        self.data.get(..6).and_then(|d| d.try_into().ok())
    }

    /// Source MAC.
    pub fn src(&self) -> Option<[u8; 6]> {
        self.data.get(6..12).and_then(|d| d.try_into().ok())
    }

    /// The frames as they would leave a real NIC: GSO super-frames segmented.
    pub fn into_wire(self) -> Vec<Frame> {
        match self.gso {
            Some(g) => offload::segment(&self.data, &g).into_iter().map(|d| Frame { data: d, gso: None, csum_valid: true }).collect(),
            None => vec![self],
        }
    }
}

/// Where a backend delivers received frames (a NIC).
pub trait FrameSink: Send + Sync {
    /// Frames arriving from the wire, in order.
    fn deliver(&self, frames: Vec<Frame>);
}

/// A NIC's connection to the outside.
pub trait Backend: Send + Sync {
    /// Connects the receive side to `sink` (starts the backend's receive threads).
    fn attach(&self, sink: Weak<dyn FrameSink>) -> anyhow::Result<()>;
    /// Sends frames from the guest; `queue` is the guest's channel (a multi-queue backend
    /// keeps a flow on one queue).
    fn transmit(&self, queue: usize, frames: Vec<Frame>);
    /// One word or two for `stats`.
    fn describe(&self) -> String;
}

/// A backend that sends every frame back to the guest with source and destination MACs
/// swapped (so the guest's own filter accepts it): for tests.
pub struct Loopback {
    sink: std::sync::Mutex<Option<Weak<dyn FrameSink>>>,
}

impl Loopback {
    /// A new loopback.
    pub fn new() -> Arc<Loopback> {
        Arc::new(Loopback { sink: std::sync::Mutex::new(None) })
    }
}

impl Backend for Loopback {
    fn attach(&self, sink: Weak<dyn FrameSink>) -> anyhow::Result<()> {
        *self.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
        Ok(())
    }

    fn transmit(&self, _queue: usize, frames: Vec<Frame>) {
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|s| s.upgrade());
        let Some(sink) = sink else { return };
        let mut out = Vec::new();
        for f in frames {
            for mut w in f.into_wire() {
                if w.data.len() >= 12 {
                    let (a, b) = w.data.split_at_mut(6);
                    a.swap_with_slice(&mut b[..6]);
                }
                w.csum_valid = offload::checksums_ok(&w.data) == Some(true);
                out.push(w);
            }
        }
        sink.deliver(out);
    }

    fn describe(&self) -> String {
        "loopback".into()
    }
}
