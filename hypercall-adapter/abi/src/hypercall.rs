// SPDX-License-Identifier: GPL-2.0-only
//! Hyper-V hypercalls the suite makes: call codes, input layouts, the sparse virtual
//! processor set, GVA range lists, guest-side encoders and host-side parsers.
//!
//! Sources: TLFS "Hypercall Interface" and the per-call pages (`HvCallPostMessage`,
//! `HvCallSignalEvent`, `HvCallFlushVirtualAddressSpace[Ex]`,
//! `HvCallFlushVirtualAddressList[Ex]`, `HvCallSendSyntheticClusterIpi[Ex]`,
//! `HvCallNotifyLongSpinWait`, `HV_VP_SET`); Linux `include/hyperv/hvgdk_mini.h`,
//! `hvhdk_mini.h`, `drivers/hv/hyperv_vmbus.h` (`hv_input_post_message`),
//! `include/asm-generic/mshyperv.h` (`cpumask_to_vpset`), `arch/x86/hyperv/mmu.c`
//! (`fill_gva_list`) and `arch/x86/hyperv/hv_apic.c` (IPIs).
//!
//! Wire structs are little-endian; `u64` fields are native because the suite is x86-64 only.
//! Guest encoders write into the caller's input page (`&mut [u8]`, normally the per-CPU
//! 4 KiB page) and return the [`HypercallInput`] to issue; host parsers take the input value
//! and the guest's input bytes (or fast-call registers) and validate everything, each error
//! naming the [`Status`] a Hyper-V host returns for it.

use crate::bytes;
use crate::status::Status;
use crate::tlfs::{HypercallInput, InputError};
use zerocopy::{FromBytes, IntoBytes};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Hypervisor page size (`HV_HYP_PAGE_SIZE`); hypercall input never crosses a page.
pub const HV_PAGE_SIZE: usize = 4096;
/// Hypervisor page shift (`HV_HYP_PAGE_SHIFT`).
pub const HV_PAGE_SHIFT: u32 = 12;

macro_rules! call_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $tlfs:literal;)*) => {
        /// Hypercall call codes (`HVCALL_*`, `HV_CALL_CODE`). The ones the suite issues are
        /// marked "(suite)"; the others are listed because Linux uses them.
        pub mod code {
            $($(#[$doc])* pub const $name: u16 = $value;)*
        }

        /// The TLFS name of a call code (`"HvCallPostMessage"`), for logs and the simulator.
        pub const fn call_name(code: u16) -> Option<&'static str> {
            match code {
                $($value => Some($tlfs),)*
                _ => None,
            }
        }
    };
}

