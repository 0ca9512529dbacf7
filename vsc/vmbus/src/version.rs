// SPDX-License-Identifier: GPL-2.0-only
//! VMBus protocol versions, the order a guest offers them, the connection ids and SINT the
//! message connection uses, and what each version allows.
//!
//! A version is `major << 16 | minor` (`VMBUS_MAKE_VERSION`, `include/linux/hyperv.h`). The
//! guest proposes one version at a time in `CHANNELMSG_INITIATE_CONTACT`, newest first, until
//! the host accepts one (`drivers/hv/connection.c: vmbus_connect()`).

/// `VMBUS_MAKE_VERSION(major, minor)`.
pub const fn make_version(major: u16, minor: u16) -> u32 {
    ((major as u32) << 16) | minor as u32
}

/// The major number of a version.
pub const fn major(version: u32) -> u16 {
    (version >> 16) as u16
}

/// The minor number of a version.
pub const fn minor(version: u32) -> u16 {
    version as u16
}

/// `VERSION_WS2008` (0.13, Windows Server 2008).
pub const VERSION_WS2008: u32 = make_version(0, 13);
/// `VERSION_WIN7` (1.1, Windows 7 / WS2008 R2).
pub const VERSION_WIN7: u32 = make_version(1, 1);
/// `VERSION_WIN8` (2.4, Windows 8 / WS2012).
pub const VERSION_WIN8: u32 = make_version(2, 4);
/// `VERSION_WIN8_1` (3.0, Windows 8.1 / WS2012 R2).
pub const VERSION_WIN8_1: u32 = make_version(3, 0);
/// `VERSION_WIN10` (4.0, Windows 10).
pub const VERSION_WIN10: u32 = make_version(4, 0);
/// `VERSION_WIN10_V4_1` (4.1, Windows 10 RS3).
pub const VERSION_WIN10_V4_1: u32 = make_version(4, 1);
/// `VERSION_WIN10_V5` (5.0, newer Windows 10).
pub const VERSION_WIN10_V5: u32 = make_version(5, 0);
/// `VERSION_WIN10_V5_1` (5.1, Windows 10 RS4).
pub const VERSION_WIN10_V5_1: u32 = make_version(5, 1);
/// `VERSION_WIN10_V5_2` (5.2, Windows Server 2019 / RS5).
pub const VERSION_WIN10_V5_2: u32 = make_version(5, 2);
/// `VERSION_WIN10_V5_3` (5.3, Windows Server 2022).
pub const VERSION_WIN10_V5_3: u32 = make_version(5, 3);
/// `VERSION_WIN10_V6_0` (6.0, the newest the 7.3 kernel knows; adds `feature_flags`).
pub const VERSION_WIN10_V6_0: u32 = make_version(6, 0);

/// Every version `hyperv.h` defines, oldest first.
pub const ALL_VERSIONS: [u32; 11] = [
    VERSION_WS2008,
    VERSION_WIN7,
    VERSION_WIN8,
    VERSION_WIN8_1,
    VERSION_WIN10,
    VERSION_WIN10_V4_1,
    VERSION_WIN10_V5,
    VERSION_WIN10_V5_1,
    VERSION_WIN10_V5_2,
    VERSION_WIN10_V5_3,
    VERSION_WIN10_V6_0,
];

/// The versions a guest proposes, newest first, as Linux's `vmbus_versions[]`
/// (`drivers/hv/connection.c`). WS2008, WIN7, WIN8 and WIN8_1 are no longer offered by Linux.
pub const GUEST_VERSIONS: [u32; 7] = [
    VERSION_WIN10_V6_0,
    VERSION_WIN10_V5_3,
    VERSION_WIN10_V5_2,
    VERSION_WIN10_V5_1,
    VERSION_WIN10_V5,
    VERSION_WIN10_V4_1,
    VERSION_WIN10,
];

