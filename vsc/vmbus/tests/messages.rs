//! Channel messages: golden bytes hand-computed from the `include/linux/hyperv.h` layouts,
//! encode→parse round trips of every message, size and type errors, and arbitrary bytes
//! into the parser.
use proptest::prelude::*;
use vmbus_proto::gpadl::{GpaRange, Pfns};
use vmbus_proto::guid::{self, Guid};
use vmbus_proto::message::{self as m, ChannelMessage, ContactTarget, MessageError, MessageType};
use vmbus_proto::version as v;

fn enc(msg: &ChannelMessage<'_>) -> Vec<u8> {
    let mut out = [0u8; 240];
    let n = msg.encode(&mut out).unwrap();
    assert_eq!(n, msg.encoded_len());
    out[..n].to_vec()
}

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

#[test]
fn initiate_contact_v5_golden() {
    let msg = m::InitiateContact::new(
        v::VERSION_WIN10_V5_3,
        1,
        ContactTarget::TargetInfo { msg_sint: v::MESSAGE_SINT, msg_vtl: 0, feature_flags: 0 },
        0x1000_0000,
        0x1000_1000,
    );
    let bytes = enc(&ChannelMessage::InitiateContact(msg));
    #[rustfmt::skip]
    let expected: [u8; 40] = [
        0x0e, 0, 0, 0, 0, 0, 0, 0,              // CHANNELMSG_INITIATE_CONTACT, padding
        0x03, 0x00, 0x05, 0x00,                 // version 5.3
        0x01, 0, 0, 0,                          // target_vcpu 1
        0x02, 0x00, 0, 0, 0, 0, 0, 0,           // msg_sint 2, msg_vtl 0, reserved, feature_flags 0
        0x00, 0x00, 0x00, 0x10, 0, 0, 0, 0,     // monitor_page1
        0x00, 0x10, 0x00, 0x10, 0, 0, 0, 0,     // monitor_page2
    ];
    assert_eq!(bytes, expected);
    let ChannelMessage::InitiateContact(back) = m::parse(&bytes).unwrap() else { panic!() };
    assert_eq!(back.target(), ContactTarget::TargetInfo { msg_sint: 2, msg_vtl: 0, feature_flags: 0 });
}

#[test]
fn initiate_contact_old_and_v6_golden() {
    // WIN10 (4.0): the union is the interrupt page GPA.
    let msg = m::InitiateContact::new(v::VERSION_WIN10, 0, ContactTarget::InterruptPage(0x1234_5000), 0xa000, 0xb000);
    let bytes = enc(&ChannelMessage::InitiateContact(msg));
    assert_eq!(&bytes[8..12], &[0, 0, 4, 0]);
    assert_eq!(&bytes[16..24], &[0x00, 0x50, 0x34, 0x12, 0, 0, 0, 0]);
    let ChannelMessage::InitiateContact(back) = m::parse(&bytes).unwrap() else { panic!() };
    assert_eq!(back.target(), ContactTarget::InterruptPage(0x1234_5000));
    // 6.0 with VMBUS_FEATURE_FLAG_CONFIDENTIAL_CHANNELS and VTL 2.
    let tgt = ContactTarget::TargetInfo { msg_sint: 2, msg_vtl: 2, feature_flags: m::FEATURE_FLAG_CONFIDENTIAL_CHANNELS };
    let msg = m::InitiateContact::new(v::VERSION_WIN10_V6_0, 0, tgt, 0, 0);
    let bytes = enc(&ChannelMessage::InitiateContact(msg));
    assert_eq!(&bytes[8..12], &[0, 0, 6, 0]);
    assert_eq!(&bytes[16..24], &[0x02, 0x02, 0, 0, 0x10, 0, 0, 0]);
    let ChannelMessage::InitiateContact(back) = m::parse(&bytes).unwrap() else { panic!() };
    assert_eq!(back.target(), tgt);
}

#[test]
fn version_response_golden() {
    let bytes = [0x0f, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x04, 0, 0, 0];
    let ChannelMessage::VersionResponse(r) = m::parse(&bytes).unwrap() else { panic!() };
    assert_eq!({ r.version_supported }, 1);
    assert_eq!({ r.connection_state }, 0);
    assert_eq!({ r.msg_conn_id }, 4);
    assert_eq!(v::message_connection_id(v::VERSION_WIN10_V5_3, r.msg_conn_id), 4);
    // A 6.0 host appends supported_features: trailing bytes are accepted.
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0x10, 0, 0, 0]);
    assert_eq!(m::parse(&longer), m::parse(&bytes));
    assert_eq!(m::parse(&bytes[..15]), Err(MessageError::TooShort(MessageType::VersionResponse)));
}