call_codes! {
    /// (suite) Flush the virtual TLB of whole address spaces on a 64-bit processor mask.
    FLUSH_VIRTUAL_ADDRESS_SPACE = 0x0002, "HvCallFlushVirtualAddressSpace";
    /// (suite) Flush GVA ranges (rep) on a 64-bit processor mask.
    FLUSH_VIRTUAL_ADDRESS_LIST = 0x0003, "HvCallFlushVirtualAddressList";
    /// Run time of a logical processor (root partition).
    GET_LOGICAL_PROCESSOR_RUN_TIME = 0x0004, "HvCallGetLogicalProcessorRunTime";
    /// (suite) Tell the hypervisor this VP spins on a lock held by another VP.
    NOTIFY_LONG_SPIN_WAIT = 0x0008, "HvCallNotifyLongSpinWait";
    /// (suite) Send a fixed interrupt to VPs named by a 64-bit mask.
    SEND_IPI = 0x000b, "HvCallSendSyntheticClusterIpi";
    /// Enable a VTL on a VP (VSM).
    ENABLE_VP_VTL = 0x000f, "HvCallEnableVpVtl";
    /// (suite) Flush whole address spaces on a sparse VP set.
    FLUSH_VIRTUAL_ADDRESS_SPACE_EX = 0x0013, "HvCallFlushVirtualAddressSpaceEx";
    /// (suite) Flush GVA ranges (rep) on a sparse VP set.
    FLUSH_VIRTUAL_ADDRESS_LIST_EX = 0x0014, "HvCallFlushVirtualAddressListEx";
    /// (suite) Send a fixed interrupt to a sparse VP set.
    SEND_IPI_EX = 0x0015, "HvCallSendSyntheticClusterIpiEx";
    /// Create a child partition (root, mshv).
    CREATE_PARTITION = 0x0040, "HvCallCreatePartition";
    /// Initialize a child partition (root, mshv).
    INITIALIZE_PARTITION = 0x0041, "HvCallInitializePartition";
    /// Finalize a child partition (root, mshv).
    FINALIZE_PARTITION = 0x0042, "HvCallFinalizePartition";
    /// Delete a child partition (root, mshv).
    DELETE_PARTITION = 0x0043, "HvCallDeletePartition";
    /// Read a partition property.
    GET_PARTITION_PROPERTY = 0x0044, "HvCallGetPartitionProperty";
    /// Write a partition property.
    SET_PARTITION_PROPERTY = 0x0045, "HvCallSetPartitionProperty";
    /// The caller's partition id.
    GET_PARTITION_ID = 0x0046, "HvCallGetPartitionId";
    /// Give memory to the hypervisor (root).
    DEPOSIT_MEMORY = 0x0048, "HvCallDepositMemory";
    /// Take memory back from the hypervisor (root).
    WITHDRAW_MEMORY = 0x0049, "HvCallWithdrawMemory";
    /// Map GPA pages into a child (root).
    MAP_GPA_PAGES = 0x004b, "HvCallMapGpaPages";
    /// Unmap GPA pages from a child (root).
    UNMAP_GPA_PAGES = 0x004c, "HvCallUnmapGpaPages";
    /// Install an intercept (root).
    INSTALL_INTERCEPT = 0x004d, "HvCallInstallIntercept";
    /// Create a VP (root).
    CREATE_VP = 0x004e, "HvCallCreateVp";
    /// Delete a VP (root).
    DELETE_VP = 0x004f, "HvCallDeleteVp";
    /// Read VP registers (rep).
    GET_VP_REGISTERS = 0x0050, "HvCallGetVpRegisters";
    /// Write VP registers (rep).
    SET_VP_REGISTERS = 0x0051, "HvCallSetVpRegisters";
    /// Translate a GVA.
    TRANSLATE_VIRTUAL_ADDRESS = 0x0052, "HvCallTranslateVirtualAddress";
    /// Clear a virtual interrupt (root).
    CLEAR_VIRTUAL_INTERRUPT = 0x0056, "HvCallClearVirtualInterrupt";
    /// Delete a port (root).
    DELETE_PORT = 0x0058, "HvCallDeletePort";
    /// Disconnect a port (root).
    DISCONNECT_PORT = 0x005b, "HvCallDisconnectPort";
    /// (suite) Post a message to a connection (VMBus channel messages).
    POST_MESSAGE = 0x005c, "HvCallPostMessage";
    /// (suite) Signal an event flag of a connection (VMBus channel interrupts).
    SIGNAL_EVENT = 0x005d, "HvCallSignalEvent";
    /// Kernel debugger transport: send.
    POST_DEBUG_DATA = 0x0069, "HvCallPostDebugData";
    /// Kernel debugger transport: receive.
    RETRIEVE_DEBUG_DATA = 0x006a, "HvCallRetrieveDebugData";
    /// Kernel debugger transport: reset.
    RESET_DEBUG_SESSION = 0x006b, "HvCallResetDebugSession";
    /// Map a statistics page.
    MAP_STATS_PAGE = 0x006c, "HvCallMapStatsPage";
    /// Unmap a statistics page.
    UNMAP_STATS_PAGE = 0x006d, "HvCallUnmapStatsPage";
    /// Set a system property (root).
    SET_SYSTEM_PROPERTY = 0x006f, "HvCallSetSystemProperty";
    /// Add a logical processor (root).
    ADD_LOGICAL_PROCESSOR = 0x0076, "HvCallAddLogicalProcessor";
    /// Read a system property (root).
    GET_SYSTEM_PROPERTY = 0x007b, "HvCallGetSystemProperty";
    /// Map a device interrupt (root).
    MAP_DEVICE_INTERRUPT = 0x007c, "HvCallMapDeviceInterrupt";
    /// Unmap a device interrupt (root).
    UNMAP_DEVICE_INTERRUPT = 0x007d, "HvCallUnmapDeviceInterrupt";
    /// Retarget a device interrupt (PCI pass-through, IOMMU).
    RETARGET_INTERRUPT = 0x007e, "HvCallRetargetDeviceInterrupt";
    /// Notify a partition event (root).
    NOTIFY_PARTITION_EVENT = 0x0087, "HvCallNotifyPartitionEvent";
    /// Enter a sleep state (root).
    ENTER_SLEEP_STATE = 0x0084, "HvCallEnterSleepState";
    /// A port's ring became empty (root).
    NOTIFY_PORT_RING_EMPTY = 0x008b, "HvCallNotifyPortRingEmpty";
    /// Register an intercept result (root).
    REGISTER_INTERCEPT_RESULT = 0x0091, "HvCallRegisterInterceptResult";
    /// Assert a virtual interrupt (root).
    ASSERT_VIRTUAL_INTERRUPT = 0x0094, "HvCallAssertVirtualInterrupt";
    /// Create a port (root).
    CREATE_PORT = 0x0095, "HvCallCreatePort";
    /// Connect a port (root).
    CONNECT_PORT = 0x0096, "HvCallConnectPort";
    /// Start a VP (CVM / VTL boot).
    START_VP = 0x0099, "HvCallStartVirtualProcessor";
    /// VP index of an APIC id (rep).
    GET_VP_INDEX_FROM_APIC_ID = 0x009a, "HvCallGetVpIndexFromApicId";
    /// Flush a second-level address space (nested).
    FLUSH_GUEST_PHYSICAL_ADDRESS_SPACE = 0x00af, "HvCallFlushGuestPhysicalAddressSpace";
    /// Flush second-level GPA ranges (nested, rep).
    FLUSH_GUEST_PHYSICAL_ADDRESS_LIST = 0x00b0, "HvCallFlushGuestPhysicalAddressList";
    /// Signal an event directly (root).
    SIGNAL_EVENT_DIRECT = 0x00c0, "HvCallSignalEventDirect";
    /// Post a message directly (root).
    POST_MESSAGE_DIRECT = 0x00c1, "HvCallPostMessageDirect";
    /// Dispatch a VP (root scheduler).
    DISPATCH_VP = 0x00c2, "HvCallDispatchVp";
    /// Read GPA page access states (root).
    GET_GPA_PAGES_ACCESS_STATES = 0x00c9, "HvCallGetGpaPagesAccessStates";
    /// Acquire host access to SPA pages (root).
    ACQUIRE_SPARSE_SPA_PAGE_HOST_ACCESS = 0x00d7, "HvCallAcquireSparseSpaPageHostAccess";
    /// Release host access to SPA pages (root).
    RELEASE_SPARSE_SPA_PAGE_HOST_ACCESS = 0x00d8, "HvCallReleaseSparseSpaPageHostAccess";
    /// Change host visibility of GPA pages (isolated VMs, rep).
    MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY = 0x00db, "HvCallModifySparseGpaPageHostVisibility";
    /// Map a VP state page (root).
    MAP_VP_STATE_PAGE = 0x00e1, "HvCallMapVpStatePage";
    /// Unmap a VP state page (root).
    UNMAP_VP_STATE_PAGE = 0x00e2, "HvCallUnmapVpStatePage";
    /// Read VP state (root).
    GET_VP_STATE = 0x00e3, "HvCallGetVpState";
    /// Write VP state (root).
    SET_VP_STATE = 0x00e4, "HvCallSetVpState";
    /// Read a VP's CPUID values (root).
    GET_VP_CPUID_VALUES = 0x00f4, "HvCallGetVpCpuidValues";
    /// Read an extended partition property.
    GET_PARTITION_PROPERTY_EX = 0x0101, "HvCallGetPartitionPropertyEx";
    /// Read emulated MMIO (CVM).
    MMIO_READ = 0x0106, "HvCallMemoryMappedIoRead";
    /// Write emulated MMIO (CVM).
    MMIO_WRITE = 0x0107, "HvCallMemoryMappedIoWrite";
    /// Disable the hypervisor (kexec, root).
    DISABLE_HYP_EX = 0x010f, "HvCallDisableHypervisorEx";
    /// Map a statistics page, second form.
    MAP_STATS_PAGE2 = 0x0131, "HvCallMapStatsPage2";
    /// Extended call: query extended capabilities (`hvgdk_ext.h`).
    EXT_QUERY_CAPABILITIES = 0x8001, "HvExtCallQueryCapabilities";
    /// Extended call: memory heat hint (`hvgdk_ext.h`).
    EXT_MEMORY_HEAT_HINT = 0x8003, "HvExtCallMemoryHeatHint";
}

/// Whether a call is simple or rep (TLFS "Call Code ... (Simple)/(Rep)").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// One operation; rep count must be zero.
    Simple,
    /// A list of elements; rep count must be non-zero.
    Rep,
}

/// The kind of the calls the suite issues (None for the others).
pub const fn call_kind(c: u16) -> Option<CallKind> {
    match c {
        code::FLUSH_VIRTUAL_ADDRESS_LIST | code::FLUSH_VIRTUAL_ADDRESS_LIST_EX => Some(CallKind::Rep),
        code::FLUSH_VIRTUAL_ADDRESS_SPACE
        | code::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
        | code::NOTIFY_LONG_SPIN_WAIT
        | code::SEND_IPI
        | code::SEND_IPI_EX
        | code::POST_MESSAGE
        | code::SIGNAL_EVENT => Some(CallKind::Simple),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Wire structs.

/// Largest message payload (`HV_MESSAGE_PAYLOAD_BYTE_COUNT`).
pub const MESSAGE_PAYLOAD_BYTES: usize = 240;

/// `HvCallPostMessage` input (`struct hv_input_post_message`, `drivers/hv/hyperv_vmbus.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PostMessageInput {
    /// Connection id (`union hv_connection_id`: id in bits 23:0, bits 31:24 reserved).
    pub connection_id: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Message type: non-zero, bit 31 clear.
    pub message_type: u32,
    /// Payload bytes used, at most 240.
    pub payload_size: u32,
    /// Payload (C: `u64 payload[30]`).
    pub payload: [u8; MESSAGE_PAYLOAD_BYTES],
}

/// `HvCallSignalEvent` input (TLFS `HvCallSignalEvent`: connection id, flag number, RsvdZ).
/// As a fast call the same 8 bytes travel in RDX.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct SignalEventInput {
    /// Connection id.
    pub connection_id: u32,
    /// Flag number relative to the port's base flag.
    pub flag_number: u16,
    /// Reserved, zero.
    pub rsvd_z: u16,
}

