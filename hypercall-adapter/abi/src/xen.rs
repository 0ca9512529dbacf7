// SPDX-License-Identifier: GPL-2.0-only
//! The Xen guest ABI as seen by an HVM guest: hypercall numbers and register convention,
//! event channel, scheduler, version, VCPU, HVM and memory operations, Xen error numbers,
//! and the pvclock time structures.
//!
//! Sources: Xen public headers as carried by Linux (`include/xen/interface/xen.h`,
//! `event_channel.h`, `sched.h`, `version.h`, `vcpu.h`, `memory.h`, `features.h`,
//! `grant_table.h`, `hvm/hvm_op.h`, `hvm/params.h`; `arch/x86/include/asm/xen/hypercall.h`,
//! `interface.h`, `cpuid.h`), Xen's `xen/include/public/errno.h`, and
//! `arch/x86/include/asm/pvclock-abi.h`, `pvclock.h`, `arch/x86/kernel/pvclock.c`.
//!
//! Register convention on x86-64 (`hypercall.h`): the hypercall number goes in RAX when the
//! guest executes `vmcall` (Intel VMX) / `vmmcall` (AMD SVM) itself, or selects the 32-byte
//! entry `number * 32` of the hypercall page; arguments 1..5 go in RDI, RSI, RDX, R10, R8;
//! the result comes back in RAX, a negative Xen errno on failure.

use crate::bytes;
use crate::cpuid::CpuVendor;
use crate::errno;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

macro_rules! numbered {
    ($(#[$mdoc:meta])* $module:ident, $namefn:ident, $ty:ty, { $($(#[$doc:meta])* $name:ident = $v:literal, $cname:literal;)* }) => {
        $(#[$mdoc])*
        pub mod $module {
            $($(#[$doc])* pub const $name: $ty = $v;)*

            /// The C name of a value.
            pub const fn $namefn(v: $ty) -> Option<&'static str> {
                match v {
                    $($v => Some($cname),)*
                    _ => None,
                }
            }
        }
    };
}

numbered!(
    /// Hypercall numbers (`__HYPERVISOR_*`, `include/xen/interface/xen.h`).
    hc, name, u32, {
    /// PV trap table.
    SET_TRAP_TABLE = 0, "__HYPERVISOR_set_trap_table";
    /// PV page-table updates.
    MMU_UPDATE = 1, "__HYPERVISOR_mmu_update";
    /// PV GDT.
    SET_GDT = 2, "__HYPERVISOR_set_gdt";
    /// PV kernel stack switch.
    STACK_SWITCH = 3, "__HYPERVISOR_stack_switch";
    /// PV event/failsafe callbacks.
    SET_CALLBACKS = 4, "__HYPERVISOR_set_callbacks";
    /// PV lazy FPU.
    FPU_TASKSWITCH = 5, "__HYPERVISOR_fpu_taskswitch";
    /// Old scheduler operation.
    SCHED_OP_COMPAT = 6, "__HYPERVISOR_sched_op_compat";
    /// Platform operations (dom0).
    PLATFORM_OP = 7, "__HYPERVISOR_platform_op";
    /// Set a debug register.
    SET_DEBUGREG = 8, "__HYPERVISOR_set_debugreg";
    /// Read a debug register.
    GET_DEBUGREG = 9, "__HYPERVISOR_get_debugreg";
    /// PV descriptor update.
    UPDATE_DESCRIPTOR = 10, "__HYPERVISOR_update_descriptor";
    /// Memory reservation and physmap operations (`XENMEM_*`).
    MEMORY_OP = 12, "__HYPERVISOR_memory_op";
    /// Batch of hypercalls.
    MULTICALL = 13, "__HYPERVISOR_multicall";
    /// PV single PTE update.
    UPDATE_VA_MAPPING = 14, "__HYPERVISOR_update_va_mapping";
    /// One-shot timer (absolute system time).
    SET_TIMER_OP = 15, "__HYPERVISOR_set_timer_op";
    /// Old event channel operation.
    EVENT_CHANNEL_OP_COMPAT = 16, "__HYPERVISOR_event_channel_op_compat";
    /// Version queries (`XENVER_*`).
    XEN_VERSION = 17, "__HYPERVISOR_xen_version";
    /// Emergency console.
    CONSOLE_IO = 18, "__HYPERVISOR_console_io";
    /// Old physical device operation.
    PHYSDEV_OP_COMPAT = 19, "__HYPERVISOR_physdev_op_compat";
    /// Grant tables (`GNTTABOP_*`).
    GRANT_TABLE_OP = 20, "__HYPERVISOR_grant_table_op";
    /// VM assists.
    VM_ASSIST = 21, "__HYPERVISOR_vm_assist";
    /// PV PTE update in another domain.
    UPDATE_VA_MAPPING_OTHERDOMAIN = 22, "__HYPERVISOR_update_va_mapping_otherdomain";
    /// PV iret (x86).
    IRET = 23, "__HYPERVISOR_iret";
    /// VCPU operations (`VCPUOP_*`).
    VCPU_OP = 24, "__HYPERVISOR_vcpu_op";
    /// PV segment base (x86-64).
    SET_SEGMENT_BASE = 25, "__HYPERVISOR_set_segment_base";
    /// PV MMU extended operations.
    MMUEXT_OP = 26, "__HYPERVISOR_mmuext_op";
    /// XSM (security module) operations.
    XSM_OP = 27, "__HYPERVISOR_xsm_op";
    /// NMI callback registration.
    NMI_OP = 28, "__HYPERVISOR_nmi_op";
    /// Scheduler operations (`SCHEDOP_*`).
    SCHED_OP = 29, "__HYPERVISOR_sched_op";
    /// Callback registration.
    CALLBACK_OP = 30, "__HYPERVISOR_callback_op";
    /// Xenoprof.
    XENOPROF_OP = 31, "__HYPERVISOR_xenoprof_op";
    /// Event channel operations (`EVTCHNOP_*`).
    EVENT_CHANNEL_OP = 32, "__HYPERVISOR_event_channel_op";
    /// Physical device operations.
    PHYSDEV_OP = 33, "__HYPERVISOR_physdev_op";
    /// HVM operations (`HVMOP_*`).
    HVM_OP = 34, "__HYPERVISOR_hvm_op";
    /// System control (toolstack).
    SYSCTL = 35, "__HYPERVISOR_sysctl";
    /// Domain control (toolstack).
    DOMCTL = 36, "__HYPERVISOR_domctl";
    /// Kexec.
    KEXEC_OP = 37, "__HYPERVISOR_kexec_op";
    /// Transcendent memory (removed).
    TMEM_OP = 38, "__HYPERVISOR_tmem_op";
    /// Reserved for XenClient.
    XC_RESERVED_OP = 39, "__HYPERVISOR_xc_reserved_op";
    /// PMU.
    XENPMU_OP = 40, "__HYPERVISOR_xenpmu_op";
    /// Device model operations.
    DM_OP = 41, "__HYPERVISOR_dm_op";
    /// Architecture-specific 0 (x86: machine check).
    ARCH_0 = 48, "__HYPERVISOR_arch_0";
    /// Architecture-specific 1.
    ARCH_1 = 49, "__HYPERVISOR_arch_1";
    /// Architecture-specific 2.
    ARCH_2 = 50, "__HYPERVISOR_arch_2";
    /// Architecture-specific 3.
    ARCH_3 = 51, "__HYPERVISOR_arch_3";
    /// Architecture-specific 4.
    ARCH_4 = 52, "__HYPERVISOR_arch_4";
    /// Architecture-specific 5.
    ARCH_5 = 53, "__HYPERVISOR_arch_5";
    /// Architecture-specific 6.
    ARCH_6 = 54, "__HYPERVISOR_arch_6";
    /// Architecture-specific 7.
    ARCH_7 = 55, "__HYPERVISOR_arch_7";
});

/// Bytes per hypercall page entry (each hypercall number has a 32-byte stub).
pub const HYPERCALL_PAGE_ENTRY_SIZE: usize = 32;
/// Hypercall page size.
pub const HYPERCALL_PAGE_SIZE: usize = 4096;

/// Errors of the register-level helpers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XenError {
    /// A hypercall number outside the hypercall page (>= 128).
    NumberOutOfRange(u32),
    /// RAX held a negative value outside the errno range: not a valid Xen return.
    BadReturn(u64),
    /// The call failed with this error.
    Errno(XenErrno),
    /// A buffer too short for the structure.
    BufferTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// A string from the hypervisor with no terminating NUL or non-printable bytes.
    BadString,
    /// A field holds a value the ABI does not define.
    InvalidValue(u64),
    /// A pvclock `tsc_shift` outside -63..=63.
    BadShift(i8),
    /// The record kept changing for the allowed number of attempts.
    TooManyRetries(u32),
    /// Time arithmetic overflowed 64 bits.
    Overflow,
}

impl XenError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            XenError::NumberOutOfRange(_) => "hypercall number outside the hypercall page",
            XenError::BadReturn(_) => "hypercall returned an invalid negative value",
            XenError::Errno(e) => e.name(),
            XenError::BufferTooShort { .. } => "buffer too short",
            XenError::BadString => "malformed string from the hypervisor",
            XenError::InvalidValue(_) => "value not defined by the ABI",
            XenError::BadShift(_) => "pvclock tsc_shift out of range",
            XenError::TooManyRetries(_) => "record kept changing",
            XenError::Overflow => "time overflow",
        }
    }

    /// A negative Linux errno: the Xen errno's mapping, `-EIO` for the rest.
    pub const fn to_errno(&self) -> i32 {
        match self {
            XenError::Errno(e) => e.to_linux_errno(),
            XenError::NumberOutOfRange(_) | XenError::InvalidValue(_) => -errno::EINVAL,
            _ => -errno::EIO,
        }
    }
}

