// SPDX-License-Identifier: GPL-2.0-only
//! SRB status and flags (Windows `srb.h` values, the subset Linux names in
//! `drivers/scsi/storvsc_drv.c`), SCSI status bytes (`include/scsi/scsi_proto.h`,
//! `enum sam_status`), the host's per-command result ([`ScsiResult`]) and the guest's
//! decision what to do with a completed command ([`classify`]).
//!
//! [`classify`] condenses what Linux does in three places into one pure function:
//! `storvsc_handle_error()` (SRB status, capacity-change and LUN-removal handling),
//! `scsi_check_sense()` (`drivers/scsi/scsi_error.c`: sense key to disposition) and
//! `scsi_io_completion_action()` (`drivers/scsi/scsi_lib.c`: retry or fail, which
//! `blk_status_t`). The guest's blk-mq driver maps the [`Outcome`] to a block status with
//! [`Outcome::blk_status`] and acts on the [`Followup`].

use crate::cdb::opcode;
use crate::sense::{self, asc, key, FixedSense};

/// SRB status byte values (`SRB_STATUS_*`). The two high bits are flags; the low six bits
/// are the status code ([`srb_status::code`]).
pub mod srb_status {
    /// `SRB_STATUS_AUTOSENSE_VALID`: `sense_data` holds valid sense.
    pub const AUTOSENSE_VALID: u8 = 0x80;
    /// `SRB_STATUS_QUEUE_FROZEN`: the port froze the queue.
    pub const QUEUE_FROZEN: u8 = 0x40;
    /// `SRB_STATUS_PENDING`: not completed (never valid in a completion).
    pub const PENDING: u8 = 0x00;
    /// `SRB_STATUS_SUCCESS`.
    pub const SUCCESS: u8 = 0x01;
    /// `SRB_STATUS_ABORTED`.
    pub const ABORTED: u8 = 0x02;
    /// `SRB_STATUS_ABORT_FAILED`.
    pub const ABORT_FAILED: u8 = 0x03;
    /// `SRB_STATUS_ERROR`: the command failed; with `CHECK CONDITION` and autosense the
    /// sense tells why.
    pub const ERROR: u8 = 0x04;
    /// `SRB_STATUS_BUSY`.
    pub const BUSY: u8 = 0x05;
    /// `SRB_STATUS_INVALID_REQUEST`.
    pub const INVALID_REQUEST: u8 = 0x06;
    /// `SRB_STATUS_INVALID_PATH_ID`.
    pub const INVALID_PATH_ID: u8 = 0x07;
    /// `SRB_STATUS_NO_DEVICE`.
    pub const NO_DEVICE: u8 = 0x08;
    /// `SRB_STATUS_TIMEOUT`.
    pub const TIMEOUT: u8 = 0x09;
    /// `SRB_STATUS_SELECTION_TIMEOUT`.
    pub const SELECTION_TIMEOUT: u8 = 0x0A;
    /// `SRB_STATUS_COMMAND_TIMEOUT`.
    pub const COMMAND_TIMEOUT: u8 = 0x0B;
    /// `SRB_STATUS_MESSAGE_REJECTED`.
    pub const MESSAGE_REJECTED: u8 = 0x0D;
    /// `SRB_STATUS_BUS_RESET`.
    pub const BUS_RESET: u8 = 0x0E;
    /// `SRB_STATUS_PARITY_ERROR`.
    pub const PARITY_ERROR: u8 = 0x0F;
    /// `SRB_STATUS_REQUEST_SENSE_FAILED`.
    pub const REQUEST_SENSE_FAILED: u8 = 0x10;
    /// `SRB_STATUS_NO_HBA`.
    pub const NO_HBA: u8 = 0x11;
    /// `SRB_STATUS_DATA_OVERRUN`: over- or underrun; `data_transfer_length` is valid.
    pub const DATA_OVERRUN: u8 = 0x12;
    /// `SRB_STATUS_UNEXPECTED_BUS_FREE`.
    pub const UNEXPECTED_BUS_FREE: u8 = 0x13;
    /// `SRB_STATUS_PHASE_SEQUENCE_FAILURE`.
    pub const PHASE_SEQUENCE_FAILURE: u8 = 0x14;
    /// `SRB_STATUS_BAD_SRB_BLOCK_LENGTH`.
    pub const BAD_SRB_BLOCK_LENGTH: u8 = 0x15;
    /// `SRB_STATUS_REQUEST_FLUSHED`.
    pub const REQUEST_FLUSHED: u8 = 0x16;
    /// `SRB_STATUS_INVALID_LUN`: no such LUN (Linux removes the device).
    pub const INVALID_LUN: u8 = 0x20;
    /// `SRB_STATUS_INVALID_TARGET_ID`.
    pub const INVALID_TARGET_ID: u8 = 0x21;
    /// `SRB_STATUS_BAD_FUNCTION`.
    pub const BAD_FUNCTION: u8 = 0x22;
    /// `SRB_STATUS_ERROR_RECOVERY`.
    pub const ERROR_RECOVERY: u8 = 0x23;
    /// `SRB_STATUS_NOT_POWERED`.
    pub const NOT_POWERED: u8 = 0x24;
    /// `SRB_STATUS_LINK_DOWN`.
    pub const LINK_DOWN: u8 = 0x25;
    /// `SRB_STATUS_INTERNAL_ERROR`: the host failed the request itself.
    pub const INTERNAL_ERROR: u8 = 0x30;