/// `HvCallFlushVirtualAddressSpace`/`List` fixed header (`struct hv_tlb_flush` without its
/// flexible `gva_list`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TlbFlushInput {
    /// Address space id (CR3 without PCID bits); ignored with [`flush_flags::ALL_VIRTUAL_ADDRESS_SPACES`].
    pub address_space: u64,
    /// `HV_FLUSH_*` flags.
    pub flags: u64,
    /// VPs 0..63 to flush; ignored with [`flush_flags::ALL_PROCESSORS`].
    pub processor_mask: u64,
}

/// Fixed part of an `HV_VP_SET` (`struct hv_vpset` without `bank_contents`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct VpSetHeader {
    /// [`VpSetFormat`] value.
    pub format: u64,
    /// Bit n set: bank n (VPs 64n..64n+63) has an entry in `bank_contents`.
    pub valid_bank_mask: u64,
}

/// `HvCallFlushVirtualAddressSpaceEx`/`ListEx` fixed header (`struct hv_tlb_flush_ex`
/// without the bank contents and GVA list that follow it).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TlbFlushExInput {
    /// Address space id.
    pub address_space: u64,
    /// `HV_FLUSH_*` flags.
    pub flags: u64,
    /// The VP set's fixed part; its bank contents are the call's variable header.
    pub hv_vp_set: VpSetHeader,
}

/// `HvCallSendSyntheticClusterIpi` input (`struct hv_send_ipi`; Linux calls the byte at
/// offset 4 and the padding `reserved`, the TLFS names it `TargetVtl`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct SendIpiInput {
    /// Vector, 0x10..=0xff.
    pub vector: u32,
    /// `HV_INPUT_VTL`; zero (the caller's VTL) in this suite.
    pub target_vtl: u8,
    /// Padding, zero.
    pub reserved: [u8; 3],
    /// VPs 0..63.
    pub cpu_mask: u64,
}

/// `HvCallSendSyntheticClusterIpiEx` fixed header (`struct hv_send_ipi_ex` without bank
/// contents).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct SendIpiExInput {
    /// Vector, 0x10..=0xff.
    pub vector: u32,
    /// `HV_INPUT_VTL`; zero in this suite.
    pub target_vtl: u8,
    /// Padding, zero.
    pub reserved: [u8; 3],
    /// The VP set's fixed part.
    pub vp_set: VpSetHeader,
}

/// `HvCallNotifyLongSpinWait` input (TLFS: SpinCount u32, RsvdZ u32).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct LongSpinWaitInput {
    /// Accumulated spin count.
    pub spin_count: u32,
    /// Reserved, zero.
    pub rsvd_z: u32,
}

/// `HV_FLUSH_*` flags (`hvgdk_mini.h`).
pub mod flush_flags {
    /// Flush on all VPs; the processor mask/set is ignored.
    pub const ALL_PROCESSORS: u64 = 1 << 0;
    /// Flush all address spaces; the address space id is ignored.
    pub const ALL_VIRTUAL_ADDRESS_SPACES: u64 = 1 << 1;
    /// Only non-global mappings (address-space calls only).
    pub const NON_GLOBAL_MAPPINGS_ONLY: u64 = 1 << 2;
    /// GVA entries use the extended range format (needs `HV_FEATURE_EXT_GVA_RANGES_FLUSH`;
    /// this crate neither builds nor accepts it).
    pub const USE_EXTENDED_RANGE_FORMAT: u64 = 1 << 3;
    /// Flags this crate accepts.
    pub const SUPPORTED: u64 = ALL_PROCESSORS | ALL_VIRTUAL_ADDRESS_SPACES | NON_GLOBAL_MAPPINGS_ONLY;
}

/// Lowest vector a synthetic IPI may carry (`HV_IPI_LOW_VECTOR`).
pub const IPI_LOW_VECTOR: u32 = 0x10;
/// Highest vector (`HV_IPI_HIGH_VECTOR`).
pub const IPI_HIGH_VECTOR: u32 = 0xff;
/// Bits of a connection id that must be zero (`hv_connection_id.reserved`, bits 31:24).
pub const CONNECTION_ID_RESERVED: u32 = 0xff00_0000;

// ---------------------------------------------------------------------------------------
// Errors.

/// Why a hypercall input cannot be built or is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HcError {
    /// Call code unknown to the parser.
    UnknownCall(u16),
    /// Fast bit and input form disagree, or the call has no fast form here.
    CallingConvention,
    /// Rep count zero for a rep call, or non-zero for a simple one.
    RepMismatch,
    /// Variable header size differs from what the input needs.
    VarHeaderMismatch {
        /// Size the input needs, in qwords.
        expected: u16,
        /// Size in the input value.
        got: u16,
    },
    /// The input does not fit the bytes available (crosses the input page).
    InputTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// Output buffer too small for the encoder.
    OutputTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// Message payload above 240 bytes.
    PayloadTooLarge(u32),
    /// Message type zero or with bit 31 set.
    InvalidMessageType(u32),
    /// Connection id with reserved bits set.
    InvalidConnectionId(u32),
    /// A reserved field is non-zero.
    ReservedNonZero,
    /// IPI vector outside 0x10..=0xff.
    InvalidVector(u32),
    /// A target VTL other than the caller's.
    UnsupportedVtl(u8),
    /// Unknown, unsupported or (for list calls) invalid flush flags.
    InvalidFlushFlags(u64),
    /// VP set format neither sparse (0) nor all (1).
    InvalidVpSetFormat(u64),
    /// A VP index beyond what an `HV_VP_SET` can hold (64 banks of 64).
    VpIndexOutOfRange(u32),
    /// The GVA range needs more entries than fit in the input page.
    TooManyGvas {
        /// Entries needed.
        needed: u64,
        /// Entries that fit.
        max: usize,
    },
    /// The input value itself is invalid.
    Input(InputError),
}

impl HcError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            HcError::UnknownCall(_) => "unknown call code",
            HcError::CallingConvention => "fast bit does not match the call's input form",
            HcError::RepMismatch => "rep count does not match call kind",
            HcError::VarHeaderMismatch { .. } => "variable header size mismatch",
            HcError::InputTooShort { .. } => "input crosses the input page",
            HcError::OutputTooSmall { .. } => "output buffer too small",
            HcError::PayloadTooLarge(_) => "message payload above 240 bytes",
            HcError::InvalidMessageType(_) => "message type zero or bit 31 set",
            HcError::InvalidConnectionId(_) => "connection id reserved bits set",
            HcError::ReservedNonZero => "reserved field non-zero",
            HcError::InvalidVector(_) => "vector outside 0x10..=0xff",
            HcError::UnsupportedVtl(_) => "target VTL not supported",
            HcError::InvalidFlushFlags(_) => "invalid flush flags",
            HcError::InvalidVpSetFormat(_) => "invalid VP set format",
            HcError::VpIndexOutOfRange(_) => "VP index beyond 4095",
            HcError::TooManyGvas { .. } => "GVA list does not fit the input page",
            HcError::Input(e) => e.as_str(),
        }
    }

    /// The status a Hyper-V host returns for this input.
    pub const fn status(&self) -> Status {
        match self {
            HcError::UnknownCall(_) => Status::InvalidHypercallCode,
            HcError::CallingConvention
            | HcError::RepMismatch
            | HcError::VarHeaderMismatch { .. }
            | HcError::InvalidVpSetFormat(_)
            | HcError::Input(_) => Status::InvalidHypercallInput,
            HcError::InputTooShort { .. } => Status::InvalidAlignment,
            HcError::InvalidConnectionId(_) => Status::InvalidConnectionId,
            HcError::OutputTooSmall { .. }
            | HcError::PayloadTooLarge(_)
            | HcError::InvalidMessageType(_)
            | HcError::ReservedNonZero
            | HcError::InvalidVector(_)
            | HcError::UnsupportedVtl(_)
            | HcError::InvalidFlushFlags(_)
            | HcError::VpIndexOutOfRange(_)
            | HcError::TooManyGvas { .. } => Status::InvalidParameter,
        }
    }
}

