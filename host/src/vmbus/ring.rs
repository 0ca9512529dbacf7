//! The host's view of a channel ring: the `vmbus_proto` ring over guest RAM, reached through
//! the page list of the ring's GPADL (the pages need not be contiguous in guest-physical
//! space). Every page was checked to be guest RAM when the GPADL was created.

use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

use vmbus_proto::ring::{HeaderField, RingMem};

use crate::guestmem::GuestRam;

const PAGE: u64 = 4096;

/// One ring: its header page and data pages, by PFN.
pub struct GuestRing {
    ram: Arc<GuestRam>,
    /// Page 0 is the header; pages 1.. hold the data area.
    pfns: Vec<u64>,
}

impl GuestRing {
    /// A ring over `pfns` (at least two pages: header and data).
    pub fn new(ram: Arc<GuestRam>, pfns: Vec<u64>) -> Option<GuestRing> {
        (pfns.len() >= 2).then_some(GuestRing { ram, pfns })
    }

    fn data_gpa(&self, off: u32) -> u64 {
        let page = 1 + (off as u64 / PAGE) as usize;
        (self.pfns[page] << 12) + off as u64 % PAGE
    }
}

impl RingMem for GuestRing {
    fn data_len(&self) -> u32 {
        ((self.pfns.len() - 1) as u64 * PAGE) as u32
    }

    fn read_data(&self, off: u32, buf: &mut [u8]) {
        let mut done = 0usize;
        while done < buf.len() {
            let o = off + done as u32;
            let n = (PAGE - o as u64 % PAGE).min((buf.len() - done) as u64) as usize;
            if self.ram.read(self.data_gpa(o), &mut buf[done..done + n]).is_err() {
                buf[done..done + n].fill(0);
            }
            done += n;
        }
    }

    fn write_data(&self, off: u32, data: &[u8]) {
        let mut done = 0usize;
        while done < data.len() {
            let o = off + done as u32;
            let n = (PAGE - o as u64 % PAGE).min((data.len() - done) as u64) as usize;
            let _ = self.ram.write(self.data_gpa(o), &data[done..done + n]);
            done += n;
        }
    }

    fn load(&self, f: HeaderField) -> u32 {
        self.ram.atomic_u32((self.pfns[0] << 12) + f.offset() as u64).map(|a| a.load(Ordering::Acquire)).unwrap_or(0)
    }

    fn store(&self, f: HeaderField, v: u32) {
        if let Ok(a) = self.ram.atomic_u32((self.pfns[0] << 12) + f.offset() as u64) {
            a.store(v, Ordering::Release);
        }
    }

    fn full_fence(&self) {
        fence(Ordering::SeqCst);
    }
}

/// Splits a channel's ring GPADL into (guest-to-host, host-to-guest) rings at
/// `downstream` pages, as OPENCHANNEL says.
pub fn split(ram: &Arc<GuestRam>, pfns: &[u64], downstream: u32) -> Option<(GuestRing, GuestRing)> {
    let d = downstream as usize;
    if d < 2 || pfns.len() < d + 2 {
        return None;
    }
    Some((GuestRing::new(ram.clone(), pfns[..d].to_vec())?, GuestRing::new(ram.clone(), pfns[d..].to_vec())?))
}