fn offer_bytes() -> Vec<u8> {
    let mut b = vec![0u8; 196];
    b[0] = 0x01; // CHANNELMSG_OFFERCHANNEL
    b[8..24].copy_from_slice(&[0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f]);
    b[24..40].copy_from_slice(&[0x11; 16]); // if_instance
    b[56..58].copy_from_slice(&0x0010u16.to_le_bytes()); // chn_flags: named pipe
    b[58..60].copy_from_slice(&8u16.to_le_bytes()); // mmio_megabytes
    b[60..64].copy_from_slice(&le32(m::PIPE_TYPE_MESSAGE)); // u.pipe.pipe_mode
    b[64] = 0xab; // u.pipe.user_def[0]
    b[180..182].copy_from_slice(&2u16.to_le_bytes()); // sub_channel_index
    b[184..188].copy_from_slice(&le32(0x0e)); // child_relid
    b[188] = 0x21; // monitorid 33
    b[189] = 0x01; // monitor_allocated
    b[190..192].copy_from_slice(&1u16.to_le_bytes()); // is_dedicated_interrupt
    b[192..196].copy_from_slice(&le32(0x0002_000e)); // connection_id
    b
}

#[test]
fn offer_channel_golden() {
    let b = offer_bytes();
    let ChannelMessage::OfferChannel(o) = m::parse(&b).unwrap() else { panic!() };
    assert_eq!({ o.offer.if_type }, guid::SCSI);
    assert_eq!({ o.offer.if_instance }, Guid::from_bytes([0x11; 16]));
    assert_eq!({ o.offer.mmio_megabytes }, 8);
    assert_eq!({ o.offer.sub_channel_index }, 2);
    assert_eq!({ o.child_relid }, 0x0e);
    assert_eq!({ o.monitorid }, 33);
    assert!(o.monitor_allocated());
    assert_eq!(o.monitor_group_bit(), Some((1, 1)));
    assert!(o.is_dedicated_interrupt());
    assert!(o.is_sub_channel());
    assert!(o.is_pipe());
    assert!(!o.is_hvsock());
    assert_eq!(o.pipe_mode(), m::PIPE_TYPE_MESSAGE);
    assert_eq!(o.offer.user_def[4], 0xab);
    assert_eq!(o.signal_connection_id(v::VERSION_WIN10), 0x0002_000e);
    assert_eq!(o.signal_connection_id(v::VERSION_WS2008), v::EVENT_CONNECTION_ID);
    assert_eq!(ChannelMessage::OfferChannel(o).child_relid(), Some(0x0e));
    assert_eq!(enc(&ChannelMessage::OfferChannel(o)), b);
    // Linux requires the whole 196 bytes (channel_message_table).
    assert_eq!(m::parse(&b[..195]), Err(MessageError::TooShort(MessageType::OfferChannel)));
    // Unallocated or out-of-range monitor ids have no group/bit.
    let mut o2 = o;
    o2.monitor_flags = 0;
    assert_eq!(o2.monitor_group_bit(), None);
    o2.monitor_flags = 1;
    o2.monitorid = 200;
    assert_eq!(o2.monitor_group_bit(), None);
}

#[test]
fn open_channel_golden() {
    let mut oc = m::OpenChannel::new(0x0e, 0x0e, 0x000e_1e10, 1, 0x10);
    oc.userdata[0] = 0x55;
    let b = enc(&ChannelMessage::OpenChannel(oc));
    assert_eq!(b.len(), 148);
    assert_eq!(&b[..28], &[5, 0, 0, 0, 0, 0, 0, 0, 0x0e, 0, 0, 0, 0x0e, 0, 0, 0, 0x10, 0x1e, 0x0e, 0, 1, 0, 0, 0, 0x10, 0, 0, 0]);
    assert_eq!(b[28], 0x55);
    assert!(b[29..].iter().all(|&x| x == 0));
}

