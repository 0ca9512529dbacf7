// SPDX-License-Identifier: GPL-2.0-only
//! LUNs as disks: discovery (REPORT LUNS, INQUIRY, VPD 0x00/0x80/0x83/0xB0/0xB1/0xB2,
//! READ CAPACITY(16), MODE SENSE caching page), one `pvd<letters>` disk per LUN, and rescans
//! that add and remove disks and follow capacity changes (`ENUMERATE_BUS`, unit attentions
//! 2A/09 and 3F/0E).
//!
//! The disk's identity is in sysfs for udev (`99-pvguest-storage.rules`):
//! `/sys/block/pvdX/serial` (VPD 0x80), `wwid` (VPD 0x83 as `naa.…`/`eui.…`/`t10.…`) and
//! `wwn` (`0x…` for NAA/EUI-64 designators).

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering};

use kernel::{prelude::*, sync::Arc};
use vstor_proto::{
    cdb::{self, mode_page, vpd, PageControl},
    guest::{self, DiskName, Identity, LunConfig, LunGeometry, LunInputs, LunSet},
    response as resp,
    vstor::ScsiAddress,
};

use crate::blk::{Disk, Limits};
use crate::controller::Controller;
use crate::io::Storvsc;

/// Hyper-V pages are 4 KiB: no segment but the first may start, and none but the last may
/// end, off a page boundary (storvsc's `virt_boundary_mask`).
const VIRT_BOUNDARY: u64 = 4095;
/// LUNs probed one by one when REPORT LUNS is not answered (`scsi_sequential_lun_scan`).
const SEQUENTIAL_SCAN_LUNS: u8 = 8;

/// One LUN's disk data (the disk's queue data).
pub(crate) struct Lun {
    /// Its SRB address (the LUN number is `addr.lun`).
    pub(crate) addr: ScsiAddress,
    /// What request mapping needs.
    pub(crate) geometry: LunGeometry,
    /// Tagged command queuing (INQUIRY CMDQUE).
    pub(crate) tagged: bool,
    /// Removed by the host: fail new I/O at once.
    pub(crate) gone: AtomicBool,
    /// Disk name (`pvda`).
    pub(crate) name: DiskName,
    /// Disk index (for the name).
    pub(crate) index: u32,
    serial: Identity,
    wwid: Identity,
    wwn: Identity,
}

/// A LUN the controller exposes.
pub(crate) struct LunEntry {
    /// The LUN number.
    pub(crate) lun: u8,
    /// The disk (deleted when dropped).
    pub(crate) disk: Disk<Storvsc>,
    /// Capacity in sectors as last set.
    pub(crate) capacity_sectors: u64,
    /// Logical block size.
    pub(crate) block_size: u32,
}

/// The sysfs identity attributes (`shim.c`): 0 `serial`, 1 `wwid`, 2 `wwn`.
///
/// # Safety
///
/// `lun` is a disk's private data (a live `Lun`: sysfs attributes are removed before the
/// disk and its `Lun` go) and `buf` a `PAGE_SIZE` sysfs buffer.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_stor_show_identity(lun: *mut c_void, which: c_int, buf: *mut c_char) -> isize {
    if lun.is_null() || buf.is_null() {
        return 0;
    }
    // SAFETY: a live `Lun` (contract).
    let lun = unsafe { &*lun.cast::<Lun>() };
    let s = match which {
        0 => &lun.serial,
        1 => &lun.wwid,
        _ => &lun.wwn,
    };
    let bytes = s.as_bytes();
    // An identity is at most `guest::IDENTITY_LEN` (256) bytes, well inside the page.
    let n = bytes.len().min(4000);
    // SAFETY: `buf` has a page; we write `n + 1 <= 4001` bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = b'\n' as c_char;
    }
    (n + 1) as isize
}

