//! One LUN of the StorVSP: `vstor_proto::disk::Disk` (the SCSI target logic, pure) over a
//! raw image ([`crate::disk::Image`]). [`Lun::execute`] runs one SRB: the target decides, this
//! module moves the data between the image and the guest's pages and does what the target
//! asked of the file (read, write, `fdatasync`, punch holes, fill).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Result};
use vstor_proto::cdb::opcode;
use vstor_proto::disk::{self, Action, DiscardConfig, Disk, DiskConfig, Identifier, NON_ROTATING, RESPONSE_MAX};
use vstor_proto::sense::{asc, key, FixedSense};
use vstor_proto::srb::{srb_status, ScsiResult};
use vstor_proto::vstor::{DataDirection, SrbRequest};

use super::{lock, Job};
use crate::disk::Image;
use crate::guestmem::{GuestRam, Segments};

/// T10 vendor, product and revision (Hyper-V's virtual disks say the same).
const VENDOR: &[u8] = b"Msft";
const PRODUCT: &[u8] = b"Virtual Disk";
const REVISION: &[u8] = b"1.0";
/// Largest UNMAP (blocks) and WRITE SAME (blocks) the LUNs accept; UNMAP descriptors.
const MAX_UNMAP_BLOCKS: u32 = 0x0040_0000;
const MAX_UNMAP_DESCRIPTORS: u32 = 256;
const MAX_WRITE_SAME_BLOCKS: u64 = 0x0040_0000;

/// What a LUN is made of.
pub struct LunParams {
    /// The LUN number.
    pub lun: u8,
    /// Logical block size (512 or 4096).
    pub sector: u32,
    /// Thin provisioning: UNMAP and WRITE SAME with UNMAP punch holes.
    pub discard: bool,
    /// The image; `None` makes a LUN of size 0 (a broken host's disk, for the guest's
    /// bad-input tests).
    pub image: Option<Image>,
    /// Unit serial number (VPD 0x80).
    pub serial: String,
    /// NAA identifier (VPD 0x83).
    pub naa: [u8; 16],
}

/// One LUN.
pub struct Lun {
    /// The LUN number.
    pub lun: u8,
    sector: u32,
    discard: bool,
    capacity: AtomicU64,
    image: Option<Image>,
    serial: String,
    naa: [u8; 16],
    /// Pending unit attention.
    ua: Mutex<Option<(u8, u8)>>,
    /// `disk stall N on`: requests are held, not answered.
    pub stalled: AtomicBool,
    /// Requests held while stalled.
    pub held: Mutex<Vec<Job>>,
}

impl Lun {
    /// A LUN; its capacity is the image's size in blocks.
    pub fn new(p: LunParams) -> Result<Lun> {
        if p.sector != 512 && p.sector != 4096 {
            bail!("sector must be 512 or 4096");
        }
        let blocks = p.image.as_ref().map_or(0, |i| i.len() / u64::from(p.sector));
        if p.image.is_some() && blocks == 0 {
            bail!("the image is smaller than one {}-byte block", p.sector);
        }
        let l = Lun {
            lun: p.lun,
            sector: p.sector,
            discard: p.discard,
            capacity: AtomicU64::new(blocks),
            image: p.image,
            serial: p.serial,
            naa: p.naa,
            ua: Mutex::new(None),
            stalled: AtomicBool::new(false),
            held: Mutex::new(Vec::new()),
        };
        Disk::new(l.config()).map_err(|e| anyhow::anyhow!("LUN {}: {}", p.lun, e.as_str()))?;
        Ok(l)
    }

    /// Logical block size.
    pub fn sector(&self) -> u32 {
        self.sector
    }

    /// Capacity in bytes (0 for the size-0 LUN).
    pub fn bytes(&self) -> u64 {
        if self.image.is_none() {
            return 0;
        }
        self.capacity.load(Ordering::Acquire) * u64::from(self.sector)
    }

    /// The image, if any.
    pub fn image(&self) -> Option<&Image> {
        self.image.as_ref()
    }

