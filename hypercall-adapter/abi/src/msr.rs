// SPDX-License-Identifier: GPL-2.0-only
//! Hyper-V synthetic MSRs (`HV_X64_MSR_*`, `include/hyperv/hvgdk_mini.h`; TLFS "Partition
//! Properties", "Hypercall Interface", "Virtual Interrupt Controller", "Timers") and their
//! bitfields.
//!
//! Each bitfield type converts from any raw value and back without losing bits
//! (`from_raw(x).to_raw() == x`): reserved-preserve ("RsvdP") bits are kept in a field, so a
//! read-modify-write as Linux does it keeps them. Constructors for values the guest writes
//! validate their inputs instead of truncating.

/// `HV_X64_MSR_GUEST_OS_ID`: the guest's identity; must be non-zero before the hypercall
/// page can be enabled.
pub const GUEST_OS_ID: u32 = 0x4000_0000;
/// `HV_X64_MSR_HYPERCALL`: hypercall page location and enable.
pub const HYPERCALL: u32 = 0x4000_0001;
/// `HV_X64_MSR_VP_INDEX`: this VP's index (read-only).
pub const VP_INDEX: u32 = 0x4000_0002;
/// `HV_X64_MSR_RESET`: write 1 to reset the partition.
pub const RESET: u32 = 0x4000_0003;
/// `HV_X64_MSR_VP_RUNTIME`: this VP's run time in 100 ns units.
pub const VP_RUNTIME: u32 = 0x4000_0010;
/// `HV_X64_MSR_TIME_REF_COUNT`: partition reference time in 100 ns units (see [`crate::reftsc`]).
pub const TIME_REF_COUNT: u32 = 0x4000_0020;
/// `HV_X64_MSR_REFERENCE_TSC`: reference TSC page location and enable ([`PageMsr`]).
pub const REFERENCE_TSC: u32 = 0x4000_0021;
/// `HV_X64_MSR_TSC_FREQUENCY`: TSC frequency in Hz.
pub const TSC_FREQUENCY: u32 = 0x4000_0022;
/// `HV_X64_MSR_APIC_FREQUENCY`: APIC timer frequency in Hz.
pub const APIC_FREQUENCY: u32 = 0x4000_0023;
/// `HV_X64_MSR_EOI`: APIC EOI.
pub const EOI: u32 = 0x4000_0070;
/// `HV_X64_MSR_ICR`: APIC ICR.
pub const ICR: u32 = 0x4000_0071;
/// `HV_X64_MSR_TPR`: APIC TPR.
pub const TPR: u32 = 0x4000_0072;
/// `HV_X64_MSR_VP_ASSIST_PAGE`: VP assist page ([`PageMsr`]).
pub const VP_ASSIST_PAGE: u32 = 0x4000_0073;
/// `HV_X64_MSR_SCONTROL`: SynIC global enable ([`ScontrolMsr`]).
pub const SCONTROL: u32 = 0x4000_0080;
/// `HV_X64_MSR_SVERSION`: SynIC version (read-only, [`SYNIC_VERSION_1`]).
pub const SVERSION: u32 = 0x4000_0081;
/// `HV_X64_MSR_SIEFP`: event flags page ([`PageMsr`]).
pub const SIEFP: u32 = 0x4000_0082;
/// `HV_X64_MSR_SIMP`: message page ([`PageMsr`]).
pub const SIMP: u32 = 0x4000_0083;
/// `HV_X64_MSR_EOM`: end of message (write-only, value ignored).
pub const EOM: u32 = 0x4000_0084;
/// `HV_X64_MSR_SIRBP`: event ring page.
pub const SIRBP: u32 = 0x4000_0085;
/// `HV_X64_MSR_SINT0`; SINTn is `SINT0 + n` ([`SintMsr`]).
pub const SINT0: u32 = 0x4000_0090;
/// `HV_X64_MSR_SINT15`.
pub const SINT15: u32 = 0x4000_009F;
/// `HV_X64_MSR_STIMER0_CONFIG`; timer n's config is `STIMER0_CONFIG + 2n` ([`StimerConfig`]).
pub const STIMER0_CONFIG: u32 = 0x4000_00B0;
/// `HV_X64_MSR_STIMER0_COUNT`; timer n's count is `STIMER0_COUNT + 2n`.
pub const STIMER0_COUNT: u32 = 0x4000_00B1;
/// `HV_X64_MSR_GUEST_IDLE`: reading it idles the VP.
pub const GUEST_IDLE: u32 = 0x4000_00F0;
/// `HV_X64_MSR_CRASH_P0`; P0..P4 are consecutive.
pub const CRASH_P0: u32 = 0x4000_0100;
/// `HV_X64_MSR_CRASH_P4`.
pub const CRASH_P4: u32 = 0x4000_0104;
/// `HV_X64_MSR_CRASH_CTL`.
pub const CRASH_CTL: u32 = 0x4000_0105;
/// `HV_X64_MSR_REENLIGHTENMENT_CONTROL`.
pub const REENLIGHTENMENT_CONTROL: u32 = 0x4000_0106;
/// `HV_X64_MSR_TSC_EMULATION_CONTROL`.
pub const TSC_EMULATION_CONTROL: u32 = 0x4000_0107;
/// `HV_X64_MSR_TSC_EMULATION_STATUS`.
pub const TSC_EMULATION_STATUS: u32 = 0x4000_0108;
/// `HV_X64_MSR_TSC_INVARIANT_CONTROL`.
pub const TSC_INVARIANT_CONTROL: u32 = 0x4000_0118;

