// SPDX-License-Identifier: GPL-2.0-only
//! The channel initialization sequence, both sides, as pure state machines.
//!
//! Guest (`storvsc_channel_init()`): `BEGIN_INITIALIZATION` → `QUERY_PROTOCOL_VERSION` for
//! each version in turn, newest first, until the host accepts one → `QUERY_PROPERTIES` →
//! `END_INITIALIZATION`; every step must complete with `COMPLETE_IO` and status 0 (a
//! refused version moves on to the next one). After that the guest may ask for sub-channels
//! (`CREATE_SUB_CHANNELS`, `handle_multichannel_storage()`), outside this machine.
//! Fibre Channel's `FCHBA_DATA` step is not modelled: the suite has no FC controllers.
//!
//! Host: accepts exactly that order and answers out-of-order requests with
//! `STATUS_INVALID_DEVICE_STATE`, an unsupported version with `STATUS_REVISION_MISMATCH`,
//! and after `END_INITIALIZATION` passes SRBs, resets and one sub-channel request on.

use crate::vstor::{
    encode_request, nt_status, parse_completion, wire_len, ChannelProperties, CompletionBody, Expect, Operation,
    ProtocolVersion, RequestBody, SrbRequest, VersionSet, VstorError, HV_PAGE_SIZE,
    STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL,
};

/// Why initialization failed (guest side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// The completion packet was malformed or not `COMPLETE_IO`.
    Vstor(VstorError),
    /// A step completed with a non-zero status.
    Status {
        /// The step's operation.
        operation: Operation,
        /// The host's status.
        status: u32,
    },
    /// The host accepted none of the versions offered (Linux: "Obsolete Hyper-V version").
    NoCommonVersion,
    /// `max_transfer_bytes` below one page: no request could be sent.
    MaxTransferTooSmall(u32),
    /// A completion arrived when none was expected (done or failed).
    NotExpecting,
}

impl InitError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            InitError::Vstor(e) => e.as_str(),
            InitError::Status { .. } => "initialization step failed",
            InitError::NoCommonVersion => "no common protocol version",
            InitError::MaxTransferTooSmall(_) => "max_transfer_bytes below one page",
            InitError::NotExpecting => "no initialization step outstanding",
        }
    }
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The guest's position in the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestStep {
    /// Sending `BEGIN_INITIALIZATION`.
    Begin,
    /// Proposing the version at this index of the list.
    QueryVersion(usize),
    /// Sending `QUERY_PROPERTIES`.
    QueryProperties,
    /// Sending `END_INITIALIZATION`.
    End,
    /// Finished.
    Done,
    /// Given up.
    Failed,
}

/// What initialization agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The protocol version (sizes every later packet).
    pub version: ProtocolVersion,
    /// The host's channel properties.
    pub properties: ChannelProperties,
}

impl Negotiated {
    /// Sub-channels to request for `online_cpus` ([`ChannelProperties::sub_channels_to_request`]).
    pub fn sub_channels(&self, online_cpus: u32) -> u16 {
        self.properties.sub_channels_to_request(self.version, online_cpus)
    }
}

/// Progress after a completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitProgress {
    /// Send the next request ([`GuestInit::request`]).
    Continue,
    /// Initialization is complete.
    Done(Negotiated),
}

/// The guest's initialization state machine. Send [`GuestInit::encode_request`] with a
/// transaction id, feed the completion to [`GuestInit::on_completion`], repeat until done.
#[derive(Clone, Copy, Debug)]
pub struct GuestInit {
    versions: &'static [ProtocolVersion],
    step: GuestStep,
    version: Option<ProtocolVersion>,
    properties: ChannelProperties,
}

impl Default for GuestInit {
    fn default() -> Self {
        Self::new()
    }
}

impl GuestInit {
    /// Proposes every known version, newest first.
    pub const fn new() -> Self {
        Self::with_versions(&ProtocolVersion::NEWEST_FIRST)
    }

    /// Proposes `versions` in this order (e.g. only WIN10 and WIN8_1, as Linux 7.3).
    pub const fn with_versions(versions: &'static [ProtocolVersion]) -> Self {
        GuestInit {
            versions,
            step: GuestStep::Begin,
            version: None,
            properties: ChannelProperties { max_channel_count: 0, flags: 0, max_transfer_bytes: 0 },
        }
    }

    /// The current step.
    pub const fn step(&self) -> GuestStep {
        self.step
    }

    /// The request to send now, or `None` when done or failed.
    pub fn request(&self) -> Option<RequestBody> {
        match self.step {
            GuestStep::Begin => Some(RequestBody::BeginInitialization),
            GuestStep::QueryVersion(i) => {
                let v = self.versions.get(i)?;
                Some(RequestBody::QueryProtocolVersion { major_minor: v.major_minor(), revision: 0 })
            }
            GuestStep::QueryProperties => Some(RequestBody::QueryProperties),
            GuestStep::End => Some(RequestBody::EndInitialization),
            GuestStep::Done | GuestStep::Failed => None,
        }
    }

