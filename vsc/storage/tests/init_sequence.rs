//! The initialization sequence: the guest state machine against the host state machine over
//! encoded packets, version fallback, sub-channels, and every refusal.
use vstor_proto::init::*;
use vstor_proto::vstor::*;

const PROPS: ChannelProperties = ChannelProperties {
    max_channel_count: 4,
    flags: STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL,
    max_transfer_bytes: 0x20_0000,
};

/// Runs the guest against the host; returns the result and the sizes of the packets sent.
fn run(guest: &mut GuestInit, host: &mut HostInit) -> (Result<Negotiated, InitError>, Vec<usize>) {
    let mut sizes = Vec::new();
    for _ in 0..16 {
        let mut req = [0u8; 64];
        let n = match guest.encode_request(&mut req) {
            Ok(n) => n,
            Err(e) => return (Err(e), sizes),
        };
        sizes.push(n);
        let parsed = parse_request(&req[..n], host.version()).expect("host parses the guest's request");
        let HostAction::Reply { status, body } = host.on_request(&parsed.body) else { panic!("init replies directly") };
        let mut resp = [0u8; 64];
        let m = encode_completion(&mut resp, reply_len(n), status, &body).unwrap();
        match guest.on_completion(&resp[..m]) {
            Ok(InitProgress::Continue) => {}
            Ok(InitProgress::Done(neg)) => return (Ok(neg), sizes),
            Err(e) => return (Err(e), sizes),
        }
    }
    panic!("initialization did not finish");
}

#[test]
fn newest_common_version_wins() {
    for oldest in ProtocolVersion::NEWEST_FIRST {
        let mut g = GuestInit::new();
        let mut h = HostInit::new(VersionSet::of(&[oldest]), PROPS);
        let (r, sizes) = run(&mut g, &mut h);
        let neg = r.unwrap();
        assert_eq!(neg.version, oldest);
        assert_eq!(h.state(), HostState::Ready { version: oldest, sub_channels: 0 });
        assert!(h.is_ready());
        assert_eq!(g.negotiated(), Some(neg));
        assert_eq!(g.step(), GuestStep::Done);
        // begin, one query per version tried, properties, end
        let tries = ProtocolVersion::NEWEST_FIRST.iter().position(|v| *v == oldest).unwrap() + 1;
        assert_eq!(sizes.len(), 3 + tries);
        // Full size until negotiated, then the version's size.
        assert!(sizes[..1 + tries].iter().all(|s| *s == 64));
        assert!(sizes[1 + tries..].iter().all(|s| *s == oldest.packet_size()), "{sizes:?}");
        let want_props = if oldest.multi_channel_allowed() {
            PROPS
        } else {
            ChannelProperties { max_channel_count: 0, flags: 0, ..PROPS }
        };
        assert_eq!(neg.properties, want_props);
    }
}

#[test]
fn host_supporting_a_range() {
    let mut g = GuestInit::new();
    let mut h = HostInit::new(VersionSet::from_version(ProtocolVersion::Win7), PROPS);
    assert_eq!(run(&mut g, &mut h).0.unwrap().version, ProtocolVersion::Win10);
    assert_eq!(run(&mut GuestInit::new(), &mut HostInit::new(VersionSet::ALL, PROPS)).0.unwrap().sub_channels(8), 4);
}

#[test]
fn linux_order_refuses_old_hosts() {
    let mut g = GuestInit::with_versions(&ProtocolVersion::LINUX_ORDER);
    let mut h = HostInit::new(VersionSet::of(&[ProtocolVersion::Win8]), PROPS);
    assert_eq!(run(&mut g, &mut h).0, Err(InitError::NoCommonVersion));
    assert_eq!(g.step(), GuestStep::Failed);
    assert_eq!(g.request(), None);
    assert_eq!(h.state(), HostState::AwaitVersion, "host still waits for an acceptable version");
}

#[test]
fn guest_rejects_useless_properties() {
    let tiny = ChannelProperties { max_transfer_bytes: 4095, ..PROPS };
    let mut h = HostInit::new(VersionSet::ALL, tiny);
    assert_eq!(run(&mut GuestInit::new(), &mut h).0, Err(InitError::MaxTransferTooSmall(4095)));
}