/// Number of SINTs (`HV_SYNIC_SINT_COUNT`).
pub const SINT_COUNT: u8 = 16;
/// Number of synthetic timers (`HV_SYNIC_STIMER_COUNT`).
pub const STIMER_COUNT: u8 = 4;
/// SVERSION value (`HV_SYNIC_VERSION_1`).
pub const SYNIC_VERSION_1: u64 = 1;
/// Lowest vector a SINT may use unmasked (`HV_SYNIC_FIRST_VALID_VECTOR`).
pub const SYNIC_FIRST_VALID_VECTOR: u8 = 16;
/// `HV_CRASH_CTL_CRASH_NOTIFY`.
pub const CRASH_CTL_CRASH_NOTIFY: u64 = 1 << 63;
/// `HV_CRASH_CTL_CRASH_NOTIFY_MSG`.
pub const CRASH_CTL_CRASH_NOTIFY_MSG: u64 = 1 << 62;

/// The MSR of SINT `n` (0..=15).
pub const fn sint(n: u8) -> Option<u32> {
    if n < SINT_COUNT { Some(SINT0 + n as u32) } else { None }
}

/// The config MSR of synthetic timer `n` (0..=3).
pub const fn stimer_config(n: u8) -> Option<u32> {
    if n < STIMER_COUNT { Some(STIMER0_CONFIG + 2 * n as u32) } else { None }
}

/// The count MSR of synthetic timer `n` (0..=3).
pub const fn stimer_count(n: u8) -> Option<u32> {
    if n < STIMER_COUNT { Some(STIMER0_COUNT + 2 * n as u32) } else { None }
}

