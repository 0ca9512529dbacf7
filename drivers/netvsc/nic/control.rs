// SPDX-License-Identifier: GPL-2.0-only
//! Control requests: NVSP requests that wait for the host's completion, and RNDIS requests
//! (sent in a send section of queue 0) that wait for the host's response message. One at a
//! time (the `ctl` mutex); NAPI hands the answer over through `ctl_slot`; every wait is
//! bounded by `ctl_timeout_ms` and ends early when the host rescinds the device.

use core::sync::atomic::Ordering;

use kernel::prelude::*;
use netvsc_proto::{
    guest::{self, DropKind, RequestIds, TransId},
    nvsp::{self, NvspMessage},
    rndis,
};

use super::{parse_reply, Nic, CTL_BUF, NO_SECTION};
use crate::stats::Counter;
use crate::vmbus::packet;
use crate::work;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Wait {
    Idle,
    Nvsp(u32),
    Rndis { id: u32, ty: u32 },
}

/// The one outstanding control request, shared with NAPI.
pub(super) struct CtlSlot {
    wait: Wait,
    done: bool,
    len: usize,
    buf: [u8; CTL_BUF],
}

impl CtlSlot {
    /// Nothing outstanding.
    pub(super) const fn new() -> Self {
        CtlSlot { wait: Wait::Idle, done: false, len: 0, buf: [0; CTL_BUF] }
    }
}

impl Nic {

    pub(super) fn next_seq(&self) -> u32 {
        let mut cur = self.nvsp_seq.load(Ordering::Relaxed);
        loop {
            let next = match cur.wrapping_add(1) {
                0 => 1,
                n => n,
            };
            match self.nvsp_seq.compare_exchange(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(v) => cur = v,
            }
        }
    }

    /// Arms the control slot for `w`.
    pub(super) fn arm(&self, w: Wait) {
        let mut s = self.ctl_slot.lock();
        s.wait = w;
        s.done = false;
        s.len = 0;
    }

    /// Waits (bounded) for the armed request's answer and returns its bytes.
    pub(super) fn await_reply(&self, what: &str) -> Result<KVec<u8>> {
        let start = work::now();
        // Allocated before the slot's lock (a spinlock taken with interrupts off, which NAPI
        // also takes): the reply is copied into it under the lock without allocating.
        let mut v = KVec::with_capacity(CTL_BUF, GFP_KERNEL)?;
        loop {
            {
                let mut s = self.ctl_slot.lock();
                if s.done {
                    s.wait = Wait::Idle;
                    // `s.len <= CTL_BUF` (the completion handlers cap it): within the
                    // capacity, so GFP_ATOMIC never has to allocate.
                    v.extend_from_slice(s.buf.get(..s.len).unwrap_or(&[]), GFP_ATOMIC)?;
                    return Ok(v);
                }
                let gone = self.primary().is_none_or(|c| c.rescinded());
                if gone || work::elapsed_ms(&start, self.params.ctl_timeout_ms) {
                    s.wait = Wait::Idle;
                    drop(s);
                    if gone {
                        return Err(ENODEV);
                    }
                    self.stats.inc(Counter::ControlTimeouts);
                    pr_err!("{}: the host did not answer {} within {} ms\n", self.ifname(), what, self.params.ctl_timeout_ms);
                    return Err(ETIMEDOUT);
                }
            }
            work::sleep_ms(1);
        }
    }

    /// NAPI: an NVSP completion for control request `seq`.
    pub(crate) fn ctl_nvsp(&self, seq: u32, payload: &[u8]) {
        let mut s = self.ctl_slot.lock();
        if s.wait != Wait::Nvsp(seq) || s.done {
            drop(s);
            self.dropped_kind(DropKind::StaleResponse, "nvsp completion nobody waits for");
            return;
        }
        let n = payload.len().min(CTL_BUF);
        if let (Some(d), Some(src)) = (s.buf.get_mut(..n), payload.get(..n)) {
            d.copy_from_slice(src);
        }
        s.len = n;
        s.done = true;
    }

    /// NAPI: an RNDIS control response (`bytes`: the message and whatever followed it in
    /// its range).
    pub(crate) fn ctl_rndis(&self, bytes: &[u8]) {
        let mut s = self.ctl_slot.lock();
        let ok = match s.wait {
            Wait::Rndis { id, ty } if !s.done => guest::response(bytes, id, ty).is_ok(),
            _ => false,
        };
        if !ok {
            drop(s);
            self.dropped_kind(DropKind::StaleResponse, "rndis response nobody waits for");
            return;
        }
        let n = bytes.len().min(CTL_BUF);
        if let (Some(d), Some(src)) = (s.buf.get_mut(..n), bytes.get(..n)) {
            d.copy_from_slice(src);
        }
        s.len = n;
        s.done = true;
    }