    /// The target's description. A LUN without an image is described with one block (the
    /// target refuses a capacity of zero); its READ CAPACITY answers are made up in
    /// [`Lun::execute`].
    fn config(&self) -> DiskConfig<'_> {
        let bs = self.sector;
        DiskConfig {
            capacity_blocks: self.capacity.load(Ordering::Acquire).max(1),
            logical_block_size: bs,
            // 512e: 4 KiB physical blocks behind 512-byte sectors, as VHDX disks are.
            physical_block_exponent: if bs == 512 { 3 } else { 0 },
            vendor: VENDOR,
            product: PRODUCT,
            revision: REVISION,
            serial: self.serial.as_bytes(),
            identifier: Identifier::NaaExtended(self.naa),
            write_cache: true,
            fua: true,
            read_only: false,
            rotation_rate: NON_ROTATING,
            max_transfer_blocks: 0,
            optimal_transfer_blocks: 0,
            discard: self.discard.then_some(DiscardConfig {
                max_unmap_lba_count: MAX_UNMAP_BLOCKS,
                max_unmap_descriptors: MAX_UNMAP_DESCRIPTORS,
                granularity: 4096 / bs,
                alignment: 0,
                lbprz: true,
            }),
            max_write_same_blocks: MAX_WRITE_SAME_BLOCKS,
        }
    }

    /// Grows or shrinks the LUN; its next command reports CAPACITY DATA HAS CHANGED.
    pub fn resize(&self, bytes: u64) -> Result<()> {
        let Some(img) = &self.image else { bail!("LUN {} has no image", self.lun) };
        let blocks = bytes / u64::from(self.sector);
        if blocks == 0 || bytes % u64::from(self.sector) != 0 {
            bail!("size must be a non-zero multiple of {} bytes", self.sector);
        }
        let mut d = Disk::new(self.config()).map_err(|e| anyhow::anyhow!(e.as_str()))?;
        d.resize(blocks).map_err(|e| anyhow::anyhow!(e.as_str()))?;
        img.set_len(bytes)?;
        self.capacity.store(blocks, Ordering::Release);
        *lock(&self.ua) = d.unit_attention();
        Ok(())
    }

    /// Powers a cut LUN on again: its next command reports POWER ON OCCURRED. False if it
    /// was not cut.
    pub fn power_on(&self) -> bool {
        let on = self.image.as_ref().is_some_and(|i| i.power_on());
        if on {
            *lock(&self.ua) = Some(asc::POWER_ON_RESET);
        }
        on
    }

    /// Runs one SRB whose data buffer is `segs` (validated guest RAM, at least the SRB's
    /// transfer length); `luns` answers REPORT LUNS.
    pub fn execute(&self, ram: &GuestRam, srb: &SrbRequest, segs: Segments<'_>, luns: &[u8]) -> ScsiResult {
        if self.image.as_ref().is_some_and(|i| i.is_off()) {
            // The disk behind the LUN lost power (`disk power-cut`): not ready, no cause given.
            return ScsiResult::check_condition(FixedSense::new(key::NOT_READY, asc::NOT_READY_CAUSE_NOT_REPORTABLE));
        }
        let mut scratch = [0u8; RESPONSE_MAX];
        let action = {
            let mut ua = lock(&self.ua);
            let mut d = match Disk::new(self.config()) {
                Ok(d) => d,
                Err(_) => return ScsiResult::check_condition(FixedSense::internal_target_failure()),
            };
            if let Some(u) = *ua {
                d.set_unit_attention(u);
            }
            let a = d.execute(srb.cdb(), srb.direction, srb.data_transfer_length, &mut scratch);
            *ua = d.unit_attention();
            a
        };
        let Some(img) = &self.image else { return self.execute_sizeless(ram, srb, segs, action, &mut scratch) };
        let io_error = |e: std::io::Error, code| {
            eprintln!("pvg-host: storage LUN {}: {}: {e}", self.lun, img.name);
            ScsiResult::check_condition(FixedSense::medium_error(code, None))
        };
        match action {
            Action::Done(r) => deliver(ram, srb, segs, &scratch, r),
            Action::Read { offset, len } => match img.read_to_guest(ram, offset, &take(segs, len as usize)) {
                Ok(()) => ScsiResult::good(len),
                Err(e) => io_error(e, asc::UNRECOVERED_READ_ERROR),
            },
            Action::Write { offset, len, durable } => {
                match img.write_from_guest(ram, offset, &take(segs, len as usize), durable) {
                    Ok(()) => ScsiResult::good(len),
                    Err(e) => io_error(e, asc::WRITE_ERROR),
                }
            }
            Action::Flush => match img.flush() {
                Ok(()) => ScsiResult::good(0),
                Err(e) => io_error(e, asc::WRITE_ERROR),
            },
            Action::Unmap { param_len } => {
                let data = match read_guest(ram, segs, usize::from(param_len)) {
                    Some(d) => d,
                    None => return ScsiResult::srb_error(srb_status::INVALID_REQUEST),
                };
                let ranges = match Disk::new(self.config()).map(|d| d.unmap_ranges(&data, param_len).map(|r| r.iter().collect::<Vec<_>>())) {
                    Ok(Ok(r)) => r,
                    Ok(Err(sense)) => return ScsiResult::check_condition(sense),
                    Err(_) => return ScsiResult::check_condition(FixedSense::internal_target_failure()),
                };
                let bs = u64::from(self.sector);
                for r in ranges {
                    if let Err(e) = img.punch_hole(r.lba * bs, u64::from(r.blocks) * bs) {
                        return io_error(e, asc::WRITE_ERROR);
                    }
                }
                ScsiResult::good(u32::from(param_len))
            }
            Action::WriteSame { offset, len, block_len, unmap, ndob } => {
                let block = if ndob {
                    vec![0u8; block_len as usize]
                } else {
                    match read_guest(ram, segs, block_len as usize) {
                        Some(b) => b,
                        None => return ScsiResult::srb_error(srb_status::INVALID_REQUEST),
                    }
                };
                let zeros = block.iter().all(|b| *b == 0);
                let r = match (zeros, unmap) {
                    (true, true) => img.punch_hole(offset, len),
                    (true, false) => img.zero_range(offset, len),
                    (false, _) => img.fill(offset, len, &block),
                };
                match r {
                    Ok(()) => ScsiResult::good(if ndob { 0 } else { block_len }),
                    Err(e) => io_error(e, asc::WRITE_ERROR),
                }
            }
            Action::ReportLuns { select, alloc } => report_luns(ram, srb, segs, luns, select, alloc),
        }
    }

    /// The size-0 LUN (no image): like a host that computes the last LBA as `size - 1`
    /// without checking, READ CAPACITY reports the wrapped value; data commands are out of
    /// range.
    fn execute_sizeless(&self, ram: &GuestRam, srb: &SrbRequest, segs: Segments<'_>, action: Action, scratch: &mut [u8]) -> ScsiResult {
        match action {
            Action::Done(r) => {
                if r.scsi_status == 0 && srb.opcode() == opcode::READ_CAPACITY_10 && scratch.len() >= 4 {
                    scratch[..4].copy_from_slice(&u32::MAX.to_be_bytes());
                }
                if r.scsi_status == 0 && srb.opcode() == opcode::SERVICE_ACTION_IN_16 && scratch.len() >= 8 {
                    scratch[..8].copy_from_slice(&0u64.wrapping_sub(1).to_be_bytes());
                }
                deliver(ram, srb, segs, scratch, r)
            }
            Action::ReportLuns { .. } => ScsiResult::srb_error(srb_status::INVALID_REQUEST),
            _ => ScsiResult::check_condition(FixedSense::lba_out_of_range()),
        }
    }
}