/// The VPD pages a LUN lists on page 0x00, among those the driver reads.
#[derive(Default)]
struct Pages {
    serial: bool,
    ident: bool,
    limits: bool,
    characteristics: bool,
    provisioning: bool,
}

fn supported_pages(ctrl: &Controller, lun: u8, buf: &mut [u8]) -> Pages {
    let Ok(n) = ctrl.scsi(lun, &cdb::inquiry_vpd(vpd::SUPPORTED_PAGES, 255), 255, buf) else { return Pages::default() };
    let Ok(list) = resp::parse_supported_pages(buf.get(..n).unwrap_or(&[])) else { return Pages::default() };
    Pages {
        serial: list.contains(vpd::UNIT_SERIAL_NUMBER),
        ident: list.contains(vpd::DEVICE_IDENTIFICATION),
        limits: list.contains(vpd::BLOCK_LIMITS),
        characteristics: list.contains(vpd::BLOCK_DEVICE_CHARACTERISTICS),
        provisioning: list.contains(vpd::LOGICAL_BLOCK_PROVISIONING),
    }
}

/// VPD page `page` into `buf`; its length, or `None` if unavailable.
fn vpd_page(ctrl: &Controller, lun: u8, page: u8, buf: &mut [u8]) -> Option<usize> {
    ctrl.scsi(lun, &cdb::inquiry_vpd(page, 255), 255, buf).ok()
}

/// READ CAPACITY(16), or (10) when (16) is refused.
fn read_capacity(ctrl: &Controller, lun: u8, buf: &mut [u8]) -> Result<resp::Capacity> {
    let mut rc16 = None;
    if let Ok(n) = ctrl.scsi(lun, &cdb::read_capacity_16(cdb::RC16_LEN), cdb::RC16_LEN, buf) {
        match resp::parse_read_capacity_16(buf.get(..n).unwrap_or(&[])) {
            Ok(c) => return Ok(c),
            Err(e) => rc16 = Some(e),
        }
    }
    // The host answered, but with nothing usable (e.g. a size-0 LUN's wrapped last LBA).
    let unusable = |e: resp::ResponseError| {
        pr_warn!("{}: LUN {}: unusable READ CAPACITY answer ({}); not used as a disk\n", ctrl.name.as_str(), lun, e.as_str());
        EPROTO
    };
    let n = ctrl.scsi(lun, &cdb::read_capacity_10(), 8, buf)?;
    let c = resp::parse_read_capacity_10(buf.get(..n).unwrap_or(&[])).map_err(|e| unusable(rc16.unwrap_or(e)))?;
    if c.needs_16() {
        // Only READ CAPACITY(16) can tell the size, and its answer was unusable (or absent).
        return Err(rc16.map_or(EPROTO, unusable));
    }
    Ok(c)
}

/// Everything discovery learns about a LUN.
struct Discovered {
    config: LunConfig,
    tagged: bool,
    serial: Identity,
    wwid: Identity,
    wwn: Identity,
}