    /// `SRB_STATUS(status)`: the status code without the flag bits.
    pub const fn code(status: u8) -> u8 {
        status & !(AUTOSENSE_VALID | QUEUE_FROZEN)
    }

    /// The C name of a status code, for logs.
    pub const fn name(status: u8) -> &'static str {
        match code(status) {
            PENDING => "PENDING",
            SUCCESS => "SUCCESS",
            ABORTED => "ABORTED",
            ABORT_FAILED => "ABORT_FAILED",
            ERROR => "ERROR",
            BUSY => "BUSY",
            INVALID_REQUEST => "INVALID_REQUEST",
            INVALID_PATH_ID => "INVALID_PATH_ID",
            NO_DEVICE => "NO_DEVICE",
            TIMEOUT => "TIMEOUT",
            SELECTION_TIMEOUT => "SELECTION_TIMEOUT",
            COMMAND_TIMEOUT => "COMMAND_TIMEOUT",
            BUS_RESET => "BUS_RESET",
            DATA_OVERRUN => "DATA_OVERRUN",
            INVALID_LUN => "INVALID_LUN",
            INVALID_TARGET_ID => "INVALID_TARGET_ID",
            INTERNAL_ERROR => "INTERNAL_ERROR",
            _ => "other",
        }
    }
}

