//! The input formats of the fuzz targets, shared with the seed builder
//! (`examples/seeds.rs`): seeds made from the simulator's captures decode exactly as the
//! targets read them.
//!
//! Every format is a few little-endian header fields followed by wire bytes. Reading past
//! the end gives zeros and empty slices, so every byte string is a valid input and the
//! fuzzer never wastes runs on a rejected header.

/// Reads fields from the front of a fuzz input.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads `data` from its start.
    pub fn new(data: &'a [u8]) -> Self {
        Input { rest: data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = b;
        a
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        let b = self.bytes(N);
        a[..b.len()].copy_from_slice(b);
        a
    }

    /// A byte (0 at the end).
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// A chunk: a `u16` length, then that many bytes (fewer at the end).
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = self.u16();
        self.bytes(usize::from(n))
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.rest.len())
    }
}

/// Builds an input in the formats [`Input`] reads.
#[derive(Clone, Debug, Default)]
pub struct Output(pub Vec<u8>);

impl Output {
    /// An empty input.
    pub fn new() -> Self {
        Output(Vec::new())
    }
    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a little-endian `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// Appends a chunk (`u16` length, bytes; cut at 65535 bytes).
    pub fn chunk(&mut self, b: &[u8]) -> &mut Self {
        let b = &b[..b.len().min(usize::from(u16::MAX))];
        self.u16(b.len() as u16).bytes(b)
    }
}

/// `ring_read`: a host-to-guest ring as a hostile host may leave it.
pub mod ring {
    use super::{Input, Output};

    /// Mode byte of a hostile-ring input (bit 0 clear); a set bit 0 selects the model check.
    pub const MODE_HOSTILE: u8 = 0;

    /// Operations the guest performs on the ring, one byte each (low 3 bits select).
    pub mod op {
        /// `pvg_vmbus_recv` (drivers/vmbus/ring.rs): fresh reader, peek, size check against
        /// a buffer of `(op >> 3) * 256` bytes, copy, consume, commit.
        pub const DRIVER_RECV: u8 = 0;
        /// The crate's `RingReader::recv` into a buffer of `(op >> 3) * 64` bytes.
        pub const CRATE_RECV: u8 = 1;
        /// A batch of up to `(op >> 3) % 8 + 1` packets, payload and extension copied,
        /// committed.
        pub const BATCH_COMMIT: u8 = 2;
        /// The same, dropped uncommitted.
        pub const BATCH_DROP: u8 = 3;
        /// Mask and unmask interrupts, then ask for data (a polling VSC).
        pub const MASK_UNMASK: u8 = 4;
        /// The host rewrites the read index with write-index value number `op >> 3`.
        pub const HOST_SETS_READ: u8 = 5;
        /// A VSC callback draining the ring with `pvg_vmbus_recv` until it is empty.
        pub const DRAIN: u8 = 6;
        /// Walk the whole ring without committing and compare with the reference walk.
        pub const WALK: u8 = 7;
    }

    /// The ring and what happens to it.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct HostileRing<'a> {
        /// Size of the data area the ring claims (any value; invalid ones must be refused).
        pub data_len: u16,
        /// `read_index` when the guest first looks.
        pub read: u32,
        /// The values the host's `write_index` takes, one per load, cycling (1 to 4).
        pub writes: Vec<u32>,
        /// `feature_bits`.
        pub features: u32,
        /// `pending_send_sz`.
        pub pending: u32,
        /// XOR applied to data the guest reads once `rewrite_after` reads happened: the
        /// host rewriting packets under the guest.
        pub rewrite: u8,
        /// 255: never.
        pub rewrite_after: u8,
        /// The guest's operations ([`op`]).
        pub ops: &'a [u8],
        /// The data area (shorter: zero-filled; longer: cut).
        pub data: &'a [u8],
    }

    impl<'a> HostileRing<'a> {
        /// Reads a hostile-ring input (after the mode byte).
        pub fn decode(i: &mut Input<'a>) -> Self {
            let data_len = i.u16();
            let read = i.u32();
            let n = usize::from(i.u8() % 4) + 1;
            let writes = (0..n).map(|_| i.u32()).collect();
            let features = i.u32();
            let pending = i.u32();
            let rewrite = i.u8();
            let rewrite_after = i.u8();
            let n_ops = usize::from(i.u8() % 64);
            let ops = i.bytes(n_ops);
            HostileRing { data_len, read, writes, features, pending, rewrite, rewrite_after, ops, data: i.rest() }
        }

        /// Writes it (mode byte included).
        pub fn encode(&self, o: &mut Output) {
            o.u8(MODE_HOSTILE).u16(self.data_len).u32(self.read);
            let writes = &self.writes[..self.writes.len().clamp(1, 4)];
            o.u8(writes.len() as u8 - 1);
            for w in writes {
                o.u32(*w);
            }
            o.u32(self.features).u32(self.pending).u8(self.rewrite).u8(self.rewrite_after);
            let ops = &self.ops[..self.ops.len().min(63)];
            o.u8(ops.len() as u8).bytes(ops).bytes(self.data);
        }
    }
}

/// `vstor_completion`: what the host sends a storage VSC, against the guest's state.
pub mod vstor {
    use super::{Input, Output};

    /// Mode byte: the block I/O and control-request model.
    pub const MODE_IO: u8 = 0;
    /// Mode byte: the channel initialization sequence.
    pub const MODE_INIT: u8 = 1;

    /// Queues and tags of the I/O model.
    pub const MAX_QUEUES: u32 = 8;
    /// Tags per queue of the I/O model.
    pub const MAX_DEPTH: u32 = 512;

    /// One event of the I/O model.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Event<'a> {
        /// The guest sends a block request on slot `slot` (queue = slot / depth).
        Issue {
            /// Slot number (modulo the slots).
            slot: u16,
            /// CDB opcode.
            opcode: u8,
            /// Bytes asked for.
            data_len: u32,
            /// A block READ/WRITE (a short transfer is an error).
            full_transfer: bool,
        },
        /// The host completes what is in flight on `slot`, with the id the guest sent.
        Complete {
            /// Slot number.
            slot: u16,
            /// VMBus packet type.
            packet_type: u16,
            /// The VSTOR packet.
            payload: &'a [u8],
        },
        /// The host sends a packet with any transaction id.
        Raw {
            /// `trans_id`.
            trans_id: u64,
            /// VMBus packet type.
            packet_type: u16,
            /// The VSTOR packet.
            payload: &'a [u8],
        },
        /// The request on `slot` times out (the timeout handler claims it).
        Timeout {
            /// Slot number.
            slot: u16,
        },
        /// The guest sends a control request (discovery SCSI command) of `data_len` bytes.
        Control {
            /// Bytes of data-in asked for.
            data_len: u32,
            /// CDB opcode.
            opcode: u8,
        },
        /// The host completes the outstanding control request with the id the guest sent.
        ControlComplete {
            /// The VSTOR packet.
            payload: &'a [u8],
        },
    }

    impl<'a> Event<'a> {
        /// Reads one event.
        pub fn decode(i: &mut Input<'a>) -> Self {
            match i.u8() % 6 {
                0 => Event::Issue { slot: i.u16(), opcode: i.u8(), data_len: i.u32(), full_transfer: i.u8() & 1 != 0 },
                1 => Event::Complete { slot: i.u16(), packet_type: i.u16(), payload: i.chunk() },
                2 => Event::Raw { trans_id: i.u64(), packet_type: i.u16(), payload: i.chunk() },
                3 => Event::Timeout { slot: i.u16() },
                4 => Event::Control { data_len: i.u32(), opcode: i.u8() },
                _ => Event::ControlComplete { payload: i.chunk() },
            }
        }

        /// Writes it.
        pub fn encode(&self, o: &mut Output) {
            match self {
                Event::Issue { slot, opcode, data_len, full_transfer } => {
                    o.u8(0).u16(*slot).u8(*opcode).u32(*data_len).u8(*full_transfer as u8);
                }
                Event::Complete { slot, packet_type, payload } => {
                    o.u8(1).u16(*slot).u16(*packet_type).chunk(payload);
                }
                Event::Raw { trans_id, packet_type, payload } => {
                    o.u8(2).u64(*trans_id).u16(*packet_type).chunk(payload);
                }
                Event::Timeout { slot } => {
                    o.u8(3).u16(*slot);
                }
                Event::Control { data_len, opcode } => {
                    o.u8(4).u32(*data_len).u8(*opcode);
                }
                Event::ControlComplete { payload } => {
                    o.u8(5).chunk(payload);
                }
            }
        }
    }

    /// The I/O model's set-up: header of a [`MODE_IO`] input, events follow.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IoSetup {
        /// Index into `ProtocolVersion::NEWEST_FIRST` (modulo its length).
        pub version: u8,
        /// Hardware queues - 1 (modulo [`MAX_QUEUES`]).
        pub queues: u8,
        /// Tags per queue - 1 (modulo [`MAX_DEPTH`]).
        pub depth: u16,
    }

    impl IoSetup {
        /// Reads it (after the mode byte).
        pub fn decode(i: &mut Input<'_>) -> Self {
            IoSetup { version: i.u8(), queues: i.u8(), depth: i.u16() }
        }
        /// Writes it (mode byte included).
        pub fn encode(&self, o: &mut Output) {
            o.u8(MODE_IO).u8(self.version).u8(self.queues).u16(self.depth);
        }
        /// Hardware queues.
        pub fn nr_queues(&self) -> u32 {
            u32::from(self.queues) % MAX_QUEUES + 1
        }
        /// Tags per queue.
        pub fn nr_depth(&self) -> u32 {
            u32::from(self.depth) % MAX_DEPTH + 1
        }
    }
}

/// `scsi_discovery`: the answers a LUN gives to the discovery commands the storage VSC sends.
pub mod scsi {
    use super::{Input, Output};

    /// The answers, in the order `drivers/storvsc/lun.rs` asks; `None`: the command failed.
    pub const ANSWERS: [&str; 11] = [
        "inquiry",
        "vpd-supported-pages",
        "vpd-unit-serial",
        "vpd-device-identification",
        "vpd-block-limits",
        "vpd-block-characteristics",
        "vpd-provisioning",
        "read-capacity-16",
        "read-capacity-10",
        "mode-sense-caching",
        "report-luns",
    ];

    /// A chunk length meaning "the command failed".
    pub const FAILED: u16 = 0xffff;

    /// One LUN's discovery: the channel's transfer limit and every answer.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Discovery<'a> {
        /// The channel's `max_transfer_bytes`.
        pub max_transfer: u32,
        /// Answers in [`ANSWERS`] order.
        pub answers: [Option<&'a [u8]>; 11],
        /// Block requests to map with the resulting geometry (16 bytes each).
        pub requests: &'a [u8],
    }

    impl<'a> Discovery<'a> {
        /// Reads it.
        pub fn decode(i: &mut Input<'a>) -> Self {
            let max_transfer = i.u32();
            let mut answers = [None; 11];
            for a in answers.iter_mut() {
                let n = i.u16();
                *a = (n != FAILED).then(|| i.bytes(usize::from(n)));
            }
            Discovery { max_transfer, answers, requests: i.rest() }
        }
        /// Writes it.
        pub fn encode(&self, o: &mut Output) {
            o.u32(self.max_transfer);
            for a in &self.answers {
                match a {
                    Some(b) => {
                        let b = &b[..b.len().min(usize::from(FAILED) - 1)];
                        o.chunk(b);
                    }
                    None => {
                        o.u16(FAILED);
                    }
                }
            }
            o.bytes(self.requests);
        }
    }
}

/// `nvsp_message`: one VMBus packet a network VSC receives.
pub mod nvsp {
    use super::{Input, Output};

    /// Flag in [`NvspPacket::version`]: the payload is a series of chunks, the host's
    /// completions of the guest's NVSP setup requests (`netvsc_proto::guest::NvspSetup`,
    /// proposing the version the low bits select first).
    pub const SETUP: u8 = 0x80;

    /// The packet and the guest's state when it arrives.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct NvspPacket<'a> {
        /// The negotiated NVSP version: index into the known versions, beyond them none yet
        /// (and the [`SETUP`] flag).
        pub version: u8,
        /// Bytes of the guest's receive buffer.
        pub recv_buf: u32,
        /// Bytes of the guest's send buffer.
        pub send_buf: u32,
        /// VMBus packet type.
        pub packet_type: u16,
        /// The packet's `trans_id`.
        pub trans_id: u64,
        /// The packet's extension (transfer-page header and ranges; padded to 8 bytes).
        pub ext: &'a [u8],
        /// The NVSP message.
        pub payload: &'a [u8],
    }

    impl<'a> NvspPacket<'a> {
        /// Reads it.
        pub fn decode(i: &mut Input<'a>) -> Self {
            NvspPacket {
                version: i.u8(),
                recv_buf: i.u32(),
                send_buf: i.u32(),
                packet_type: i.u16(),
                trans_id: i.u64(),
                ext: i.chunk(),
                payload: i.rest(),
            }
        }
        /// Writes it.
        pub fn encode(&self, o: &mut Output) {
            o.u8(self.version).u32(self.recv_buf).u32(self.send_buf).u16(self.packet_type).u64(self.trans_id).chunk(self.ext).bytes(self.payload);
        }
    }
}

/// `rndis_message`: the RNDIS messages of one receive section.
pub mod rndis {
    use super::{Input, Output};

    /// The OIDs a control request may have queried, by [`Section::oid`] (modulo the
    /// length): the objects `rndis_filter_device_add()` and `rndis_query_hwcaps()` read,
    /// then the MAC address and 32-bit values.
    pub const OIDS: [u32; 7] = [
        0xFC01_020D, // OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES
        0x0001_0203, // OID_GEN_RECEIVE_SCALE_CAPABILITIES
        0x0101_010A, // OID_OFFLOAD_ENCAPSULATION
        0x0001_0204, // OID_GEN_RECEIVE_SCALE_PARAMETERS
        0x0001_021B, // RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER
        0x0101_0101, // RNDIS_OID_802_3_PERMANENT_ADDRESS
        0x0001_0114, // RNDIS_OID_GEN_MEDIA_CONNECT_STATUS
    ];

    /// The control requests the guest may be waiting for, by [`Section::request`] (modulo
    /// the length): `RNDIS_MSG_INIT`, `QUERY`, `SET`, `RESET`, `KEEPALIVE`.
    pub const REQUESTS: [u32; 5] = [2, 4, 5, 6, 8];

    /// A receive section and the request the guest is waiting for.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Section<'a> {
        /// The request id of the outstanding control request.
        pub req_id: u32,
        /// Which OID that request queried (index into [`OIDS`]).
        pub oid: u8,
        /// Which request it is (index into [`REQUESTS`]).
        pub request: u8,
        /// The section bytes (one or more RNDIS messages).
        pub bytes: &'a [u8],
    }

    impl<'a> Section<'a> {
        /// Reads it.
        pub fn decode(i: &mut Input<'a>) -> Self {
            Section { req_id: i.u32(), oid: i.u8(), request: i.u8(), bytes: i.rest() }
        }
        /// Writes it.
        pub fn encode(&self, o: &mut Output) {
            o.u32(self.req_id).u8(self.oid).u8(self.request).bytes(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let data = [1u8, 2, 3];
        let r = ring::HostileRing {
            data_len: 4096,
            read: 8,
            writes: vec![16, 24],
            features: 1,
            pending: 0,
            rewrite: 0,
            rewrite_after: 255,
            ops: &[0, 6, 7],
            data: &data,
        };
        let mut o = Output::new();
        r.encode(&mut o);
        let mut i = Input::new(&o.0);
        assert_eq!(i.u8(), ring::MODE_HOSTILE);
        assert_eq!(ring::HostileRing::decode(&mut i), r);

        let d = scsi::Discovery { max_transfer: 1 << 20, answers: [Some(&data[..]), None, None, None, None, None, None, None, None, None, Some(&[])], requests: &[9] };
        let mut o = Output::new();
        d.encode(&mut o);
        assert_eq!(scsi::Discovery::decode(&mut Input::new(&o.0)), d);

        let e = vstor::Event::Raw { trans_id: 7, packet_type: 11, payload: &data };
        let mut o = Output::new();
        e.encode(&mut o);
        assert_eq!(vstor::Event::decode(&mut Input::new(&o.0)), e);
    }

    #[test]
    fn short_input_reads_zeros() {
        let mut i = Input::new(&[0x34, 0x12]);
        assert_eq!(i.u32(), 0x1234);
        assert_eq!(i.u64(), 0);
        assert_eq!(i.chunk(), &[] as &[u8]);
        assert!(i.is_empty());
    }
}