fn discover(ctrl: &Controller, lun: u8, max_transfer: u32, buf: &mut [u8]) -> Result<Option<Discovered>> {
    let n = ctrl.scsi(lun, &cdb::inquiry(cdb::INQUIRY_STANDARD_LEN), u32::from(cdb::INQUIRY_STANDARD_LEN), buf)?;
    let inq = resp::parse_standard_inquiry(buf.get(..n).unwrap_or(&[])).map_err(|_| EPROTO)?;
    if !inq.is_disk() {
        pr_info!(
            "{}: LUN {}: peripheral qualifier {} type {:#x}, not a disk; ignored\n",
            ctrl.name.as_str(),
            lun,
            inq.qualifier,
            inq.device_type
        );
        return Ok(None);
    }
    let pages = supported_pages(ctrl, lun, buf);
    let (mut serial, mut wwid, mut wwn) = (Identity::new(), Identity::new(), Identity::new());
    if pages.serial {
        if let Some(n) = vpd_page(ctrl, lun, vpd::UNIT_SERIAL_NUMBER, buf) {
            if let Ok(s) = resp::parse_unit_serial(buf.get(..n).unwrap_or(&[])) {
                serial = guest::serial(s);
            }
        }
    }
    if pages.ident {
        if let Some(n) = vpd_page(ctrl, lun, vpd::DEVICE_IDENTIFICATION, buf) {
            if let Ok(Some(best)) = resp::pick_wwn(buf.get(..n).unwrap_or(&[])) {
                wwid = guest::wwid(&best);
                wwn = guest::wwn(&best);
            }
        }
    }
    let mut inputs = LunInputs {
        capacity: read_capacity(ctrl, lun, buf)?,
        limits: None,
        characteristics: None,
        provisioning: None,
        caching: None,
        max_transfer_bytes: max_transfer,
    };
    if pages.limits {
        inputs.limits = vpd_page(ctrl, lun, vpd::BLOCK_LIMITS, buf).and_then(|n| resp::parse_block_limits(buf.get(..n)?).ok());
    }
    if pages.characteristics {
        inputs.characteristics =
            vpd_page(ctrl, lun, vpd::BLOCK_DEVICE_CHARACTERISTICS, buf).and_then(|n| resp::parse_block_characteristics(buf.get(..n)?).ok());
    }
    if pages.provisioning {
        inputs.provisioning =
            vpd_page(ctrl, lun, vpd::LOGICAL_BLOCK_PROVISIONING, buf).and_then(|n| resp::parse_provisioning(buf.get(..n)?).ok());
    }
    let ms = cdb::mode_sense_6(true, PageControl::Current, mode_page::CACHING, 0, 255);
    inputs.caching = match ctrl.scsi(lun, &ms, 255, buf) {
        Ok(n) => resp::parse_mode_sense(buf.get(..n).unwrap_or(&[]), false).ok().and_then(|m| m.caching().ok()),
        Err(_) => None,
    };
    if inputs.caching.is_none() {
        pr_info!("{}: LUN {}: no caching mode page; assuming write through\n", ctrl.name.as_str(), lun);
    }
    let config = guest::configure(&inputs).map_err(|e| {
        pr_warn!("{}: LUN {} cannot be a disk: {}\n", ctrl.name.as_str(), lun, e.as_str());
        EINVAL
    })?;
    Ok(Some(Discovered { config, tagged: inq.cmdque, serial, wwid, wwn }))
}

fn limits_of(c: &LunConfig) -> Limits {
    Limits::new()
        .block_sizes(c.geometry.block_size, c.physical_block_size, c.io_min, c.io_opt)
        .transfer(c.max_hw_sectors, c.max_segments, VIRT_BOUNDARY)
        .discard(c.max_discard_sectors, c.discard_granularity, c.discard_alignment, 1)
        .write_zeroes(c.max_write_zeroes_sectors, c.geometry.write_zeroes_unmap)
        .features(c.write_cache, c.fua, c.rotational)
}