/// `SRB_FLAGS_*` of `vmscsi_request.srb_flags` (Win8 extension).
pub mod srb_flags {
    /// `SRB_FLAGS_QUEUE_ACTION_ENABLE`: `queue_action` is valid.
    pub const QUEUE_ACTION_ENABLE: u32 = 0x0000_0002;
    /// `SRB_FLAGS_DISABLE_DISCONNECT`.
    pub const DISABLE_DISCONNECT: u32 = 0x0000_0004;
    /// `SRB_FLAGS_DISABLE_SYNCH_TRANSFER` (Linux sets it on every SRB).
    pub const DISABLE_SYNCH_TRANSFER: u32 = 0x0000_0008;
    /// `SRB_FLAGS_BYPASS_FROZEN_QUEUE`.
    pub const BYPASS_FROZEN_QUEUE: u32 = 0x0000_0010;
    /// `SRB_FLAGS_DISABLE_AUTOSENSE`.
    pub const DISABLE_AUTOSENSE: u32 = 0x0000_0020;
    /// `SRB_FLAGS_DATA_IN`: device to guest.
    pub const DATA_IN: u32 = 0x0000_0040;
    /// `SRB_FLAGS_DATA_OUT`: guest to device.
    pub const DATA_OUT: u32 = 0x0000_0080;
    /// `SRB_FLAGS_NO_DATA_TRANSFER`.
    pub const NO_DATA_TRANSFER: u32 = 0x0000_0000;
    /// `SRB_FLAGS_UNSPECIFIED_DIRECTION`.
    pub const UNSPECIFIED_DIRECTION: u32 = DATA_IN | DATA_OUT;
    /// `SRB_FLAGS_NO_QUEUE_FREEZE`.
    pub const NO_QUEUE_FREEZE: u32 = 0x0000_0100;
    /// `SRB_FLAGS_ADAPTER_CACHE_ENABLE`.
    pub const ADAPTER_CACHE_ENABLE: u32 = 0x0000_0200;
    /// `SRB_FLAGS_FREE_SENSE_BUFFER`.
    pub const FREE_SENSE_BUFFER: u32 = 0x0000_0400;
    /// `SRB_FLAGS_D3_PROCESSING`: part of a D3 (power-down) transition.
    pub const D3_PROCESSING: u32 = 0x0000_0800;
    /// `SRB_FLAGS_IS_ACTIVE`.
    pub const IS_ACTIVE: u32 = 0x0001_0000;
    /// `SRB_FLAGS_ALLOCATED_FROM_ZONE`.
    pub const ALLOCATED_FROM_ZONE: u32 = 0x0002_0000;
    /// `SRB_FLAGS_SGLIST_FROM_POOL`.
    pub const SGLIST_FROM_POOL: u32 = 0x0004_0000;
    /// `SRB_FLAGS_BYPASS_LOCKED_QUEUE`.
    pub const BYPASS_LOCKED_QUEUE: u32 = 0x0008_0000;
    /// `SRB_FLAGS_NO_KEEP_AWAKE`.
    pub const NO_KEEP_AWAKE: u32 = 0x0010_0000;
    /// `SRB_FLAGS_PORT_DRIVER_ALLOCSENSE`.
    pub const PORT_DRIVER_ALLOCSENSE: u32 = 0x0020_0000;
    /// `SRB_FLAGS_PORT_DRIVER_SENSEHASPORT`.
    pub const PORT_DRIVER_SENSEHASPORT: u32 = 0x0040_0000;
    /// `SRB_FLAGS_DONT_START_NEXT_PACKET`.
    pub const DONT_START_NEXT_PACKET: u32 = 0x0080_0000;
    /// `SRB_FLAGS_PORT_DRIVER_RESERVED`.
    pub const PORT_DRIVER_RESERVED: u32 = 0x0F00_0000;
    /// `SRB_FLAGS_CLASS_DRIVER_RESERVED`.
    pub const CLASS_DRIVER_RESERVED: u32 = 0xF000_0000;
}

/// SCSI status byte (`enum sam_status`, SAM-5 5.3).
pub mod scsi_status {
    /// `SAM_STAT_GOOD`.
    pub const GOOD: u8 = 0x00;
    /// `SAM_STAT_CHECK_CONDITION`: sense data describes the error.
    pub const CHECK_CONDITION: u8 = 0x02;
    /// `SAM_STAT_CONDITION_MET`.
    pub const CONDITION_MET: u8 = 0x04;
    /// `SAM_STAT_BUSY`.
    pub const BUSY: u8 = 0x08;
    /// `SAM_STAT_INTERMEDIATE` (obsolete).
    pub const INTERMEDIATE: u8 = 0x10;
    /// `SAM_STAT_INTERMEDIATE_CONDITION_MET` (obsolete).
    pub const INTERMEDIATE_CONDITION_MET: u8 = 0x14;
    /// `SAM_STAT_RESERVATION_CONFLICT`.
    pub const RESERVATION_CONFLICT: u8 = 0x18;
    /// `SAM_STAT_COMMAND_TERMINATED` (obsolete).
    pub const COMMAND_TERMINATED: u8 = 0x22;
    /// `SAM_STAT_TASK_SET_FULL`.
    pub const TASK_SET_FULL: u8 = 0x28;
    /// `SAM_STAT_ACA_ACTIVE`.
    pub const ACA_ACTIVE: u8 = 0x30;
    /// `SAM_STAT_TASK_ABORTED`.
    pub const TASK_ABORTED: u8 = 0x40;
}