fn completion(op: u32, status: u32) -> [u8; 64] {
    let mut p = [0u8; 64];
    p[..4].copy_from_slice(&op.to_le_bytes());
    p[8..12].copy_from_slice(&status.to_le_bytes());
    p
}

#[test]
fn guest_failures() {
    let mut g = GuestInit::new();
    assert_eq!(
        g.on_completion(&completion(1, nt_status::INVALID_DEVICE_STATE)),
        Err(InitError::Status { operation: Operation::BeginInitialization, status: nt_status::INVALID_DEVICE_STATE })
    );
    assert_eq!(g.on_completion(&completion(1, 0)), Err(InitError::NotExpecting));
    let mut buf = [0u8; 64];
    assert_eq!(g.encode_request(&mut buf), Err(InitError::NotExpecting));

    let mut g = GuestInit::new();
    assert_eq!(
        g.on_completion(&completion(8, 0)),
        Err(InitError::Vstor(VstorError::UnexpectedOperation(Operation::EndInitialization)))
    );
    let mut g = GuestInit::new();
    assert_eq!(
        g.on_completion(&completion(1, 0)[..11]),
        Err(InitError::Vstor(VstorError::TooShort { need: 12, got: 11 }))
    );
    for e in [InitError::NoCommonVersion, InitError::NotExpecting, InitError::MaxTransferTooSmall(0)] {
        assert_eq!(e.to_string(), e.as_str());
    }
}

#[test]
fn refused_versions_move_on() {
    let mut g = GuestInit::new();
    assert_eq!(g.on_completion(&completion(1, 0)), Ok(InitProgress::Continue));
    for (i, v) in ProtocolVersion::NEWEST_FIRST.iter().enumerate() {
        assert_eq!(g.step(), GuestStep::QueryVersion(i));
        assert_eq!(g.request(), Some(RequestBody::QueryProtocolVersion { major_minor: v.major_minor(), revision: 0 }));
        let r = g.on_completion(&completion(1, nt_status::REVISION_MISMATCH));
        if i + 1 < 5 {
            assert_eq!(r, Ok(InitProgress::Continue));
        } else {
            assert_eq!(r, Err(InitError::NoCommonVersion));
        }
    }
}

fn ready_host(v: ProtocolVersion) -> HostInit {
    let mut h = HostInit::new(VersionSet::ALL, PROPS);
    for r in [
        RequestBody::BeginInitialization,
        RequestBody::QueryProtocolVersion { major_minor: v.major_minor(), revision: 0 },
        RequestBody::QueryProperties,
        RequestBody::EndInitialization,
    ] {
        assert!(matches!(h.on_request(&r), HostAction::Reply { status: 0, .. }));
    }
    h
}

fn status(a: HostAction) -> u32 {
    match a {
        HostAction::Reply { status, .. } => status,
        other => panic!("{other:?}"),
    }
}

#[test]
fn host_refuses_out_of_order_requests() {
    let mut h = HostInit::new(VersionSet::ALL, PROPS);
    let srb = SrbRequest::new(ScsiAddress::default(), &[0; 6], DataDirection::None, 0, false).unwrap();
    for r in [
        RequestBody::EndInitialization,
        RequestBody::QueryProperties,
        RequestBody::QueryProtocolVersion { major_minor: VERSION_WIN10, revision: 0 },
        RequestBody::ExecuteSrb(srb),
        RequestBody::ResetBus { path_id: 0 },
        RequestBody::CreateSubChannels(1),
    ] {
        assert_eq!(status(h.on_request(&r)), nt_status::INVALID_DEVICE_STATE, "{r:?}");
        assert_eq!(h.state(), HostState::AwaitBegin);
    }
    assert_eq!(status(h.on_request(&RequestBody::BeginInitialization)), 0);
    assert_eq!(status(h.on_request(&RequestBody::BeginInitialization)), nt_status::INVALID_DEVICE_STATE);
    let unknown = RequestBody::QueryProtocolVersion { major_minor: 0x0603, revision: 1 };
    assert_eq!(
        h.on_request(&unknown),
        HostAction::Reply {
            status: nt_status::REVISION_MISMATCH,
            body: CompletionBody::Version { major_minor: 0x0603, revision: 1 }
        }
    );
    assert_eq!(h.version(), None);
    assert_eq!(status(h.on_request(&RequestBody::FcHbaData)), nt_status::INVALID_DEVICE_REQUEST);
}