    /// Sends an NVSP message on the primary channel: with `completion`, as a control
    /// request whose answer is returned; otherwise just sent.
    pub(super) fn nvsp(&self, msg: &NvspMessage<'_>, completion: bool) -> Result<Option<KVec<u8>>> {
        let chan = self.primary().ok_or(ENODEV)?;
        let mut b = [0u8; nvsp::NVSP_MESSAGE_SIZE + 64];
        let n = msg.encode(&mut b).map_err(|_| EINVAL)?;
        let body = b.get(..n).ok_or(EINVAL)?;
        if !completion {
            chan.send(packet::DATA_INBAND, 0, 0, body)?;
            return Ok(None);
        }
        let seq = self.next_seq();
        self.arm(Wait::Nvsp(seq));
        let id = TransId::Control { seq }.encode();
        if let Err(e) = chan.send(packet::DATA_INBAND, packet::FLAG_COMPLETION_REQUESTED, id, body) {
            self.arm(Wait::Idle);
            return Err(e);
        }
        self.await_reply("an NVSP request").map(Some)
    }

    /// Sends an RNDIS control message in a send section of queue 0 (no waiting for the
    /// reply; the send's own completion frees the section).
    pub(super) fn send_rndis(&self, msg: &[u8]) -> Result {
        let dp = self.data.as_ref().ok_or(ENODEV)?;
        let q = self.queues.first().ok_or(ENODEV)?;
        let chan = q.channel().ok_or(ENODEV)?;
        let len = u32::try_from(msg.len()).map_err(|_| EINVAL)?;
        let start = work::now();
        let (sec, (slot_i, slot)) = loop {
            let sec = dp.alloc_section(0);
            let slot = q.alloc_slot();
            match (sec, slot) {
                (Some(s), Some(t)) => break (s, t),
                (s, t) => {
                    if let Some(s) = s {
                        dp.free_section(s);
                    }
                    if let Some((i, _)) = t {
                        q.free_slot(i);
                    }
                    if work::elapsed_ms(&start, self.params.ctl_timeout_ms) {
                        return Err(EBUSY);
                    }
                    work::sleep_ms(1);
                }
            }
        };
        // SAFETY: we hold section `sec`.
        match unsafe { dp.section(sec, len) } {
            Some(dst) => dst.copy_from_slice(msg),
            None => {
                dp.free_section(sec);
                q.free_slot(slot_i);
                return Err(EINVAL);
            }
        }
        slot.skb.store(core::ptr::null_mut(), Ordering::Relaxed);
        slot.section.store(sec, Ordering::Relaxed);
        let generation = match slot.state.issue() {
            Ok(g) => g,
            Err(_) => {
                dp.free_section(sec);
                return Err(EBUSY);
            }
        };
        let mut b = [0u8; nvsp::NVSP_MESSAGE_SIZE];
        let n = NvspMessage::rndis_packet(true, Some((sec, len))).encode(&mut b).map_err(|_| EINVAL)?;
        let id = TransId::Send { queue: 0, slot: slot_i, generation }.encode();
        let sent = chan.send(packet::DATA_INBAND, packet::FLAG_COMPLETION_REQUESTED, id, b.get(..n).unwrap_or(&[]));
        if let Err(e) = sent {
            if slot.state.claim(generation) {
                slot.section.store(NO_SECTION, Ordering::Relaxed);
                dp.free_section(sec);
                q.free_slot(slot_i);
            }
            return Err(e);
        }
        Ok(())
    }

    /// One RNDIS request and its checked response. The caller holds `ctl` (its ids).
    pub(super) fn rndis_request(&self, ids: &mut RequestIds, ty: u32, build: impl FnOnce(&mut [u8], u32) -> Result<usize, rndis::RndisError>) -> Result<KVec<u8>> {
        let id = ids.next_id();
        let mut b = KVec::with_capacity(1024, GFP_KERNEL)?;
        b.resize(1024, 0, GFP_KERNEL)?;
        let n = build(&mut b, id).map_err(|_| EINVAL)?;
        self.arm(Wait::Rndis { id, ty });
        if let Err(e) = self.send_rndis(b.get(..n).unwrap_or(&[])) {
            self.arm(Wait::Idle);
            return Err(e);
        }
        self.await_reply("an RNDIS request")
    }

    /// An RNDIS query of `oid` with input `input`; returns the response message.
    pub(super) fn query(&self, ids: &mut RequestIds, oid: u32, input: &[u8]) -> Result<KVec<u8>> {
        self.rndis_request(ids, rndis::RNDIS_MSG_QUERY, |b, id| rndis::build_query(b, id, oid, input))
    }

    /// An RNDIS set of `oid` to `info`, checked.
    pub(super) fn set(&self, ids: &mut RequestIds, oid: u32, info: &[u8]) -> Result {
        let r = self.rndis_request(ids, rndis::RNDIS_MSG_SET, |b, id| rndis::build_set(b, id, oid, info))?;
        parse_reply(&r).and_then(|m| guest::set_status(&m)).map_err(|e| {
            pr_warn!("{}: the host refused SET of oid {:#x}: {}\n", self.ifname(), oid, e.as_str());
            EIO
        })
    }
}