impl core::fmt::Display for XenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The instruction that enters Xen, chosen by CPU vendor as Linux's `xen_hypercall_setup()`
/// does (AMD/Hygon: `vmmcall`; Intel and everything else: `vmcall`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XenInsn {
    /// Intel VMX `vmcall` (0F 01 C1).
    Vmcall,
    /// AMD SVM `vmmcall` (0F 01 D9).
    Vmmcall,
}

impl XenInsn {
    /// The instruction for a CPU vendor.
    pub const fn for_cpu(cpu: CpuVendor) -> Self {
        match cpu {
            CpuVendor::Amd => XenInsn::Vmmcall,
            CpuVendor::Intel | CpuVendor::Other => XenInsn::Vmcall,
        }
    }

    /// Machine code bytes.
    pub const fn bytes(self) -> [u8; 3] {
        match self {
            XenInsn::Vmcall => [0x0f, 0x01, 0xc1],
            XenInsn::Vmmcall => [0x0f, 0x01, 0xd9],
        }
    }

    /// Mnemonic.
    pub const fn name(self) -> &'static str {
        match self {
            XenInsn::Vmcall => "vmcall",
            XenInsn::Vmmcall => "vmmcall",
        }
    }
}

/// Offset of hypercall `nr`'s stub in the hypercall page (`nr * 32`).
pub const fn hypercall_page_offset(nr: u32) -> Result<usize, XenError> {
    let off = nr as usize * HYPERCALL_PAGE_ENTRY_SIZE;
    if nr as usize >= HYPERCALL_PAGE_SIZE / HYPERCALL_PAGE_ENTRY_SIZE {
        return Err(XenError::NumberOutOfRange(nr));
    }
    Ok(off)
}

/// The registers of a Xen hypercall on x86-64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenRegs {
    /// Hypercall number in, result out.
    pub rax: u64,
    /// Argument 1.
    pub rdi: u64,
    /// Argument 2.
    pub rsi: u64,
    /// Argument 3.
    pub rdx: u64,
    /// Argument 4.
    pub r10: u64,
    /// Argument 5.
    pub r8: u64,
}

/// A hypercall: number and up to five arguments (unused ones zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenCall {
    /// Hypercall number ([`hc`]).
    pub nr: u32,
    /// Arguments 1..5.
    pub args: [u64; 5],
}

impl XenCall {
    /// A call with arguments.
    pub const fn new(nr: u32, args: [u64; 5]) -> Self {
        XenCall { nr, args }
    }

    /// Places the call in registers.
    pub const fn to_regs(&self) -> XenRegs {
        XenRegs { rax: self.nr as u64, rdi: self.args[0], rsi: self.args[1], rdx: self.args[2], r10: self.args[3], r8: self.args[4] }
    }

    /// Host side: the call in registers; RAX must be a hypercall number below 2^32.
    pub const fn from_regs(r: &XenRegs) -> Result<Self, XenError> {
        if r.rax > u32::MAX as u64 {
            return Err(XenError::InvalidValue(r.rax));
        }
        Ok(XenCall { nr: r.rax as u32, args: [r.rdi, r.rsi, r.rdx, r.r10, r.r8] })
    }
}

/// Largest errno a hypercall returns negated (Linux `MAX_ERRNO`).
pub const MAX_ERRNO: u64 = 4095;

/// Decodes RAX after a hypercall: non-negative values are results; -1..=-4095 are Xen
/// errors; other negative values are not valid returns.
pub const fn decode_return(rax: u64) -> Result<u64, XenError> {
    let v = rax as i64;
    if v >= 0 {
        Ok(rax)
    } else if rax >= 0u64.wrapping_sub(MAX_ERRNO) {
        Err(XenError::Errno(XenErrno::from_code(rax.wrapping_neg() as u16)))
    } else {
        Err(XenError::BadReturn(rax))
    }
}

/// Host side: RAX for a failed call.
pub const fn encode_error(e: XenErrno) -> u64 {
    (e.code() as u64).wrapping_neg()
}

