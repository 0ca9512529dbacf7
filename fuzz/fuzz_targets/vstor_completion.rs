//! What a host sends a storage VSC, against the guest's state (`vstor_proto::guest`,
//! `vstor_proto::init`), the way `drivers/storvsc/io.rs` and `controller.rs` handle it.
//!
//! - **I/O model** (format `pvguest_fuzz::vstor::IoSetup` and `Event`s): block requests
//!   issued on (queue, tag) slots, a control request (discovery SCSI command) outstanding, and
//!   host packets: completions with the id the guest sent, packets with any id, timeouts.
//!   Each packet goes through the driver's path: packet type, `TransId::decode`,
//!   `parse_unsolicited`, `IoSlot::claim`, `check_completion`, `decide`. Properties: no
//!   panic; a completion is taken exactly when a model of the in-flight requests says it
//!   matches one (stale, repeated and unknown ids refused; every request ends once); a taken
//!   SRB never reports more data than asked; retries stop after `MAX_RETRIES`; a full
//!   transfer completes OK only when every byte moved; sense never exceeds the version's
//!   buffer; an SRB completion re-encodes (`encode_completion`) to one that parses the same.
//! - **initialization** (mode byte 1): `GuestInit` fed with the host's completions.
//!   Properties: it ends (done or failed) within `versions + 3` completions, never asks for
//!   anything after failing, and agrees only on a version it proposed with a transfer limit
//!   of at least a page.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pvguest_fuzz::vstor::{Event, IoSetup, MODE_IO};
use pvguest_fuzz::Input;
use vmbus_proto::packet::PacketType;
use vstor_proto::guest::{self, Decision, IdError, IoSlot, Issued, TransId};
use vstor_proto::init::{GuestInit, GuestStep, InitError, InitProgress};
use vstor_proto::srb::{self, blk_status};
use vstor_proto::vstor::{
    encode_completion, parse_completion, parse_unsolicited, CompletionBody, Expect, Notification, ProtocolVersion, VstorError,
    HV_PAGE_SIZE, VSTOR_PACKET_SIZE,
};

/// What the guest sent on a slot.
#[derive(Clone, Copy, Debug)]
struct Request {
    issued: Issued,
    generation: u32,
}

struct Model {
    version: ProtocolVersion,
    queues: u32,
    depth: u32,
    slots: Vec<IoSlot>,
    /// In flight per slot (the model's view, independent of `IoSlot`).
    inflight: Vec<Option<Request>>,
    /// The last generation issued per slot (for stale completions).
    last: Vec<u32>,
    /// The outstanding control request and its sequence number.
    ctl: Option<(u32, Issued)>,
    ctl_seq: u32,
}

const BLK_STATUSES: [u8; 11] = [
    blk_status::OK,
    blk_status::NOTSUPP,
    blk_status::TIMEOUT,
    blk_status::NOSPC,
    blk_status::TRANSPORT,
    blk_status::TARGET,
    blk_status::RESV_CONFLICT,
    blk_status::MEDIUM,
    blk_status::RESOURCE,
    blk_status::IOERR,
    blk_status::OFFLINE,
];

/// The checks of a completion the guest took: `check_completion` and `decide`.
fn complete(version: ProtocolVersion, issued: &Issued, payload: &[u8]) -> Option<Decision> {
    let c = match guest::check_completion(payload, version, issued) {
        Ok(c) => c,
        Err(guest::CompletionError::TransferTooLong { got, asked }) => {
            assert!(got > asked && asked == issued.data_len);
            return None;
        }
        Err(guest::CompletionError::Vstor(_)) => return None,
    };
    assert!(c.data_transfer_length <= issued.data_len);
    assert!(c.transferred(issued.data_len) <= issued.data_len);
    assert!(c.sense_data().len() <= version.sense_buffer_size());
    assert!(usize::from(c.sense_len) <= version.sense_buffer_size());

    // The same completion, re-encoded by the host side of the crate, parses the same.
    let status = parse_completion(payload, Expect::Srb(version)).expect("parsed once").status;
    let mut buf = [0u8; VSTOR_PACKET_SIZE];
    let n = encode_completion(&mut buf, version.packet_size(), status, &CompletionBody::Srb(c)).expect("encode");
    let again = parse_completion(&buf[..n], Expect::Srb(version)).expect("re-parse");
    assert_eq!(again.status, status);
    let CompletionBody::Srb(d) = again.body else { panic!("not an SRB: {again:?}") };
    assert_eq!((d.srb_status, d.scsi_status, d.sense_len, d.data_transfer_length), (c.srb_status, c.scsi_status, c.sense_len, c.data_transfer_length));
    assert_eq!(d.sense_data(), c.sense_data());

    let (decision, _followup) = guest::decide(issued, &c);
    match decision {
        Decision::Retry => assert!(u32::from(issued.retries) < srb::MAX_RETRIES, "retry after {} retries", issued.retries),
        Decision::Complete(st) => {
            assert!(BLK_STATUSES.contains(&st), "blk status {st}");
            if st == blk_status::OK && issued.full_transfer {
                assert_eq!(c.transferred(issued.data_len), issued.data_len, "a short transfer completed OK");
            }
        }
    }
    Some(decision)
}