/// The newest version Linux negotiates by default (`max_version` module parameter).
pub const NEWEST: u32 = VERSION_WIN10_V6_0;
/// The oldest version Linux still negotiates.
pub const OLDEST_SUPPORTED: u32 = VERSION_WIN10;

/// The guest's proposals not above `max_version`, newest first (Linux skips the entries of
/// `vmbus_versions[]` above its `max_version` parameter).
pub fn guest_versions(max_version: u32) -> impl Iterator<Item = u32> {
    GUEST_VERSIONS.into_iter().filter(move |&v| v <= max_version)
}

/// The version to propose after `rejected` was refused, not above `max_version`; `None`
/// when no older version is left (Linux then fails with `-EDOM`).
pub fn next_guest_version(rejected: u32, max_version: u32) -> Option<u32> {
    guest_versions(max_version).find(|&v| v < rejected)
}

/// Is `version` one `hyperv.h` defines?
pub fn is_known(version: u32) -> bool {
    ALL_VERSIONS.contains(&version)
}

/// The Windows release name of a known version, for log lines.
pub const fn name(version: u32) -> Option<&'static str> {
    Some(match version {
        VERSION_WS2008 => "WS2008",
        VERSION_WIN7 => "WIN7",
        VERSION_WIN8 => "WIN8",
        VERSION_WIN8_1 => "WIN8_1",
        VERSION_WIN10 => "WIN10",
        VERSION_WIN10_V4_1 => "WIN10_V4_1",
        VERSION_WIN10_V5 => "WIN10_V5",
        VERSION_WIN10_V5_1 => "WIN10_V5_1",
        VERSION_WIN10_V5_2 => "WIN10_V5_2",
        VERSION_WIN10_V5_3 => "WIN10_V5_3",
        VERSION_WIN10_V6_0 => "WIN10_V6_0",
        _ => return None,
    })
}

/// `VMBUS_MESSAGE_CONNECTION_ID`: the message connection before 5.0.
pub const MESSAGE_CONNECTION_ID: u32 = 1;
/// `VMBUS_MESSAGE_CONNECTION_ID_4`: `INITIATE_CONTACT` from 5.0 on.
pub const MESSAGE_CONNECTION_ID_4: u32 = 4;
/// `VMBUS_MESSAGE_CONNECTION_ID_REDIRECT`: tried first by a VTL2 guest from 5.0 on.
pub const MESSAGE_CONNECTION_ID_REDIRECT: u32 = 0x0080_0074;
/// `VMBUS_MESSAGE_PORT_ID`.
pub const MESSAGE_PORT_ID: u32 = 1;
/// `VMBUS_EVENT_CONNECTION_ID`: the default channel signal connection.
pub const EVENT_CONNECTION_ID: u32 = 2;
/// `VMBUS_EVENT_PORT_ID`.
pub const EVENT_PORT_ID: u32 = 2;
/// `VMBUS_MONITOR_CONNECTION_ID`.
pub const MONITOR_CONNECTION_ID: u32 = 3;
/// `VMBUS_MONITOR_PORT_ID`.
pub const MONITOR_PORT_ID: u32 = 3;
/// `VMBUS_MESSAGE_SINT`: the SINT VMBus messages arrive on.
pub const MESSAGE_SINT: u8 = 2;
/// `VMBUS_CONNECT_CPU`: the CPU (VP 0) the guest asks the host to send messages to.
pub const CONNECT_CPU: u32 = 0;

/// The connection id `INITIATE_CONTACT` for `version` is posted to: `_ID_4` from 5.0 on,
/// `_ID` before (`vmbus_try_connection_id()`; a VTL2 guest first tries
/// [`MESSAGE_CONNECTION_ID_REDIRECT`]).
pub const fn contact_connection_id(version: u32) -> u32 {
    if version >= VERSION_WIN10_V5 {
        MESSAGE_CONNECTION_ID_4
    } else {
        MESSAGE_CONNECTION_ID
    }
}