macro_rules! xen_errnos {
    ($($(#[$doc:meta])* $var:ident = $v:literal, $name:literal, $linux:ident;)*) => {
        /// Xen error numbers (`xen/include/public/errno.h`). They take their values from x86
        /// Linux, so each maps to the Linux errno of the same name and number.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum XenErrno {
            $($(#[$doc])* $var,)*
            /// A number `errno.h` does not define.
            Unknown(u16),
        }

        impl XenErrno {
            /// Every defined error.
            pub const ALL: &'static [XenErrno] = &[$(XenErrno::$var),*];

            /// The error for a positive number.
            pub const fn from_code(code: u16) -> Self {
                match code {
                    $($v => XenErrno::$var,)*
                    other => XenErrno::Unknown(other),
                }
            }

            /// The positive number.
            pub const fn code(self) -> u16 {
                match self {
                    $(XenErrno::$var => $v,)*
                    XenErrno::Unknown(c) => c,
                }
            }

            /// The C name (`"XEN_EINVAL"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(XenErrno::$var => $name,)*
                    XenErrno::Unknown(_) => "XEN_E?",
                }
            }

            /// The negative Linux errno. Unknown numbers become `-EIO` rather than passing an
            /// arbitrary host-chosen number into the kernel.
            pub const fn to_linux_errno(self) -> i32 {
                match self {
                    $(XenErrno::$var => -errno::$linux,)*
                    XenErrno::Unknown(_) => -errno::EIO,
                }
            }
        }
    };
}

xen_errnos! {
    /// Operation not permitted.
    Eperm = 1, "XEN_EPERM", EPERM;
    /// No such file or directory.
    Enoent = 2, "XEN_ENOENT", ENOENT;
    /// No such process.
    Esrch = 3, "XEN_ESRCH", ESRCH;
    /// Interrupted (Xen-internal, never returned to guests).
    Eintr = 4, "XEN_EINTR", EINTR;
    /// I/O error.
    Eio = 5, "XEN_EIO", EIO;
    /// No such device or address.
    Enxio = 6, "XEN_ENXIO", ENXIO;
    /// Argument list too long.
    E2big = 7, "XEN_E2BIG", E2BIG;
    /// Exec format error.
    Enoexec = 8, "XEN_ENOEXEC", ENOEXEC;
    /// Bad file number.
    Ebadf = 9, "XEN_EBADF", EBADF;
    /// No child processes.
    Echild = 10, "XEN_ECHILD", ECHILD;
    /// Try again (also `XEN_EWOULDBLOCK`).
    Eagain = 11, "XEN_EAGAIN", EAGAIN;
    /// Out of memory.
    Enomem = 12, "XEN_ENOMEM", ENOMEM;
    /// Permission denied.
    Eacces = 13, "XEN_EACCES", EACCES;
    /// Bad address.
    Efault = 14, "XEN_EFAULT", EFAULT;
    /// Device or resource busy.
    Ebusy = 16, "XEN_EBUSY", EBUSY;
    /// Exists.
    Eexist = 17, "XEN_EEXIST", EEXIST;
    /// Cross-device link.
    Exdev = 18, "XEN_EXDEV", EXDEV;
    /// No such device.
    Enodev = 19, "XEN_ENODEV", ENODEV;
    /// Invalid argument.
    Einval = 22, "XEN_EINVAL", EINVAL;
    /// File table overflow.
    Enfile = 23, "XEN_ENFILE", ENFILE;
    /// Too many open files.
    Emfile = 24, "XEN_EMFILE", EMFILE;
    /// No space left.
    Enospc = 28, "XEN_ENOSPC", ENOSPC;
    /// Too many links.
    Emlink = 31, "XEN_EMLINK", EMLINK;
    /// Argument out of domain.
    Edom = 33, "XEN_EDOM", EDOM;
    /// Result out of range.
    Erange = 34, "XEN_ERANGE", ERANGE;
    /// Deadlock (also `XEN_EDEADLOCK`).
    Edeadlk = 35, "XEN_EDEADLK", EDEADLK;
    /// Name too long.
    Enametoolong = 36, "XEN_ENAMETOOLONG", ENAMETOOLONG;
    /// No locks available.
    Enolck = 37, "XEN_ENOLCK", ENOLCK;
    /// Function not implemented.
    Enosys = 38, "XEN_ENOSYS", ENOSYS;
    /// Invalid request code.
    Ebadrqc = 56, "XEN_EBADRQC", EBADRQC;
    /// Invalid slot.
    Ebadslt = 57, "XEN_EBADSLT", EBADSLT;
    /// No data.
    Enodata = 61, "XEN_ENODATA", ENODATA;
    /// Timer expired.
    Etime = 62, "XEN_ETIME", ETIME;
    /// Not a data message.
    Ebadmsg = 74, "XEN_EBADMSG", EBADMSG;
    /// Value too large.
    Eoverflow = 75, "XEN_EOVERFLOW", EOVERFLOW;
    /// Illegal byte sequence.
    Eilseq = 84, "XEN_EILSEQ", EILSEQ;
    /// Restart (Xen-internal, never returned to guests).
    Erestart = 85, "XEN_ERESTART", ERESTART;
    /// Too many users.
    Eusers = 87, "XEN_EUSERS", EUSERS;
    /// Not a socket.
    Enotsock = 88, "XEN_ENOTSOCK", ENOTSOCK;
    /// Operation not supported.
    Eopnotsupp = 95, "XEN_EOPNOTSUPP", EOPNOTSUPP;
    /// Address in use.
    Eaddrinuse = 98, "XEN_EADDRINUSE", EADDRINUSE;
    /// Address not available.
    Eaddrnotavail = 99, "XEN_EADDRNOTAVAIL", EADDRNOTAVAIL;
    /// No buffer space.
    Enobufs = 105, "XEN_ENOBUFS", ENOBUFS;
    /// Already connected.
    Eisconn = 106, "XEN_EISCONN", EISCONN;
    /// Not connected.
    Enotconn = 107, "XEN_ENOTCONN", ENOTCONN;
    /// Endpoint shut down.
    Eshutdown = 108, "XEN_ESHUTDOWN", ESHUTDOWN;
    /// Too many references.
    Etoomanyrefs = 109, "XEN_ETOOMANYREFS", ETOOMANYREFS;
    /// Timed out.
    Etimedout = 110, "XEN_ETIMEDOUT", ETIMEDOUT;
}

/// Domain ids (`xen.h`).
pub mod domid {
    /// The calling domain (`DOMID_SELF`).
    pub const SELF: u16 = 0x7FF0;
    /// First reserved id (`DOMID_FIRST_RESERVED`).
    pub const FIRST_RESERVED: u16 = 0x7FF0;
    /// I/O domain (`DOMID_IO`).
    pub const IO: u16 = 0x7FF1;
    /// Xen itself (`DOMID_XEN`).
    pub const XEN: u16 = 0x7FF2;
    /// Invalid (`DOMID_INVALID`).
    pub const INVALID: u16 = 0x7FF4;
}

fn read<T: zerocopy::FromBytes>(b: &[u8]) -> Result<T, XenError> {
    let need = core::mem::size_of::<T>();
    T::read_from_prefix(b).map(|(v, _)| v).map_err(|_| XenError::BufferTooShort { needed: need, have: b.len() })
}

/// Event channels (`include/xen/interface/event_channel.h`), `__HYPERVISOR_event_channel_op`
/// with a command and a pointer to the command's structure.
pub mod evtchn {
    use super::{read, XenError};
    use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Connect to a remote domain's unbound port.
    pub const EVTCHNOP_BIND_INTERDOMAIN: u32 = 0;
    /// Bind a virtual IRQ (`VIRQ_*`) to a port.
    pub const EVTCHNOP_BIND_VIRQ: u32 = 1;
    /// Bind a physical IRQ.
    pub const EVTCHNOP_BIND_PIRQ: u32 = 2;
    /// Close a port.
    pub const EVTCHNOP_CLOSE: u32 = 3;
    /// Notify the remote end of a port.
    pub const EVTCHNOP_SEND: u32 = 4;
    /// Query a port's status.
    pub const EVTCHNOP_STATUS: u32 = 5;
    /// Allocate a port for a remote domain to bind.
    pub const EVTCHNOP_ALLOC_UNBOUND: u32 = 6;
    /// Bind an inter-VCPU IPI.
    pub const EVTCHNOP_BIND_IPI: u32 = 7;
    /// Deliver a port to another VCPU.
    pub const EVTCHNOP_BIND_VCPU: u32 = 8;
    /// Unmask a port (and redeliver if pending).
    pub const EVTCHNOP_UNMASK: u32 = 9;
    /// Close all ports of a domain.
    pub const EVTCHNOP_RESET: u32 = 10;
    /// FIFO ABI: register a control block.
    pub const EVTCHNOP_INIT_CONTROL: u32 = 11;
    /// FIFO ABI: add an event array page.
    pub const EVTCHNOP_EXPAND_ARRAY: u32 = 12;
    /// FIFO ABI: set a port's priority.
    pub const EVTCHNOP_SET_PRIORITY: u32 = 13;

    /// Timer VIRQ (`VIRQ_TIMER`).
    pub const VIRQ_TIMER: u32 = 0;
    /// Debug VIRQ (`VIRQ_DEBUG`).
    pub const VIRQ_DEBUG: u32 = 1;
    /// Console VIRQ (`VIRQ_CONSOLE`).
    pub const VIRQ_CONSOLE: u32 = 2;

    /// Ports of the 2-level ABI on 64-bit guests (64 words of 64 bits).
    pub const NR_CHANNELS_2L: u32 = 64 * 64;

    /// `struct evtchn_send`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnSend {
        /// Local port.
        pub port: u32,
    }

    /// `struct evtchn_close`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnClose {
        /// Port.
        pub port: u32,
    }

    /// `struct evtchn_unmask`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnUnmask {
        /// Port.
        pub port: u32,
    }

    /// `struct evtchn_alloc_unbound`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnAllocUnbound {
        /// Domain (`DOMID_SELF`).
        pub dom: u16,
        /// Remote domain allowed to bind.
        pub remote_dom: u16,
        /// Out: allocated port.
        pub port: u32,
    }

    /// `struct evtchn_bind_interdomain`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnBindInterdomain {
        /// Remote domain.
        pub remote_dom: u16,
        /// Padding (implicit in C).
        pub _pad: u16,
        /// Remote port.
        pub remote_port: u32,
        /// Out: local port.
        pub local_port: u32,
    }

    /// `struct evtchn_bind_virq`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnBindVirq {
        /// `VIRQ_*`.
        pub virq: u32,
        /// VCPU.
        pub vcpu: u32,
        /// Out: port.
        pub port: u32,
    }

    /// `struct evtchn_bind_ipi`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnBindIpi {
        /// VCPU.
        pub vcpu: u32,
        /// Out: port.
        pub port: u32,
    }

    /// `struct evtchn_bind_vcpu`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnBindVcpu {
        /// Port.
        pub port: u32,
        /// VCPU to notify.
        pub vcpu: u32,
    }

    /// `struct evtchn_set_priority`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnSetPriority {
        /// Port.
        pub port: u32,
        /// Priority.
        pub priority: u32,
    }

    /// `struct evtchn_expand_array`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnExpandArray {
        /// Frame of the new event array page.
        pub array_gfn: u64,
    }

    /// `struct evtchn_init_control`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnInitControl {
        /// Frame of the control block.
        pub control_gfn: u64,
        /// Offset of the control block in the frame.
        pub offset: u32,
        /// VCPU.
        pub vcpu: u32,
        /// Out: link bits.
        pub link_bits: u8,
        /// Padding.
        pub _pad: [u8; 7],
    }

    /// `struct evtchn_reset`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct EvtchnReset {
        /// Domain.
        pub dom: u16,
    }

    /// A decoded event channel operation (host side).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum EvtchnOp {
        /// `EVTCHNOP_send`.
        Send(EvtchnSend),
        /// `EVTCHNOP_close`.
        Close(EvtchnClose),
        /// `EVTCHNOP_unmask`.
        Unmask(EvtchnUnmask),
        /// `EVTCHNOP_alloc_unbound`.
        AllocUnbound(EvtchnAllocUnbound),
        /// `EVTCHNOP_bind_interdomain`.
        BindInterdomain(EvtchnBindInterdomain),
        /// `EVTCHNOP_bind_virq`.
        BindVirq(EvtchnBindVirq),
        /// `EVTCHNOP_bind_ipi`.
        BindIpi(EvtchnBindIpi),
        /// `EVTCHNOP_bind_vcpu`.
        BindVcpu(EvtchnBindVcpu),
        /// `EVTCHNOP_set_priority`.
        SetPriority(EvtchnSetPriority),
        /// `EVTCHNOP_expand_array`.
        ExpandArray(EvtchnExpandArray),
        /// `EVTCHNOP_init_control`.
        InitControl(EvtchnInitControl),
        /// `EVTCHNOP_reset`.
        Reset(EvtchnReset),
    }

    /// Decodes `cmd` and the bytes its argument pointer names. Unknown commands are
    /// [`XenError::InvalidValue`] (a host answers `-ENOSYS`).
    pub fn parse(cmd: u32, arg: &[u8]) -> Result<EvtchnOp, XenError> {
        Ok(match cmd {
            EVTCHNOP_SEND => EvtchnOp::Send(read(arg)?),
            EVTCHNOP_CLOSE => EvtchnOp::Close(read(arg)?),
            EVTCHNOP_UNMASK => EvtchnOp::Unmask(read(arg)?),
            EVTCHNOP_ALLOC_UNBOUND => EvtchnOp::AllocUnbound(read(arg)?),
            EVTCHNOP_BIND_INTERDOMAIN => EvtchnOp::BindInterdomain(read(arg)?),
            EVTCHNOP_BIND_VIRQ => EvtchnOp::BindVirq(read(arg)?),
            EVTCHNOP_BIND_IPI => EvtchnOp::BindIpi(read(arg)?),
            EVTCHNOP_BIND_VCPU => EvtchnOp::BindVcpu(read(arg)?),
            EVTCHNOP_SET_PRIORITY => EvtchnOp::SetPriority(read(arg)?),
            EVTCHNOP_EXPAND_ARRAY => EvtchnOp::ExpandArray(read(arg)?),
            EVTCHNOP_INIT_CONTROL => EvtchnOp::InitControl(read(arg)?),
            EVTCHNOP_RESET => EvtchnOp::Reset(read(arg)?),
            other => return Err(XenError::InvalidValue(u64::from(other))),
        })
    }

    /// Word index and bit of `port` in the 2-level `evtchn_pending`/`evtchn_mask` arrays of
    /// `shared_info` (64-bit words).
    pub const fn port_word_bit(port: u32) -> Result<(usize, u32), XenError> {
        if port >= NR_CHANNELS_2L {
            return Err(XenError::InvalidValue(port as u64));
        }
        Ok(((port / 64) as usize, port % 64))
    }
}

