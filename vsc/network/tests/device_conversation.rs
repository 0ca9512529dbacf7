//! The guest's whole initialization conversation, played the way `netvsc.c` and
//! `rndis_filter.c` play it, against a host built from this crate: NVSP version negotiation,
//! NDIS config and version, receive and send buffers, then RNDIS INIT, the queries of MTU,
//! MAC, friendly name, offload capabilities, link state and speed, RSS capabilities, and the
//! SETs of offload parameters, RSS parameters, packet filter and MAC; then link events, data
//! path filtering, RSS queue selection and HALT.
use netvsc_proto::device::*;
use netvsc_proto::nvsp::{self, NvspMessage, NvspVersion, Sender};
use netvsc_proto::oid::{self, *};
use netvsc_proto::packet;
use netvsc_proto::rndis::{self, *};
use netvsc_proto::toeplitz;
use proptest::prelude::*;

const MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x12, 0x34, 0x56];

/// The guest side: request ids and the checks of `rndis_filter_query_device()`.
struct Guest {
    dev: RndisDevice,
    next_id: u32,
}

impl Guest {
    fn new(cfg: DeviceConfig) -> Self {
        Guest { dev: RndisDevice::new(cfg), next_id: 0 }
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends one request; returns the completion bytes.
    fn send(&mut self, req: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 4096];
        match self.dev.handle_bytes(req, &mut out).unwrap() {
            Reply::Message(n) => {
                assert!(n <= RNDIS_MAX_RESPONSE_SIZE);
                out.truncate(n);
                out
            }
            Reply::None => Vec::new(),
        }
    }

    /// A query; returns (status, result) after Linux's length checks against `max`.
    fn query(&mut self, oid: u32, input: &[u8], max: usize) -> (u32, Vec<u8>) {
        let id = self.id();
        let mut req = vec![0u8; 64 + input.len()];
        let n = build_query(&mut req, id, oid, input).unwrap();
        let resp = self.send(&req[..n]);
        let (m, len) = RndisMessage::parse(&resp).unwrap();
        assert_eq!(len, resp.len());
        assert_eq!(m.request_id(), Some(id));
        let RndisMessage::QueryComplete(q) = m else { panic!("{m:?}") };
        assert!(q.cmplt.info_buf_offset >= 16, "rndis_filter_query_device() needs offset >= 16");
        assert!(q.info.len() <= max, "oid {oid:#x}: {} bytes for a {max}-byte result buffer", q.info.len());
        (q.cmplt.status, q.info.to_vec())
    }

    fn query_u32(&mut self, oid: u32) -> u32 {
        let (st, r) = self.query(oid, &[], 4);
        assert_eq!((st, r.len()), (RNDIS_STATUS_SUCCESS, 4), "oid {oid:#x}");
        u32::from_le_bytes(r.try_into().unwrap())
    }

    fn set(&mut self, oid: u32, info: &[u8]) -> u32 {
        let id = self.id();
        let mut req = vec![0u8; 64 + info.len()];
        let n = build_set(&mut req, id, oid, info).unwrap();
        let resp = self.send(&req[..n]);
        match RndisMessage::parse(&resp).unwrap().0 {
            RndisMessage::SetComplete(c) => {
                assert_eq!(c.req_id, id);
                c.status
            }
            m => panic!("{m:?}"),
        }
    }
}

/// NVSP: the guest walks the versions newest first against a host that knows up to `max`.
fn nvsp_handshake(max: NvspVersion) -> NvspVersion {
    let host_versions: Vec<NvspVersion> = NvspVersion::NEWEST_FIRST.iter().copied().filter(|v| *v <= max).collect();
    let mut buf = [0u8; 128];
    for v in NvspVersion::NEWEST_FIRST {
        // Guest → host.
        let n = NvspMessage::init(v).encode(&mut buf).unwrap();
        let NvspMessage::Init(i) = nvsp::parse(&buf[..n], Sender::Guest).unwrap() else { panic!() };
        let agreed = NvspVersion::negotiate(i.min_protocol_ver, i.max_protocol_ver, &host_versions);
        // Host → guest.
        let n = NvspMessage::init_complete(agreed, 0).encode(&mut buf).unwrap();
        let NvspMessage::InitComplete(c) = nvsp::parse(&buf[..n], Sender::Host).unwrap() else { panic!() };
        if c.status == nvsp::NVSP_STAT_SUCCESS {
            return v;
        }
    }
    panic!("no version");
}