impl core::fmt::Display for HcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HcError::UnknownCall(c) => write!(f, "{} {:#06x}", self.as_str(), c),
            HcError::VarHeaderMismatch { expected, got } => write!(f, "{} (expected {}, got {})", self.as_str(), expected, got),
            HcError::InputTooShort { needed, have } | HcError::OutputTooSmall { needed, have } => {
                write!(f, "{} (need {}, have {})", self.as_str(), needed, have)
            }
            HcError::TooManyGvas { needed, max } => write!(f, "{} (need {}, max {})", self.as_str(), needed, max),
            HcError::PayloadTooLarge(v) | HcError::InvalidMessageType(v) | HcError::InvalidConnectionId(v) | HcError::InvalidVector(v) => {
                write!(f, "{} ({:#x})", self.as_str(), v)
            }
            _ => f.write_str(self.as_str()),
        }
    }
}

impl From<InputError> for HcError {
    fn from(e: InputError) -> Self {
        HcError::Input(e)
    }
}

fn too_short(needed: usize, have: usize) -> HcError {
    HcError::OutputTooSmall { needed, have }
}

// ---------------------------------------------------------------------------------------
// VP sets.

/// Number of banks an `HV_VP_SET` can name (`HV_MAX_SPARSE_VCPU_BANKS`).
pub const MAX_SPARSE_BANKS: usize = 64;
/// VPs per bank (`HV_VCPUS_PER_SPARSE_BANK`).
pub const VPS_PER_BANK: u32 = 64;
/// One past the highest VP index a VP set can name.
pub const VP_SET_LIMIT: u32 = MAX_SPARSE_BANKS as u32 * VPS_PER_BANK;

/// `HV_GENERIC_SET_FORMAT` (`hvhdk_mini.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VpSetFormat {
    /// `HV_GENERIC_SET_SPARSE_4K`: banks named by the valid-bank mask.
    Sparse,
    /// `HV_GENERIC_SET_ALL`: every VP of the partition.
    All,
}

impl VpSetFormat {
    /// The wire value.
    pub const fn raw(self) -> u64 {
        match self {
            VpSetFormat::Sparse => 0,
            VpSetFormat::All => 1,
        }
    }

    /// Parses the wire value.
    pub const fn from_raw(v: u64) -> Result<Self, HcError> {
        match v {
            0 => Ok(VpSetFormat::Sparse),
            1 => Ok(VpSetFormat::All),
            other => Err(HcError::InvalidVpSetFormat(other)),
        }
    }
}

/// An `HV_VP_SET` built by the guest: banks stored by bank number, emitted in ascending
/// order for each bit of the valid-bank mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VpSet {
    format: VpSetFormat,
    valid_bank_mask: u64,
    banks: [u64; MAX_SPARSE_BANKS],
}

impl VpSet {
    /// Every VP of the partition (`HV_GENERIC_SET_ALL`, no banks).
    pub const fn all() -> Self {
        VpSet { format: VpSetFormat::All, valid_bank_mask: 0, banks: [0; MAX_SPARSE_BANKS] }
    }

    /// The set Linux's `cpumask_to_vpset()` builds from these VP indices: banks 0 up to the
    /// highest bank used are all valid (so the mask is contiguous and may name empty banks),
    /// and there is always at least bank 0. Fails on an index that no bank can hold.
    pub fn from_vp_indices<I: IntoIterator<Item = u32>>(vps: I) -> Result<Self, HcError> {
        let mut banks = [0u64; MAX_SPARSE_BANKS];
        let mut nr_banks: u32 = 1;
        for vp in vps {
            let bank = vp / VPS_PER_BANK;
            let slot = banks.get_mut(bank as usize).ok_or(HcError::VpIndexOutOfRange(vp))?;
            *slot |= 1u64 << (vp % VPS_PER_BANK);
            if bank >= nr_banks {
                nr_banks = bank + 1;
            }
        }
        let valid_bank_mask = if nr_banks >= 64 { u64::MAX } else { (1u64 << nr_banks) - 1 };
        Ok(VpSet { format: VpSetFormat::Sparse, valid_bank_mask, banks })
    }

    /// The smallest sparse set (only non-empty banks valid), the form of the TLFS example
    /// in `HV_VP_SET`. An empty input gives an empty mask.
    pub fn sparse_from_vp_indices<I: IntoIterator<Item = u32>>(vps: I) -> Result<Self, HcError> {
        let mut set = Self::from_vp_indices(vps)?;
        let mut mask = 0u64;
        for (i, b) in set.banks.iter().enumerate() {
            if *b != 0 {
                mask |= 1u64 << i;
            }
        }
        set.valid_bank_mask = mask;
        Ok(set)
    }

    /// Format.
    pub const fn format(&self) -> VpSetFormat {
        self.format
    }

    /// Valid-bank mask.
    pub const fn valid_bank_mask(&self) -> u64 {
        self.valid_bank_mask
    }

    /// Number of `bank_contents` entries, which is the variable header size (in qwords) of
    /// the Ex calls (Linux: "the variable input header size is equal to nr_bank").
    pub const fn bank_count(&self) -> u16 {
        match self.format {
            VpSetFormat::All => 0,
            VpSetFormat::Sparse => self.valid_bank_mask.count_ones() as u16,
        }
    }

    /// The contents of bank `n` (zero for banks not in the mask).
    pub fn bank(&self, n: usize) -> u64 {
        if n < 64 && self.valid_bank_mask & (1u64 << n) != 0 {
            self.banks.get(n).copied().unwrap_or(0)
        } else {
            0
        }
    }

    /// Does the set name `vp`?
    pub fn contains(&self, vp: u32) -> bool {
        match self.format {
            VpSetFormat::All => true,
            VpSetFormat::Sparse => (self.bank((vp / VPS_PER_BANK) as usize) >> (vp % VPS_PER_BANK)) & 1 != 0,
        }
    }

    /// The 64-bit processor mask of the non-Ex calls, when every VP in the set is below 64
    /// (Linux's fast path); `None` for "all" or higher VPs.
    pub fn as_mask64(&self) -> Option<u64> {
        if self.format == VpSetFormat::All || (1..MAX_SPARSE_BANKS).any(|n| self.bank(n) != 0) {
            return None;
        }
        Some(self.bank(0))
    }

    /// Bytes of the encoded set: 16 + 8 per bank.
    pub const fn encoded_len(&self) -> usize {
        16 + 8 * self.bank_count() as usize
    }