impl Model {
    fn slot_of(&self, slot: u16) -> (usize, u16, u16) {
        let i = usize::from(slot) % self.slots.len();
        let depth = self.depth as usize;
        (i, (i / depth) as u16, (i % depth) as u16)
    }

    fn issue(&mut self, i: usize, issued: Issued) {
        let busy = self.inflight[i].is_some();
        match self.slots[i].issue() {
            Ok(g) => {
                assert!(!busy, "issued a busy slot");
                assert_eq!(g, guest::next_generation(self.last[i]));
                assert_ne!(g, 0);
                self.last[i] = g;
                self.inflight[i] = Some(Request { issued, generation: g });
            }
            Err(guest::SlotBusy) => assert!(busy, "slot {i} refused while idle"),
        }
    }

    /// `handle_packet()` in drivers/storvsc/io.rs.
    fn packet(&mut self, trans_id: u64, packet_type: u16, payload: &[u8]) {
        if packet_type != PacketType::Completion.raw() && packet_type != PacketType::DataInband.raw() {
            return;
        }
        match TransId::decode(trans_id, self.queues, self.depth) {
            Ok(TransId::Unsolicited) => {
                assert_eq!(trans_id, 0);
                match parse_unsolicited(payload) {
                    Ok(n) => assert!(matches!(n, Notification::RemoveDevice | Notification::EnumerateBus)),
                    Err(e) => assert!(matches!(
                        e,
                        VstorError::TooShort { .. } | VstorError::UnknownOperation(_) | VstorError::UnexpectedOperation(_) | VstorError::UnsolicitedNotAllowed(_)
                    )),
                }
            }
            Ok(TransId::Control { seq }) => {
                assert_eq!(TransId::Control { seq }.encode(), trans_id);
                match self.ctl {
                    Some((s, issued)) if s == seq => {
                        // ctl_complete() keeps at most one VSTOR packet.
                        let kept = &payload[..payload.len().min(VSTOR_PACKET_SIZE)];
                        match complete(self.version, &issued, kept) {
                            Some(Decision::Retry) => {
                                let retries = issued.retries + 1;
                                self.ctl_seq = guest::next_generation(self.ctl_seq);
                                self.ctl = Some((self.ctl_seq, Issued { retries, ..issued }));
                            }
                            _ => self.ctl = None,
                        }
                    }
                    _ => {}
                }
            }
            Ok(TransId::Io { queue, tag, generation }) => {
                assert_eq!(TransId::Io { queue, tag, generation }.encode(), trans_id);
                let i = guest::slot_index(queue, tag, self.queues, self.depth).expect("decode checked the range");
                let expected = self.inflight[i].filter(|r| r.generation == generation);
                let taken = self.slots[i].claim(generation);
                assert_eq!(taken, expected.is_some(), "claim of generation {generation} on slot {i} vs the model {:?}", self.inflight[i]);
                assert!(!self.slots[i].claim(generation), "a completion taken twice");
                let Some(req) = expected else { return };
                self.inflight[i] = None;
                if complete(self.version, &req.issued, payload) == Some(Decision::Retry) {
                    // The request is requeued and sent again under a new generation.
                    self.issue(i, Issued { retries: req.issued.retries + 1, ..req.issued });
                }
            }
            Err(e) => match e {
                IdError::ZeroGeneration => assert_eq!(trans_id as u32, 0),
                IdError::ReservedBits => assert!(trans_id >> 63 == 1),
                IdError::Queue(q) => assert!(u32::from(q) >= self.queues),
                IdError::Slot(t) => assert!(u32::from(t) >= self.depth),
            },
        }
    }