/// Scheduler operations (`include/xen/interface/sched.h`), `__HYPERVISOR_sched_op`.
pub mod sched {
    use super::{read, XenError};
    use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Give up the CPU (no argument).
    pub const SCHEDOP_YIELD: u32 = 0;
    /// Block until an event is pending (no argument).
    pub const SCHEDOP_BLOCK: u32 = 1;
    /// Shut the domain down ([`SchedShutdown`]).
    pub const SCHEDOP_SHUTDOWN: u32 = 2;
    /// Block until one of some ports is pending or a timeout ([`SchedPoll`]).
    pub const SCHEDOP_POLL: u32 = 3;
    /// Shut down another domain.
    pub const SCHEDOP_REMOTE_SHUTDOWN: u32 = 4;
    /// Record a shutdown code for a later shutdown.
    pub const SCHEDOP_SHUTDOWN_CODE: u32 = 5;
    /// Watchdog.
    pub const SCHEDOP_WATCHDOG: u32 = 6;
    /// Pin override (dom0).
    pub const SCHEDOP_PIN_OVERRIDE: u32 = 7;

    /// `struct sched_shutdown`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct SchedShutdown {
        /// `SHUTDOWN_*`.
        pub reason: u32,
    }

    /// `struct sched_poll` (x86-64: the guest handle is a 64-bit pointer).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct SchedPoll {
        /// Guest address of an array of `u32` ports.
        pub ports: u64,
        /// Number of ports.
        pub nr_ports: u32,
        /// Padding.
        pub _pad: u32,
        /// Absolute system time timeout in ns (0: none).
        pub timeout: u64,
    }

    /// `struct sched_remote_shutdown`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct SchedRemoteShutdown {
        /// Domain.
        pub domain_id: u16,
        /// Padding.
        pub _pad: u16,
        /// `SHUTDOWN_*`.
        pub reason: u32,
    }

    /// Shutdown reasons (`SHUTDOWN_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ShutdownReason {
        /// Exited normally.
        Poweroff = 0,
        /// Restart.
        Reboot = 1,
        /// Save and suspend.
        Suspend = 2,
        /// Crashed.
        Crash = 3,
        /// Watchdog expired.
        Watchdog = 4,
        /// Soft reset.
        SoftReset = 5,
    }

    impl ShutdownReason {
        /// Parses a reason; above `SHUTDOWN_MAX` (5) is invalid.
        pub const fn from_raw(v: u32) -> Result<Self, XenError> {
            Ok(match v {
                0 => ShutdownReason::Poweroff,
                1 => ShutdownReason::Reboot,
                2 => ShutdownReason::Suspend,
                3 => ShutdownReason::Crash,
                4 => ShutdownReason::Watchdog,
                5 => ShutdownReason::SoftReset,
                other => return Err(XenError::InvalidValue(other as u64)),
            })
        }
    }

    /// A decoded scheduler operation (host side).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SchedOp {
        /// `SCHEDOP_yield`.
        Yield,
        /// `SCHEDOP_block`.
        Block,
        /// `SCHEDOP_shutdown`.
        Shutdown(ShutdownReason),
        /// `SCHEDOP_poll`.
        Poll(SchedPoll),
    }

    /// Largest `nr_ports` a poll may name (Xen limits it to 128 on 64-bit domains).
    pub const MAX_POLL_PORTS: u32 = 128;

    /// Decodes a scheduler operation the suite uses.
    pub fn parse(cmd: u32, arg: &[u8]) -> Result<SchedOp, XenError> {
        Ok(match cmd {
            SCHEDOP_YIELD => SchedOp::Yield,
            SCHEDOP_BLOCK => SchedOp::Block,
            SCHEDOP_SHUTDOWN => SchedOp::Shutdown(ShutdownReason::from_raw(read::<SchedShutdown>(arg)?.reason)?),
            SCHEDOP_POLL => {
                let p: SchedPoll = read(arg)?;
                if p.nr_ports > MAX_POLL_PORTS {
                    return Err(XenError::InvalidValue(u64::from(p.nr_ports)));
                }
                SchedOp::Poll(p)
            }
            other => return Err(XenError::InvalidValue(u64::from(other))),
        })
    }
}