    /// Writes the set (header then bank contents) at `out[0..]`, returning the bytes written.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, HcError> {
        let len = self.encoded_len();
        let have = out.len();
        let hdr = VpSetHeader { format: self.format.raw(), valid_bank_mask: self.valid_bank_mask };
        bytes::put(out, 0, hdr.as_bytes()).ok_or(too_short(len, have))?;
        let mut off = 16;
        if self.format == VpSetFormat::Sparse {
            for n in 0..MAX_SPARSE_BANKS {
                if self.valid_bank_mask & (1u64 << n) != 0 {
                    bytes::put_u64(out, off, self.bank(n)).ok_or(too_short(len, have))?;
                    off += 8;
                }
            }
        }
        Ok(off)
    }
}

/// A VP set read from guest input (host side); bank contents stay in the guest's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VpSetView<'a> {
    format: VpSetFormat,
    valid_bank_mask: u64,
    banks: &'a [u8],
}

impl<'a> VpSetView<'a> {
    /// Parses a VP set at the start of `input`, returning it and the bytes it occupies.
    /// A sparse set needs one qword per mask bit; "all" has no bank contents (its mask is
    /// ignored, as the TLFS gives it no meaning).
    pub fn parse(input: &'a [u8]) -> Result<(Self, usize), HcError> {
        let (hdr, _) = VpSetHeader::read_from_prefix(input).map_err(|_| HcError::InputTooShort { needed: 16, have: input.len() })?;
        let format = VpSetFormat::from_raw(hdr.format)?;
        let mask = hdr.valid_bank_mask;
        let nbanks = match format {
            VpSetFormat::All => 0,
            VpSetFormat::Sparse => mask.count_ones() as usize,
        };
        let used = 16 + 8 * nbanks;
        let banks = input.get(16..used).ok_or(HcError::InputTooShort { needed: used, have: input.len() })?;
        Ok((VpSetView { format, valid_bank_mask: mask, banks }, used))
    }

    /// Format.
    pub const fn format(&self) -> VpSetFormat {
        self.format
    }

    /// Valid-bank mask as sent.
    pub const fn valid_bank_mask(&self) -> u64 {
        self.valid_bank_mask
    }

    /// Number of bank contents present.
    pub const fn bank_count(&self) -> u16 {
        (self.banks.len() / 8) as u16
    }

    /// The contents of bank `n`, if the mask names it.
    pub fn bank(&self, n: u32) -> Option<u64> {
        if self.format != VpSetFormat::Sparse || n >= 64 || self.valid_bank_mask & (1u64 << n) == 0 {
            return None;
        }
        let below = (self.valid_bank_mask & ((1u64 << n) - 1)).count_ones() as usize;
        bytes::u64_at(self.banks, below * 8)
    }

    /// Does the set name `vp`?
    pub fn contains(&self, vp: u32) -> bool {
        match self.format {
            VpSetFormat::All => true,
            VpSetFormat::Sparse => self.bank(vp / VPS_PER_BANK).is_some_and(|b| (b >> (vp % VPS_PER_BANK)) & 1 != 0),
        }
    }

    /// The VPs of the set below `vp_count`, ascending ("all" yields `0..vp_count`).
    pub fn iter(&self, vp_count: u32) -> VpIter<'a> {
        VpIter { set: *self, next: 0, limit: vp_count.min(VP_SET_LIMIT) }
    }
}

/// Iterator over the VPs of a [`VpSetView`].
#[derive(Clone, Debug)]
pub struct VpIter<'a> {
    set: VpSetView<'a>,
    next: u32,
    limit: u32,
}

impl Iterator for VpIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        while self.next < self.limit {
            let vp = self.next;
            self.next += 1;
            if self.set.contains(vp) {
                return Some(vp);
            }
        }
        None
    }
}

/// The processors a flush or IPI targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processors<'a> {
    /// Every VP (`HV_FLUSH_ALL_PROCESSORS`).
    All,
    /// VPs 0..63 by mask.
    Mask(u64),
    /// A VP set.
    Set(VpSetView<'a>),
}

impl Processors<'_> {
    /// Does the target set include `vp`?
    pub fn contains(&self, vp: u32) -> bool {
        match self {
            Processors::All => true,
            Processors::Mask(m) => vp < 64 && (m >> vp) & 1 != 0,
            Processors::Set(s) => s.contains(vp),
        }
    }
}

// ---------------------------------------------------------------------------------------
// GVA range lists.

/// Bytes one GVA list entry can cover: 4096 pages (`HV_TLB_FLUSH_UNIT` in `mmu.c`).
pub const GVA_FLUSH_UNIT: u64 = 4096 * 4096;
/// Low bits of an entry that hold the number of additional pages.
pub const GVA_PAGE_COUNT_MASK: u64 = 0xfff;

/// One `HV_GVA` list entry: a page-aligned base and the number of pages after it (0..=4095).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GvaRange {
    /// Page-aligned base address.
    pub base: u64,
    /// Additional pages beyond the base page (TLFS: "the number of additional pages").
    pub additional_pages: u16,
}

impl GvaRange {
    /// The entry's wire value; the base must be page aligned and the count at most 4095.
    pub const fn encode(&self) -> Result<u64, HcError> {
        if self.base & GVA_PAGE_COUNT_MASK != 0 || self.additional_pages as u64 > GVA_PAGE_COUNT_MASK {
            return Err(HcError::ReservedNonZero);
        }
        Ok(self.base | self.additional_pages as u64)
    }

    /// Decodes any wire value (every 64-bit value is a valid entry).
    pub const fn decode(raw: u64) -> Self {
        GvaRange { base: raw & !GVA_PAGE_COUNT_MASK, additional_pages: (raw & GVA_PAGE_COUNT_MASK) as u16 }
    }

    /// Pages covered, 1..=4096.
    pub const fn page_count(&self) -> u32 {
        self.additional_pages as u32 + 1
    }

    /// One past the last byte covered, or `None` if that passes the top of the address space.
    pub const fn end(&self) -> Option<u64> {
        self.base.checked_add((self.page_count() as u64) << HV_PAGE_SHIFT)
    }
}

/// The entries Linux's `fill_gva_list()` produces for the byte range `[start, end)`: each
/// entry covers up to 16 MiB; a final partial entry covers up to `end`; an empty range still
/// yields one entry for the start page. `start` is rounded down to its page first (Linux's
/// callers pass page-aligned starts, where this changes nothing; for an unaligned start it
/// keeps the last page of the range covered).
pub fn gva_ranges(start: u64, end: u64) -> GvaRanges {
    GvaRanges { cur: start & !GVA_PAGE_COUNT_MASK, end, first: true }
}

/// Iterator returned by [`gva_ranges`].
#[derive(Clone, Debug)]
pub struct GvaRanges {
    cur: u64,
    end: u64,
    first: bool,
}

impl Iterator for GvaRanges {
    type Item = GvaRange;
    fn next(&mut self) -> Option<GvaRange> {
        if !self.first && self.cur >= self.end {
            return None;
        }
        self.first = false;
        let diff = self.end.saturating_sub(self.cur);
        let base = self.cur & !GVA_PAGE_COUNT_MASK;
        if diff >= GVA_FLUSH_UNIT {
            self.cur = self.cur.checked_add(GVA_FLUSH_UNIT).unwrap_or(self.end);
            Some(GvaRange { base, additional_pages: GVA_PAGE_COUNT_MASK as u16 })
        } else if diff != 0 {
            self.cur = self.end;
            Some(GvaRange { base, additional_pages: ((diff - 1) >> HV_PAGE_SHIFT) as u16 })
        } else {
            Some(GvaRange { base, additional_pages: 0 })
        }
    }
}