/// `blk_status_t` values (`include/linux/blk_types.h`) that [`Outcome::blk_status`] returns.
pub mod blk_status {
    /// `BLK_STS_OK`.
    pub const OK: u8 = 0;
    /// `BLK_STS_NOTSUPP` (-EOPNOTSUPP).
    pub const NOTSUPP: u8 = 1;
    /// `BLK_STS_TIMEOUT` (-ETIMEDOUT).
    pub const TIMEOUT: u8 = 2;
    /// `BLK_STS_NOSPC` (-ENOSPC).
    pub const NOSPC: u8 = 3;
    /// `BLK_STS_TRANSPORT` (-ENOLINK).
    pub const TRANSPORT: u8 = 4;
    /// `BLK_STS_TARGET` (-EREMOTEIO): critical target error, no retry.
    pub const TARGET: u8 = 5;
    /// `BLK_STS_RESV_CONFLICT` (-EBADE).
    pub const RESV_CONFLICT: u8 = 6;
    /// `BLK_STS_MEDIUM` (-ENODATA).
    pub const MEDIUM: u8 = 7;
    /// `BLK_STS_RESOURCE` (-ENOMEM): requeue later.
    pub const RESOURCE: u8 = 9;
    /// `BLK_STS_IOERR` (-EIO).
    pub const IOERR: u8 = 10;
    /// `BLK_STS_OFFLINE` (-ENODEV).
    pub const OFFLINE: u8 = 16;
}

/// How often [`Outcome::Retry`] is retried before failing (sd's `SD_MAX_RETRIES`).
pub const MAX_RETRIES: u32 = 5;

// ---------------------------------------------------------------------------------------
// Host side: a command's result.

/// What the target reports for one command; the host turns it into the SRB completion
/// (`vstor::srb_completion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScsiResult {
    /// SRB status code (flags are added by the encoder).
    pub srb_status: u8,
    /// SCSI status byte.
    pub scsi_status: u8,
    /// Sense data for `CHECK CONDITION`.
    pub sense: Option<FixedSense>,
    /// Bytes transferred (data-in written or data-out consumed).
    pub transferred: u32,
}

impl ScsiResult {
    /// `GOOD` with `transferred` bytes. A short data-in answer (less data than the
    /// allocation length) is also reported this way, as `SUCCESS` with the real count:
    /// Linux turns `DATA_OVERRUN` without sense into `DID_ERROR`.
    pub const fn good(transferred: u32) -> Self {
        ScsiResult { srb_status: srb_status::SUCCESS, scsi_status: scsi_status::GOOD, sense: None, transferred }
    }

    /// `CHECK CONDITION` with `sense`, as Hyper-V reports it: `SRB_STATUS_ERROR` (the encoder
    /// adds `AUTOSENSE_VALID`), nothing transferred.
    pub const fn check_condition(sense: FixedSense) -> Self {
        ScsiResult {
            srb_status: srb_status::ERROR,
            scsi_status: scsi_status::CHECK_CONDITION,
            sense: Some(sense),
            transferred: 0,
        }
    }

    /// A failure of the SRB itself (`srb_status` such as `INVALID_LUN`, `BUSY`,
    /// `INTERNAL_ERROR`) with `GOOD` SCSI status and no data.
    pub const fn srb_error(srb_status: u8) -> Self {
        ScsiResult { srb_status, scsi_status: scsi_status::GOOD, sense: None, transferred: 0 }
    }

    /// The answer for an address without a LUN behind it (`SRB_STATUS_INVALID_LUN`).
    pub const fn invalid_lun() -> Self {
        Self::srb_error(srb_status::INVALID_LUN)
    }

    /// `BUSY` SCSI status: the guest retries.
    pub const fn busy() -> Self {
        ScsiResult { srb_status: srb_status::SUCCESS, scsi_status: scsi_status::BUSY, sense: None, transferred: 0 }
    }
}

// ---------------------------------------------------------------------------------------
// Guest side: classification.

/// What became of a command, as the block layer needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the data (up to the transferred count) is valid.
    Ok,
    /// Transient: requeue the request (bounded, like `SD_MAX_RETRIES`); when the retries are
    /// used up, fail it with [`blk_status::IOERR`].
    Retry,
    /// Medium error (`MEDIUM ERROR`): unreadable or unwritable blocks.
    MediumError,
    /// The target failed in a way retrying will not fix (`HARDWARE ERROR`, `DATA PROTECT`,
    /// `SRB_STATUS_INTERNAL_ERROR`, ...).
    TargetFailure,
    /// The target refused the command (`ILLEGAL REQUEST`: bad opcode, field, LBA range).
    IllegalRequest,
    /// The unit is not ready (`NOT READY` other than "becoming ready"; medium not present).
    NotReady,
    /// The host timed the command out.
    Timeout,
    /// No device at that address any more (`SRB_STATUS_INVALID_LUN` and kin).
    NoDevice,
    /// Any other failure.
    IoError,
}

