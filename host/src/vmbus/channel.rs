//! An open channel as the host sees it: its two rings in guest RAM, how the host sends to the
//! guest and drains what the guest sent, and the wake-up when the guest signals.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use vmbus_proto::ring::{IncomingPacket, OutgoingPacket, RingError, RingReader, RingWriter};

use super::ring::GuestRing;
use crate::hv::Hypervisor;

/// Why a send failed.
#[derive(Debug)]
pub enum SendError {
    /// The guest did not make room within the timeout.
    Full,
    /// The channel was closed.
    Closed,
    /// The ring is corrupt (the guest wrote nonsense into its indices).
    Ring(RingError),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Full => f.write_str("ring full"),
            SendError::Closed => f.write_str("channel closed"),
            SendError::Ring(e) => write!(f, "ring corrupt: {}", e.as_str()),
        }
    }
}

/// Counters of one channel.
#[derive(Default)]
pub struct ChannelStats {
    /// Packets the guest sent (host received).
    pub rx_packets: AtomicU64,
    /// Packets the host sent.
    pub tx_packets: AtomicU64,
    /// Signals the guest sent.
    pub guest_signals: AtomicU64,
    /// Signals the host sent.
    pub host_signals: AtomicU64,
}

/// An open channel.
pub struct HostChannel {
    /// Relative channel id.
    pub relid: u32,
    /// Sub-channel index (0: primary).
    pub sub_index: u16,
    hv: Arc<Hypervisor>,
    target_vp: AtomicU32,
    /// Guest-to-host ring (we read).
    inbound: Mutex<RingReader<GuestRing>>,
    /// Host-to-guest ring (we write).
    outbound: Mutex<RingWriter<GuestRing>>,
    kick: Mutex<bool>,
    kicked: Condvar,
    closed: AtomicBool,
    /// Counters.
    pub stats: ChannelStats,
}

impl HostChannel {
    /// A channel over the rings of its GPADL.
    pub fn new(relid: u32, sub_index: u16, hv: Arc<Hypervisor>, target_vp: u32, to_host: GuestRing, to_guest: GuestRing) -> Result<HostChannel, RingError> {
        Ok(HostChannel {
            relid,
            sub_index,
            hv,
            target_vp: AtomicU32::new(target_vp),
            inbound: Mutex::new(RingReader::new(to_host)?),
            outbound: Mutex::new(RingWriter::new(to_guest)?),
            kick: Mutex::new(false),
            kicked: Condvar::new(),
            closed: AtomicBool::new(false),
            stats: ChannelStats::default(),
        })
    }

    /// The VP host-to-guest signals go to.
    pub fn target_vp(&self) -> u32 {
        self.target_vp.load(Ordering::Relaxed)
    }

    /// MODIFYCHANNEL: interrupts go to another VP from now on.
    pub fn set_target_vp(&self, vp: u32) {
        self.target_vp.store(vp, Ordering::Relaxed);
    }

    /// The guest signalled the channel (HvSignalEvent).
    pub fn kick(&self) {
        self.stats.guest_signals.fetch_add(1, Ordering::Relaxed);
        *self.kick.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.kicked.notify_all();
    }

    /// Closed by the guest or rescinded: workers stop.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.kicked.notify_all();
    }

    /// Whether the channel is closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits for the guest's signal (or `timeout`); false once the channel is closed.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut k = self.kick.lock().unwrap_or_else(|e| e.into_inner());
        if !*k && !self.is_closed() {
            k = self.kicked.wait_timeout(k, timeout).unwrap_or_else(|e| e.into_inner()).0;
        }
        *k = false;
        !self.is_closed()
    }

    /// Interrupts the guest for this channel (sets its event flag on the target VP).
    pub fn signal_guest(&self) {
        self.stats.host_signals.fetch_add(1, Ordering::Relaxed);
        self.hv.signal_guest_event(self.target_vp(), super::VMBUS_SINT, self.relid);
    }

    /// Sends one packet to the guest, waiting (bounded) for room.
    pub fn send(&self, pkt: &OutgoingPacket<'_>, timeout: Duration) -> Result<(), SendError> {
        let need = pkt.ring_len().map_err(SendError::Ring)?;
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_closed() {
                return Err(SendError::Closed);
            }
            let signal = {
                let mut w = self.outbound.lock().unwrap_or_else(|e| e.into_inner());
                if w.can_write(need).map_err(SendError::Ring)? {
                    Some(w.write(pkt).map_err(SendError::Ring)?)
                } else {
                    None
                }
            };
            match signal {
                Some(s) => {
                    crate::capture::packet(self.relid, pkt);
                    self.stats.tx_packets.fetch_add(1, Ordering::Relaxed);
                    if s {
                        self.signal_guest();
                    }
                    return Ok(());
                }
                None if Instant::now() >= deadline => return Err(SendError::Full),
                None => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    }

    /// Hostile host: writes `bytes` raw at the host-to-guest ring's write index and publishes
    /// them (no descriptor checks), then signals the guest.
    pub fn inject_raw(&self, bytes: &[u8]) {
        use vmbus_proto::ring::{HeaderField, RingMem};
        let w = self.outbound.lock().unwrap_or_else(|e| e.into_inner());
        let mem = w.mem();
        let size = mem.data_len();
        let start = mem.load(HeaderField::WriteIndex) % size;
        for (i, b) in bytes.iter().enumerate() {
            mem.write_data((start + i as u32) % size, std::slice::from_ref(b));
        }
        mem.store(HeaderField::WriteIndex, (start + bytes.len() as u32) % size);
        drop(w);
        self.signal_guest();
    }

    /// Hostile host: sets the host-to-guest ring's write index to `v` (possibly nonsense),
    /// then signals the guest.
    pub fn inject_write_index(&self, v: u32) {
        use vmbus_proto::ring::{HeaderField, RingMem};
        self.outbound.lock().unwrap_or_else(|e| e.into_inner()).mem().store(HeaderField::WriteIndex, v);
        self.signal_guest();
    }

    /// Drains the guest-to-host ring: `f` gets each packet and its bytes (descriptor
    /// included). Interrupts from the guest are masked while draining and the ring re-checked
    /// after unmasking, so no signal is lost. Returns the packets handled.
    pub fn drain(&self, buf: &mut Vec<u8>, mut f: impl FnMut(&IncomingPacket, &[u8])) -> Result<usize, RingError> {
        let mut n = 0;
        loop {
            let mut r = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
            r.mask_interrupts();
            loop {
                let mut b = r.batch();
                let Some(p) = b.peek()? else { break };
                let len = p.packet_len() as usize;
                if buf.len() < len {
                    buf.resize(len, 0);
                }
                let got = b.copy_raw(&p, &mut buf[..len])?;
                b.consume(&p)?;
                if crate::leak::enabled() {
                    crate::leak::scan(&format!("packet on channel {}", self.relid), &buf[..got]);
                }
                let signal = b.commit();
                self.stats.rx_packets.fetch_add(1, Ordering::Relaxed);
                n += 1;
                f(&p, &buf[..got]);
                if signal {
                    self.signal_guest();
                }
            }
            if !r.unmask_interrupts()? {
                return Ok(n);
            }
        }
    }
}