/// How many entries [`gva_ranges`] yields for `[start, end)`.
pub const fn gva_count(start: u64, end: u64) -> u64 {
    let cur = start & !GVA_PAGE_COUNT_MASK;
    if end <= cur {
        return 1;
    }
    let diff = end - cur;
    diff / GVA_FLUSH_UNIT + if diff % GVA_FLUSH_UNIT != 0 { 1 } else { 0 }
}

/// GVA entries that fit in one input page after `header_bytes` of header.
pub const fn max_gvas(header_bytes: usize) -> usize {
    HV_PAGE_SIZE.saturating_sub(header_bytes) / 8
}

/// A GVA list in guest input (host side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GvaList<'a> {
    bytes: &'a [u8],
}

impl<'a> GvaList<'a> {
    /// Number of entries.
    pub const fn len(&self) -> usize {
        self.bytes.len() / 8
    }

    /// No entries?
    pub const fn is_empty(&self) -> bool {
        self.bytes.len() < 8
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<GvaRange> {
        bytes::u64_at(self.bytes, i.checked_mul(8)?).map(GvaRange::decode)
    }

    /// Entries from index `start` on (where a continued rep call resumes).
    pub fn from_index(&self, start: usize) -> GvaList<'a> {
        let off = start.saturating_mul(8).min(self.bytes.len());
        GvaList { bytes: self.bytes.get(off..).unwrap_or(&[]) }
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = GvaRange> + 'a {
        self.bytes.chunks_exact(8).map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            GvaRange::decode(u64::from_le_bytes(a))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Guest-side encoders. Each returns the input value to issue and the input bytes used.

fn page_limit(out: &[u8]) -> usize {
    out.len().min(HV_PAGE_SIZE)
}

fn check_connection_id(id: u32) -> Result<(), HcError> {
    if id & CONNECTION_ID_RESERVED != 0 {
        return Err(HcError::InvalidConnectionId(id));
    }
    Ok(())
}

fn check_message_type(t: u32) -> Result<(), HcError> {
    if t == 0 || t & 0x8000_0000 != 0 {
        return Err(HcError::InvalidMessageType(t));
    }
    Ok(())
}

fn check_vector(v: u32) -> Result<(), HcError> {
    if !(IPI_LOW_VECTOR..=IPI_HIGH_VECTOR).contains(&v) {
        return Err(HcError::InvalidVector(v));
    }
    Ok(())
}

fn check_flush_flags(flags: u64, list: bool) -> Result<(), HcError> {
    if flags & !flush_flags::SUPPORTED != 0 || (list && flags & flush_flags::NON_GLOBAL_MAPPINGS_ONLY != 0) {
        return Err(HcError::InvalidFlushFlags(flags));
    }
    Ok(())
}

/// `HvCallPostMessage`: fills the 256-byte input (payload beyond `payload.len()` zeroed, so
/// no stale bytes reach the host) as Linux's `hv_post_message()` does.
pub fn encode_post_message(out: &mut [u8], connection_id: u32, message_type: u32, payload: &[u8]) -> Result<(HypercallInput, usize), HcError> {
    check_connection_id(connection_id)?;
    check_message_type(message_type)?;
    if payload.len() > MESSAGE_PAYLOAD_BYTES {
        return Err(HcError::PayloadTooLarge(payload.len().min(u32::MAX as usize) as u32));
    }
    let mut msg = PostMessageInput {
        connection_id,
        reserved: 0,
        message_type,
        payload_size: payload.len() as u32,
        payload: [0; MESSAGE_PAYLOAD_BYTES],
    };
    msg.payload.get_mut(..payload.len()).ok_or(HcError::PayloadTooLarge(payload.len() as u32))?.copy_from_slice(payload);
    let need = core::mem::size_of::<PostMessageInput>();
    let have = page_limit(out);
    if have < need {
        return Err(too_short(need, have));
    }
    bytes::put(out, 0, msg.as_bytes()).ok_or(too_short(need, have))?;
    Ok((HypercallInput::new(code::POST_MESSAGE), need))
}

/// `HvCallSignalEvent` as a fast call: the input value and the RDX parameter
/// (connection id | flag number << 32), as Linux's `vmbus_set_event()` issues it.
pub fn signal_event_fast(connection_id: u32, flag_number: u16) -> Result<(HypercallInput, u64), HcError> {
    check_connection_id(connection_id)?;
    let p = SignalEventInput { connection_id, flag_number, rsvd_z: 0 };
    Ok((HypercallInput::new(code::SIGNAL_EVENT).with_fast(), u64::from_le_bytes(array8(p.as_bytes()))))
}

fn array8(b: &[u8]) -> [u8; 8] {
    bytes::array_at::<8>(b, 0).unwrap_or([0; 8])
}

/// `HvCallFlushVirtualAddressSpace` on a 64-bit processor mask.
pub fn encode_flush_space(out: &mut [u8], address_space: u64, flags: u64, processor_mask: u64) -> Result<(HypercallInput, usize), HcError> {
    check_flush_flags(flags, false)?;
    let hdr = TlbFlushInput { address_space, flags, processor_mask };
    let have = page_limit(out);
    bytes::put(out, 0, hdr.as_bytes()).ok_or(too_short(24, have))?;
    Ok((HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_SPACE), 24))
}

fn write_gvas(out: &mut [u8], off: usize, start: u64, end: u64) -> Result<u16, HcError> {
    let have = page_limit(out);
    let max = max_gvas(off).min(crate::tlfs::MAX_REP_COUNT as usize);
    let needed = gva_count(start, end);
    if needed > max as u64 {
        return Err(HcError::TooManyGvas { needed, max });
    }
    let mut n: u16 = 0;
    let mut pos = off;
    for r in gva_ranges(start, end) {
        let v = r.encode()?;
        if pos + 8 > have {
            return Err(too_short(pos + 8, have));
        }
        bytes::put_u64(out, pos, v).ok_or(too_short(pos + 8, have))?;
        pos += 8;
        n += 1;
    }
    Ok(n)
}

/// `HvCallFlushVirtualAddressList` for `[start, end)` on a 64-bit mask: a rep call with one
/// element per GVA entry. [`HcError::TooManyGvas`] tells the caller to flush the whole space
/// instead, as Linux does when the range exceeds `max_gvas`.
pub fn encode_flush_list(out: &mut [u8], address_space: u64, flags: u64, processor_mask: u64, start: u64, end: u64) -> Result<(HypercallInput, usize), HcError> {
    check_flush_flags(flags, true)?;
    let hdr = TlbFlushInput { address_space, flags, processor_mask };
    let have = page_limit(out);
    bytes::put(out, 0, hdr.as_bytes()).ok_or(too_short(24, have))?;
    let n = write_gvas(out, 24, start, end)?;
    Ok((HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST).with_reps(n), 24 + 8 * n as usize))
}

fn write_flush_ex_header(out: &mut [u8], address_space: u64, flags: u64, set: &VpSet) -> Result<usize, HcError> {
    let have = page_limit(out);
    let need = 16 + set.encoded_len();
    if have < need {
        return Err(too_short(need, have));
    }
    bytes::put_u64(out, 0, address_space).ok_or(too_short(need, have))?;
    bytes::put_u64(out, 8, flags).ok_or(too_short(need, have))?;
    let (_, rest) = out.split_at_mut(16);
    Ok(16 + set.write_to(rest)?)
}