impl Outcome {
    /// The `blk_status_t` to complete the request with when the outcome is final
    /// ([`Outcome::Retry`] once retries are exhausted). Follows `scsi_result_to_blk_status()`
    /// and `scsi_io_completion_action()`: `ILLEGAL REQUEST` and hardware errors are
    /// `BLK_STS_TARGET`, medium errors `BLK_STS_MEDIUM`, the rest `BLK_STS_IOERR`.
    pub const fn blk_status(self) -> u8 {
        match self {
            Outcome::Ok => blk_status::OK,
            Outcome::MediumError => blk_status::MEDIUM,
            Outcome::TargetFailure | Outcome::IllegalRequest => blk_status::TARGET,
            Outcome::Timeout => blk_status::TIMEOUT,
            Outcome::NoDevice => blk_status::OFFLINE,
            Outcome::Retry | Outcome::NotReady | Outcome::IoError => blk_status::IOERR,
        }
    }

    /// A short name for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Retry => "retry",
            Outcome::MediumError => "medium error",
            Outcome::TargetFailure => "target failure",
            Outcome::IllegalRequest => "illegal request",
            Outcome::NotReady => "not ready",
            Outcome::Timeout => "timeout",
            Outcome::NoDevice => "no device",
            Outcome::IoError => "I/O error",
        }
    }
}

/// Work the guest schedules besides completing the request (`storvsc_handle_error()`'s
/// `process_err_fn`, and the midlayer's reaction to `REPORTED LUNS DATA HAS CHANGED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Followup {
    /// Nothing.
    None,
    /// Re-read this LUN's capacity and limits (`storvsc_device_scan`: capacity data changed
    /// 2A/09, or operating parameters changed 3F/xx).
    RescanDevice,
    /// Rescan the bus for LUNs (3F/0E, reported LUNs data has changed).
    RescanBus,
    /// Remove this LUN (`storvsc_remove_lun`: `SRB_STATUS_INVALID_LUN`).
    RemoveLun,
}

/// The guest's decision for one completed command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disposition {
    /// How the request ends (or whether it is retried).
    pub outcome: Outcome,
    /// What else to do.
    pub followup: Followup,
}

impl Disposition {
    const fn new(outcome: Outcome, followup: Followup) -> Self {
        Disposition { outcome, followup }
    }

    const fn only(outcome: Outcome) -> Self {
        Disposition { outcome, followup: Followup::None }
    }
}

/// Linux's `storvsc_host_mishandles_cmd()`: commands whose failures Hyper-V reports wrongly,
/// so storvsc turns any status into success (`INQUIRY`, `MODE SENSE(6/10)`; for Fibre
/// Channel also `MAINTENANCE IN` and `PERSISTENT RESERVE IN`). The suite's own host does not
/// need this; a guest driver talking to real Hyper-V applies it before [`classify`].
pub const fn host_mishandles_cmd(opcode: u8, is_fc: bool) -> bool {
    match opcode {
        opcode::INQUIRY | opcode::MODE_SENSE_6 | opcode::MODE_SENSE_10 => true,
        opcode::MAINTENANCE_IN | opcode::PERSISTENT_RESERVE_IN => is_fc,
        _ => false,
    }
}

