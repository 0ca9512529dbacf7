//! GUIDs (wire layout, text, modalias as Linux prints it) and protocol versions (order,
//! connection ids, feature predicates).
use proptest::prelude::*;
use vmbus_proto::guid::{self, Guid, GuidError, MODALIAS_LEN};
use vmbus_proto::version as v;

#[test]
fn mixed_endian_layout() {
    // GUID_INIT(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f)
    assert_eq!(
        guid::SCSI.as_bytes(),
        &[0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f]
    );
    assert_eq!(guid::SCSI.data1(), 0xba6163d9);
    assert_eq!(guid::SCSI.data2(), 0x04a1);
    assert_eq!(guid::SCSI.data3(), 0x4d29);
    assert_eq!(guid::SCSI.data4(), [0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f]);
    assert_eq!(core::mem::size_of::<Guid>(), 16);
    assert_eq!(core::mem::align_of::<Guid>(), 1);
}

#[test]
fn text_forms() {
    assert_eq!(guid::SCSI.to_string(), "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f");
    assert_eq!(guid::NIC.to_string(), "f8615163-df3e-46c5-913f-f2d2f965ed0e");
    assert_eq!(guid::IDE.to_string(), "32412632-86cb-44a2-9b5c-50d1417354f5");
    assert_eq!(guid::ECHO.to_string(), "a8e7c9f2-5b61-4d3e-9f0a-7c3d2e1b4a96");
    assert_eq!(format!("{:?}", guid::ECHO), "a8e7c9f2-5b61-4d3e-9f0a-7c3d2e1b4a96");
    assert_eq!(Guid::parse("ba6163d9-04a1-4d29-b605-72e2ffb1dc7f"), Ok(guid::SCSI));
    assert_eq!(Guid::parse("{BA6163D9-04A1-4D29-B605-72E2FFB1DC7F}"), Ok(guid::SCSI));
    assert_eq!(Guid::parse("9527E630-D0AE-497b-ADCE-E80AB0175CAF"), Ok(guid::TIMESYNC));
    assert_eq!(Guid::parse(""), Err(GuidError::BadLength));
    assert_eq!(Guid::parse("ba6163d9-04a1-4d29-b605-72e2ffb1dc7"), Err(GuidError::BadLength));
    assert_eq!(Guid::parse("ba6163d9-04a1-4d29-b605-72e2ffb1dc7ff"), Err(GuidError::BadLength));
    assert_eq!(Guid::parse("ba6163d9x04a1-4d29-b605-72e2ffb1dc7f"), Err(GuidError::BadSeparator));
    assert_eq!(Guid::parse("ba6163d9-04a1-4d29-b605+72e2ffb1dc7f"), Err(GuidError::BadSeparator));
    assert_eq!(Guid::parse("ga6163d9-04a1-4d29-b605-72e2ffb1dc7f"), Err(GuidError::BadDigit));
    assert_eq!(Guid::parse("{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f"), Err(GuidError::BadLength));
    assert_eq!(Guid::parse("ba6163d9-04a1-4d29-b605-72e2ffb1dcé"), Err(GuidError::BadDigit));
    const PARSED: Guid = match Guid::parse("a8e7c9f2-5b61-4d3e-9f0a-7c3d2e1b4a96") {
        Ok(g) => g,
        Err(_) => Guid::NIL,
    };
    assert_eq!(PARSED, guid::ECHO);
    assert!(Guid::NIL.is_nil() && !guid::ECHO.is_nil());
    assert_eq!(Guid::NIL.to_string(), "00000000-0000-0000-0000-000000000000");
}

#[test]
fn modalias_as_hv_vmbus() {
    // vmbus_drv.c: "vmbus:%*phN" over the 16 wire bytes.
    let mut buf = [0u8; 64];
    let n = guid::SCSI.write_modalias(&mut buf).unwrap();
    assert_eq!(n, MODALIAS_LEN);
    assert_eq!(&buf[..n], b"vmbus:d96361baa104294db60572e2ffb1dc7f");
    let n = guid::NIC.write_modalias(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"vmbus:635161f83edfc546913ff2d2f965ed0e");
    assert_eq!(guid::ECHO.modalias().to_string(), "vmbus:f2c9e7a8615b3e4d9f0a7c3d2e1b4a96");
    assert_eq!(guid::SCSI.write_modalias(&mut [0u8; 37]), Err(GuidError::BufferTooSmall));
}

#[test]
fn is_modalias_matches_only_the_written_form() {
    const CHECKED: bool = guid::SCSI.is_modalias(b"vmbus:d96361baa104294db60572e2ffb1dc7f");
    assert!(CHECKED);
    assert!(guid::NIC.is_modalias(b"vmbus:635161f83edfc546913ff2d2f965ed0e"));
    assert!(!guid::NIC.is_modalias(b"vmbus:d96361baa104294db60572e2ffb1dc7f"), "another class");
    assert!(!guid::SCSI.is_modalias(b"vmbus:D96361BAA104294DB60572E2FFB1DC7F"), "upper case");
    assert!(!guid::SCSI.is_modalias(b"vmbux:d96361baa104294db60572e2ffb1dc7f"), "prefix");
    assert!(!guid::SCSI.is_modalias(b"vmbus:d96361baa104294db60572e2ffb1dc7"), "short");
    assert!(!guid::SCSI.is_modalias(b"vmbus:d96361baa104294db60572e2ffb1dc7f0"), "long");
    assert!(!guid::SCSI.is_modalias(b""));
    for g in [guid::SCSI, guid::NIC, guid::ECHO, Guid::NIL] {
        let mut buf = [0u8; MODALIAS_LEN];
        g.write_modalias(&mut buf).unwrap();
        assert!(g.is_modalias(&buf));
    }
}