/// Version queries (`include/xen/interface/version.h`), `__HYPERVISOR_xen_version`.
pub mod version {
    use super::XenError;
    use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Returns major << 16 | minor (no argument).
    pub const XENVER_VERSION: u32 = 0;
    /// [`XenExtraversion`].
    pub const XENVER_EXTRAVERSION: u32 = 1;
    /// [`XenCompileInfo`].
    pub const XENVER_COMPILE_INFO: u32 = 2;
    /// Capabilities string (1024 bytes).
    pub const XENVER_CAPABILITIES: u32 = 3;
    /// [`XenChangesetInfo`].
    pub const XENVER_CHANGESET: u32 = 4;
    /// [`XenPlatformParameters`].
    pub const XENVER_PLATFORM_PARAMETERS: u32 = 5;
    /// [`XenFeatureInfo`].
    pub const XENVER_GET_FEATURES: u32 = 6;
    /// Returns the page size (no argument).
    pub const XENVER_PAGESIZE: u32 = 7;
    /// Domain handle (16 bytes).
    pub const XENVER_GUEST_HANDLE: u32 = 8;
    /// Command line (1024 bytes).
    pub const XENVER_COMMANDLINE: u32 = 9;
    /// Build id.
    pub const XENVER_BUILD_ID: u32 = 10;

    /// `struct xen_extraversion`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenExtraversion {
        /// NUL-terminated text, e.g. ".0".
        pub extraversion: [u8; 16],
    }

    /// `struct xen_compile_info`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenCompileInfo {
        /// Compiler.
        pub compiler: [u8; 64],
        /// Built by.
        pub compile_by: [u8; 16],
        /// Build domain.
        pub compile_domain: [u8; 32],
        /// Build date.
        pub compile_date: [u8; 32],
    }

    /// `struct xen_changeset_info`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenChangesetInfo {
        /// NUL-terminated text.
        pub info: [u8; 64],
    }

    /// `struct xen_platform_parameters`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenPlatformParameters {
        /// Start of the hypervisor's virtual area.
        pub virt_start: u64,
    }

    /// `struct xen_feature_info`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenFeatureInfo {
        /// In: which 32-bit submap.
        pub submap_idx: u32,
        /// Out: the submap (`XENFEAT_*` bits).
        pub submap: u32,
    }

    /// (major, minor) from `XENVER_version`'s return value.
    pub const fn decode_version(ret: u64) -> Result<(u16, u16), XenError> {
        if ret >> 32 != 0 {
            return Err(XenError::InvalidValue(ret));
        }
        Ok(((ret >> 16) as u16, ret as u16))
    }

    /// The text of a NUL-terminated field from the hypervisor: must contain a NUL and only
    /// printable ASCII before it.
    pub fn c_str(buf: &[u8]) -> Result<&str, XenError> {
        let end = buf.iter().position(|&b| b == 0).ok_or(XenError::BadString)?;
        let s = buf.get(..end).ok_or(XenError::BadString)?;
        if !s.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            return Err(XenError::BadString);
        }
        core::str::from_utf8(s).map_err(|_| XenError::BadString)
    }
}