/// Classifies a completed command from its opcode, SRB status (with flags), SCSI status and
/// sense bytes (pass [`crate::vstor::SrbCompletion::sense_data`], empty when the host
/// returned none).
///
/// Model, in Linux's order:
/// 1. `SRB_STATUS_SUCCESS`: the SCSI status decides ([`classify_scsi`]).
/// 2. `ERROR`, `ABORTED`, `INVALID_REQUEST`, `INTERNAL_ERROR`, `TIMEOUT`,
///    `SELECTION_TIMEOUT`, `BUS_RESET`, `DATA_OVERRUN` (`storvsc_handle_error()`):
///    - with autosense: capacity changed (2A/09) and "operating parameters changed"
///      (3F/xx but not 3F/03 or 3F/0E) are retried with a device rescan; anything else is
///      left to the sense data ([`classify_scsi`]);
///    - without: `TEST UNIT READY` follows the SCSI status; ATA pass-through and all others
///      fail (Linux `DID_PASSTHROUGH` / `DID_ERROR`). Here `ABORTED` and `BUS_RESET` retry,
///      the timeouts give [`Outcome::Timeout`], `INVALID_REQUEST` [`Outcome::IllegalRequest`],
///      `INTERNAL_ERROR` [`Outcome::TargetFailure`], `ERROR`/`DATA_OVERRUN` [`Outcome::IoError`].
/// 3. `INVALID_LUN`: [`Outcome::NoDevice`] and [`Followup::RemoveLun`] (`DID_NO_CONNECT`).
///    `INVALID_TARGET_ID`, `NO_DEVICE`, `INVALID_PATH_ID`, `NO_HBA` also give `NoDevice`
///    (Linux leaves them to the SCSI status).
/// 4. `BUSY`: retry. Anything else: [`Outcome::IoError`] (Linux would look at the SCSI
///    status only).
pub fn classify(opcode: u8, srb: u8, scsi: u8, sense: &[u8]) -> Disposition {
    use srb_status as s;
    let autosense = srb & s::AUTOSENSE_VALID != 0;
    match s::code(srb) {
        s::SUCCESS => classify_scsi(opcode, scsi, sense),
        s::ERROR
        | s::ABORTED
        | s::INVALID_REQUEST
        | s::INTERNAL_ERROR
        | s::TIMEOUT
        | s::SELECTION_TIMEOUT
        | s::BUS_RESET
        | s::DATA_OVERRUN => {
            if autosense && !sense.is_empty() {
                classify_autosense(opcode, scsi, sense)
            } else {
                classify_srb_failure(opcode, s::code(srb), scsi, sense)
            }
        }
        s::INVALID_LUN => Disposition::new(Outcome::NoDevice, Followup::RemoveLun),
        s::INVALID_TARGET_ID | s::NO_DEVICE | s::INVALID_PATH_ID | s::NO_HBA => Disposition::only(Outcome::NoDevice),
        s::BUSY => Disposition::only(Outcome::Retry),
        _ => Disposition::only(Outcome::IoError),
    }
}

/// `storvsc_handle_error()` with `SRB_STATUS_AUTOSENSE_VALID`.
fn classify_autosense(opcode: u8, scsi: u8, sense: &[u8]) -> Disposition {
    if let Ok(s) = sense::decode(sense) {
        let (a, q) = (s.asc, s.ascq);
        if (a, q) == asc::CAPACITY_DATA_HAS_CHANGED {
            return Disposition::new(Outcome::Retry, Followup::RescanDevice);
        }
        if a == asc::TARGET_OPERATING_CONDITIONS_CHANGED && q != 0x03 && q != 0x0e {
            return Disposition::new(Outcome::Retry, Followup::RescanDevice);
        }
    }
    classify_scsi(opcode, scsi, sense)
}

/// `storvsc_handle_error()` without autosense.
fn classify_srb_failure(opcode: u8, code: u8, scsi: u8, sense: &[u8]) -> Disposition {
    use srb_status as s;
    if opcode == opcode::TEST_UNIT_READY {
        return classify_scsi(opcode, scsi, sense);
    }
    Disposition::only(match code {
        s::ABORTED | s::BUS_RESET => Outcome::Retry,
        s::TIMEOUT | s::SELECTION_TIMEOUT => Outcome::Timeout,
        s::INVALID_REQUEST => Outcome::IllegalRequest,
        s::INTERNAL_ERROR => Outcome::TargetFailure,
        _ => Outcome::IoError,
    })
}