#[test]
fn class_names() {
    assert_eq!(guid::class_name(&guid::SCSI), Some("scsi"));
    assert_eq!(guid::class_name(&guid::ECHO), Some("pvguest-echo"));
    assert_eq!(guid::class_name(&Guid::NIL), None);
    let mut all: Vec<Guid> = guid::CLASSES.iter().map(|c| c.0).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), guid::CLASSES.len(), "classes are distinct");
}

proptest! {
    #[test]
    fn text_round_trip(b in any::<[u8; 16]>()) {
        let g = Guid::from_bytes(b);
        let s = g.to_string();
        prop_assert_eq!(s.len(), 36);
        prop_assert_eq!(Guid::parse(&s), Ok(g));
        prop_assert_eq!(Guid::parse(&s.to_uppercase()), Ok(g));
        let mut buf = [0u8; 38];
        g.write_modalias(&mut buf).unwrap();
        prop_assert_eq!(std::str::from_utf8(&buf).unwrap(), g.modalias().to_string());
    }

    #[test]
    fn parse_never_panics(s in ".{0,40}") {
        let _ = Guid::parse(&s);
    }
}

#[test]
fn versions_and_order() {
    assert_eq!(v::VERSION_WS2008, 13);
    assert_eq!(v::VERSION_WIN10_V5_3, 0x0005_0003);
    assert_eq!((v::major(v::VERSION_WIN8), v::minor(v::VERSION_WIN8)), (2, 4));
    // Newest first, as vmbus_versions[].
    assert!(v::GUEST_VERSIONS.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(v::GUEST_VERSIONS[0], v::NEWEST);
    assert_eq!(*v::GUEST_VERSIONS.last().unwrap(), v::OLDEST_SUPPORTED);
    assert!(v::ALL_VERSIONS.windows(2).all(|w| w[0] < w[1]));
    assert!(v::GUEST_VERSIONS.iter().all(|&x| v::is_known(x)));
    assert!(!v::is_known(v::make_version(5, 4)));
    assert_eq!(v::guest_versions(v::VERSION_WIN10_V5_2).collect::<Vec<_>>(), [
        v::VERSION_WIN10_V5_2,
        v::VERSION_WIN10_V5_1,
        v::VERSION_WIN10_V5,
        v::VERSION_WIN10_V4_1,
        v::VERSION_WIN10
    ]);
    assert_eq!(v::next_guest_version(v::VERSION_WIN10_V6_0, u32::MAX), Some(v::VERSION_WIN10_V5_3));
    assert_eq!(v::next_guest_version(v::VERSION_WIN10_V6_0, v::VERSION_WIN10_V5), Some(v::VERSION_WIN10_V5));
    assert_eq!(v::next_guest_version(v::VERSION_WIN10, u32::MAX), None);
    assert_eq!(v::name(v::VERSION_WIN10_V5_1), Some("WIN10_V5_1"));
    assert_eq!(v::name(7), None);
}

#[test]
fn connection_ids() {
    assert_eq!(v::contact_connection_id(v::VERSION_WIN10_V4_1), v::MESSAGE_CONNECTION_ID);
    assert_eq!(v::contact_connection_id(v::VERSION_WIN10_V5), v::MESSAGE_CONNECTION_ID_4);
    assert_eq!(v::message_connection_id(v::VERSION_WIN10, 4), 1);
    assert_eq!(v::message_connection_id(v::VERSION_WIN10_V5_2, 0x800074), 0x800074);
    assert_eq!(v::MESSAGE_SINT, 2);
}

#[test]
fn feature_predicates() {
    let first = |f: fn(u32) -> bool| v::ALL_VERSIONS.into_iter().find(|&x| f(x));
    assert_eq!(first(v::has_offer_connection_id), Some(v::VERSION_WIN7));
    assert_eq!(first(v::has_sub_channels), Some(v::VERSION_WIN8));
    assert_eq!(first(v::has_target_vp), Some(v::VERSION_WIN8));
    assert_eq!(first(v::uses_synic_event_flags), Some(v::VERSION_WIN8));
    assert_eq!(first(v::has_pending_send_size), Some(v::VERSION_WIN8));
    assert_eq!(first(v::has_hvsock), Some(v::VERSION_WIN10));
    assert_eq!(first(v::has_modify_channel), Some(v::VERSION_WIN10_V4_1));
    assert_eq!(first(v::contact_has_target_info), Some(v::VERSION_WIN10_V5));
    assert_eq!(first(v::has_large_hvsock_rings), Some(v::VERSION_WIN10_V5));
    assert_eq!(first(v::allowed_with_isolation), Some(v::VERSION_WIN10_V5_2));
    assert_eq!(first(v::modify_channel_acked), Some(v::VERSION_WIN10_V5_3));
    assert_eq!(first(v::has_feature_flags), Some(v::VERSION_WIN10_V6_0));
    assert_eq!(first(v::has_confidential_channels), Some(v::VERSION_WIN10_V6_0));
    // Monotonic: once on, on for every newer version.
    for f in [v::has_sub_channels as fn(u32) -> bool, v::has_modify_channel, v::modify_channel_acked, v::has_feature_flags] {
        let on: Vec<bool> = v::ALL_VERSIONS.iter().map(|&x| f(x)).collect();
        assert!(on.windows(2).all(|w| w[0] <= w[1]));
    }
}
