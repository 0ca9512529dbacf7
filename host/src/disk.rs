//! Raw disk images behind the StorVSP's LUNs: a file (or a temporary one), read and written
//! straight into and out of guest RAM, made durable with real `fdatasync`/`RWF_DSYNC`,
//! thin-provisioned with `fallocate` (hole punching for UNMAP and WRITE SAME with UNMAP).
//!
//! `direct=on` opens a second descriptor with `O_DIRECT` for data transfers (no host page
//! cache); a transfer the file system refuses as unaligned falls back to the buffered one.
//!
//! `volatile=on` gives the image a volatile write cache, as a real disk with its write cache
//! on has: data writes are not durable until SYNCHRONIZE CACHE (or FUA for the written
//! blocks), and a power cut ([`Image::power_cut`]) loses whatever was not. It is kept as an
//! undo log: before a block is first written after a flush its old contents are saved; a
//! flush forgets them, a power cut writes them back. So the image after a cut is exactly
//! what a crash may leave, and a guest that lost fsync'd data shows it. Discards and WRITE
//! SAME are durable at once (a crash may or may not keep an unflushed discard; both are
//! allowed).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use anyhow::{bail, Context, Result};

use crate::guestmem::{GuestRam, Segments};

/// How an image is opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSpec {
    /// Size in bytes; `None`: the existing file's size.
    pub size: Option<u64>,
    /// The image file; `None`: a temporary sparse file in `workdir`, deleted at exit.
    pub path: Option<PathBuf>,
    /// Open a second descriptor with `O_DIRECT` for data.
    pub direct: bool,
    /// The file must exist already (`create=no`): for images that carry data across runs.
    pub must_exist: bool,
    /// Delete the file when the simulator exits (`remove=on`).
    pub remove: bool,
    /// A volatile write cache: unflushed writes are lost on a power cut (`volatile=on`).
    pub volatile: bool,
}

/// An open image.
pub struct Image {
    file: File,
    direct: Option<File>,
    /// What to call it in messages.
    pub name: String,
    len: AtomicU64,
    cache: Option<VolatileCache>,
}

/// Granule of the undo log of a volatile write cache.
const CACHE_BLOCK: u64 = 4096;
/// Most unflushed blocks kept (1 GiB): beyond that the cache writes back (flushes) by itself,
/// as a real disk's cache does when it fills.
const CACHE_MAX_BLOCKS: usize = 1 << 18;

/// The volatile write cache of a `volatile=on` image (see the module documentation).
struct VolatileCache {
    /// Block number -> (its contents at the last flush, the flush epoch it was saved in).
    undo: Mutex<HashMap<u64, (Box<[u8]>, u64)>>,
    /// Flushes started so far: a flush makes durable the blocks saved before it started.
    epoch: AtomicU64,
    /// Data writes hold it shared from saving the old blocks until their write is done; a
    /// power cut takes it exclusively, so no write is half done when it restores.
    gate: RwLock<()>,
    /// The power is off: every transfer fails.
    off: AtomicBool,
}

fn no_power() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the disk lost power (power-cut)")
}

/// Parses a size: bytes, or with a K/M/G/T suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, shift) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => bail!("bad size {s:?} (bytes, or a K/M/G/T suffix)"),
            };
            (&s[..i], shift)
        }
        _ => (s, 0),
    };
    let n: u64 = num.parse().with_context(|| format!("bad size {s:?}"))?;
    n.checked_mul(1u64 << shift).with_context(|| format!("size {s:?} overflows"))
}