/// Discovers `lun` and adds its disk.
fn add(ctrl: &Controller, lun: u8, buf: &mut [u8]) -> Result {
    let (io, ts) = match (ctrl.io.as_ref(), ctrl.tagset.as_ref()) {
        (Some(io), Some(ts)) => (io, ts),
        _ => return Err(ENODEV),
    };
    let Some(d) = discover(ctrl, lun, io.max_transfer, buf)? else { return Ok(()) };
    ctrl.luns.lock().reserve(1, GFP_KERNEL)?;
    let index = ctrl.shared().indexes.lock().alloc().ok_or_else(|| {
        pr_warn!("{}: LUN {}: no free disk name (at most {} disks)\n", ctrl.name.as_str(), lun, guest::MAX_DISKS);
        ENOSPC
    })?;
    let name = guest::disk_name(index);
    let c = d.config;
    let l = Lun {
        addr: ScsiAddress { port_number: ctrl.port, path_id: 0, target_id: 0, lun },
        geometry: c.geometry,
        tagged: d.tagged,
        gone: AtomicBool::new(false),
        name,
        index,
        serial: d.serial,
        wwid: d.wwid,
        wwn: d.wwn,
    };
    let made = Arc::new(l, GFP_KERNEL).map_err(Error::from).and_then(|l| {
        let mut disk = Disk::new(ts, limits_of(&c), l, name.as_bytes())?;
        disk.set_capacity(c.capacity_sectors);
        disk.set_read_only(c.read_only);
        disk.add(ctrl.dev.as_dev())?;
        Ok(disk)
    });
    let disk = match made {
        Ok(disk) => disk,
        Err(e) => {
            ctrl.shared().indexes.lock().free(index);
            pr_err!("{}: LUN {}: cannot add disk {}: {:?}\n", ctrl.name.as_str(), lun, name.as_str(), e);
            return Err(e);
        }
    };
    let l = disk.queue_data();
    pr_info!(
        "{}: LUN {} is {}: {} sectors, {}/{} byte blocks, {}, write cache {}{}, discard {}, serial '{}', wwid '{}'\n",
        ctrl.name.as_str(),
        lun,
        name.as_str(),
        c.capacity_sectors,
        c.geometry.block_size,
        c.physical_block_size,
        if c.rotational { "rotational" } else { "non-rotational" },
        if c.write_cache { "on" } else { "off" },
        if c.fua { " with FUA" } else { "" },
        c.max_discard_sectors,
        l.serial.as_str(),
        l.wwid.as_str()
    );
    let entry = LunEntry { lun, disk, capacity_sectors: c.capacity_sectors, block_size: c.geometry.block_size };
    // Space was reserved before the disk was made; should it be gone, the disk is deleted
    // outside the lock (deleting waits for I/O, whose recovery may need `luns`).
    let refused = ctrl.luns.lock().push_within_capacity(entry).err();
    if let Some(e) = refused {
        release(ctrl, e.0);
        return Err(ENOMEM);
    }
    Ok(())
}

/// Deletes a LUN's disk (its in-flight I/O ends first: the host answers or the timeout
/// recovery fails it) and frees its name. Call with the `scan` lock or during teardown.
pub(crate) fn release(ctrl: &Controller, e: LunEntry) {
    let l = e.disk.queue_data();
    let (index, lun) = (l.index, e.lun);
    let name = l.name;
    drop(e);
    ctrl.shared().indexes.lock().free(index);
    pr_info!("{}: LUN {} ({}) removed\n", ctrl.name.as_str(), lun, name.as_str());
}

/// A LUN the host no longer reports: fail its I/O and remove the disk.
fn remove(ctrl: &Controller, lun: u8) {
    let e = {
        let mut luns = ctrl.luns.lock();
        match luns.iter().position(|e| e.lun == lun) {
            Some(i) => luns.remove(i).ok(),
            None => None,
        }
    };
    if let Some(e) = e {
        e.disk.queue_data().gone.store(true, Ordering::Release);
        e.disk.mark_dead();
        release(ctrl, e);
    }
}

/// Re-reads a known LUN's capacity; a change resizes the disk and tells user space.
fn refresh(ctrl: &Controller, lun: u8, buf: &mut [u8]) {
    let Ok(cap) = read_capacity(ctrl, lun, buf) else { return };
    let mut luns = ctrl.luns.lock();
    let Some(e) = luns.iter_mut().find(|e| e.lun == lun) else { return };
    if cap.block_len != e.block_size {
        pr_warn!(
            "{}: {}: logical block size changed from {} to {}; not supported, remove and re-add the disk\n",
            ctrl.name.as_str(),
            e.disk.queue_data().name.as_str(),
            e.block_size,
            cap.block_len
        );
        return;
    }
    let Some(sectors) = cap.blocks().checked_mul(u64::from(cap.block_len / 512)).filter(|s| *s <= guest::MAX_CAPACITY_SECTORS) else {
        return;
    };
    if sectors != e.capacity_sectors {
        pr_info!(
            "{}: {}: capacity changed from {} to {} sectors\n",
            ctrl.name.as_str(),
            e.disk.queue_data().name.as_str(),
            e.capacity_sectors,
            sectors
        );
        e.disk.set_capacity_and_notify(sectors);
        e.capacity_sectors = sectors;
    }
}