/// `HvCallFlushVirtualAddressSpaceEx` on a VP set; the bank contents form the variable
/// header (rep count 0, as Linux issues it).
pub fn encode_flush_space_ex(out: &mut [u8], address_space: u64, flags: u64, set: &VpSet) -> Result<(HypercallInput, usize), HcError> {
    check_flush_flags(flags, false)?;
    let used = write_flush_ex_header(out, address_space, flags, set)?;
    Ok((HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_SPACE_EX).with_var_header(set.bank_count()), used))
}

/// `HvCallFlushVirtualAddressListEx` for `[start, end)` on a VP set.
pub fn encode_flush_list_ex(out: &mut [u8], address_space: u64, flags: u64, set: &VpSet, start: u64, end: u64) -> Result<(HypercallInput, usize), HcError> {
    check_flush_flags(flags, true)?;
    let used = write_flush_ex_header(out, address_space, flags, set)?;
    let n = write_gvas(out, used, start, end)?;
    let input = HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST_EX).with_var_header(set.bank_count()).with_reps(n);
    Ok((input, used + 8 * n as usize))
}

/// `HvCallSendSyntheticClusterIpi` as a fast call: input value, RDX (vector; target VTL and
/// padding zero) and R8 (mask), as Linux's `__send_ipi_mask()` issues it.
pub fn send_ipi_fast(vector: u32, cpu_mask: u64) -> Result<(HypercallInput, u64, u64), HcError> {
    check_vector(vector)?;
    Ok((HypercallInput::new(code::SEND_IPI).with_fast(), u64::from(vector), cpu_mask))
}

/// `HvCallSendSyntheticClusterIpi`, memory form.
pub fn encode_send_ipi(out: &mut [u8], vector: u32, cpu_mask: u64) -> Result<(HypercallInput, usize), HcError> {
    check_vector(vector)?;
    let ipi = SendIpiInput { vector, target_vtl: 0, reserved: [0; 3], cpu_mask };
    let have = page_limit(out);
    bytes::put(out, 0, ipi.as_bytes()).ok_or(too_short(16, have))?;
    Ok((HypercallInput::new(code::SEND_IPI), 16))
}

/// `HvCallSendSyntheticClusterIpiEx` on a VP set (variable header = bank count).
pub fn encode_send_ipi_ex(out: &mut [u8], vector: u32, set: &VpSet) -> Result<(HypercallInput, usize), HcError> {
    check_vector(vector)?;
    let have = page_limit(out);
    let need = 8 + set.encoded_len();
    if have < need {
        return Err(too_short(need, have));
    }
    bytes::put_u32(out, 0, vector).ok_or(too_short(need, have))?;
    bytes::put_u32(out, 4, 0).ok_or(too_short(need, have))?;
    let (_, rest) = out.split_at_mut(8);
    let used = 8 + set.write_to(rest)?;
    Ok((HypercallInput::new(code::SEND_IPI_EX).with_var_header(set.bank_count()), used))
}

/// `HvCallNotifyLongSpinWait` as a fast call: input value and RDX (spin count).
pub const fn notify_long_spin_wait_fast(spin_count: u32) -> (HypercallInput, u64) {
    (HypercallInput::new(code::NOTIFY_LONG_SPIN_WAIT).with_fast(), spin_count as u64)
}

// ---------------------------------------------------------------------------------------
// Host-side parsing.

/// Where a call's input is: the guest's input bytes (from the input GPA to the end of its
/// page) or the two fast-call registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputBlock<'a> {
    /// Memory-based input.
    Memory(&'a [u8]),
    /// Register-based input.
    Fast {
        /// RDX.
        rdx: u64,
        /// R8.
        r8: u64,
    },
}

/// A validated `HvCallPostMessage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostMessage<'a> {
    /// Connection id.
    pub connection_id: u32,
    /// Message type (non-zero, bit 31 clear).
    pub message_type: u32,
    /// Payload (`payload_size` bytes, at most 240).
    pub payload: &'a [u8],
}

/// A validated `HvCallSignalEvent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalEvent {
    /// Connection id.
    pub connection_id: u32,
    /// Flag number relative to the port's base flag.
    pub flag_number: u16,
}

/// A validated TLB flush (any of the four calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushRequest<'a> {
    /// Which call.
    pub code: u16,
    /// Address space, or `None` with `HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES`.
    pub address_space: Option<u64>,
    /// Flags as sent.
    pub flags: u64,
    /// Target VPs.
    pub processors: Processors<'a>,
    /// GVA entries (list calls; the whole list, index `rep_start` is where to resume), or
    /// `None` for whole-address-space flushes.
    pub gvas: Option<GvaList<'a>>,
}

/// A validated synthetic cluster IPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendIpi<'a> {
    /// Vector, 0x10..=0xff.
    pub vector: u8,
    /// Target VPs.
    pub processors: Processors<'a>,
}

/// A validated guest hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestCall<'a> {
    /// `HvCallPostMessage`.
    PostMessage(PostMessage<'a>),
    /// `HvCallSignalEvent`.
    SignalEvent(SignalEvent),
    /// One of the four TLB flush calls.
    Flush(FlushRequest<'a>),
    /// `HvCallSendSyntheticClusterIpi[Ex]`.
    SendIpi(SendIpi<'a>),
    /// `HvCallNotifyLongSpinWait`.
    NotifyLongSpinWait {
        /// Spin count.
        spin_count: u32,
    },
}

fn need(input: &[u8], n: usize) -> Result<(), HcError> {
    if input.len() < n {
        return Err(HcError::InputTooShort { needed: n, have: input.len() });
    }
    Ok(())
}

fn expect_simple(input: &HypercallInput, var_header: u16) -> Result<(), HcError> {
    if input.rep_count != 0 {
        return Err(HcError::RepMismatch);
    }
    if input.var_header_qwords != var_header {
        return Err(HcError::VarHeaderMismatch { expected: var_header, got: input.var_header_qwords });
    }
    Ok(())
}

fn memory<'a>(block: InputBlock<'a>) -> Result<&'a [u8], HcError> {
    match block {
        InputBlock::Memory(b) => Ok(b.get(..b.len().min(HV_PAGE_SIZE)).unwrap_or(b)),
        InputBlock::Fast { .. } => Err(HcError::CallingConvention),
    }
}

fn check_vtl(vtl: u8, pad: [u8; 3]) -> Result<(), HcError> {
    if vtl != 0 {
        return Err(HcError::UnsupportedVtl(vtl));
    }
    if pad != [0; 3] {
        return Err(HcError::ReservedNonZero);
    }
    Ok(())
}