/// The C name of a synthetic MSR, for logs and the simulator.
pub const fn msr_name(msr: u32) -> Option<&'static str> {
    Some(match msr {
        GUEST_OS_ID => "HV_X64_MSR_GUEST_OS_ID",
        HYPERCALL => "HV_X64_MSR_HYPERCALL",
        VP_INDEX => "HV_X64_MSR_VP_INDEX",
        RESET => "HV_X64_MSR_RESET",
        VP_RUNTIME => "HV_X64_MSR_VP_RUNTIME",
        TIME_REF_COUNT => "HV_X64_MSR_TIME_REF_COUNT",
        REFERENCE_TSC => "HV_X64_MSR_REFERENCE_TSC",
        TSC_FREQUENCY => "HV_X64_MSR_TSC_FREQUENCY",
        APIC_FREQUENCY => "HV_X64_MSR_APIC_FREQUENCY",
        EOI => "HV_X64_MSR_EOI",
        ICR => "HV_X64_MSR_ICR",
        TPR => "HV_X64_MSR_TPR",
        VP_ASSIST_PAGE => "HV_X64_MSR_VP_ASSIST_PAGE",
        SCONTROL => "HV_X64_MSR_SCONTROL",
        SVERSION => "HV_X64_MSR_SVERSION",
        SIEFP => "HV_X64_MSR_SIEFP",
        SIMP => "HV_X64_MSR_SIMP",
        EOM => "HV_X64_MSR_EOM",
        SIRBP => "HV_X64_MSR_SIRBP",
        0x4000_0090 => "HV_X64_MSR_SINT0",
        0x4000_0091 => "HV_X64_MSR_SINT1",
        0x4000_0092 => "HV_X64_MSR_SINT2",
        0x4000_0093 => "HV_X64_MSR_SINT3",
        0x4000_0094 => "HV_X64_MSR_SINT4",
        0x4000_0095 => "HV_X64_MSR_SINT5",
        0x4000_0096 => "HV_X64_MSR_SINT6",
        0x4000_0097 => "HV_X64_MSR_SINT7",
        0x4000_0098 => "HV_X64_MSR_SINT8",
        0x4000_0099 => "HV_X64_MSR_SINT9",
        0x4000_009A => "HV_X64_MSR_SINT10",
        0x4000_009B => "HV_X64_MSR_SINT11",
        0x4000_009C => "HV_X64_MSR_SINT12",
        0x4000_009D => "HV_X64_MSR_SINT13",
        0x4000_009E => "HV_X64_MSR_SINT14",
        0x4000_009F => "HV_X64_MSR_SINT15",
        0x4000_00B0 => "HV_X64_MSR_STIMER0_CONFIG",
        0x4000_00B1 => "HV_X64_MSR_STIMER0_COUNT",
        0x4000_00B2 => "HV_X64_MSR_STIMER1_CONFIG",
        0x4000_00B3 => "HV_X64_MSR_STIMER1_COUNT",
        0x4000_00B4 => "HV_X64_MSR_STIMER2_CONFIG",
        0x4000_00B5 => "HV_X64_MSR_STIMER2_COUNT",
        0x4000_00B6 => "HV_X64_MSR_STIMER3_CONFIG",
        0x4000_00B7 => "HV_X64_MSR_STIMER3_COUNT",
        GUEST_IDLE => "HV_X64_MSR_GUEST_IDLE",
        0x4000_0100 => "HV_X64_MSR_CRASH_P0",
        0x4000_0101 => "HV_X64_MSR_CRASH_P1",
        0x4000_0102 => "HV_X64_MSR_CRASH_P2",
        0x4000_0103 => "HV_X64_MSR_CRASH_P3",
        0x4000_0104 => "HV_X64_MSR_CRASH_P4",
        CRASH_CTL => "HV_X64_MSR_CRASH_CTL",
        REENLIGHTENMENT_CONTROL => "HV_X64_MSR_REENLIGHTENMENT_CONTROL",
        TSC_EMULATION_CONTROL => "HV_X64_MSR_TSC_EMULATION_CONTROL",
        TSC_EMULATION_STATUS => "HV_X64_MSR_TSC_EMULATION_STATUS",
        TSC_INVARIANT_CONTROL => "HV_X64_MSR_TSC_INVARIANT_CONTROL",
        _ => return None,
    })
}

/// Why an MSR value cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrError {
    /// A page frame number above 52 bits.
    PfnTooLarge(u64),
    /// A SINT vector below 16 while unmasked.
    InvalidVector(u8),
    /// A timer's SINT index above 15.
    InvalidSint(u8),
    /// A reserved field wider than its bits.
    FieldTooLarge(u64),
}