/// The SCSI status byte with `DID_OK` (the midlayer's `scsi_decide_disposition()`):
/// `GOOD`/`CONDITION_MET` succeed, `BUSY`/`TASK SET FULL`/`TASK ABORTED`/`ACA ACTIVE` retry,
/// `CHECK CONDITION` goes by the sense data ([`classify_sense`]; without valid sense it is an
/// I/O error), `RESERVATION CONFLICT` and the rest fail.
pub fn classify_scsi(opcode: u8, scsi: u8, sense: &[u8]) -> Disposition {
    use scsi_status as st;
    match scsi {
        st::GOOD | st::CONDITION_MET | st::INTERMEDIATE | st::INTERMEDIATE_CONDITION_MET => {
            Disposition::only(Outcome::Ok)
        }
        st::BUSY | st::TASK_SET_FULL | st::TASK_ABORTED | st::ACA_ACTIVE => Disposition::only(Outcome::Retry),
        st::CHECK_CONDITION => match sense::decode(sense) {
            Ok(s) => classify_sense(opcode, &s),
            Err(_) => Disposition::only(Outcome::IoError),
        },
        _ => Disposition::only(Outcome::IoError),
    }
}

/// Sense data to a disposition (`scsi_check_sense()` + `scsi_io_completion_action()` for a
/// non-removable disk):
/// - deferred errors, `ABORTED COMMAND`: retry;
/// - `NO SENSE`, `RECOVERED ERROR`: success (sd treats them as good);
/// - `UNIT ATTENTION`: retry; 2A/09 and 3F/xx (not 3F/03) add a device rescan, 3F/0E a bus
///   rescan;
/// - `NOT READY`: 04/01 (becoming ready) and the other "in progress" qualifiers retry; the
///   rest (including 3A, medium not present) is [`Outcome::NotReady`];
/// - `MEDIUM ERROR`: [`Outcome::MediumError`];
/// - `HARDWARE ERROR`, `DATA PROTECT`, `COPY ABORTED`, `VOLUME OVERFLOW`, `MISCOMPARE`,
///   `BLANK CHECK`: [`Outcome::TargetFailure`];
/// - `ILLEGAL REQUEST`: [`Outcome::IllegalRequest`];
/// - `TEST UNIT READY` failing with anything else: success of the command, the caller reads
///   the sense (Linux: "let the upper level deal with it");
/// - others: [`Outcome::IoError`].
pub fn classify_sense(opcode: u8, s: &sense::Sense) -> Disposition {
    if s.deferred {
        return Disposition::only(Outcome::Retry);
    }
    match s.key {
        key::NO_SENSE | key::RECOVERED_ERROR => Disposition::only(Outcome::Ok),
        key::UNIT_ATTENTION => Disposition::new(Outcome::Retry, unit_attention_followup(s.asc, s.ascq)),
        key::ABORTED_COMMAND => Disposition::only(Outcome::Retry),
        key::NOT_READY if not_ready_transient(s.asc, s.ascq) => Disposition::only(Outcome::Retry),
        key::NOT_READY => Disposition::only(Outcome::NotReady),
        key::MEDIUM_ERROR => Disposition::only(Outcome::MediumError),
        key::HARDWARE_ERROR
        | key::DATA_PROTECT
        | key::COPY_ABORTED
        | key::VOLUME_OVERFLOW
        | key::MISCOMPARE
        | key::BLANK_CHECK => Disposition::only(Outcome::TargetFailure),
        key::ILLEGAL_REQUEST => Disposition::only(Outcome::IllegalRequest),
        _ if opcode == opcode::TEST_UNIT_READY => Disposition::only(Outcome::Ok),
        _ => Disposition::only(Outcome::IoError),
    }
}

fn unit_attention_followup(a: u8, q: u8) -> Followup {
    if (a, q) == asc::CAPACITY_DATA_HAS_CHANGED {
        Followup::RescanDevice
    } else if (a, q) == asc::REPORTED_LUNS_DATA_HAS_CHANGED {
        Followup::RescanBus
    } else if a == asc::TARGET_OPERATING_CONDITIONS_CHANGED && q != 0x03 {
        Followup::RescanDevice
    } else {
        Followup::None
    }
}

/// `NOT READY` qualifiers of ASC 04 that `scsi_io_completion_action()` retries after a delay.
fn not_ready_transient(a: u8, q: u8) -> bool {
    a == 0x04 && matches!(q, 0x01 | 0x04..=0x09 | 0x0a | 0x11 | 0x14 | 0x1a | 0x1b | 0x1d)
}