/// Validates a guest hypercall (host side). `input` is the decoded input value; `block`
/// must match its fast bit. Supported: the nine suite calls; fast forms for signal event,
/// the non-Ex IPI and long-spin-wait (the XMM fast forms of the others are not offered).
pub fn parse_call<'a>(input: &HypercallInput, block: InputBlock<'a>) -> Result<GuestCall<'a>, HcError> {
    input.validate()?;
    let fast_block = matches!(block, InputBlock::Fast { .. });
    if input.fast != fast_block {
        return Err(HcError::CallingConvention);
    }
    match input.code {
        code::POST_MESSAGE => parse_post_message(input, memory(block)?).map(GuestCall::PostMessage),
        code::SIGNAL_EVENT => {
            expect_simple(input, 0)?;
            let raw = match block {
                InputBlock::Fast { rdx, .. } => rdx,
                InputBlock::Memory(b) => bytes::u64_at(b, 0).ok_or(HcError::InputTooShort { needed: 8, have: b.len() })?,
            };
            let p = SignalEventInput::read_from_bytes(&raw.to_le_bytes()).map_err(|_| HcError::ReservedNonZero)?;
            check_connection_id(p.connection_id)?;
            if p.rsvd_z != 0 {
                return Err(HcError::ReservedNonZero);
            }
            Ok(GuestCall::SignalEvent(SignalEvent { connection_id: p.connection_id, flag_number: p.flag_number }))
        }
        code::FLUSH_VIRTUAL_ADDRESS_SPACE
        | code::FLUSH_VIRTUAL_ADDRESS_LIST
        | code::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
        | code::FLUSH_VIRTUAL_ADDRESS_LIST_EX => parse_flush(input, memory(block)?).map(GuestCall::Flush),
        code::SEND_IPI => {
            expect_simple(input, 0)?;
            let ipi = match block {
                InputBlock::Fast { rdx, r8 } => {
                    let mut b = [0u8; 16];
                    b[..8].copy_from_slice(&rdx.to_le_bytes());
                    b[8..].copy_from_slice(&r8.to_le_bytes());
                    SendIpiInput::read_from_bytes(&b).map_err(|_| HcError::ReservedNonZero)?
                }
                InputBlock::Memory(b) => SendIpiInput::read_from_prefix(b).map_err(|_| HcError::InputTooShort { needed: 16, have: b.len() })?.0,
            };
            check_vector(ipi.vector)?;
            check_vtl(ipi.target_vtl, ipi.reserved)?;
            Ok(GuestCall::SendIpi(SendIpi { vector: ipi.vector as u8, processors: Processors::Mask(ipi.cpu_mask) }))
        }
        code::SEND_IPI_EX => {
            let b = memory(block)?;
            need(b, 8)?;
            let vector = bytes::u32_at(b, 0).ok_or(HcError::InputTooShort { needed: 8, have: b.len() })?;
            let vtl = bytes::array_at::<4>(b, 4).ok_or(HcError::InputTooShort { needed: 8, have: b.len() })?;
            check_vector(vector)?;
            check_vtl(vtl[0], [vtl[1], vtl[2], vtl[3]])?;
            let rest = b.get(8..).unwrap_or(&[]);
            let (set, _) = VpSetView::parse(rest)?;
            if input.rep_count != 0 {
                return Err(HcError::RepMismatch);
            }
            check_var_header(input, &set)?;
            Ok(GuestCall::SendIpi(SendIpi { vector: vector as u8, processors: Processors::Set(set) }))
        }
        code::NOTIFY_LONG_SPIN_WAIT => {
            expect_simple(input, 0)?;
            let raw = match block {
                InputBlock::Fast { rdx, .. } => rdx,
                InputBlock::Memory(b) => bytes::u64_at(b, 0).ok_or(HcError::InputTooShort { needed: 8, have: b.len() })?,
            };
            if raw >> 32 != 0 {
                return Err(HcError::ReservedNonZero);
            }
            Ok(GuestCall::NotifyLongSpinWait { spin_count: raw as u32 })
        }
        other => Err(HcError::UnknownCall(other)),
    }
}

fn check_var_header(input: &HypercallInput, set: &VpSetView<'_>) -> Result<(), HcError> {
    // Sparse: the bank contents are exactly the variable header. "All": no banks; a
    // variable header, if any, is skipped as part of the header.
    if set.format() == VpSetFormat::Sparse && input.var_header_qwords != set.bank_count() {
        return Err(HcError::VarHeaderMismatch { expected: set.bank_count(), got: input.var_header_qwords });
    }
    Ok(())
}

/// Validates `HvCallPostMessage` input bytes.
pub fn parse_post_message<'a>(input: &HypercallInput, b: &'a [u8]) -> Result<PostMessage<'a>, HcError> {
    expect_simple(input, 0)?;
    need(b, 16)?;
    let connection_id = bytes::u32_at(b, 0).ok_or(HcError::InputTooShort { needed: 16, have: b.len() })?;
    let reserved = bytes::u32_at(b, 4).ok_or(HcError::InputTooShort { needed: 16, have: b.len() })?;
    let message_type = bytes::u32_at(b, 8).ok_or(HcError::InputTooShort { needed: 16, have: b.len() })?;
    let size = bytes::u32_at(b, 12).ok_or(HcError::InputTooShort { needed: 16, have: b.len() })?;
    check_connection_id(connection_id)?;
    if reserved != 0 {
        return Err(HcError::ReservedNonZero);
    }
    check_message_type(message_type)?;
    if size as usize > MESSAGE_PAYLOAD_BYTES {
        return Err(HcError::PayloadTooLarge(size));
    }
    let end = 16 + size as usize;
    let payload = b.get(16..end).ok_or(HcError::InputTooShort { needed: end, have: b.len() })?;
    Ok(PostMessage { connection_id, message_type, payload })
}

/// Validates one of the four flush calls' input bytes.
pub fn parse_flush<'a>(input: &HypercallInput, b: &'a [u8]) -> Result<FlushRequest<'a>, HcError> {
    let list = matches!(input.code, code::FLUSH_VIRTUAL_ADDRESS_LIST | code::FLUSH_VIRTUAL_ADDRESS_LIST_EX);
    let ex = matches!(input.code, code::FLUSH_VIRTUAL_ADDRESS_SPACE_EX | code::FLUSH_VIRTUAL_ADDRESS_LIST_EX);
    if !list && !ex && input.code != code::FLUSH_VIRTUAL_ADDRESS_SPACE {
        return Err(HcError::UnknownCall(input.code));
    }
    if list != input.is_rep() {
        return Err(HcError::RepMismatch);
    }
    need(b, 16)?;
    let address_space = bytes::u64_at(b, 0).ok_or(HcError::InputTooShort { needed: 16, have: b.len() })?;
    let flags = bytes::u64_at(b, 8).ok_or(HcError::InputTooShort { needed: 16, have: b.len() })?;
    check_flush_flags(flags, list)?;
    let (mut processors, header) = if ex {
        let (set, _) = VpSetView::parse(b.get(16..).unwrap_or(&[]))?;
        check_var_header(input, &set)?;
        (Processors::Set(set), 32 + 8 * input.var_header_qwords as usize)
    } else {
        if input.var_header_qwords != 0 {
            return Err(HcError::VarHeaderMismatch { expected: 0, got: input.var_header_qwords });
        }
        let mask = bytes::u64_at(b, 16).ok_or(HcError::InputTooShort { needed: 24, have: b.len() })?;
        (Processors::Mask(mask), 24)
    };
    need(b, header)?;
    if flags & flush_flags::ALL_PROCESSORS != 0 {
        processors = Processors::All;
    }
    let gvas = if list {
        let end = header + 8 * input.rep_count as usize;
        let list_bytes = b.get(header..end).ok_or(HcError::InputTooShort { needed: end, have: b.len() })?;
        Some(GvaList { bytes: list_bytes })
    } else {
        None
    };
    let address_space = if flags & flush_flags::ALL_VIRTUAL_ADDRESS_SPACES != 0 { None } else { Some(address_space) };
    Ok(FlushRequest { code: input.code, address_space, flags, processors, gvas })
}