impl MsrError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            MsrError::PfnTooLarge(_) => "page frame number above 52 bits",
            MsrError::InvalidVector(_) => "SINT vector below 16",
            MsrError::InvalidSint(_) => "SINT index above 15",
            MsrError::FieldTooLarge(_) => "field wider than its bits",
        }
    }
}

impl core::fmt::Display for MsrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest page frame number in a page MSR (52 bits).
pub const MAX_PFN: u64 = (1 << 52) - 1;
const PFN_SHIFT: u32 = 12;

/// `HV_X64_MSR_HYPERCALL` (`union hv_x64_msr_hypercall_contents`; TLFS "Establishing the
/// Hypercall Interface"): bit 0 enable, bit 1 locked, bits 11:2 RsvdP, bits 63:12 GPA page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HypercallMsr {
    /// Hypercall page enabled.
    pub enable: bool,
    /// MSR locked until reset.
    pub locked: bool,
    /// Bits 11:2, preserved.
    pub reserved: u16,
    /// Guest physical page number of the hypercall page.
    pub gpa_pfn: u64,
}

impl HypercallMsr {
    /// Enable value for the page at `gpa_pfn` (what the guest writes).
    pub const fn enabled_at(gpa_pfn: u64) -> Result<Self, MsrError> {
        if gpa_pfn > MAX_PFN {
            return Err(MsrError::PfnTooLarge(gpa_pfn));
        }
        Ok(HypercallMsr { enable: true, locked: false, reserved: 0, gpa_pfn })
    }

    /// Splits a raw value.
    pub const fn from_raw(raw: u64) -> Self {
        HypercallMsr {
            enable: raw & 1 != 0,
            locked: raw & 2 != 0,
            reserved: ((raw >> 2) & 0x3ff) as u16,
            gpa_pfn: raw >> PFN_SHIFT,
        }
    }

    /// The raw value; fails if a field is out of range.
    pub const fn to_raw(&self) -> Result<u64, MsrError> {
        if self.gpa_pfn > MAX_PFN {
            return Err(MsrError::PfnTooLarge(self.gpa_pfn));
        }
        if self.reserved > 0x3ff {
            return Err(MsrError::FieldTooLarge(self.reserved as u64));
        }
        Ok((self.gpa_pfn << PFN_SHIFT) | ((self.reserved as u64) << 2) | ((self.locked as u64) << 1) | self.enable as u64)
    }

    /// Guest physical address of the page.
    pub const fn gpa(&self) -> u64 {
        self.gpa_pfn << PFN_SHIFT
    }
}

/// An "enable + base page" MSR: SIMP (`union hv_synic_simp`), SIEFP (`hv_synic_siefp`),
/// SIRBP, REFERENCE_TSC (`union hv_reference_tsc_msr`) and VP_ASSIST_PAGE: bit 0 enable,
/// bits 11:1 RsvdP, bits 63:12 base page frame number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageMsr {
    /// Enabled.
    pub enable: bool,
    /// Bits 11:1, preserved.
    pub reserved: u16,
    /// Base page frame number.
    pub pfn: u64,
}

/// `HV_X64_MSR_SIMP` value.
pub type SimpMsr = PageMsr;
/// `HV_X64_MSR_SIEFP` value.
pub type SiefpMsr = PageMsr;
/// `HV_X64_MSR_REFERENCE_TSC` value.
pub type ReferenceTscMsr = PageMsr;

impl PageMsr {
    /// Enable value for the page at `pfn`, keeping `reserved` bits from a previous read
    /// (as Linux's read-modify-write does).
    pub const fn enabled_at(pfn: u64, reserved: u16) -> Result<Self, MsrError> {
        let m = PageMsr { enable: true, reserved, pfn };
        match m.to_raw() {
            Ok(_) => Ok(m),
            Err(e) => Err(e),
        }
    }