#[test]
fn ready_host_passes_srbs_and_resets() {
    let mut h = ready_host(ProtocolVersion::Win10);
    let srb = SrbRequest::new(ScsiAddress::default(), &[0; 6], DataDirection::None, 0, false).unwrap();
    assert_eq!(h.on_request(&RequestBody::ExecuteSrb(srb)), HostAction::ExecuteSrb(srb));
    assert_eq!(h.on_request(&RequestBody::ResetBus { path_id: 2 }), HostAction::Reset(ResetKind::Bus(2)));
    assert_eq!(h.on_request(&RequestBody::ResetLun), HostAction::Reset(ResetKind::Lun));
    assert_eq!(h.on_request(&RequestBody::ResetAdapter), HostAction::Reset(ResetKind::Adapter));
    assert_eq!(status(h.on_request(&RequestBody::BeginInitialization)), nt_status::INVALID_DEVICE_STATE);
    h.reset();
    assert_eq!(h.state(), HostState::AwaitBegin);
}

#[test]
fn sub_channels() {
    // After END_INITIALIZATION, as Linux asks.
    let mut h = ready_host(ProtocolVersion::Win10);
    assert_eq!(status(h.on_request(&RequestBody::CreateSubChannels(0))), nt_status::INVALID_PARAMETER);
    assert_eq!(status(h.on_request(&RequestBody::CreateSubChannels(5))), nt_status::INVALID_PARAMETER);
    assert_eq!(h.on_request(&RequestBody::CreateSubChannels(3)), HostAction::CreateSubChannels(3));
    assert_eq!(h.state(), HostState::Ready { version: ProtocolVersion::Win10, sub_channels: 3 });
    assert_eq!(status(h.on_request(&RequestBody::CreateSubChannels(1))), nt_status::INVALID_DEVICE_STATE, "only once");

    // Before END_INITIALIZATION is also accepted.
    let mut h = HostInit::new(VersionSet::ALL, PROPS);
    h.on_request(&RequestBody::BeginInitialization);
    h.on_request(&RequestBody::QueryProtocolVersion { major_minor: VERSION_WIN8, revision: 0 });
    h.on_request(&RequestBody::QueryProperties);
    assert_eq!(h.on_request(&RequestBody::CreateSubChannels(4)), HostAction::CreateSubChannels(4));
    h.on_request(&RequestBody::EndInitialization);
    assert_eq!(h.state(), HostState::Ready { version: ProtocolVersion::Win8, sub_channels: 4 });

    // Not before Win8, and not when the host does not advertise it.
    let mut h = ready_host(ProtocolVersion::Win7);
    assert_eq!(status(h.on_request(&RequestBody::CreateSubChannels(1))), nt_status::INVALID_DEVICE_REQUEST);
    let mut h = HostInit::new(VersionSet::ALL, ChannelProperties { flags: 0, ..PROPS });
    for r in [
        RequestBody::BeginInitialization,
        RequestBody::QueryProtocolVersion { major_minor: VERSION_WIN10, revision: 0 },
        RequestBody::QueryProperties,
        RequestBody::EndInitialization,
    ] {
        h.on_request(&r);
    }
    assert_eq!(status(h.on_request(&RequestBody::CreateSubChannels(1))), nt_status::INVALID_DEVICE_REQUEST);
}

#[test]
fn host_version_drives_parsing() {
    let mut h = HostInit::new(VersionSet::ALL, PROPS);
    assert_eq!(h.version(), None);
    h.on_request(&RequestBody::BeginInitialization);
    h.on_request(&RequestBody::QueryProtocolVersion { major_minor: VERSION_WIN7, revision: 0 });
    assert_eq!(h.state(), HostState::AwaitProperties(ProtocolVersion::Win7));
    assert_eq!(h.version(), Some(ProtocolVersion::Win7));
    assert_eq!(h.properties_for(ProtocolVersion::Win7).flags, 0);
    assert_eq!(h.properties_for(ProtocolVersion::Win8), PROPS);
}