    /// Encodes the request to send now (full size before the version is known, the
    /// negotiated size after).
    pub fn encode_request(&self, buf: &mut [u8]) -> Result<usize, InitError> {
        let req = self.request().ok_or(InitError::NotExpecting)?;
        encode_request(buf, self.version, &req).map_err(InitError::Vstor)
    }

    /// The wire length of the current request.
    pub const fn request_len(&self) -> usize {
        wire_len(self.version)
    }

    /// Handles the completion of the outstanding request.
    pub fn on_completion(&mut self, packet: &[u8]) -> Result<InitProgress, InitError> {
        let r = self.advance(packet);
        if r.is_err() {
            self.step = GuestStep::Failed;
        }
        r
    }

    fn advance(&mut self, packet: &[u8]) -> Result<InitProgress, InitError> {
        let req = self.request().ok_or(InitError::NotExpecting)?;
        let expect = if matches!(req, RequestBody::QueryProperties) { Expect::Properties } else { Expect::Status };
        let c = parse_completion(packet, expect).map_err(InitError::Vstor)?;
        match self.step {
            GuestStep::QueryVersion(i) => return self.version_answer(i, c.status),
            _ if !c.ok() => return Err(InitError::Status { operation: req.operation(), status: c.status }),
            GuestStep::Begin => self.step = GuestStep::QueryVersion(0),
            GuestStep::QueryProperties => {
                if let CompletionBody::Properties(p) = c.body {
                    self.accept_properties(p)?;
                }
                self.step = GuestStep::End;
            }
            GuestStep::End => {
                self.step = GuestStep::Done;
                return self.negotiated().map(InitProgress::Done).ok_or(InitError::NotExpecting);
            }
            GuestStep::Done | GuestStep::Failed => return Err(InitError::NotExpecting),
        }
        Ok(InitProgress::Continue)
    }

    fn version_answer(&mut self, i: usize, status: u32) -> Result<InitProgress, InitError> {
        if status == nt_status::SUCCESS {
            self.version = self.versions.get(i).copied();
            self.step = GuestStep::QueryProperties;
        } else if i.saturating_add(1) < self.versions.len() {
            self.step = GuestStep::QueryVersion(i.saturating_add(1));
        } else {
            return Err(InitError::NoCommonVersion);
        }
        Ok(InitProgress::Continue)
    }

    fn accept_properties(&mut self, p: ChannelProperties) -> Result<(), InitError> {
        if p.max_transfer_aligned() < HV_PAGE_SIZE {
            return Err(InitError::MaxTransferTooSmall(p.max_transfer_bytes));
        }
        self.properties = p;
        Ok(())
    }

    /// The agreed version and properties, once done.
    pub fn negotiated(&self) -> Option<Negotiated> {
        match (self.step, self.version) {
            (GuestStep::Done, Some(version)) => Some(Negotiated { version, properties: self.properties }),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Host side.

/// The host's protocol state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostState {
    /// Waiting for `BEGIN_INITIALIZATION`.
    AwaitBegin,
    /// Waiting for an acceptable `QUERY_PROTOCOL_VERSION`.
    AwaitVersion,
    /// Version agreed; waiting for `QUERY_PROPERTIES`.
    AwaitProperties(ProtocolVersion),
    /// Waiting for `END_INITIALIZATION` (or `CREATE_SUB_CHANNELS`).
    AwaitEnd {
        /// Agreed version.
        version: ProtocolVersion,
        /// Sub-channels created so far.
        sub_channels: u16,
    },
    /// Initialized: SRBs are accepted.
    Ready {
        /// Agreed version.
        version: ProtocolVersion,
        /// Sub-channels created.
        sub_channels: u16,
    },
}

/// Kinds of reset request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    /// `RESET_LUN`.
    Lun,
    /// `RESET_ADAPTER`.
    Adapter,
    /// `RESET_BUS` on a path.
    Bus(u8),
}

/// What the host does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAction {
    /// Complete it now with `status` and `body` (`vstor::encode_completion`).
    Reply {
        /// Packet status ([`nt_status`]).
        status: u32,
        /// Payload.
        body: CompletionBody,
    },
    /// Run the SRB against its LUN, then complete it (`vstor::encode_srb_completion`).
    ExecuteSrb(SrbRequest),
    /// Offer this many sub-channels, then complete with `STATUS_SUCCESS`.
    CreateSubChannels(u16),
    /// Finish or abort outstanding SRBs, then complete with `STATUS_SUCCESS`.
    Reset(ResetKind),
}

impl HostAction {
    const fn status(status: u32) -> Self {
        HostAction::Reply { status, body: CompletionBody::None }
    }
}

/// The host's protocol state machine for one controller (primary channel).
#[derive(Clone, Copy, Debug)]
pub struct HostInit {
    state: HostState,
    supported: VersionSet,
    properties: ChannelProperties,
}