    fn event(&mut self, e: Event<'_>) {
        match e {
            Event::Issue { slot, opcode, data_len, full_transfer } => {
                let (i, _, _) = self.slot_of(slot);
                self.issue(i, Issued { opcode, data_len, full_transfer, retries: 0 });
            }
            Event::Complete { slot, packet_type, payload } => {
                let (i, queue, tag) = self.slot_of(slot);
                let generation = self.inflight[i].map_or(self.last[i], |r| r.generation);
                let id = TransId::Io { queue, tag, generation: generation.max(1) }.encode();
                self.packet(id, packet_type, payload);
            }
            Event::Raw { trans_id, packet_type, payload } => self.packet(trans_id, packet_type, payload),
            Event::Timeout { slot } => {
                let (i, _, _) = self.slot_of(slot);
                let got = self.slots[i].claim_current();
                assert_eq!(got, self.inflight[i].map(|r| r.generation));
                self.inflight[i] = None;
            }
            Event::Control { data_len, opcode } => {
                if self.ctl.is_none() {
                    self.ctl_seq = guest::next_generation(self.ctl_seq);
                    let data_len = data_len.min(HV_PAGE_SIZE);
                    self.ctl = Some((self.ctl_seq, Issued { opcode, data_len, full_transfer: false, retries: 0 }));
                }
            }
            Event::ControlComplete { payload } => {
                let seq = self.ctl.map_or(self.ctl_seq, |c| c.0);
                self.packet(TransId::Control { seq }.encode(), PacketType::Completion.raw(), payload);
            }
        }
    }
}

fn io(mut i: Input<'_>) {
    let setup = IoSetup::decode(&mut i);
    let versions = ProtocolVersion::NEWEST_FIRST;
    let version = versions[usize::from(setup.version) % versions.len()];
    let (queues, depth) = (setup.nr_queues(), setup.nr_depth());
    let n = (queues * depth) as usize;
    let mut m = Model {
        version,
        queues,
        depth,
        slots: (0..n).map(|_| IoSlot::new()).collect(),
        inflight: vec![None; n],
        last: vec![0; n],
        ctl: None,
        ctl_seq: 0,
    };
    let mut events = 0;
    while !i.is_empty() && events < 256 {
        m.event(Event::decode(&mut i));
        events += 1;
    }
    // Teardown fails whatever is left, each request exactly once.
    for (k, s) in m.slots.iter().enumerate() {
        assert_eq!(s.claim_current(), m.inflight[k].map(|r| r.generation));
        assert_eq!(s.claim_current(), None);
    }
}

fn init(mut i: Input<'_>) {
    let versions: &'static [ProtocolVersion] =
        if i.u8() & 1 == 0 { &ProtocolVersion::LINUX_ORDER } else { &ProtocolVersion::NEWEST_FIRST };
    let mut g = GuestInit::with_versions(versions);
    let mut buf = [0u8; VSTOR_PACKET_SIZE];
    let mut answered = 0;
    while !i.is_empty() {
        let packet = i.chunk();
        let Some(_req) = g.request() else {
            assert!(matches!(g.step(), GuestStep::Done | GuestStep::Failed));
            assert_eq!(g.on_completion(packet), Err(InitError::NotExpecting));
            assert_eq!(g.step(), GuestStep::Failed);
            break;
        };
        assert_eq!(g.encode_request(&mut buf), Ok(g.request_len()));
        // Every reading of the packet agrees on what it is.
        let status = parse_completion(packet, Expect::Status).map(|c| c.status);
        for e in [Expect::Version, Expect::Properties, Expect::FcWwn, Expect::Srb(versions[0])] {
            if let Ok(c) = parse_completion(packet, e) {
                assert_eq!(Ok(c.status), status);
            }
        }
        answered += 1;
        assert!(answered <= versions.len() + 3, "initialization goes on after {answered} answers");
        match g.on_completion(packet) {
            Ok(InitProgress::Continue) => assert!(status.is_ok()),
            Ok(InitProgress::Done(n)) => {
                assert!(versions.contains(&n.version));
                assert!(n.properties.max_transfer_aligned() >= HV_PAGE_SIZE);
                assert_eq!(g.negotiated(), Some(n));
                assert_eq!(g.step(), GuestStep::Done);
                for cpus in [1, 2, 64, u32::MAX] {
                    assert!(u32::from(n.sub_channels(cpus)) <= cpus.saturating_sub(1));
                }
            }
            Err(_) => {
                assert_eq!(g.step(), GuestStep::Failed);
                assert_eq!(g.request(), None);
                assert_eq!(g.negotiated(), None);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut i = Input::new(data);
    if i.u8() == MODE_IO {
        io(i);
    } else {
        init(i);
    }
});
