// SPDX-License-Identifier: GPL-2.0-only
//! Hypercall status codes (`HV_STATUS`, the low 16 bits of a hypercall result value).
//!
//! Every `HV_STATUS_*` code of `include/hyperv/hvgdk_mini.h` is a variant; anything else the
//! hypervisor returns is kept as [`Status::Unknown`]. Names are the C macro names, and
//! [`Status::to_errno`] maps exactly as the kernel's `hv_result_to_errno()`
//! (`drivers/hv/hv_common.c`, table `hv_status_infos`).
//!
//! Codes the kernel does not know (the TLFS defines more, e.g. `0x0C`
//! `HV_STATUS_PARTITION_TOO_DEEP` or `0x19` `HV_STATUS_INVALID_SYNIC_STATE`) become
//! `Unknown(code)`, are named `"Unknown"` and map to `-EIO`, which is again what the kernel
//! does for a code missing from its table. The special result `u64::MAX` that Linux's
//! `hv_do_hypercall()` returns when no hypercall page exists is handled by
//! [`result_to_errno`] / [`result_to_str`] (`-EOPNOTSUPP`, "Hypercall page missing!").

use crate::errno;

macro_rules! statuses {
    ($($(#[$doc:meta])* $var:ident = $code:literal, $name:literal, $errno:expr;)*) => {
        /// A hypercall status (`HV_STATUS`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Status {
            $($(#[$doc])* $var,)*
            /// A code `hvgdk_mini.h` does not define.
            Unknown(u16),
        }

        impl Status {
            /// Every known status, in `hvgdk_mini.h` order.
            pub const ALL: &'static [Status] = &[$(Status::$var),*];

            /// The status for a 16-bit code.
            pub const fn from_code(code: u16) -> Status {
                match code {
                    $($code => Status::$var,)*
                    other => Status::Unknown(other),
                }
            }

            /// The 16-bit code.
            pub const fn code(self) -> u16 {
                match self {
                    $(Status::$var => $code,)*
                    Status::Unknown(c) => c,
                }
            }

            /// The C name (`"HV_STATUS_INVALID_PARAMETER"`), or `"Unknown"` as
            /// `hv_result_to_string()` says for codes it does not know.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Status::$var => $name,)*
                    Status::Unknown(_) => "Unknown",
                }
            }

            /// The negative Linux errno `hv_result_to_errno()` gives (0 for success,
            /// `-EIO` for unknown codes).
            pub const fn to_errno(self) -> i32 {
                match self {
                    $(Status::$var => $errno,)*
                    Status::Unknown(_) => -errno::EIO,
                }
            }
        }
    };
}

statuses! {
    /// The call succeeded.
    Success = 0x0, "HV_STATUS_SUCCESS", 0;
    /// The call code is not recognized.
    InvalidHypercallCode = 0x2, "HV_STATUS_INVALID_HYPERCALL_CODE", -errno::EINVAL;
    /// Bad rep count, rep start not below rep count, or a reserved input bit set.
    InvalidHypercallInput = 0x3, "HV_STATUS_INVALID_HYPERCALL_INPUT", -errno::EINVAL;
    /// Input/output GPA misaligned, crossing a page, or outside the GPA space.
    InvalidAlignment = 0x4, "HV_STATUS_INVALID_ALIGNMENT", -errno::EIO;
    /// A parameter is invalid.
    InvalidParameter = 0x5, "HV_STATUS_INVALID_PARAMETER", -errno::EINVAL;
    /// The caller lacks the privilege.
    AccessDenied = 0x6, "HV_STATUS_ACCESS_DENIED", -errno::EACCES;
    /// The partition is not in a state that allows the operation.
    InvalidPartitionState = 0x7, "HV_STATUS_INVALID_PARTITION_STATE", -errno::EIO;
    /// The operation is denied.
    OperationDenied = 0x8, "HV_STATUS_OPERATION_DENIED", -errno::EACCES;
    /// Unknown property.
    UnknownProperty = 0x9, "HV_STATUS_UNKNOWN_PROPERTY", -errno::EINVAL;
    /// Property value out of range.
    PropertyValueOutOfRange = 0xA, "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE", -errno::EINVAL;
    /// Not enough memory.
    InsufficientMemory = 0xB, "HV_STATUS_INSUFFICIENT_MEMORY", -errno::ENOMEM;
    /// Invalid partition id.
    InvalidPartitionId = 0xD, "HV_STATUS_INVALID_PARTITION_ID", -errno::EINVAL;
    /// Invalid virtual processor index.
    InvalidVpIndex = 0xE, "HV_STATUS_INVALID_VP_INDEX", -errno::EINVAL;
    /// Not found.
    NotFound = 0x10, "HV_STATUS_NOT_FOUND", -errno::EIO;
    /// Invalid port id.
    InvalidPortId = 0x11, "HV_STATUS_INVALID_PORT_ID", -errno::EINVAL;
    /// Invalid connection id.
    InvalidConnectionId = 0x12, "HV_STATUS_INVALID_CONNECTION_ID", -errno::EINVAL;
    /// The port has no free message buffers.
    InsufficientBuffers = 0x13, "HV_STATUS_INSUFFICIENT_BUFFERS", -errno::EIO;
    /// Not acknowledged.
    NotAcknowledged = 0x14, "HV_STATUS_NOT_ACKNOWLEDGED", -errno::EIO;
    /// Invalid virtual processor state.
    InvalidVpState = 0x15, "HV_STATUS_INVALID_VP_STATE", -errno::EIO;
    /// No resources.
    NoResources = 0x1D, "HV_STATUS_NO_RESOURCES", -errno::EIO;
    /// Processor feature not supported.
    ProcessorFeatureNotSupported = 0x20, "HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED", -errno::EOPNOTSUPP;
    /// Invalid logical processor index.
    InvalidLpIndex = 0x41, "HV_STATUS_INVALID_LP_INDEX", -errno::EINVAL;
    /// Invalid register value.
    InvalidRegisterValue = 0x50, "HV_STATUS_INVALID_REGISTER_VALUE", -errno::EINVAL;
    /// Operation failed.
    OperationFailed = 0x71, "HV_STATUS_OPERATION_FAILED", -errno::EIO;
    /// Root partition out of memory.
    InsufficientRootMemory = 0x73, "HV_STATUS_INSUFFICIENT_ROOT_MEMORY", -errno::ENOMEM;
    /// Not enough contiguous memory.
    InsufficientContiguousMemory = 0x75, "HV_STATUS_INSUFFICIENT_CONTIGUOUS_MEMORY", -errno::ENOMEM;
    /// Timed out.
    TimeOut = 0x78, "HV_STATUS_TIME_OUT", -errno::EIO;
    /// The call is pending (asynchronous).
    CallPending = 0x79, "HV_STATUS_CALL_PENDING", -errno::EIO;
    /// Root partition out of contiguous memory.
    InsufficientContiguousRootMemory = 0x83, "HV_STATUS_INSUFFICIENT_CONTIGUOUS_ROOT_MEMORY", -errno::ENOMEM;
    /// The VTL is already enabled.
    VtlAlreadyEnabled = 0x86, "HV_STATUS_VTL_ALREADY_ENABLED", -errno::EIO;
}

impl Status {
    /// `HV_STATUS_SUCCESS`?
    pub const fn is_success(self) -> bool {
        matches!(self, Status::Success)
    }

    /// The status in bits 15:0 of a hypercall result value.
    pub const fn of_result(result: u64) -> Status {
        Status::from_code(result as u16)
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Status::Unknown(c) => write!(f, "Unknown ({:#x})", c),
            s => f.write_str(s.name()),
        }
    }
}

/// What Linux's `hv_do_hypercall()` returns when there is no hypercall page.
pub const RESULT_NO_HYPERCALL_PAGE: u64 = u64::MAX;

/// `hv_result_to_errno()` on a whole result value: `u64::MAX` (no hypercall page) is
/// `-EOPNOTSUPP`, anything else maps by its status bits.
pub const fn result_to_errno(result: u64) -> i32 {
    if result == RESULT_NO_HYPERCALL_PAGE {
        return -errno::EOPNOTSUPP;
    }
    Status::of_result(result).to_errno()
}

/// `hv_result_to_string()` on a whole result value.
pub const fn result_to_str(result: u64) -> &'static str {
    if result == RESULT_NO_HYPERCALL_PAGE {
        return "Hypercall page missing!";
    }
    Status::of_result(result).name()
}