impl Image {
    /// Opens (or creates) the image of `spec`; temporary images go into `workdir`.
    pub fn open(spec: &ImageSpec, workdir: &Path) -> Result<Image> {
        let (path, temp) = match &spec.path {
            Some(p) => (p.clone(), false),
            None => {
                let n = std::process::id();
                let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
                (workdir.join(format!(".pvg-host-{n}-{stamp:x}.img")), true)
            }
        };
        let exists = path.exists();
        if spec.must_exist && !exists {
            bail!("image {} does not exist (create=no)", path.display());
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(!spec.must_exist)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the image {}", path.display()))?;
        let cur = file.metadata()?.len();
        let len = match spec.size {
            Some(s) if exists && !temp && cur > s => bail!(
                "image {} holds {cur} bytes, more than size={s}; give its size or leave size= out",
                path.display()
            ),
            Some(s) => {
                if cur < s {
                    file.set_len(s).with_context(|| format!("sizing {} to {s} bytes", path.display()))?;
                }
                s
            }
            None if exists => cur,
            None => bail!("size= is needed to create the image {}", path.display()),
        };
        let direct = if spec.direct {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(nix::libc::O_DIRECT)
                .open(&path)
                .with_context(|| format!("opening {} with O_DIRECT", path.display()))?;
            Some(f)
        } else {
            None
        };
        // A temporary image, or one to remove at exit, lives on through its descriptors only.
        if temp || spec.remove {
            std::fs::remove_file(&path).with_context(|| format!("unlinking {}", path.display()))?;
        }
        let name = if temp { "a temporary image".to_string() } else { path.display().to_string() };
        let cache = spec.volatile.then(|| VolatileCache {
            undo: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            gate: RwLock::new(()),
            off: AtomicBool::new(false),
        });
        Ok(Image { file, direct, name, len: AtomicU64::new(len), cache })
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// Grows or shrinks the image.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len.store(len, Ordering::Release);
        Ok(())
    }

    /// Bytes the image really occupies on the host (its allocated blocks).
    pub fn allocated(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.blocks() * 512)
    }

    /// Whether data goes through an `O_DIRECT` descriptor.
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Reads `len` bytes at `offset` into the guest buffer; beyond the end of the file the
    /// guest gets zeros.
    pub fn read_to_guest(&self, ram: &GuestRam, offset: u64, segs: Segments<'_>) -> io::Result<()> {
        self.powered()?;
        let n = match &self.direct {
            Some(d) => match ram.read_file(d, offset, segs) {
                Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => ram.read_file(&self.file, offset, segs)?,
                r => r?,
            },
            None => ram.read_file(&self.file, offset, segs)?,
        };
        zero_after(ram, segs, n)
    }

    /// Writes the guest buffer at `offset`; `durable`: the data is on stable storage when
    /// this returns (FUA, or a write-through disk).
    pub fn write_from_guest(&self, ram: &GuestRam, offset: u64, segs: Segments<'_>, durable: bool) -> io::Result<()> {
        let want: usize = segs.iter().map(|s| s.1).sum();
        let _gate = match &self.cache {
            Some(c) => {
                let g = c.gate.read().unwrap_or_else(|e| e.into_inner());
                self.powered()?;
                self.save_old(c, offset, want as u64)?;
                Some(g)
            }
            None => None,
        };
        let n = match &self.direct {
            Some(d) => match ram.write_file(d, offset, segs, durable) {
                Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => ram.write_file(&self.file, offset, segs, durable)?,
                r => r?,
            },
            None => ram.write_file(&self.file, offset, segs, durable)?,
        };
        if n != want {
            return Err(io::Error::new(io::ErrorKind::WriteZero, format!("wrote {n} of {want} bytes")));
        }
        if let (Some(c), true) = (&self.cache, durable) {
            // FUA: these blocks are durable now (with whatever else was written to them).
            let mut undo = c.undo.lock().unwrap_or_else(|e| e.into_inner());
            for b in blocks(offset, want as u64) {
                undo.remove(&b);
            }
        }
        Ok(())
    }