/// The connection id of every message after a successful contact: from 5.0 on the one the
/// host returned in `VERSION_RESPONSE.msg_conn_id`, before it always `_ID` (1).
pub const fn message_connection_id(version: u32, response_msg_conn_id: u32) -> u32 {
    if version >= VERSION_WIN10_V5 {
        response_msg_conn_id
    } else {
        MESSAGE_CONNECTION_ID
    }
}

/// `INITIATE_CONTACT` carries the message SINT and VTL (and from 6.0 `feature_flags`)
/// instead of an interrupt page GPA (5.0 and later).
pub const fn contact_has_target_info(version: u32) -> bool {
    version >= VERSION_WIN10_V5
}

/// `INITIATE_CONTACT.feature_flags` exists (6.0; `VMBUS_FEATURE_FLAG_CONFIDENTIAL_CHANNELS`).
pub const fn has_feature_flags(version: u32) -> bool {
    version >= VERSION_WIN10_V6_0
}

/// The offer carries `is_dedicated_interrupt` and `connection_id` (WIN7 and later; before,
/// channels are signalled on `VMBUS_EVENT_CONNECTION_ID`).
pub const fn has_offer_connection_id(version: u32) -> bool {
    version >= VERSION_WIN7
}

/// Sub-channels exist: `sub_channel_index` of the offer is meaningful (WIN8 and later).
pub const fn has_sub_channels(version: u32) -> bool {
    version >= VERSION_WIN8
}

/// `OPEN_CHANNEL.target_vp` is honoured, so channel interrupts can go to any CPU (WIN8 and
/// later; before, to CPU 0 only).
pub const fn has_target_vp(version: u32) -> bool {
    version >= VERSION_WIN8
}

/// Incoming channel events are flagged in the SynIC event flags page, one bit per relid
/// (WIN8 and later); before, in the receive half of the guest's interrupt page
/// (`drivers/hv/hv.c`, `vmbus_chan_sched()`).
pub const fn uses_synic_event_flags(version: u32) -> bool {
    version >= VERSION_WIN8
}

/// Ring buffer flow control with `pending_send_sz` (WS2012/WIN8 and later, see
/// `struct hv_ring_buffer`).
pub const fn has_pending_send_size(version: u32) -> bool {
    version >= VERSION_WIN8
}

/// Hyper-V sockets (`TL_CONNECT_REQUEST`/`_RESULT`) (WIN10 and later).
pub const fn has_hvsock(version: u32) -> bool {
    version >= VERSION_WIN10
}

/// hv_sock rings may be larger than six pages (5.0 and later,
/// `net/vmw_vsock/hyperv_transport.c`).
pub const fn has_large_hvsock_rings(version: u32) -> bool {
    version >= VERSION_WIN10_V5
}

/// `CHANNELMSG_MODIFYCHANNEL` (re-targeting a channel's interrupts) is supported (4.1 and
/// later; `vmbus_send_modifychannel()`, `target_cpu_store()`).
pub const fn has_modify_channel(version: u32) -> bool {
    version >= VERSION_WIN10_V4_1
}

/// The host answers `MODIFYCHANNEL` with `MODIFYCHANNEL_RESPONSE` (5.3 and later).
pub const fn modify_channel_acked(version: u32) -> bool {
    version >= VERSION_WIN10_V5_3
}

/// The oldest version a guest on an isolated (confidential) VM accepts (5.2,
/// `vmbus_connect()`).
pub const fn allowed_with_isolation(version: u32) -> bool {
    version >= VERSION_WIN10_V5_2
}

/// Confidential channels (offer flags `CONFIDENTIAL_RING_BUFFER`/`_EXTERNAL_MEMORY`) may be
/// used (6.0 and later, `vmbus_onoffer()`).
pub const fn has_confidential_channels(version: u32) -> bool {
    version >= VERSION_WIN10_V6_0
}