/// The LUNs the target reports (REPORT LUNS to LUN 0, then to any known LUN), or, when no
/// REPORT LUNS is answered, the disks among the first LUNs probed one by one.
fn report(ctrl: &Controller, known: &LunSet, buf: &mut [u8]) -> Result<LunSet> {
    let alloc = buf.len().min(4096) as u32;
    let c = cdb::report_luns(cdb::select_report::ALL_LUNS, alloc);
    for lun in Iterator::chain(core::iter::once(0), known.iter().filter(|l| *l != 0)) {
        if let Ok(n) = ctrl.scsi(lun, &c, alloc, buf) {
            if let Ok(r) = resp::parse_report_luns(buf.get(..n).unwrap_or(&[])) {
                let (set, ignored) = LunSet::from_report(&r);
                if ignored > 0 {
                    pr_info!("{}: {} reported LUN(s) beyond 255 or well-known; ignored\n", ctrl.name.as_str(), ignored);
                }
                return Ok(set);
            }
        }
        if ctrl.dead.load(Ordering::Acquire) {
            return Err(ENODEV);
        }
    }
    let mut set = LunSet::EMPTY;
    let mut answered = false;
    for lun in 0..SEQUENTIAL_SCAN_LUNS {
        let inq = cdb::inquiry(cdb::INQUIRY_STANDARD_LEN);
        if let Ok(n) = ctrl.scsi(lun, &inq, u32::from(cdb::INQUIRY_STANDARD_LEN), buf) {
            answered = true;
            if resp::parse_standard_inquiry(buf.get(..n).unwrap_or(&[])).is_ok_and(|i| i.lun_present()) {
                set.insert(lun);
            }
        }
    }
    if answered {
        Ok(set)
    } else {
        Err(EIO)
    }
}

/// Brings the disks in line with the LUNs the host reports (probe, and the rescan work).
pub(crate) fn rescan(ctrl: &Controller) {
    let _scan = ctrl.scan.lock();
    if ctrl.removing.load(Ordering::Acquire) || ctrl.dead.load(Ordering::Acquire) {
        return;
    }
    ctrl.stats.rescans.fetch_add(1, Ordering::Relaxed);
    ctrl.scan_silent.store(false, Ordering::Relaxed);
    let mut buf = match KVec::from_elem(0u8, 4096, GFP_KERNEL) {
        Ok(b) => b,
        Err(_) => return,
    };
    let mut known = LunSet::EMPTY;
    for e in ctrl.luns.lock().iter() {
        known.insert(e.lun);
    }
    let reported = match report(ctrl, &known, &mut buf) {
        Ok(s) => s,
        Err(e) => {
            pr_warn!("{}: LUN scan failed ({:?}); keeping the disks as they are\n", ctrl.name.as_str(), e);
            return;
        }
    };
    let d = guest::diff_luns(&known, &reported);
    for lun in d.removed.iter() {
        remove(ctrl, lun);
    }
    for lun in d.added.iter() {
        if ctrl.removing.load(Ordering::Acquire) || ctrl.dead.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = add(ctrl, lun, &mut buf) {
            pr_warn!("{}: LUN {} not added ({:?})\n", ctrl.name.as_str(), lun, e);
        }
    }
    for lun in known.minus(&d.removed).iter() {
        refresh(ctrl, lun, &mut buf);
    }
}