    /// SYNCHRONIZE CACHE: everything written is made durable (`fdatasync`).
    pub fn flush(&self) -> io::Result<()> {
        let Some(c) = &self.cache else { return self.file.sync_data() };
        self.powered()?;
        let epoch = c.epoch.fetch_add(1, Ordering::AcqRel);
        self.file.sync_data()?;
        // Writes that saved their blocks before this flush began are durable now.
        c.undo.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, (_, e)| *e > epoch);
        Ok(())
    }

    /// Fails when the power was cut.
    fn powered(&self) -> io::Result<()> {
        match &self.cache {
            Some(c) if c.off.load(Ordering::Acquire) => Err(no_power()),
            _ => Ok(()),
        }
    }

    /// Saves the contents of the blocks of `[offset, offset + len)` not saved since the last
    /// flush (the volatile cache's undo log).
    fn save_old(&self, c: &VolatileCache, offset: u64, len: u64) -> io::Result<()> {
        let epoch = c.epoch.load(Ordering::Acquire);
        let mut undo = c.undo.lock().unwrap_or_else(|e| e.into_inner());
        if undo.len() >= CACHE_MAX_BLOCKS {
            eprintln!("pvg-host: {}: {} unflushed blocks in the volatile cache; writing it back", self.name, undo.len());
            self.file.sync_data()?;
            undo.clear();
        }
        for b in blocks(offset, len) {
            if let std::collections::hash_map::Entry::Vacant(v) = undo.entry(b) {
                let mut old = vec![0u8; CACHE_BLOCK as usize].into_boxed_slice();
                read_full_at(&self.file, &mut old, b * CACHE_BLOCK)?;
                v.insert((old, epoch));
            }
        }
        Ok(())
    }

    /// Cuts the power of a `volatile=on` image: every write not made durable by a flush (or
    /// FUA) is undone, as if the disk's cache was lost, and every later transfer fails until
    /// [`Image::power_on`]. Returns the number of blocks rolled back.
    pub fn power_cut(&self) -> io::Result<usize> {
        let Some(c) = &self.cache else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "the image has no volatile cache (volatile=on)"));
        };
        let _gate = c.gate.write().unwrap_or_else(|e| e.into_inner());
        c.off.store(true, Ordering::Release);
        let mut undo = c.undo.lock().unwrap_or_else(|e| e.into_inner());
        let len = self.len();
        let n = undo.len();
        for (b, (old, _)) in undo.drain() {
            let at = b * CACHE_BLOCK;
            let keep = len.saturating_sub(at).min(CACHE_BLOCK) as usize;
            if keep > 0 {
                self.file.write_all_at(&old[..keep], at)?;
            }
        }
        self.file.sync_data()?;
        Ok(n)
    }

    /// Powers a cut image on again (its data is what the cut left).
    pub fn power_on(&self) -> bool {
        self.cache.as_ref().is_some_and(|c| c.off.swap(false, Ordering::AcqRel))
    }

    /// Whether the power is cut.
    pub fn is_off(&self) -> bool {
        self.cache.as_ref().is_some_and(|c| c.off.load(Ordering::Acquire))
    }

    /// Whether the image has a volatile write cache.
    pub fn is_volatile(&self) -> bool {
        self.cache.is_some()
    }

    /// Deallocates `len` bytes at `offset`; they read as zeros afterwards.
    pub fn punch_hole(&self, offset: u64, len: u64) -> io::Result<()> {
        self.powered()?;
        let mode = nix::libc::FALLOC_FL_PUNCH_HOLE | nix::libc::FALLOC_FL_KEEP_SIZE;
        match self.fallocate(mode, offset, len) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EOPNOTSUPP) => self.write_zeros(offset, len),
            r => r,
        }
    }

    /// Zeroes `len` bytes at `offset`, keeping them allocated.
    pub fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        self.powered()?;
        let mode = nix::libc::FALLOC_FL_ZERO_RANGE | nix::libc::FALLOC_FL_KEEP_SIZE;
        match self.fallocate(mode, offset, len) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EOPNOTSUPP) => self.write_zeros(offset, len),
            r => r,
        }
    }

    /// Fills `len` bytes at `offset` with copies of `block` (WRITE SAME).
    pub fn fill(&self, offset: u64, len: u64, block: &[u8]) -> io::Result<()> {
        self.powered()?;
        if block.is_empty() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let reps = (256 * 1024 / block.len()).max(1);
        let chunk: Vec<u8> = block.iter().copied().cycle().take(block.len() * reps).collect();
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(chunk.len() as u64) as usize;
            self.file.write_all_at(&chunk[..n], offset + done)?;
            done += n as u64;
        }
        Ok(())
    }

    fn write_zeros(&self, offset: u64, len: u64) -> io::Result<()> {
        self.fill(offset, len, &[0u8; 4096])
    }

    fn fallocate(&self, mode: i32, offset: u64, len: u64) -> io::Result<()> {
        let (off, l) = match (i64::try_from(offset), i64::try_from(len)) {
            (Ok(o), Ok(l)) => (o, l),
            _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        };
        // SAFETY: fallocate on a descriptor we own; no memory is passed.
        let r = unsafe { nix::libc::fallocate(self.file.as_raw_fd(), mode, off, l) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The cache blocks `[offset, offset + len)` touches.
fn blocks(offset: u64, len: u64) -> std::ops::Range<u64> {
    if len == 0 {
        return 0..0;
    }
    offset / CACHE_BLOCK..offset.saturating_add(len - 1) / CACHE_BLOCK + 1
}

/// Reads `buf.len()` bytes at `at`; what lies beyond the end of the file reads as zeros.
fn read_full_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf[done..].fill(0);
    Ok(())
}

/// Zeroes the guest buffer from byte `from` on (a read that hit the end of the image).
fn zero_after(ram: &GuestRam, segs: Segments<'_>, from: usize) -> io::Result<()> {
    let zeros = [0u8; 4096];
    let mut pos = 0usize;
    for &(gpa, len) in segs {
        let end = pos + len;
        if end > from {
            let skip = from.saturating_sub(pos);
            let mut off = skip;
            while off < len {
                let n = (len - off).min(zeros.len());
                ram.write(gpa + off as u64, &zeros[..n]).map_err(io::Error::other)?;
                off += n;
            }
        }
        pos = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    fn ram(dir: &Path) -> GuestRam {
        GuestRam::create(&dir.join("ram"), 1 << 20).unwrap()
    }

    #[test]
    fn temporary_image_is_sparse_and_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ImageSpec { size: Some(8 << 20), ..Default::default() };
        let img = Image::open(&spec, dir.path()).unwrap();
        assert_eq!(img.len(), 8 << 20);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the temporary image is unlinked");
        assert!(img.allocated().unwrap() < 64 * 1024);
    }

    #[test]
    fn guest_data_round_trip_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let ram = ram(dir.path());
        let img = Image::open(&ImageSpec { size: Some(4 << 20), ..Default::default() }, dir.path()).unwrap();
        let data: Vec<u8> = (0..8192u32).map(|i| (i * 7) as u8).collect();
        ram.write(0x3000, &data[..4096]).unwrap();
        ram.write(0x9000, &data[4096..]).unwrap();
        img.write_from_guest(&ram, 1 << 20, &[(0x3000, 4096), (0x9000, 4096)], true).unwrap();
        img.read_to_guest(&ram, 1 << 20, &[(0x20000, 8192)]).unwrap();
        let mut back = vec![0u8; 8192];
        ram.read(0x20000, &mut back).unwrap();
        assert_eq!(back, data);
        assert!(img.allocated().unwrap() >= 8192);
        img.punch_hole(1 << 20, 8192).unwrap();
        img.read_to_guest(&ram, 1 << 20, &[(0x20000, 8192)]).unwrap();
        ram.read(0x20000, &mut back).unwrap();
        assert!(back.iter().all(|b| *b == 0));
        assert!(img.allocated().unwrap() < 8192);
        // A buffer beyond RAM is refused, not followed.
        assert!(img.read_to_guest(&ram, 0, &[((1 << 20) - 4096, 8192)]).is_err());
    }

    #[test]
    fn reads_past_the_end_are_zeros_and_fill_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let ram = ram(dir.path());
        let img = Image::open(&ImageSpec { size: Some(8192), ..Default::default() }, dir.path()).unwrap();
        img.fill(0, 8192, &[0xab; 512]).unwrap();
        ram.write(0x4000, &[0x55; 12288]).unwrap();
        img.read_to_guest(&ram, 4096, &[(0x4000, 12288)]).unwrap();
        let mut back = vec![0u8; 12288];
        ram.read(0x4000, &mut back).unwrap();
        assert!(back[..4096].iter().all(|b| *b == 0xab));
        assert!(back[4096..].iter().all(|b| *b == 0));
    }

    #[test]
    fn volatile_cache_loses_only_unflushed_writes() {
        let dir = tempfile::tempdir().unwrap();
        let ram = ram(dir.path());
        let path = dir.path().join("v.img");
        let spec = ImageSpec { size: Some(64 * 1024), path: Some(path.clone()), volatile: true, ..Default::default() };
        let img = Image::open(&spec, dir.path()).unwrap();
        assert!(img.is_volatile());
        let at = |img: &Image, off: u64, len: usize| {
            let mut b = vec![0u8; len];
            img.file.read_exact_at(&mut b, off).unwrap();
            b
        };
        // Flushed: survives. Written after the flush: lost. FUA: survives.
        ram.write(0x1000, &[1u8; 8192]).unwrap();
        img.write_from_guest(&ram, 0, &[(0x1000, 8192)], false).unwrap();
        img.flush().unwrap();
        ram.write(0x1000, &[2u8; 1024]).unwrap();
        img.write_from_guest(&ram, 512, &[(0x1000, 1024)], false).unwrap();
        ram.write(0x4000, &[3u8; 4096]).unwrap();
        img.write_from_guest(&ram, 16384, &[(0x4000, 4096)], false).unwrap();
        ram.write(0x8000, &[4u8; 512]).unwrap();
        img.write_from_guest(&ram, 32768, &[(0x8000, 512)], true).unwrap();
        // A partial last block: the image ends inside it.
        ram.write(0x9000, &[5u8; 512]).unwrap();
        img.write_from_guest(&ram, 64 * 1024 - 512, &[(0x9000, 512)], false).unwrap();
        assert_eq!(at(&img, 512, 1024), vec![2u8; 1024], "the write is visible before the cut");
        assert_eq!(img.power_cut().unwrap(), 3);
        assert!(img.is_off());
        assert_eq!(at(&img, 0, 8192), vec![1u8; 8192], "the flushed data, without the unflushed overwrite");
        assert_eq!(at(&img, 16384, 4096), vec![0u8; 4096], "an unflushed write to a fresh block is gone");
        assert_eq!(at(&img, 32768, 512), vec![4u8; 512], "a FUA write survives");
        assert_eq!(at(&img, 64 * 1024 - 512, 512), vec![0u8; 512]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 * 1024, "the cut does not grow the image");
        // Without power every transfer fails.
        assert!(img.read_to_guest(&ram, 0, &[(0x1000, 512)]).is_err());
        assert!(img.write_from_guest(&ram, 0, &[(0x1000, 512)], false).is_err());
        assert!(img.flush().is_err());
        assert!(img.punch_hole(0, 4096).is_err());
        assert!(img.power_on());
        img.read_to_guest(&ram, 0, &[(0x2000, 512)]).unwrap();
        // After a flush nothing is left to lose.
        img.write_from_guest(&ram, 0, &[(0x4000, 4096)], false).unwrap();
        img.flush().unwrap();
        assert_eq!(img.power_cut().unwrap(), 0);
        assert_eq!(at(&img, 0, 4096), vec![3u8; 4096]);
        // An image without the cache cannot lose power.
        let plain = Image::open(&ImageSpec { size: Some(8192), ..Default::default() }, dir.path()).unwrap();
        assert!(plain.power_cut().is_err());
        assert!(!plain.is_off());
    }

    #[test]
    fn existing_images_keep_their_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        let missing = ImageSpec { size: Some(4096), path: Some(path.clone()), must_exist: true, ..Default::default() };
        assert!(Image::open(&missing, dir.path()).is_err());
        let spec = ImageSpec { size: Some(8192), path: Some(path.clone()), ..Default::default() };
        let img = Image::open(&spec, dir.path()).unwrap();
        img.fill(0, 8192, b"persist!").unwrap();
        img.flush().unwrap();
        drop(img);
        let again = Image::open(&ImageSpec { size: None, path: Some(path.clone()), must_exist: true, ..Default::default() }, dir.path()).unwrap();
        assert_eq!(again.len(), 8192);
        let mut b = [0u8; 8];
        again.file.read_exact_at(&mut b, 4096).unwrap();
        assert_eq!(&b, b"persist!");
        let smaller = ImageSpec { size: Some(4096), path: Some(path.clone()), ..Default::default() };
        assert!(Image::open(&smaller, dir.path()).is_err(), "never truncates an existing image");
        let removed = ImageSpec { size: None, path: Some(path.clone()), remove: true, ..Default::default() };
        let r = Image::open(&removed, dir.path()).unwrap();
        assert!(!path.exists());
        assert_eq!(r.len(), 8192);
    }
}
