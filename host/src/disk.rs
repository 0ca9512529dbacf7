//! Raw disk images behind the StorVSP's LUNs: a file (or a temporary one), read and written
//! straight into and out of guest RAM, made durable with real `fdatasync`/`RWF_DSYNC`,
//! thin-provisioned with `fallocate` (hole punching for UNMAP and WRITE SAME with UNMAP).
//!
//! `direct=on` opens a second descriptor with `O_DIRECT` for data transfers (no host page
//! cache); a transfer the file system refuses as unaligned falls back to the buffered one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
}

/// An open image.
pub struct Image {
    file: File,
    direct: Option<File>,
    /// What to call it in messages.
    pub name: String,
    len: AtomicU64,
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
        Ok(Image { file, direct, name, len: AtomicU64::new(len) })
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
        Ok(())
    }

    /// SYNCHRONIZE CACHE: everything written is made durable (`fdatasync`).
    pub fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Deallocates `len` bytes at `offset`; they read as zeros afterwards.
    pub fn punch_hole(&self, offset: u64, len: u64) -> io::Result<()> {
        let mode = nix::libc::FALLOC_FL_PUNCH_HOLE | nix::libc::FALLOC_FL_KEEP_SIZE;
        match self.fallocate(mode, offset, len) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EOPNOTSUPP) => self.write_zeros(offset, len),
            r => r,
        }
    }

    /// Zeroes `len` bytes at `offset`, keeping them allocated.
    pub fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        let mode = nix::libc::FALLOC_FL_ZERO_RANGE | nix::libc::FALLOC_FL_KEEP_SIZE;
        match self.fallocate(mode, offset, len) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EOPNOTSUPP) => self.write_zeros(offset, len),
            r => r,
        }
    }

    /// Fills `len` bytes at `offset` with copies of `block` (WRITE SAME).
    pub fn fill(&self, offset: u64, len: u64, block: &[u8]) -> io::Result<()> {
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