    /// Splits a raw value.
    pub const fn from_raw(raw: u64) -> Self {
        PageMsr { enable: raw & 1 != 0, reserved: ((raw >> 1) & 0x7ff) as u16, pfn: raw >> PFN_SHIFT }
    }

    /// The raw value.
    pub const fn to_raw(&self) -> Result<u64, MsrError> {
        if self.pfn > MAX_PFN {
            return Err(MsrError::PfnTooLarge(self.pfn));
        }
        if self.reserved > 0x7ff {
            return Err(MsrError::FieldTooLarge(self.reserved as u64));
        }
        Ok((self.pfn << PFN_SHIFT) | ((self.reserved as u64) << 1) | self.enable as u64)
    }

    /// Guest physical address of the page.
    pub const fn gpa(&self) -> u64 {
        self.pfn << PFN_SHIFT
    }
}

/// `HV_X64_MSR_SCONTROL` (`union hv_synic_scontrol`): bit 0 enable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScontrolMsr {
    /// SynIC enabled (`HV_SYNIC_CONTROL_ENABLE`).
    pub enable: bool,
    /// Bits 63:1, preserved.
    pub reserved: u64,
}

impl ScontrolMsr {
    /// Splits a raw value.
    pub const fn from_raw(raw: u64) -> Self {
        ScontrolMsr { enable: raw & 1 != 0, reserved: raw >> 1 }
    }

    /// The raw value; `reserved` wider than 63 bits is an error.
    pub const fn to_raw(&self) -> Result<u64, MsrError> {
        if self.reserved >> 63 != 0 {
            return Err(MsrError::FieldTooLarge(self.reserved));
        }
        Ok((self.reserved << 1) | self.enable as u64)
    }
}

/// `HV_X64_MSR_SINTn` (`union hv_synic_sint`): vector 7:0, masked 16, auto-EOI 17,
/// polling 18, as-intercept 19, proxy 20; bits 15:8 and 63:21 reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SintMsr {
    /// Interrupt vector.
    pub vector: u8,
    /// Masked (`HV_SYNIC_SINT_MASKED`); the reset state.
    pub masked: bool,
    /// Auto-EOI (`HV_SYNIC_SINT_AUTO_EOI`).
    pub auto_eoi: bool,
    /// Polling mode: no interrupt, the guest polls the slot.
    pub polling: bool,
    /// Deliver as an intercept to the parent (root).
    pub as_intercept: bool,
    /// Proxy to a paravisor.
    pub proxy: bool,
    /// Bits 15:8, preserved.
    pub reserved1: u8,
    /// Bits 63:21, preserved.
    pub reserved2: u64,
}

impl Default for SintMsr {
    /// The reset value: masked, vector 0.
    fn default() -> Self {
        SintMsr::from_raw(SintMsr::MASKED_BIT)
    }
}

impl SintMsr {
    /// `HV_SYNIC_SINT_MASKED`.
    pub const MASKED_BIT: u64 = 1 << 16;
    /// `HV_SYNIC_SINT_AUTO_EOI`.
    pub const AUTO_EOI_BIT: u64 = 1 << 17;
    /// Polling bit.
    pub const POLLING_BIT: u64 = 1 << 18;
    /// As-intercept bit.
    pub const AS_INTERCEPT_BIT: u64 = 1 << 19;
    /// Proxy bit.
    pub const PROXY_BIT: u64 = 1 << 20;
    /// `HV_SYNIC_SINT_VECTOR_MASK`.
    pub const VECTOR_MASK: u64 = 0xff;

    /// An unmasked SINT delivering `vector` (>= 16), as Linux's `hv_synic_enable_regs()`
    /// programs the VMBus SINT.
    pub const fn unmasked(vector: u8, auto_eoi: bool) -> Result<Self, MsrError> {
        if vector < SYNIC_FIRST_VALID_VECTOR {
            return Err(MsrError::InvalidVector(vector));
        }
        Ok(SintMsr { vector, masked: false, auto_eoi, polling: false, as_intercept: false, proxy: false, reserved1: 0, reserved2: 0 })
    }