#[test]
fn whole_initialization() {
    // --- NVSP ---
    let v = nvsp_handshake(NvspVersion::V5);
    assert_eq!(v, NvspVersion::V5);
    let mut buf = [0u8; 128];
    let n = NvspMessage::ndis_config(v, 1500, false).encode(&mut buf).unwrap();
    let NvspMessage::SendNdisConfig(cfg) = nvsp::parse_negotiated(&buf[..n], Sender::Guest, v).unwrap() else { panic!() };
    assert_eq!({ cfg.mtu }, 1514);
    assert!(cfg.capability.has(nvsp::NVSP_CAP_TEAMING | nvsp::NVSP_CAP_SRIOV) && !cfg.capability.has(nvsp::NVSP_CAP_RSC));
    let n = NvspMessage::ndis_version(v).encode(&mut buf).unwrap();
    let NvspMessage::SendNdisVersion(nv) = nvsp::parse_negotiated(&buf[..n], Sender::Guest, v).unwrap() else { panic!() };
    assert_eq!(({ nv.ndis_major_ver }, { nv.ndis_minor_ver }), (6, 30));

    // Receive buffer: the guest offers 16 MiB, the host cuts it into 1728-byte sections.
    let rx_size = nvsp::NETVSC_RECEIVE_BUFFER_DEFAULT;
    let n = NvspMessage::send_receive_buffer(0x100).encode(&mut buf).unwrap();
    assert!(matches!(nvsp::parse_negotiated(&buf[..n], Sender::Guest, v), Ok(NvspMessage::SendReceiveBuffer(r)) if { r.id } == 0xcafe));
    let host_rx = nvsp::ReceiveBufferLayout::host(rx_size, nvsp::NETVSC_RECV_SECTION_SIZE).unwrap();
    let n = NvspMessage::SendReceiveBufferComplete(nvsp::ReceiveBufferComplete::single(host_rx.section())).encode(&mut buf).unwrap();
    let NvspMessage::SendReceiveBufferComplete(c) = nvsp::parse_negotiated(&buf[..n], Sender::Host, v).unwrap() else { panic!() };
    let guest_rx = nvsp::ReceiveBufferLayout::from_complete(&c, rx_size).unwrap();
    assert_eq!(guest_rx, host_rx);
    // Send buffer: 1 MiB, host picks 6144-byte sections.
    let n = NvspMessage::send_buffer_complete(nvsp::NVSP_STAT_SUCCESS, 6144).encode(&mut buf).unwrap();
    let NvspMessage::SendSendBufferComplete(sc) = nvsp::parse_negotiated(&buf[..n], Sender::Host, v).unwrap() else { panic!() };
    let tx = nvsp::SendBufferLayout::from_complete(&sc, nvsp::NETVSC_SEND_BUFFER_DEFAULT).unwrap();
    assert_eq!(tx.section_count, 170);

    // --- RNDIS ---
    let mut g = Guest::new(DeviceConfig::new(MAC));
    assert_eq!(g.dev.state(), DeviceState::Uninitialized);
    let id = g.id();
    let mut req = [0u8; 64];
    let n = build_init(&mut req, id, LINUX_MAX_XFER_SIZE).unwrap();
    let resp = g.send(&req[..n]);
    let RndisMessage::InitComplete(ic) = RndisMessage::parse(&resp).unwrap().0 else { panic!() };
    assert_eq!((ic.req_id, ic.status, ic.max_pkt_per_msg), (id, RNDIS_STATUS_SUCCESS, 8));
    assert_eq!(ic.pkt_align(), Ok(8));
    assert_eq!(g.dev.state(), DeviceState::Initialized);

    // MTU, MAC, friendly name (not supported: empty result, which Linux ignores).
    assert_eq!(g.query_u32(RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE), 1500);
    let (st, mac) = g.query(RNDIS_OID_802_3_PERMANENT_ADDRESS, &[], 6);
    assert_eq!((st, mac.as_slice()), (RNDIS_STATUS_SUCCESS, &MAC[..]));
    let (st, name) = g.query(RNDIS_OID_GEN_FRIENDLY_NAME, &[], 512);
    assert_eq!((st, name.len()), (RNDIS_STATUS_NOT_SUPPORTED, 0));

    // Offload: query the capabilities with Linux's header, plan, set the parameters.
    let mut input = [0u8; 200];
    let n = build_offload_caps_query(&mut input, v).unwrap();
    let (st, caps) = g.query(OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &input[..n], NDIS_OFFLOAD_SIZE);
    assert_eq!(st, RNDIS_STATUS_SUCCESS);
    let caps = NdisOffload::parse_caps(&caps).unwrap();
    let plan = OffloadPlan::linux(&caps, false);
    assert!(plan.tso && plan.tso6 && plan.ip_csum && plan.ipv6_csum);
    let mut info = [0u8; 64];
    let n = plan.params.write(&mut info, v).unwrap();
    assert_eq!(g.set(OID_TCP_OFFLOAD_PARAMETERS, &info[..n]), RNDIS_STATUS_SUCCESS);
    assert_eq!(g.dev.offload_params().lso_v2_ipv4, NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED);
    assert_eq!(g.dev.offload_params().udp_ip_v6_csum, NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED);
    // A later "no change" set keeps what was set.
    let n = NdisOffloadParams::default().write(&mut info, v).unwrap();
    assert_eq!(g.set(OID_TCP_OFFLOAD_PARAMETERS, &info[..n]), RNDIS_STATUS_SUCCESS);
    assert_eq!(g.dev.offload_params().lso_v2_ipv4, NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED);

    // Link state and speed (100 bps units; Linux shows / 10000 Mbit/s).
    assert_eq!(g.query_u32(RNDIS_OID_GEN_MEDIA_CONNECT_STATUS), RNDIS_MEDIA_STATE_CONNECTED);
    assert_eq!(g.query_u32(RNDIS_OID_GEN_LINK_SPEED) / 10000, 10_000);

    // vRSS: capabilities (18 bytes exactly), then disable and set as rndis_filter_set_rss_param().
    let mut q = [0u8; 32];
    let n = NdisRecvScaleCap::build_query(&mut q).unwrap();
    let (st, cap) = g.query(OID_GEN_RECEIVE_SCALE_CAPABILITIES, &q[..n], NDIS_RECV_SCALE_CAP_SIZE);
    assert_eq!(st, RNDIS_STATUS_SUCCESS);
    let cap = NdisRecvScaleCap::parse(&cap).unwrap();
    assert!({ cap.num_recv_que } >= 2);
    let table_size = cap.linux_table_size();
    assert_eq!(table_size, 128);
    let channels = 4;
    let table: Vec<u16> = (0..table_size).map(|i| default_rx_table_entry(i, channels) as u16).collect();
    let mut info = vec![0u8; 1024];
    for flag in [NDIS_RSS_PARAM_FLAG_DISABLE_RSS, 0] {
        let n = RssParams::build(&mut info, flag, LINUX_RSS_HASH_INFO, &table, &NETVSC_HASH_KEY).unwrap();
        assert_eq!(g.set(OID_GEN_RECEIVE_SCALE_PARAMETERS, &info[..n]), RNDIS_STATUS_SUCCESS);
        assert_eq!(g.dev.rss().enabled, flag == 0);
    }
    assert_eq!(g.dev.rss().table().len(), 128);
    assert_eq!(g.dev.rss().key(), &NETVSC_HASH_KEY[..]);
    assert_eq!(g.dev.rss().hash_info, LINUX_RSS_HASH_INFO);
    // The current parameters read back.
    let (st, cur) = g.query(OID_GEN_RECEIVE_SCALE_PARAMETERS, &[], 4096);
    assert_eq!(st, RNDIS_STATUS_SUCCESS);
    let cur = RssParams::parse(&cur).unwrap();
    assert_eq!((cur.entry_count(), cur.key, cur.hash_info), (128, &NETVSC_HASH_KEY[..], LINUX_RSS_HASH_INFO));

    // Open: the packet filter.
    assert_eq!(g.query_u32(RNDIS_OID_GEN_CURRENT_PACKET_FILTER), 0);
    assert!(!g.dev.accepts(&MAC), "nothing passes before the filter is set");
    assert_eq!(g.set(RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &LINUX_OPEN_PACKET_FILTER.to_le_bytes()), RNDIS_STATUS_SUCCESS);
    assert_eq!(g.dev.packet_filter(), LINUX_OPEN_PACKET_FILTER);
    assert!(g.dev.accepts(&MAC) && g.dev.accepts(&[0xff; 6]) && g.dev.accepts(&[0x01, 0, 0x5e, 0, 0, 1]));
    assert!(!g.dev.accepts(&[0x00, 0x15, 0x5d, 0, 0, 1]));

    // Change the MAC (rndis_filter_set_device_mac()).
    let new_mac = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
    let n = ConfigParameter::build_mac(&mut info, &new_mac).unwrap();
    assert_eq!(g.set(RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, &info[..n]), RNDIS_STATUS_SUCCESS);
    assert_eq!(g.dev.mac(), new_mac);
    let (_, cur_mac) = g.query(RNDIS_OID_802_3_CURRENT_ADDRESS, &[], 6);
    assert_eq!(cur_mac, new_mac);
    assert!(g.dev.accepts(&new_mac) && !g.dev.accepts(&MAC));

    // RSS on received frames: the queue is the table entry of the Toeplitz hash.
    let mut frame = vec![0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0, 1, 2, 3, 4, 5, 0x08, 0x00];
    frame.extend([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 66, 9, 149, 187, 161, 142, 100, 80]);
    frame.extend([0x0a, 0xea, 0x06, 0xe6, 0, 0, 0, 0]);
    let (queue, h) = g.dev.rx_queue(&frame);
    let h = h.unwrap();
    assert_eq!(h.hash, 0x51cc_c178);
    assert_eq!(queue, u32::from(table[0x51cc_c178 % 128]));
    assert_eq!(queue, toeplitz::select_queue(g.dev.rss().table(), h.hash).unwrap());
    // The host delivers it with the hash PPIs; the guest reads them back.
    let rx = packet::RxInfo { hash_value: Some(h.hash), hash_info: Some(h.hash_info), ..Default::default() };
    let mut section = vec![0u8; 1728];
    let n = packet::build_rx_packet(&mut section, &frame, &rx).unwrap();
    let range = guest_rx.range(0, n as u32).unwrap();
    let RndisMessage::Packet(p) = RndisMessage::parse(&section[range]).unwrap().0 else { panic!() };
    assert_eq!((p.data, p.info().hash_value), (&frame[..], Some(0x51cc_c178)));

    // Everything else: keepalive, reset, multicast list, unknown OIDs.
    let id = g.id();
    let n = build_keepalive(&mut req, id).unwrap();
    let resp = g.send(&req[..n]);
    assert!(matches!(RndisMessage::parse(&resp).unwrap().0, RndisMessage::KeepaliveComplete(k) if k.req_id == id && k.status == 0));
    let n = build_reset(&mut req).unwrap();
    let resp = g.send(&req[..n]);
    assert!(matches!(RndisMessage::parse(&resp).unwrap().0, RndisMessage::ResetComplete(r) if r.status == 0));
    let list = [[0x01, 0, 0x5e, 0, 0, 0xfb], [0x33, 0x33, 0, 0, 0, 1]].concat();
    assert_eq!(g.set(RNDIS_OID_802_3_MULTICAST_LIST, &list), RNDIS_STATUS_SUCCESS);
    assert_eq!(g.dev.multicast_list().len(), 2);
    let (_, got) = g.query(RNDIS_OID_802_3_MULTICAST_LIST, &[], 64);
    assert_eq!(got, list);
    assert_eq!(g.query(0x0DEA_DBEE, &[], 0), (RNDIS_STATUS_NOT_SUPPORTED, vec![]));
    assert_eq!(g.set(0x0DEA_DBEE, &[1, 2, 3]), RNDIS_STATUS_NOT_SUPPORTED);
    let (st, list) = g.query(RNDIS_OID_GEN_SUPPORTED_LIST, &[], 4096);
    assert_eq!((st, list.len()), (RNDIS_STATUS_SUCCESS, SUPPORTED_OIDS.len() * 4));
    for o in SUPPORTED_OIDS {
        assert_eq!(g.query(o, &[], 4096).0, RNDIS_STATUS_SUCCESS, "supported oid {o:#x}");
    }

    // Link events, as the guest sees them.
    let mut ind = [0u8; 64];
    let events = [
        (g.dev.set_link(false, &mut ind).unwrap(), StatusEvent::MediaDisconnect),
    ];
    for (n, want) in events {
        let RndisMessage::IndicateStatus(s) = RndisMessage::parse(&ind[..n]).unwrap().0 else { panic!() };
        assert_eq!(s.event(), Ok(want));
    }
    assert!(!g.dev.link_up());
    assert_eq!(g.query_u32(RNDIS_OID_GEN_MEDIA_CONNECT_STATUS), RNDIS_MEDIA_STATE_DISCONNECTED);
    let n = g.dev.set_link(true, &mut ind).unwrap();
    assert!(matches!(RndisMessage::parse(&ind[..n]).unwrap().0, RndisMessage::IndicateStatus(s) if s.event() == Ok(StatusEvent::MediaConnect)));
    let n = g.dev.set_link_speed(250_000_000, &mut ind).unwrap();
    assert!(matches!(RndisMessage::parse(&ind[..n]).unwrap().0,
        RndisMessage::IndicateStatus(s) if s.event() == Ok(StatusEvent::LinkSpeedChange { speed_100bps: 250_000_000 })));
    assert_eq!(g.query_u32(RNDIS_OID_GEN_LINK_SPEED), 250_000_000);
    let n = g.dev.network_change(&mut ind).unwrap();
    assert!(matches!(RndisMessage::parse(&ind[..n]).unwrap().0, RndisMessage::IndicateStatus(s) if s.event() == Ok(StatusEvent::NetworkChange)));

    // Close (filter 0), then HALT: no answer, nothing passes, later requests not ready.
    assert_eq!(g.set(RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &0u32.to_le_bytes()), RNDIS_STATUS_SUCCESS);
    assert!(!g.dev.accepts(&new_mac));
    let id = g.id();
    let n = build_halt(&mut req, id).unwrap();
    assert!(g.send(&req[..n]).is_empty());
    assert_eq!(g.dev.state(), DeviceState::Halted);
    assert_eq!(g.query(RNDIS_OID_GEN_LINK_SPEED, &[], 4).0, RNDIS_STATUS_ADAPTER_NOT_READY);
}