/// Feature bits returned by `XENVER_get_features` submap 0 (`include/xen/interface/features.h`).
pub mod features {
    /// PV: writable page tables.
    pub const XENFEAT_WRITABLE_PAGE_TABLES: u32 = 0;
    /// PV: writable descriptor tables.
    pub const XENFEAT_WRITABLE_DESCRIPTOR_TABLES: u32 = 1;
    /// Guest physical = pseudo-physical (auto-translated; all HVM guests).
    pub const XENFEAT_AUTO_TRANSLATED_PHYSMAP: u32 = 2;
    /// Kernel runs in ring 0.
    pub const XENFEAT_SUPERVISOR_MODE_KERNEL: u32 = 3;
    /// PAE page directories above 4 GiB.
    pub const XENFEAT_PAE_PGDIR_ABOVE_4GB: u32 = 4;
    /// `MMU_PT_UPDATE_PRESERVE_AD` supported.
    pub const XENFEAT_MMU_PT_UPDATE_PRESERVE_AD: u32 = 5;
    /// Highmem assist.
    pub const XENFEAT_HIGHMEM_ASSIST: u32 = 6;
    /// Grant map available bits.
    pub const XENFEAT_GNTTAB_MAP_AVAIL_BITS: u32 = 7;
    /// HVM: event delivery by a vector (`HVM_PARAM_CALLBACK_IRQ` type 2).
    pub const XENFEAT_HVM_CALLBACK_VECTOR: u32 = 8;
    /// HVM: pvclock safe to use.
    pub const XENFEAT_HVM_SAFE_PVCLOCK: u32 = 9;
    /// HVM: PIRQs.
    pub const XENFEAT_HVM_PIRQS: u32 = 10;
    /// This is dom0.
    pub const XENFEAT_DOM0: u32 = 11;
    /// Grant map identity (deprecated; commented out in Linux's copy of the header).
    pub const XENFEAT_GRANT_MAP_IDENTITY: u32 = 12;
    /// vNUMA memory op.
    pub const XENFEAT_MEMORY_OP_VNODE_SUPPORTED: u32 = 13;
    /// ARM SMCCC.
    pub const XENFEAT_ARM_SMCCC_SUPPORTED: u32 = 14;
    /// RSDP unrestricted.
    pub const XENFEAT_LINUX_RSDP_UNRESTRICTED: u32 = 15;
    /// Not direct mapped.
    pub const XENFEAT_NOT_DIRECT_MAPPED: u32 = 16;
    /// Direct mapped.
    pub const XENFEAT_DIRECT_MAPPED: u32 = 17;
    /// Number of 32-bit submaps (`XENFEAT_NR_SUBMAPS`).
    pub const XENFEAT_NR_SUBMAPS: u32 = 1;

    /// Is `feature` set in the submaps (submap i holds features 32i..32i+31)?
    pub fn has(submaps: &[u32], feature: u32) -> bool {
        submaps.get((feature / 32) as usize).is_some_and(|m| (m >> (feature % 32)) & 1 != 0)
    }
}

/// VCPU operations (`include/xen/interface/vcpu.h`), `__HYPERVISOR_vcpu_op(cmd, vcpu, arg)`.
pub mod vcpu {
    use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Initialise a VCPU's context (PV).
    pub const VCPUOP_INITIALISE: u32 = 0;
    /// Bring a VCPU up.
    pub const VCPUOP_UP: u32 = 1;
    /// Take a VCPU down.
    pub const VCPUOP_DOWN: u32 = 2;
    /// Is the VCPU up?
    pub const VCPUOP_IS_UP: u32 = 3;
    /// Runstate information ([`VcpuRunstateInfo`]).
    pub const VCPUOP_GET_RUNSTATE_INFO: u32 = 4;
    /// Register a runstate area.
    pub const VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA: u32 = 5;
    /// Periodic timer ([`VcpuSetPeriodicTimer`]).
    pub const VCPUOP_SET_PERIODIC_TIMER: u32 = 6;
    /// Stop the periodic timer.
    pub const VCPUOP_STOP_PERIODIC_TIMER: u32 = 7;
    /// One-shot timer ([`VcpuSetSingleshotTimer`]).
    pub const VCPUOP_SET_SINGLESHOT_TIMER: u32 = 8;
    /// Stop the one-shot timer.
    pub const VCPUOP_STOP_SINGLESHOT_TIMER: u32 = 9;
    /// Place `vcpu_info` in guest memory ([`VcpuRegisterVcpuInfo`]).
    pub const VCPUOP_REGISTER_VCPU_INFO: u32 = 10;
    /// Send an NMI.
    pub const VCPUOP_SEND_NMI: u32 = 11;
    /// Physical id of a pinned VCPU.
    pub const VCPUOP_GET_PHYSID: u32 = 12;
    /// Register a secondary time area.
    pub const VCPUOP_REGISTER_VCPU_TIME_MEMORY_AREA: u32 = 13;
    /// `VCPU_SSHOTTMR_future`: fail with -ETIME if the timeout is in the past.
    pub const VCPU_SSHOTTMR_FUTURE: u32 = 1 << 0;

    /// `struct vcpu_register_vcpu_info`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct VcpuRegisterVcpuInfo {
        /// Frame holding the `vcpu_info`.
        pub mfn: u64,
        /// Offset in the frame.
        pub offset: u32,
        /// Unused.
        pub rsvd: u32,
    }

    /// `struct vcpu_set_periodic_timer`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct VcpuSetPeriodicTimer {
        /// Period in ns.
        pub period_ns: u64,
    }

    /// `struct vcpu_set_singleshot_timer`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct VcpuSetSingleshotTimer {
        /// Absolute system time of expiry, ns.
        pub timeout_abs_ns: u64,
        /// `VCPU_SSHOTTMR_*`.
        pub flags: u32,
        /// Padding.
        pub _pad: u32,
    }

    /// `struct vcpu_runstate_info`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct VcpuRunstateInfo {
        /// `RUNSTATE_*`.
        pub state: i32,
        /// Padding.
        pub _pad: u32,
        /// When the current state was entered.
        pub state_entry_time: u64,
        /// Time spent in each state.
        pub time: [u64; 4],
    }
}

/// HVM operations and parameters (`include/xen/interface/hvm/hvm_op.h`, `params.h`).
pub mod hvm {
    use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Set an HVM parameter ([`XenHvmParam`]).
    pub const HVMOP_SET_PARAM: u32 = 0;
    /// Get an HVM parameter.
    pub const HVMOP_GET_PARAM: u32 = 1;
    /// A page table is being torn down.
    pub const HVMOP_PAGETABLE_DYING: u32 = 9;
    /// Memory type of a frame.
    pub const HVMOP_GET_MEM_TYPE: u32 = 15;
    /// Per-VCPU event channel upcall vector ([`XenHvmEvtchnUpcallVector`]).
    pub const HVMOP_SET_EVTCHN_UPCALL_VECTOR: u32 = 23;

    /// How events are delivered (`HVM_PARAM_CALLBACK_IRQ`).
    pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
    /// Xenstore ring frame.
    pub const HVM_PARAM_STORE_PFN: u32 = 1;
    /// Xenstore event channel.
    pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
    /// PAE enabled.
    pub const HVM_PARAM_PAE_ENABLED: u32 = 4;
    /// Timer mode.
    pub const HVM_PARAM_TIMER_MODE: u32 = 10;
    /// HPET enabled.
    pub const HVM_PARAM_HPET_ENABLED: u32 = 11;
    /// Console ring frame.
    pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
    /// Console event channel.
    pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
    /// `HVM_PARAM_CALLBACK_IRQ` type: vector (bits 63:56 = 2, low 8 bits the vector).
    pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

    /// `struct xen_hvm_param`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenHvmParam {
        /// Domain (`DOMID_SELF`).
        pub domid: u16,
        /// Padding.
        pub _pad: u16,
        /// `HVM_PARAM_*`.
        pub index: u32,
        /// Value.
        pub value: u64,
    }

    /// `struct xen_hvm_evtchn_upcall_vector`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenHvmEvtchnUpcallVector {
        /// VCPU.
        pub vcpu: u32,
        /// Vector.
        pub vector: u8,
        /// Padding.
        pub _pad: [u8; 3],
    }

    /// `HVM_PARAM_CALLBACK_IRQ` value for delivery by `vector` (Linux
    /// `xen_set_callback_via(HVM_CALLBACK_VECTOR(vector))`).
    pub const fn callback_via_vector(vector: u8) -> u64 {
        (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | vector as u64
    }
}

