//! VMBus channel messages as the guest receives them: the payload of a SynIC message on
//! SINT 2 (`vmbus_proto::message::parse`, what `drivers/vmbus/conn.rs` runs on every host
//! message), and what the guest reads from offers, version responses and GPADL messages.
//!
//! Properties: no panic; a parsed message re-encodes to the input's prefix (header padding
//! zeroed, a trailing partial PFN word dropped) and parses back to itself; `parse_body` agrees
//! with `parse`; every accessor the guest uses stays in range.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vmbus_proto::gpadl::{self, MAX_GPADL_PFNS};
use vmbus_proto::guid::{self, MODALIAS_LEN};
use vmbus_proto::message::{self as msg, ChannelMessage, MessageBody, MessageError, HEADER_SIZE, MAX_MESSAGE_SIZE};
use vmbus_proto::version;

/// Every version a guest may end up with, plus nonsense ones.
const VERSIONS: [u32; 12] = [
    version::make_version(0, 13),
    version::make_version(1, 1),
    version::make_version(2, 4),
    version::make_version(3, 0),
    version::make_version(3, 2),
    version::make_version(4, 0),
    version::make_version(4, 1),
    version::make_version(5, 0),
    version::make_version(5, 2),
    version::make_version(5, 3),
    version::make_version(6, 0),
    u32::MAX,
];

/// `parse_body::<T>` succeeds exactly when `parse` gives the same struct.
fn check_body<T: MessageBody + PartialEq + core::fmt::Debug>(data: &[u8], parsed: Option<T>) {
    match (msg::parse_body::<T>(data), parsed) {
        (Ok(a), Some(b)) => assert_eq!(a, b),
        (Ok(a), None) => panic!("parse_body accepted {a:?} that parse refused"),
        (Err(_), Some(b)) => panic!("parse_body refused {b:?} that parse accepted"),
        (Err(_), None) => {}
    }
}

fn check_offer(o: &msg::OfferChannel) {
    let class = o.offer.if_type;
    let mut alias = [0u8; MODALIAS_LEN];
    assert_eq!(class.write_modalias(&mut alias), Ok(MODALIAS_LEN));
    assert!(alias.is_ascii());
    let _ = guid::class_name(&class);
    let _ = (o.is_sub_channel(), o.is_hvsock(), o.is_pipe(), o.pipe_mode(), o.is_dedicated_interrupt());
    if let Some((group, bit)) = o.monitor_group_bit() {
        assert!(group < 4 && bit < 32);
    }
    for v in VERSIONS {
        let _ = o.signal_connection_id(v);
    }
}

fn check_gpadl_header(h: &msg::GpadlHeader<'_>) {
    if let Ok(info) = gpadl::header_info(h) {
        assert!(info.pfn_count >= 1 && info.pfn_count <= MAX_GPADL_PFNS);
        assert!(info.byte_offset < gpadl::HV_PAGE_SIZE && info.byte_count > 0);
        assert_eq!(u32::from(h.range_buflen), 8 + 8 * info.pfn_count as u32);
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = msg::parse(data);
    match msg::peek_type(data) {
        Ok(t) => {
            if let Ok(m) = &parsed {
                assert_eq!(m.message_type(), t);
            }
        }
        Err(e) => assert_eq!(parsed.err(), Some(e)),
    }
    let Ok(m) = parsed else {
        // Refused input: only short, long, unknown or layout-less types are refused.
        match parsed.unwrap_err() {
            MessageError::NoHeader => assert!(data.len() < HEADER_SIZE),
            MessageError::TooLong(n) => assert!(n > MAX_MESSAGE_SIZE),
            MessageError::TooShort(t) => assert!(data.len() < t.min_size().unwrap_or(usize::MAX)),
            MessageError::UnknownType(_) | MessageError::Unsupported(_) => {}
            e => panic!("parse returned {e:?}"),
        }
        return;
    };

    // Round trip: the encoding is the input's prefix with the header padding zeroed.
    let len = m.encoded_len();
    assert!(len >= HEADER_SIZE && len <= data.len() && len <= MAX_MESSAGE_SIZE);
    let mut out = [0xa5u8; MAX_MESSAGE_SIZE + 8];
    assert_eq!(m.encode(&mut out), Ok(len));
    assert!(out[len..].iter().all(|&b| b == 0xa5), "encode wrote past its length");
    let mut expect = data[..len].to_vec();
    expect[4..8].fill(0);
    assert_eq!(&out[..len], &expect[..]);
    assert_eq!(msg::parse(&out[..len]), Ok(m));
    // Too small an output buffer is an error, never a partial write past it.
    let mut short = [0u8; MAX_MESSAGE_SIZE];
    assert_eq!(m.encode(&mut short[..len - 1]), Err(MessageError::BufferTooSmall));

    let _ = m.child_relid();
    match &m {
        ChannelMessage::OfferChannel(o) => check_offer(o),
        ChannelMessage::VersionResponse(r) => {
            for v in VERSIONS {
                let _ = version::message_connection_id(v, r.msg_conn_id);
            }
        }
        ChannelMessage::InitiateContact(c) => {
            let _ = c.target();
        }
        ChannelMessage::GpadlHeader(h) => check_gpadl_header(h),
        ChannelMessage::GpadlBody(b) => assert_eq!(b.pfns.iter().count(), b.pfns.len()),
        _ => {}
    }

    macro_rules! bodies {
        ($($variant:ident => $ty:ident),* $(,)?) => {
            $(check_body::<msg::$ty>(data, match m { ChannelMessage::$variant(b) => Some(b), _ => None });)*
        };
    }
    bodies! {
        OfferChannel => OfferChannel,
        RescindChannelOffer => RescindChannelOffer,
        OpenChannel => OpenChannel,
        OpenResult => OpenResult,
        CloseChannel => CloseChannel,
        GpadlCreated => GpadlCreated,
        GpadlTeardown => GpadlTeardown,
        GpadlTorndown => GpadlTorndown,
        RelIdReleased => RelIdReleased,
        InitiateContact => InitiateContact,
        VersionResponse => VersionResponse,
        TlConnectRequest => TlConnectRequest,
        ModifyChannel => ModifyChannel,
        TlConnectResult => TlConnectResult,
        ModifyChannelResponse => ModifyChannelResponse,
    }
});