#[test]
fn refusals_and_errors() {
    let mut g = Guest::new(DeviceConfig { rss: None, ..DeviceConfig::new(MAC) });
    // Before INIT.
    assert_eq!(g.query(RNDIS_OID_GEN_LINK_SPEED, &[], 4).0, RNDIS_STATUS_ADAPTER_NOT_READY);
    assert_eq!(g.set(RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &[0; 4]), RNDIS_STATUS_ADAPTER_NOT_READY);
    // RNDIS 2.0 is refused.
    let mut req = [0u8; 64];
    let mut words: Vec<u8> = [2u32, 24, 1, 2, 0, 0x4000].iter().flat_map(|w| w.to_le_bytes()).collect();
    let resp = g.send(&words);
    assert!(matches!(RndisMessage::parse(&resp).unwrap().0, RndisMessage::InitComplete(c) if c.status == RNDIS_STATUS_BAD_VERSION));
    assert_eq!(g.dev.state(), DeviceState::Uninitialized);
    words[12] = 1;
    g.send(&words);
    assert_eq!(g.dev.state(), DeviceState::Initialized);

    // No vRSS offered.
    assert_eq!(g.query(OID_GEN_RECEIVE_SCALE_CAPABILITIES, &[], 18).0, RNDIS_STATUS_NOT_SUPPORTED);
    let mut info = vec![0u8; 1024];
    let n = RssParams::build(&mut info, 0, LINUX_RSS_HASH_INFO, &[0; 16], &NETVSC_HASH_KEY).unwrap();
    assert_eq!(g.set(OID_GEN_RECEIVE_SCALE_PARAMETERS, &info[..n]), RNDIS_STATUS_NOT_SUPPORTED);
    assert_eq!(g.dev.rx_queue(&[0; 64]), (0, None));

    // Bad SET data, each with its status.
    assert_eq!(g.set(RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &[1, 2]), RNDIS_STATUS_INVALID_LENGTH);
    assert_eq!(g.set(RNDIS_OID_802_3_MULTICAST_LIST, &[1; 7]), RNDIS_STATUS_INVALID_LENGTH);
    assert_eq!(g.set(RNDIS_OID_802_3_MULTICAST_LIST, &[1; 6 * 33]), RNDIS_STATUS_MULTICAST_FULL);
    assert_eq!(g.set(OID_TCP_OFFLOAD_PARAMETERS, &[0x80, 3, 10, 0]), RNDIS_STATUS_INVALID_LENGTH);
    let mut bad = [0u8; 28];
    bad[..4].copy_from_slice(&[0x80, 3, 28, 0]);
    bad[4] = 9;
    assert_eq!(g.set(OID_TCP_OFFLOAD_PARAMETERS, &bad), RNDIS_STATUS_INVALID_DATA);
    let n = ConfigParameter::build_string(&mut info, "NetworkAddress", "01aabbccddee").unwrap();
    assert_eq!(g.set(RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, &info[..n]), RNDIS_STATUS_INVALID_DATA, "multicast MAC");
    let n = ConfigParameter::build_string(&mut info, "NetworkAddress", "nonsense").unwrap();
    assert_eq!(g.set(RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, &info[..n]), RNDIS_STATUS_INVALID_DATA);
    let n = ConfigParameter::build_string(&mut info, "SomethingElse", "1").unwrap();
    assert_eq!(g.set(RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, &info[..n]), RNDIS_STATUS_SUCCESS);
    assert_eq!(g.dev.mac(), MAC);

    // Messages the guest must not send, and data on the control path.
    let mut out = [0u8; 256];
    let n = build_set_complete(&mut req, 1, 0).unwrap();
    assert_eq!(g.dev.handle_bytes(&req[..n], &mut out), Err(DeviceError::Unexpected(RNDIS_MSG_SET_C)));
    let n = build_indicate_status(&mut req, RNDIS_STATUS_MEDIA_CONNECT, &[]).unwrap();
    assert_eq!(g.dev.handle_bytes(&req[..n], &mut out), Err(DeviceError::Unexpected(RNDIS_MSG_INDICATE)));
    let n = packet::build_rx_packet(&mut req, &[1, 2, 3], &packet::RxInfo::default()).unwrap();
    assert_eq!(g.dev.handle_bytes(&req[..n], &mut out), Err(DeviceError::DataMessage));
    assert_eq!(g.dev.handle_bytes(&[1, 2, 3], &mut out), Err(DeviceError::Message(RndisError::Truncated(3))));
    // Too small an output buffer.
    let n = build_query(&mut req, 9, RNDIS_OID_GEN_SUPPORTED_LIST, &[]).unwrap();
    assert!(matches!(g.dev.handle_bytes(&req[..n], &mut out[..20]), Err(DeviceError::BufferTooSmall { .. })));
    let mut tiny = [0u8; 30];
    let r = g.dev.handle_bytes(&req[..n], &mut tiny).unwrap();
    let Reply::Message(m) = r else { panic!() };
    assert!(matches!(RndisMessage::parse(&tiny[..m]).unwrap().0, RndisMessage::QueryComplete(q) if q.cmplt.status == RNDIS_STATUS_BUFFER_TOO_SHORT));
    let n = build_keepalive(&mut req, 3).unwrap();
    assert!(matches!(g.dev.handle_bytes(&req[..n], &mut out[..8]), Err(DeviceError::BufferTooSmall { need: 16, have: 8 })));
    assert!(!DeviceError::DataMessage.as_str().is_empty());
}