/// Memory operations (`include/xen/interface/memory.h`), `__HYPERVISOR_memory_op`.
pub mod memory {
    use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Increase reservation.
    pub const XENMEM_INCREASE_RESERVATION: u32 = 0;
    /// Decrease reservation (balloon out).
    pub const XENMEM_DECREASE_RESERVATION: u32 = 1;
    /// Highest machine frame.
    pub const XENMEM_MAXIMUM_RAM_PAGE: u32 = 2;
    /// Current reservation.
    pub const XENMEM_CURRENT_RESERVATION: u32 = 3;
    /// Maximum reservation.
    pub const XENMEM_MAXIMUM_RESERVATION: u32 = 4;
    /// Populate physmap (balloon in).
    pub const XENMEM_POPULATE_PHYSMAP: u32 = 6;
    /// Map a Xen page into the physmap ([`XenAddToPhysmap`]).
    pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;
    /// Guest memory map.
    pub const XENMEM_MEMORY_MAP: u32 = 9;
    /// Remove a frame from the physmap.
    pub const XENMEM_REMOVE_FROM_PHYSMAP: u32 = 15;
    /// `XENMAPSPACE_shared_info`: the shared info page.
    pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
    /// `XENMAPSPACE_grant_table`: a grant table frame.
    pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;
    /// `XENMAPSPACE_gmfn`.
    pub const XENMAPSPACE_GMFN: u32 = 2;

    /// `struct xen_add_to_physmap`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct XenAddToPhysmap {
        /// Domain (`DOMID_SELF`).
        pub domid: u16,
        /// Number of pages (gmfn_range).
        pub size: u16,
        /// `XENMAPSPACE_*`.
        pub space: u32,
        /// Index in the space.
        pub idx: u64,
        /// Guest frame to map it at.
        pub gpfn: u64,
    }
}

/// Grant table operations (`include/xen/interface/grant_table.h`), numbers only.
pub mod gnttab {
    /// Map a grant.
    pub const GNTTABOP_MAP_GRANT_REF: u32 = 0;
    /// Unmap a grant.
    pub const GNTTABOP_UNMAP_GRANT_REF: u32 = 1;
    /// Set up the table.
    pub const GNTTABOP_SETUP_TABLE: u32 = 2;
    /// Copy via grants.
    pub const GNTTABOP_COPY: u32 = 5;
    /// Table size.
    pub const GNTTABOP_QUERY_SIZE: u32 = 6;
    /// Select v1/v2.
    pub const GNTTABOP_SET_VERSION: u32 = 8;
    /// Current version.
    pub const GNTTABOP_GET_VERSION: u32 = 10;
}

/// CPUID leaf bits of the Xen block (`arch/x86/include/asm/xen/cpuid.h`); read through
/// [`crate::cpuid::XenInfo`].
pub mod cpuid_bits {
    /// base+2 ECX: `XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD`.
    pub const FEAT1_MMU_PT_UPDATE_PRESERVE_AD: u32 = 1 << 0;
    /// base+3 EAX: `XEN_CPUID_TSC_EMULATED`.
    pub const TSC_EMULATED: u32 = 1 << 0;
    /// base+3 EAX: `XEN_CPUID_HOST_TSC_RELIABLE`.
    pub const HOST_TSC_RELIABLE: u32 = 1 << 1;
    /// base+3 EAX: `XEN_CPUID_RDTSCP_INSTR_AVAIL`.
    pub const RDTSCP_INSTR_AVAIL: u32 = 1 << 2;
    /// base+3 EBX: `XEN_CPUID_TSC_MODE_DEFAULT`.
    pub const TSC_MODE_DEFAULT: u32 = 0;
    /// base+3 EBX: `XEN_CPUID_TSC_MODE_ALWAYS_EMULATE`.
    pub const TSC_MODE_ALWAYS_EMULATE: u32 = 1;
    /// base+3 EBX: `XEN_CPUID_TSC_MODE_NEVER_EMULATE`.
    pub const TSC_MODE_NEVER_EMULATE: u32 = 2;
    /// base+3 EBX: `XEN_CPUID_TSC_MODE_PVRDTSCP`.
    pub const TSC_MODE_PVRDTSCP: u32 = 3;
    /// base+4 EAX: `XEN_HVM_CPUID_APIC_ACCESS_VIRT`.
    pub const HVM_APIC_ACCESS_VIRT: u32 = 1 << 0;
    /// base+4 EAX: `XEN_HVM_CPUID_X2APIC_VIRT`.
    pub const HVM_X2APIC_VIRT: u32 = 1 << 1;
    /// base+4 EAX: `XEN_HVM_CPUID_IOMMU_MAPPINGS`.
    pub const HVM_IOMMU_MAPPINGS: u32 = 1 << 2;
    /// base+4 EAX: `XEN_HVM_CPUID_VCPU_ID_PRESENT` (VCPU id in EBX).
    pub const HVM_VCPU_ID_PRESENT: u32 = 1 << 3;
    /// base+4 EAX: `XEN_HVM_CPUID_DOMID_PRESENT` (domain id in ECX).
    pub const HVM_DOMID_PRESENT: u32 = 1 << 4;
    /// base+4 EAX: `XEN_HVM_CPUID_EXT_DEST_ID`.
    pub const HVM_EXT_DEST_ID: u32 = 1 << 5;
    /// base+4 EAX: `XEN_HVM_CPUID_UPCALL_VECTOR` (per-VCPU upcall vectors).
    pub const HVM_UPCALL_VECTOR: u32 = 1 << 6;
    /// Number of leaves after the base Xen fills (`XEN_CPUID_MAX_NUM_LEAVES`).
    pub const MAX_NUM_LEAVES: u32 = 5;
}

// ---------------------------------------------------------------------------------------
// shared_info layout (x86-64).

/// VCPUs with a `vcpu_info` in `shared_info` (`MAX_VIRT_CPUS`, x86).
pub const MAX_VIRT_CPUS: usize = 32;
/// Offset of `evtchn_pending` in `shared_info` (after 32 `vcpu_info`s of 64 bytes).
pub const SHARED_INFO_EVTCHN_PENDING: usize = MAX_VIRT_CPUS * 64;
/// Offset of `evtchn_mask`.
pub const SHARED_INFO_EVTCHN_MASK: usize = SHARED_INFO_EVTCHN_PENDING + 64 * 8;
/// Offset of the wall clock (`struct pvclock_wall_clock wc`).
pub const SHARED_INFO_WC: usize = SHARED_INFO_EVTCHN_MASK + 64 * 8;
/// Offset of `wc_sec_hi` (x86-64).
pub const SHARED_INFO_WC_SEC_HI: usize = SHARED_INFO_WC + 12;

/// `struct vcpu_info` (64 bytes on x86).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct VcpuInfo {
    /// An event is pending for this VCPU.
    pub evtchn_upcall_pending: u8,
    /// Upcalls masked.
    pub evtchn_upcall_mask: u8,
    /// Padding.
    pub _pad: [u8; 6],
    /// Which words of `evtchn_pending` to scan.
    pub evtchn_pending_sel: u64,
    /// `arch_vcpu_info.cr2`.
    pub arch_cr2: u64,
    /// `arch_vcpu_info.pad`.
    pub arch_pad: u64,
    /// This VCPU's time record.
    pub time: PvclockVcpuTimeInfo,
}