impl HostInit {
    /// A controller accepting `supported` versions and advertising `properties` (sub-channel
    /// count and `STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL` are withheld from pre-Win8 guests).
    pub const fn new(supported: VersionSet, properties: ChannelProperties) -> Self {
        HostInit { state: HostState::AwaitBegin, supported, properties }
    }

    /// The state.
    pub const fn state(&self) -> HostState {
        self.state
    }

    /// The agreed version, once `QUERY_PROTOCOL_VERSION` succeeded (for `parse_request`).
    pub const fn version(&self) -> Option<ProtocolVersion> {
        match self.state {
            HostState::AwaitBegin | HostState::AwaitVersion => None,
            HostState::AwaitProperties(v) => Some(v),
            HostState::AwaitEnd { version, .. } | HostState::Ready { version, .. } => Some(version),
        }
    }

    /// Whether SRBs are accepted.
    pub const fn is_ready(&self) -> bool {
        matches!(self.state, HostState::Ready { .. })
    }

    /// Back to the start (the channel was closed and reopened).
    pub fn reset(&mut self) {
        self.state = HostState::AwaitBegin;
    }

    /// The properties advertised for `version`.
    pub fn properties_for(&self, version: ProtocolVersion) -> ChannelProperties {
        let mut p = self.properties;
        if !version.multi_channel_allowed() {
            p.flags &= !STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL;
            p.max_channel_count = 0;
        }
        p
    }

    /// Decides what to do with a request and advances the state.
    pub fn on_request(&mut self, req: &RequestBody) -> HostAction {
        let invalid = HostAction::status(nt_status::INVALID_DEVICE_STATE);
        match (self.state, req) {
            (_, RequestBody::FcHbaData) => HostAction::status(nt_status::INVALID_DEVICE_REQUEST),
            (HostState::AwaitBegin, RequestBody::BeginInitialization) => {
                self.state = HostState::AwaitVersion;
                HostAction::status(nt_status::SUCCESS)
            }
            (HostState::AwaitVersion, RequestBody::QueryProtocolVersion { major_minor, revision }) => {
                self.query_version(*major_minor, *revision)
            }
            (HostState::AwaitProperties(version), RequestBody::QueryProperties) => {
                self.state = HostState::AwaitEnd { version, sub_channels: 0 };
                HostAction::Reply {
                    status: nt_status::SUCCESS,
                    body: CompletionBody::Properties(self.properties_for(version)),
                }
            }
            (HostState::AwaitEnd { version, sub_channels }, RequestBody::EndInitialization) => {
                self.state = HostState::Ready { version, sub_channels };
                HostAction::status(nt_status::SUCCESS)
            }
            (HostState::AwaitEnd { .. } | HostState::Ready { .. }, RequestBody::CreateSubChannels(n)) => {
                self.create_sub_channels(*n)
            }
            (HostState::Ready { .. }, RequestBody::ExecuteSrb(srb)) => HostAction::ExecuteSrb(*srb),
            (HostState::Ready { .. }, RequestBody::ResetLun) => HostAction::Reset(ResetKind::Lun),
            (HostState::Ready { .. }, RequestBody::ResetAdapter) => HostAction::Reset(ResetKind::Adapter),
            (HostState::Ready { .. }, RequestBody::ResetBus { path_id }) => HostAction::Reset(ResetKind::Bus(*path_id)),
            _ => invalid,
        }
    }

    fn query_version(&mut self, major_minor: u16, revision: u16) -> HostAction {
        let body = CompletionBody::Version { major_minor, revision };
        match ProtocolVersion::from_major_minor(major_minor) {
            Some(v) if self.supported.contains(v) => {
                self.state = HostState::AwaitProperties(v);
                HostAction::Reply { status: nt_status::SUCCESS, body }
            }
            _ => HostAction::Reply { status: nt_status::REVISION_MISMATCH, body },
        }
    }

    /// One `CREATE_SUB_CHANNELS` per initialization, 1..=`max_channel_count`, only when
    /// multi-channel is advertised for the agreed version.
    fn create_sub_channels(&mut self, n: u16) -> HostAction {
        let (version, done, ready) = match self.state {
            HostState::AwaitEnd { version, sub_channels } => (version, sub_channels, false),
            HostState::Ready { version, sub_channels } => (version, sub_channels, true),
            _ => return HostAction::status(nt_status::INVALID_DEVICE_STATE),
        };
        let p = self.properties_for(version);
        if !p.supports_multi_channel() {
            return HostAction::status(nt_status::INVALID_DEVICE_REQUEST);
        }
        if done != 0 {
            return HostAction::status(nt_status::INVALID_DEVICE_STATE);
        }
        if n == 0 || n > p.max_channel_count {
            return HostAction::status(nt_status::INVALID_PARAMETER);
        }
        self.state = if ready {
            HostState::Ready { version, sub_channels: n }
        } else {
            HostState::AwaitEnd { version, sub_channels: n }
        };
        HostAction::CreateSubChannels(n)
    }
}