/// Copies a data-in answer the target built in `scratch` to the guest.
fn deliver(ram: &GuestRam, srb: &SrbRequest, segs: Segments<'_>, scratch: &[u8], r: ScsiResult) -> ScsiResult {
    let n = (r.transferred as usize).min(scratch.len());
    if n > 0 && srb.direction == DataDirection::Read && write_guest(ram, segs, &scratch[..n]).is_none() {
        return ScsiResult::srb_error(srb_status::INVALID_REQUEST);
    }
    r
}

/// REPORT LUNS for the target's LUNs (answered whatever LUN it is addressed to).
pub fn report_luns(ram: &GuestRam, srb: &SrbRequest, segs: Segments<'_>, luns: &[u8], select: u8, alloc: u32) -> ScsiResult {
    let mut out = vec![0u8; 8 + 8 * (luns.len() + 1)];
    let limit = (alloc as usize).min(srb.data_transfer_length as usize).min(out.len());
    let n = disk::report_luns(luns, select, &mut out[..limit]) as usize;
    if n > 0 && write_guest(ram, segs, &out[..n]).is_none() {
        return ScsiResult::srb_error(srb_status::INVALID_REQUEST);
    }
    ScsiResult::good(n as u32)
}

/// The first `len` bytes of a segment list.
pub fn take(segs: Segments<'_>, len: usize) -> Vec<(u64, usize)> {
    let mut out = Vec::with_capacity(segs.len());
    let mut left = len;
    for &(gpa, l) in segs {
        if left == 0 {
            break;
        }
        let n = l.min(left);
        out.push((gpa, n));
        left -= n;
    }
    out
}

/// Copies the first `len` bytes of the guest buffer out (`None`: the buffer is shorter, or
/// not RAM).
pub fn read_guest(ram: &GuestRam, segs: Segments<'_>, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    let mut at = 0;
    for (gpa, n) in take(segs, len) {
        ram.read(gpa, &mut out[at..at + n]).ok()?;
        at += n;
    }
    (at == len).then_some(out)
}

/// Copies `data` to the start of the guest buffer (`None`: it does not fit, or not RAM).
pub fn write_guest(ram: &GuestRam, segs: Segments<'_>, data: &[u8]) -> Option<()> {
    let mut at = 0;
    for (gpa, n) in take(segs, data.len()) {
        ram.write(gpa, &data[at..at + n]).ok()?;
        at += n;
    }
    (at == data.len()).then_some(())
}