    /// Splits a raw value.
    pub const fn from_raw(raw: u64) -> Self {
        SintMsr {
            vector: raw as u8,
            masked: raw & Self::MASKED_BIT != 0,
            auto_eoi: raw & Self::AUTO_EOI_BIT != 0,
            polling: raw & Self::POLLING_BIT != 0,
            as_intercept: raw & Self::AS_INTERCEPT_BIT != 0,
            proxy: raw & Self::PROXY_BIT != 0,
            reserved1: (raw >> 8) as u8,
            reserved2: raw >> 21,
        }
    }

    /// The raw value; `reserved2` wider than 43 bits is an error.
    pub const fn to_raw(&self) -> Result<u64, MsrError> {
        if self.reserved2 >> 43 != 0 {
            return Err(MsrError::FieldTooLarge(self.reserved2));
        }
        Ok(self.vector as u64
            | (self.reserved1 as u64) << 8
            | (self.masked as u64) << 16
            | (self.auto_eoi as u64) << 17
            | (self.polling as u64) << 18
            | (self.as_intercept as u64) << 19
            | (self.proxy as u64) << 20
            | self.reserved2 << 21)
    }

    /// Host check of a guest write: an unmasked SINT needs a vector of at least 16 (the
    /// TLFS makes such a write fault).
    pub const fn check_write(raw: u64) -> Result<Self, MsrError> {
        let s = Self::from_raw(raw);
        if !s.masked && s.vector < SYNIC_FIRST_VALID_VECTOR {
            return Err(MsrError::InvalidVector(s.vector));
        }
        Ok(s)
    }
}

/// `HV_X64_MSR_STIMERn_CONFIG` (`union hv_stimer_config`): enable 0, periodic 1, lazy 2,
/// auto-enable 3, APIC vector 11:4, direct mode 12, SINT 19:16.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StimerConfig {
    /// Enabled.
    pub enable: bool,
    /// Periodic.
    pub periodic: bool,
    /// Lazy.
    pub lazy: bool,
    /// Enable on writing the count.
    pub auto_enable: bool,
    /// Vector in direct mode.
    pub apic_vector: u8,
    /// Direct mode (interrupt instead of message).
    pub direct_mode: bool,
    /// Bits 15:13, reserved.
    pub reserved_z0: u8,
    /// SINT receiving the expiry message.
    pub sintx: u8,
    /// Bits 63:20, reserved.
    pub reserved_z1: u64,
}

impl StimerConfig {
    /// Splits a raw value.
    pub const fn from_raw(raw: u64) -> Self {
        StimerConfig {
            enable: raw & 1 != 0,
            periodic: raw & 2 != 0,
            lazy: raw & 4 != 0,
            auto_enable: raw & 8 != 0,
            apic_vector: (raw >> 4) as u8,
            direct_mode: raw & (1 << 12) != 0,
            reserved_z0: ((raw >> 13) & 7) as u8,
            sintx: ((raw >> 16) & 0xf) as u8,
            reserved_z1: raw >> 20,
        }
    }

    /// The raw value; out-of-range fields are errors.
    pub const fn to_raw(&self) -> Result<u64, MsrError> {
        if self.sintx >= SINT_COUNT {
            return Err(MsrError::InvalidSint(self.sintx));
        }
        if self.reserved_z0 > 7 {
            return Err(MsrError::FieldTooLarge(self.reserved_z0 as u64));
        }
        if self.reserved_z1 >> 44 != 0 {
            return Err(MsrError::FieldTooLarge(self.reserved_z1));
        }
        Ok(self.enable as u64
            | (self.periodic as u64) << 1
            | (self.lazy as u64) << 2
            | (self.auto_enable as u64) << 3
            | (self.apic_vector as u64) << 4
            | (self.direct_mode as u64) << 12
            | (self.reserved_z0 as u64) << 13
            | (self.sintx as u64) << 16
            | self.reserved_z1 << 20)
    }
}