#[test]
fn small_host_messages_golden() {
    // OPENCHANNEL_RESULT relid 14, openid 14, status 0.
    let b = [6, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(m::parse(&b), Ok(ChannelMessage::OpenResult(m::OpenResult { child_relid: 14, openid: 14, status: 0 })));
    // GPADL_CREATED relid 14, gpadl 0xe1e10, status 0xc0000001.
    let b = [10, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 0x10, 0x1e, 0x0e, 0, 0x01, 0, 0, 0xc0];
    assert_eq!(m::parse(&b), Ok(ChannelMessage::GpadlCreated(m::GpadlCreated { child_relid: 14, gpadl: 0xe1e10, creation_status: 0xc000_0001 })));
    // GPADL_TORNDOWN.
    let b = [12, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x1e, 0x0e, 0];
    assert_eq!(m::parse(&b), Ok(ChannelMessage::GpadlTorndown(m::GpadlTorndown { gpadl: 0xe1e10 })));
    // RESCIND relid 7; padding in the header is ignored.
    let b = [2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0];
    assert_eq!(m::parse(&b), Ok(ChannelMessage::RescindChannelOffer(m::RescindChannelOffer { child_relid: 7 })));
    // MODIFYCHANNEL_RESPONSE relid 3 status 1.
    let b = [24, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0];
    assert_eq!(m::parse(&b), Ok(ChannelMessage::ModifyChannelResponse(m::ModifyChannelResponse { child_relid: 3, status: 1 })));
    // Header-only messages.
    assert_eq!(m::parse(&[4, 0, 0, 0, 0, 0, 0, 0]), Ok(ChannelMessage::AllOffersDelivered));
    assert_eq!(m::parse(&[17, 0, 0, 0, 0, 0, 0, 0]), Ok(ChannelMessage::UnloadResponse));
    assert_eq!(enc(&ChannelMessage::RequestOffers), [3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(enc(&ChannelMessage::Unload), [16, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn guest_small_messages_golden() {
    assert_eq!(enc(&ChannelMessage::CloseChannel(m::CloseChannel { child_relid: 9 })), [7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0]);
    assert_eq!(
        enc(&ChannelMessage::GpadlTeardown(m::GpadlTeardown { child_relid: 9, gpadl: 0x0102_0304 })),
        [11, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 4, 3, 2, 1]
    );
    assert_eq!(enc(&ChannelMessage::RelIdReleased(m::RelIdReleased { child_relid: 9 })), [13, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0]);
    assert_eq!(
        enc(&ChannelMessage::ModifyChannel(m::ModifyChannel { child_relid: 9, target_vp: 3 })),
        [22, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0]
    );
    let tl = m::TlConnectRequest { guest_endpoint_id: guid::ECHO, host_service_id: guid::KVP };
    let b = enc(&ChannelMessage::TlConnectRequest(tl));
    assert_eq!(b.len(), 40);
    assert_eq!(&b[..8], &[21, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&b[8..24], guid::ECHO.as_bytes());
    assert_eq!(&b[24..40], guid::KVP.as_bytes());
    let res = m::TlConnectResult { guest_endpoint_id: guid::ECHO, host_service_id: guid::KVP, status: 0xc000_0236 };
    let b = enc(&ChannelMessage::TlConnectResult(res));
    assert_eq!(b.len(), 44);
    assert_eq!(&b[40..44], &[0x36, 0x02, 0x00, 0xc0]);
}

#[test]
fn gpadl_messages_golden() {
    let pfns = [0x100u64, 0x101, 0x102];
    let h = m::GpadlHeader {
        child_relid: 14,
        gpadl: 0xe1e10,
        range_buflen: 8 + 3 * 8,
        rangecount: 1,
        range: GpaRange { byte_count: 0x3000, byte_offset: 0 },
        pfns: Pfns::from_slice(&pfns),
    };
    let b = enc(&ChannelMessage::GpadlHeader(h));
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[8u8, 0, 0, 0, 0, 0, 0, 0][..],     // CHANNELMSG_GPADL_HEADER
        &[14, 0, 0, 0],                      // child_relid
        &[0x10, 0x1e, 0x0e, 0],              // gpadl
        &[32, 0, 1, 0],                      // range_buflen 32, rangecount 1
        &[0, 0x30, 0, 0, 0, 0, 0, 0],        // byte_count 0x3000, byte_offset 0
        &[0, 1, 0, 0, 0, 0, 0, 0],
        &[1, 1, 0, 0, 0, 0, 0, 0],
        &[2, 1, 0, 0, 0, 0, 0, 0],
    ].concat();
    assert_eq!(b, expected);
    assert_eq!(m::parse(&b), Ok(ChannelMessage::GpadlHeader(h)));
    assert_eq!(m::parse(&b[..27]), Err(MessageError::TooShort(MessageType::GpadlHeader)));

    let body = m::GpadlBody { msgnumber: 0, gpadl: 0xe1e10, pfns: Pfns::from_slice(&pfns[..2]) };
    let b = enc(&ChannelMessage::GpadlBody(body));
    assert_eq!(b, [&[9u8, 0, 0, 0, 0, 0, 0, 0][..], &[0, 0, 0, 0, 0x10, 0x1e, 0x0e, 0], &[0, 1, 0, 0, 0, 0, 0, 0], &[1, 1, 0, 0, 0, 0, 0, 0]].concat());
    let ChannelMessage::GpadlBody(back) = m::parse(&b).unwrap() else { panic!() };
    assert_eq!(back.pfns.iter().collect::<Vec<_>>(), [0x100, 0x101]);
    // A trailing partial word is not a PFN.
    let mut odd = b.clone();
    odd.extend_from_slice(&[1, 2, 3]);
    let ChannelMessage::GpadlBody(back) = m::parse(&odd).unwrap() else { panic!() };
    assert_eq!(back.pfns.len(), 2);
    assert_eq!(m::parse(&b[..15]), Err(MessageError::TooShort(MessageType::GpadlBody)));
    // Too many PFNs for one message.
    let many = [0u64; 27];
    let h = m::GpadlHeader { pfns: Pfns::from_slice(&many), ..h };
    assert_eq!(h.encode_check(), Err(MessageError::TooLong(28 + 27 * 8)));
}

trait EncodeCheck {
    fn encode_check(&self) -> Result<usize, MessageError>;
}

impl EncodeCheck for m::GpadlHeader<'_> {
    fn encode_check(&self) -> Result<usize, MessageError> {
        ChannelMessage::GpadlHeader(*self).encode(&mut [0u8; 512])
    }
}

fn all_messages<'a>(pfns: &'a [u64]) -> Vec<ChannelMessage<'a>> {
    let mut offer = m::OfferChannel::zeroed();
    offer.offer.if_type = guid::NIC;
    offer.offer.if_instance = guid::ECHO;
    offer.offer.chn_flags = m::offer_flags::REQUEST_MONITORED_NOTIFICATION;
    offer.offer.user_def = [7; 120];
    offer.child_relid = 5;
    offer.monitorid = 3;
    offer.monitor_flags = 1;
    offer.connection_id = 0x2005;
    let mut open = m::OpenChannel::new(5, 5, 0xe1e11, 2, 4);
    open.userdata = [9; 120];
    vec![
        ChannelMessage::OfferChannel(offer),
        ChannelMessage::RescindChannelOffer(m::RescindChannelOffer { child_relid: 5 }),
        ChannelMessage::RequestOffers,
        ChannelMessage::AllOffersDelivered,
        ChannelMessage::OpenChannel(open),
        ChannelMessage::OpenResult(m::OpenResult { child_relid: 5, openid: 5, status: 0 }),
        ChannelMessage::CloseChannel(m::CloseChannel { child_relid: 5 }),
        ChannelMessage::GpadlHeader(m::GpadlHeader {
            child_relid: 5,
            gpadl: 77,
            range_buflen: 8 + 8 * pfns.len() as u16,
            rangecount: 1,
            range: GpaRange { byte_count: 4096 * pfns.len() as u32, byte_offset: 0 },
            pfns: Pfns::from_slice(pfns),
        }),
        ChannelMessage::GpadlBody(m::GpadlBody { msgnumber: 1, gpadl: 77, pfns: Pfns::from_slice(pfns) }),
        ChannelMessage::GpadlCreated(m::GpadlCreated { child_relid: 5, gpadl: 77, creation_status: 0 }),
        ChannelMessage::GpadlTeardown(m::GpadlTeardown { child_relid: 5, gpadl: 77 }),
        ChannelMessage::GpadlTorndown(m::GpadlTorndown { gpadl: 77 }),
        ChannelMessage::RelIdReleased(m::RelIdReleased { child_relid: 5 }),
        ChannelMessage::InitiateContact(m::InitiateContact::new(
            v::VERSION_WIN10_V5_2,
            0,
            ContactTarget::TargetInfo { msg_sint: 2, msg_vtl: 0, feature_flags: 0 },
            0x1000,
            0x2000,
        )),
        ChannelMessage::VersionResponse(m::VersionResponse { version_supported: 1, connection_state: 0, padding: 0, msg_conn_id: 4 }),
        ChannelMessage::Unload,
        ChannelMessage::UnloadResponse,
        ChannelMessage::TlConnectRequest(m::TlConnectRequest { guest_endpoint_id: guid::ECHO, host_service_id: guid::VSS }),
        ChannelMessage::ModifyChannel(m::ModifyChannel { child_relid: 5, target_vp: 1 }),
        ChannelMessage::TlConnectResult(m::TlConnectResult { guest_endpoint_id: guid::ECHO, host_service_id: guid::VSS, status: 0 }),
        ChannelMessage::ModifyChannelResponse(m::ModifyChannelResponse { child_relid: 5, status: 0 }),
    ]
}

#[test]
fn every_message_round_trips() {
    let pfns = [1u64, 2, 3, 0xfff_ffff_ffff];
    let msgs = all_messages(&pfns);
    let mut seen = std::collections::BTreeSet::new();
    for msg in &msgs {
        let b = enc(msg);
        assert_eq!(&b[..4], &msg.message_type().raw().to_le_bytes());
        assert_eq!(&b[4..8], &[0, 0, 0, 0], "header padding is zero");
        assert_eq!(m::peek_type(&b), Ok(msg.message_type()));
        assert_eq!(m::parse(&b).as_ref(), Ok(msg), "{:?}", msg.message_type());
        assert!(b.len() >= msg.message_type().min_size().unwrap());
        // Every message is refused one byte short of its minimum.
        let min = msg.message_type().min_size().unwrap();
        if min > m::HEADER_SIZE {
            assert_eq!(m::parse(&b[..min - 1]), Err(MessageError::TooShort(msg.message_type())));
        }
        // And accepted with trailing bytes (up to the 240-byte slot), fixed messages unchanged.
        let mut slot = b.clone();
        slot.resize(240, 0);
        let again = m::parse(&slot).unwrap();
        assert_eq!(again.message_type(), msg.message_type());
        if !matches!(msg, ChannelMessage::GpadlHeader(_) | ChannelMessage::GpadlBody(_)) {
            assert_eq!(&again, msg);
        }
        // A too-small output buffer is refused and left alone.
        let mut small = vec![0xeeu8; b.len() - 1];
        assert_eq!(msg.encode(&mut small), Err(MessageError::BufferTooSmall));
        assert!(small.iter().all(|&x| x == 0xee));
        seen.insert(msg.message_type());
    }
    // Every type with a layout is covered.
    let with_layout: Vec<_> = MessageType::ALL.iter().filter(|t| t.min_size().is_some()).collect();
    assert_eq!(seen.len(), with_layout.len());
}

#[test]
fn typed_bodies() {
    let body = m::GpadlCreated { child_relid: 1, gpadl: 2, creation_status: 0 };
    let mut out = [0u8; 64];
    let n = m::encode_body(&body, &mut out).unwrap();
    assert_eq!(n, 20);
    assert_eq!(m::parse_body::<m::GpadlCreated>(&out[..n]), Ok(body));
    assert_eq!(
        m::parse_body::<m::OpenResult>(&out[..n]),
        Err(MessageError::WrongType { expected: MessageType::OpenChannelResult, found: MessageType::GpadlCreated })
    );
    assert_eq!(m::encode_body(&body, &mut out[..19]), Err(MessageError::BufferTooSmall));
}

#[test]
fn header_and_type_errors() {
    assert_eq!(m::parse(&[]), Err(MessageError::NoHeader));
    assert_eq!(m::parse(&[1, 0, 0, 0]), Err(MessageError::NoHeader));
    assert_eq!(m::parse(&[25, 0, 0, 0, 0, 0, 0, 0]), Err(MessageError::UnknownType(25)));
    assert_eq!(m::parse(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), Err(MessageError::UnknownType(u32::MAX)));
    for t in [0u8, 18, 19, 20] {
        let e = m::parse(&[t, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(matches!(e, MessageError::Unsupported(_)), "{t}: {e:?}");
    }
    assert_eq!(m::parse(&[3u8; 241]), Err(MessageError::TooLong(241)));
    for e in [MessageError::NoHeader, MessageError::TooLong(1), MessageError::UnknownType(1), MessageError::BufferTooSmall] {
        assert!(!e.as_str().is_empty() && !e.as_str().contains('\n'));
        assert_eq!(e.to_string(), e.as_str());
    }
    for t in MessageType::ALL {
        assert_eq!(MessageType::from_raw(t.raw()), Some(t));
    }
    assert_eq!(MessageType::from_raw(m::MESSAGE_TYPE_COUNT), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Arbitrary payloads never panic; whatever parses re-encodes to a prefix of the input
    /// that parses to the same message.
    #[test]
    fn arbitrary_bytes_never_panic(mut b in prop::collection::vec(any::<u8>(), 0..300), t in 0u32..30) {
        if b.len() >= 4 && t < 26 {
            b[..4].copy_from_slice(&t.to_le_bytes());
        }
        if let Ok(msg) = m::parse(&b) {
            let mut out = [0u8; 240];
            let n = msg.encode(&mut out).unwrap();
            prop_assert!(n <= b.len());
            prop_assert_eq!(&out[8..n], &b[8..n]);
            prop_assert_eq!(m::parse(&out[..n]).unwrap(), msg);
        }
        let _ = m::peek_type(&b);
    }
}