#[test]
fn rss_table_entries_must_name_queues() {
    let mut g = Guest::new(DeviceConfig::new(MAC));
    let mut req = [0u8; 64];
    let n = build_init(&mut req, 1, 0x4000).unwrap();
    g.send(&req[..n]);
    let mut info = vec![0u8; 1024];
    let n = RssParams::build(&mut info, 0, LINUX_RSS_HASH_INFO, &[0, 7, 8], &NETVSC_HASH_KEY).unwrap();
    assert_eq!(g.set(OID_GEN_RECEIVE_SCALE_PARAMETERS, &info[..n]), RNDIS_STATUS_INVALID_DATA);
    assert!(!g.dev.rss().enabled);
    // Key unchanged, table only: the earlier key stays.
    let n = RssParams::build(&mut info, 0, LINUX_RSS_HASH_INFO, &[1, 2], &NETVSC_HASH_KEY).unwrap();
    assert_eq!(g.set(OID_GEN_RECEIVE_SCALE_PARAMETERS, &info[..n]), RNDIS_STATUS_SUCCESS);
    let n = RssParams::build(&mut info, NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED, LINUX_RSS_HASH_INFO, &[3], &[]).unwrap();
    assert_eq!(g.set(OID_GEN_RECEIVE_SCALE_PARAMETERS, &info[..n]), RNDIS_STATUS_SUCCESS);
    assert_eq!((g.dev.rss().table(), g.dev.rss().key().len()), (&[3u32][..], 40));
    assert_eq!(g.dev.rss().queue_for_hash(12345), Some(3));
    let _ = oid::ITAB_NUM;
    let _ = rndis::RNDIS_HEADER_SIZE;
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), init in any::<bool>(), out_len in 0usize..600) {
        let mut d = RndisDevice::new(DeviceConfig::new(MAC));
        let mut out = vec![0u8; out_len];
        if init {
            let mut req = [0u8; 64];
            let n = build_init(&mut req, 1, 0x4000).unwrap();
            let _ = d.handle_bytes(&req[..n], &mut [0u8; 64]);
        }
        if let Ok(Reply::Message(n)) = d.handle_bytes(&b, &mut out) {
            prop_assert!(n <= out.len());
            prop_assert!(RndisMessage::parse(&out[..n]).is_ok());
        }
        let _ = d.accepts(&[0xff; 6]);
        let _ = d.rx_queue(&b);
    }

    #[test]
    fn arbitrary_set_data_never_panics(o in prop::sample::select(SUPPORTED_OIDS.to_vec().into_iter().chain([
            RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, OID_TCP_OFFLOAD_PARAMETERS, OID_OFFLOAD_ENCAPSULATION]).collect::<Vec<u32>>()),
        info in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut g = Guest::new(DeviceConfig::new(MAC));
        let mut req = [0u8; 64];
        let n = build_init(&mut req, 1, 0x4000).unwrap();
        g.send(&req[..n]);
        let _ = g.set(o, &info);
        let _ = g.query(o, &info, usize::MAX);
    }
}