/// Linux's vendor id in the guest OS id (`HV_LINUX_VENDOR_ID`, `include/hyperv/hvgdk.h`):
/// bit 15 "open source" and OS type 1 (Linux) in bits 14:8, placed at bits 63:48.
pub const HV_LINUX_VENDOR_ID: u16 = 0x8100;
/// Open-source bit of the guest OS id.
pub const GUEST_ID_OPEN_SOURCE: u64 = 1 << 63;

/// `LINUX_VERSION_CODE` for a version: `KERNEL_VERSION(a, b, c)` = a << 16 | b << 8 | c,
/// with `c` capped at 255 as `include/generated/uapi/linux/version.h` does.
pub const fn linux_version_code(major: u8, minor: u8, sublevel: u16) -> u32 {
    let c = if sublevel > 255 { 255 } else { sublevel as u32 };
    ((major as u32) << 16) | ((minor as u32) << 8) | c
}

/// The guest OS id Linux writes (`hv_generate_guest_id(LINUX_VERSION_CODE)`,
/// `include/asm-generic/mshyperv.h`): `HV_LINUX_VENDOR_ID << 48 | LINUX_VERSION_CODE << 16`.
pub const fn linux_guest_id(major: u8, minor: u8, sublevel: u16) -> u64 {
    ((HV_LINUX_VENDOR_ID as u64) << 48) | ((linux_version_code(major, minor, sublevel) as u64) << 16)
}

/// A decoded guest OS id (TLFS "Reporting the Guest OS Identity").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestOsId {
    /// Zero: not yet reported; hypercalls cannot be enabled.
    Unset,
    /// Open-source encoding (bit 63 set).
    OpenSource {
        /// OS type, bits 62:56 (1 = Linux, 2 = FreeBSD, 3 = Xen, 4 = Illumos).
        os_type: u8,
        /// Vendor information, bits 55:48.
        os_id: u8,
        /// Upstream version, bits 47:16 (`LINUX_VERSION_CODE` for Linux).
        version: u32,
        /// Build number / distribution data, bits 15:0.
        build: u16,
    },
    /// Proprietary encoding (bit 63 clear).
    Proprietary {
        /// Vendor, bits 62:48 (1 = Microsoft).
        vendor: u16,
        /// OS variant, bits 47:40.
        os_id: u8,
        /// Major version, bits 39:32.
        major: u8,
        /// Minor version, bits 31:24.
        minor: u8,
        /// Service version, bits 23:16.
        service: u8,
        /// Build number, bits 15:0.
        build: u16,
    },
}

impl GuestOsId {
    /// OS type value for Linux.
    pub const OS_TYPE_LINUX: u8 = 1;

    /// Decodes any raw value.
    pub const fn decode(raw: u64) -> Self {
        if raw == 0 {
            GuestOsId::Unset
        } else if raw & GUEST_ID_OPEN_SOURCE != 0 {
            GuestOsId::OpenSource {
                os_type: ((raw >> 56) & 0x7f) as u8,
                os_id: (raw >> 48) as u8,
                version: (raw >> 16) as u32,
                build: raw as u16,
            }
        } else {
            GuestOsId::Proprietary {
                vendor: ((raw >> 48) & 0x7fff) as u16,
                os_id: (raw >> 40) as u8,
                major: (raw >> 32) as u8,
                minor: (raw >> 24) as u8,
                service: (raw >> 16) as u8,
                build: raw as u16,
            }
        }
    }

    /// For a Linux id: (major, minor, sublevel) from its version code.
    pub const fn linux_version(&self) -> Option<(u8, u8, u8)> {
        match self {
            GuestOsId::OpenSource { os_type: Self::OS_TYPE_LINUX, version, .. } if *version >> 24 == 0 => {
                Some(((*version >> 16) as u8, (*version >> 8) as u8, *version as u8))
            }
            _ => None,
        }
    }
}