// ---------------------------------------------------------------------------------------
// pvclock.

/// `struct pvclock_vcpu_time_info` (`arch/x86/include/asm/pvclock-abi.h`, Xen's
/// `vcpu_time_info`): system time = `system_time + scale(tsc - tsc_timestamp)`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PvclockVcpuTimeInfo {
    /// Odd while the host updates the record.
    pub version: u32,
    /// Padding.
    pub pad0: u32,
    /// TSC at the last update.
    pub tsc_timestamp: u64,
    /// Nanoseconds since boot at the last update.
    pub system_time: u64,
    /// 32.32 multiplier from (shifted) TSC ticks to ns.
    pub tsc_to_system_mul: u32,
    /// Shift applied to the TSC delta before multiplying (negative: right).
    pub tsc_shift: i8,
    /// `PVCLOCK_*` flags.
    pub flags: u8,
    /// Padding.
    pub pad: [u8; 2],
}

/// `struct pvclock_wall_clock`: wall time at system time 0.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PvclockWallClock {
    /// Odd while the host updates the record.
    pub version: u32,
    /// Seconds since 1970.
    pub sec: u32,
    /// Nanoseconds.
    pub nsec: u32,
}

/// `PVCLOCK_TSC_STABLE_BIT`: TSCs are synchronized, no global monotonic fixup needed.
pub const PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;
/// `PVCLOCK_GUEST_STOPPED`: the guest was paused (watchdogs should be touched).
pub const PVCLOCK_GUEST_STOPPED: u8 = 1 << 1;
/// `PVCLOCK_COUNTS_FROM_ZERO`.
pub const PVCLOCK_COUNTS_FROM_ZERO: u8 = 1 << 2;

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// `pvclock_scale_delta()`: shift `delta` by `shift` (left if positive), then multiply by the
/// 32.32 fraction `mul_frac`. Bits shifted out on the left are lost, as in C; shifts beyond
/// ±63 (undefined in C) are an error.
pub fn scale_delta(delta: u64, mul_frac: u32, shift: i8) -> Result<u64, XenError> {
    let d = if shift < 0 {
        let s = shift.unsigned_abs();
        if s > 63 {
            return Err(XenError::BadShift(shift));
        }
        delta >> s
    } else {
        if shift > 63 {
            return Err(XenError::BadShift(shift));
        }
        delta << shift
    };
    Ok(((u128::from(d) * u128::from(mul_frac)) >> 32) as u64)
}

impl PvclockVcpuTimeInfo {
    /// `__pvclock_read_cycles()`: system time in ns at TSC value `tsc` (wrapping like C).
    pub fn time_at(&self, tsc: u64) -> Result<u64, XenError> {
        let delta = tsc.wrapping_sub(self.tsc_timestamp);
        let off = scale_delta(delta, self.tsc_to_system_mul, self.tsc_shift)?;
        Ok(self.system_time.wrapping_add(off))
    }

    /// TSC frequency in kHz the record implies (`pvclock_tsc_khz()`); `None` if the
    /// multiplier is zero or the shift out of range.
    pub fn tsc_khz(&self) -> Option<u64> {
        if self.tsc_to_system_mul == 0 || !(-63..=63).contains(&self.tsc_shift) {
            return None;
        }
        let mut khz = (1_000_000u64 << 32) / u64::from(self.tsc_to_system_mul);
        if self.tsc_shift < 0 {
            khz = khz.checked_shl(u32::from(self.tsc_shift.unsigned_abs()))?;
        } else {
            khz >>= self.tsc_shift as u32;
        }
        Some(khz)
    }
}

/// Was a record read consistently? `pvclock_read_begin()` masks bit 0 of the first version
/// read, `pvclock_read_retry()` compares with the second: the read is good only if the
/// version was even and unchanged.
pub const fn version_consistent(before: u32, after: u32) -> bool {
    before & 1 == 0 && before == after
}

/// One attempt at reading the time record: the record as copied, the TSC read meanwhile,
/// and the version read afterwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PvclockSample {
    /// The record (its `version` is the first read).
    pub info: PvclockVcpuTimeInfo,
    /// TSC.
    pub tsc: u64,
    /// `version` read after the data.
    pub version_after: u32,
}

/// The retry loop of `__pvclock_clocksource_read()`, bounded: the system time in ns and the
/// record's flags, from the first consistent attempt of at most `max_attempts`.
pub fn read_with_retry(max_attempts: u32, mut sample: impl FnMut() -> PvclockSample) -> Result<(u64, u8), XenError> {
    for _ in 0..max_attempts {
        let s = sample();
        if version_consistent(s.info.version, s.version_after) {
            return Ok((s.info.time_at(s.tsc)?, s.info.flags));
        }
    }
    Err(XenError::TooManyRetries(max_attempts))
}

/// Wall-clock time (seconds, nanoseconds since 1970) from the boot wall clock and the
/// current system time, as `pvclock_read_wallclock()` computes it; `version_after` is the
/// wall clock's version read after its fields (odd or changed: read again, reported as
/// [`XenError::TooManyRetries`] with 0 attempts left).
pub fn wallclock(wall: &PvclockWallClock, version_after: u32, system_time_ns: u64) -> Result<(u64, u32), XenError> {
    if !version_consistent(wall.version, version_after) {
        return Err(XenError::TooManyRetries(0));
    }
    let boot_ns = u64::from(wall.sec).checked_mul(NSEC_PER_SEC).ok_or(XenError::Overflow)?;
    let total = system_time_ns
        .checked_add(boot_ns)
        .and_then(|t| t.checked_add(u64::from(wall.nsec)))
        .ok_or(XenError::Overflow)?;
    Ok((total / NSEC_PER_SEC, (total % NSEC_PER_SEC) as u32))
}

/// Host side: a (`tsc_to_system_mul`, `tsc_shift`) pair for a TSC at `tsc_hz`: the shift
/// that puts ns-per-tick into [0.5, 1) and the 32.32 fraction for it.
pub fn scale_for_tsc_hz(tsc_hz: u64) -> Result<(u32, i8), XenError> {
    if tsc_hz == 0 {
        return Err(XenError::InvalidValue(0));
    }
    // ns per tick = NSEC_PER_SEC / tsc_hz = num / den, adjusted by powers of two.
    let mut num = NSEC_PER_SEC;
    let mut den = tsc_hz;
    let mut shift: i8 = 0;
    while num >= den {
        // ratio >= 1: make the multiplier smaller by shifting the delta left.
        if den > u64::MAX / 2 {
            num /= 2;
        } else {
            den *= 2;
        }
        shift = shift.checked_add(1).ok_or(XenError::InvalidValue(tsc_hz))?;
    }
    while num < den / 2 {
        // ratio < 0.5: shift the delta right instead.
        num *= 2;
        shift = shift.checked_sub(1).ok_or(XenError::InvalidValue(tsc_hz))?;
    }
    if !(-63..=63).contains(&shift) {
        return Err(XenError::InvalidValue(tsc_hz));
    }
    let mul = bytes::div_wide(num >> 32, num << 32, den).ok_or(XenError::Overflow)?;
    let mul = u32::try_from(mul).map_err(|_| XenError::Overflow)?;
    Ok((mul, shift))
}
