//! The TAP backend: a NIC's frames go to and come from a Linux TAP device, one file
//! descriptor (queue) per NIC channel up to the queue count (`IFF_MULTI_QUEUE`), with a
//! virtio-net header on every frame (`IFF_VNET_HDR`) so TCP segmentation and checksums are
//! left to the kernel: the guest's LSO super-frames go out as GSO packets, and frames the
//! host's stack left with a partial checksum (`TUN_F_CSUM`) are completed here.
//!
//! The device may live in another network namespace (`netns=`): the descriptors are opened
//! on a thread that enters `/run/netns/NAME` first; they keep working from any thread.

use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::{offload, Backend, Frame, FrameSink};

const IFF_TAP: i16 = 0x0002;
const IFF_MULTI_QUEUE: i16 = 0x0100;
const IFF_NO_PI: i16 = 0x1000;
const IFF_VNET_HDR: i16 = 0x4000;
const TUN_F_CSUM: u64 = 0x01;
const VNET_HDR_LEN: usize = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// Frames read per wake-up before they are handed to the NIC.
const RX_BATCH: usize = 64;

/// `struct ifreq` with the flags member of its union.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: i16,
    _pad: [u8; 22],
}

nix::ioctl_write_ptr_bad!(tun_set_iff, 0x4004_54ca, IfReq);
nix::ioctl_write_int_bad!(tun_set_offload, 0x4004_54d0);

/// Counters.
#[derive(Default)]
pub struct TapStats {
    /// Frames written to the device.
    pub tx: AtomicU64,
    /// Frames the device refused.
    pub tx_errors: AtomicU64,
    /// Frames read.
    pub rx: AtomicU64,
    /// Frames read that could not be used (GSO, bad header).
    pub rx_errors: AtomicU64,
}

/// A TAP device.
pub struct Tap {
    name: String,
    queues: Vec<File>,
    /// Counters.
    pub stats: Arc<TapStats>,
}

fn open_queue(name: &str) -> Result<File> {
    let f = OpenOptions::new().read(true).write(true).open("/dev/net/tun").context("opening /dev/net/tun")?;
    let mut req = IfReq { name: [0; 16], flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE, _pad: [0; 22] };
    if name.len() >= 16 || name.is_empty() {
        bail!("TAP name {name:?} must have 1 to 15 characters");
    }
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads a `struct ifreq` (name and flags) from the pointer, which points
    // to a live, fully initialised IfReq of the kernel's layout; `f` is an open tun fd.
    unsafe { tun_set_iff(f.as_raw_fd(), &req) }.with_context(|| format!("TUNSETIFF {name} (tap, multi-queue, vnet header)"))?;
    // SAFETY: TUNSETOFFLOAD takes its flags by value on the open tun fd.
    unsafe { tun_set_offload(f.as_raw_fd(), TUN_F_CSUM as nix::libc::c_int) }.context("TUNSETOFFLOAD")?;
    nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).context("O_NONBLOCK")?;
    Ok(f)
}

impl Tap {
    /// Opens `queues` queues of TAP device `name` (created if missing), inside network
    /// namespace `netns` if given.
    pub fn open(name: &str, queues: usize, netns: Option<&str>) -> Result<Arc<Tap>> {
        let name_s = name.to_string();
        let ns = netns.map(|n| n.to_string());
        let files = std::thread::Builder::new()
            .name("tap-open".into())
            .spawn(move || -> Result<Vec<File>> {
                if let Some(ns) = ns {
                    let path = if ns.contains('/') { ns.clone() } else { format!("/run/netns/{ns}") };
                    let nsf = File::open(&path).with_context(|| format!("opening network namespace {path}"))?;
                    nix::sched::setns(nsf.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                        .with_context(|| format!("entering network namespace {path}"))?;
                }
                (0..queues.max(1)).map(|_| open_queue(&name_s)).collect()
            })?
            .join()
            .map_err(|_| anyhow::anyhow!("the TAP opening thread panicked"))??;
        Ok(Arc::new(Tap { name: name.to_string(), queues: files, stats: Arc::new(TapStats::default()) }))
    }
}

/// Parses the virtio-net header of a frame read from the device; completes a partial
/// checksum. `None` for frames the NIC cannot take (GSO: not enabled, so not expected).
fn from_device(buf: &[u8]) -> Option<Frame> {
    let hdr = buf.get(..VNET_HDR_LEN)?;
    let mut data = buf.get(VNET_HDR_LEN..)?.to_vec();
    let (flags, gso_type) = (hdr[0], hdr[1]);
    if gso_type != 0 {
        return None;
    }
    let mut valid = flags & VIRTIO_NET_HDR_F_DATA_VALID != 0;
    if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
        let start = usize::from(u16::from_le_bytes([hdr[6], hdr[7]]));
        let off = usize::from(u16::from_le_bytes([hdr[8], hdr[9]]));
        offload::complete_partial(&mut data, start, off)?;
        valid = true;
    }
    Some(Frame { data, gso: None, csum_valid: valid })
}

/// The virtio-net header for a frame going to the device.
fn to_device(f: &Frame) -> [u8; VNET_HDR_LEN] {
    let mut h = [0u8; VNET_HDR_LEN];
    if let Some(g) = f.gso {
        h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h[1] = if g.ipv6 { VIRTIO_NET_HDR_GSO_TCPV6 } else { VIRTIO_NET_HDR_GSO_TCPV4 };
        h[2..4].copy_from_slice(&(g.hdr_len as u16).to_le_bytes());
        h[4..6].copy_from_slice(&g.mss.to_le_bytes());
        h[6..8].copy_from_slice(&(g.l4 as u16).to_le_bytes());
        h[8..10].copy_from_slice(&16u16.to_le_bytes());
    }
    h
}

fn rx_loop(f: File, sink: Weak<dyn FrameSink>, stats: Arc<TapStats>) {
    let mut buf = vec![0u8; VNET_HDR_LEN + 65536];
    loop {
        {
            let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(1000u16)) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    eprintln!("pvg-host: tap poll: {e}");
                    return;
                }
            }
        }
        let mut frames = Vec::new();
        while frames.len() < RX_BATCH {
            match nix::unistd::read(&f, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    stats.rx.fetch_add(1, Ordering::Relaxed);
                    match from_device(&buf[..n]) {
                        Some(fr) => frames.push(fr),
                        None => {
                            stats.rx_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => break,
                Err(e) => {
                    eprintln!("pvg-host: tap read: {e}");
                    return;
                }
            }
        }
        let Some(s) = sink.upgrade() else { return };
        if !frames.is_empty() {
            s.deliver(frames);
        }
    }
}

impl Backend for Tap {
    fn attach(&self, sink: Weak<dyn FrameSink>) -> Result<()> {
        for (i, q) in self.queues.iter().enumerate() {
            let f = q.try_clone()?;
            let (s, st) = (sink.clone(), self.stats.clone());
            std::thread::Builder::new().name(format!("tap-{}-rx{i}", self.name)).spawn(move || rx_loop(f, s, st))?;
        }
        Ok(())
    }

    fn transmit(&self, queue: usize, frames: Vec<Frame>) {
        let Some(q) = self.queues.get(queue % self.queues.len().max(1)) else { return };
        for f in frames {
            let h = to_device(&f);
            let iov = [IoSlice::new(&h), IoSlice::new(&f.data)];
            match nix::sys::uio::writev(q, &iov) {
                Ok(_) => self.stats.tx.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.stats.tx_errors.fetch_add(1, Ordering::Relaxed),
            };
        }
    }

    fn describe(&self) -> String {
        let s = &self.stats;
        format!(
            "tap={} queues={} tap_tx={} tap_tx_errors={} tap_rx={} tap_rx_errors={}",
            self.name,
            self.queues.len(),
            s.tx.load(Ordering::Relaxed),
            s.tx_errors.load(Ordering::Relaxed),
            s.rx.load(Ordering::Relaxed),
            s.rx_errors.load(Ordering::Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnet_headers() {
        let f = offload::tests::tcp4(&[1u8; 100], 0, 0);
        let mut raw = vec![0u8; VNET_HDR_LEN];
        raw.extend_from_slice(&f);
        let got = from_device(&raw).unwrap();
        assert_eq!((got.data.as_slice(), got.csum_valid), (f.as_slice(), false));
        raw[0] = VIRTIO_NET_HDR_F_DATA_VALID;
        assert!(from_device(&raw).unwrap().csum_valid);
        raw[1] = VIRTIO_NET_HDR_GSO_TCPV4;
        assert!(from_device(&raw).is_none());
        assert!(from_device(&[0u8; 4]).is_none());
        // A partial checksum pointing outside the frame is refused, not trusted.
        let mut bad = vec![VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0, 0, 0xff, 0xff, 16, 0];
        bad.extend_from_slice(&f);
        assert!(from_device(&bad).is_none());

        let mut lso = offload::tests::tcp4(&[2u8; 5000], 0, 0);
        let g = offload::prepare_lso(&mut lso, 34, 1448, false).unwrap();
        let h = to_device(&Frame { data: lso, gso: Some(g), csum_valid: false });
        assert_eq!(h, [1, 1, 54, 0, 0xa8, 0x05, 34, 0, 16, 0]);
    }

    /// A network namespace with a multi-queue TAP in it, deleted on drop.
    struct Namespace(String);

    impl Drop for Namespace {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    fn ip(ns: &str, args: &[&str]) {
        let out = std::process::Command::new("ip").arg("-n").arg(ns).args(args).output().expect("running ip");
        assert!(out.status.success(), "ip -n {ns} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    struct Collect(std::sync::Mutex<Vec<Frame>>, std::sync::Condvar);

    impl FrameSink for Collect {
        fn deliver(&self, frames: Vec<Frame>) {
            self.0.lock().unwrap().extend(frames);
            self.1.notify_all();
        }
    }

    impl Collect {
        /// Waits for a frame `f` accepts.
        fn wait(&self, what: &str, f: impl Fn(&Frame) -> bool) -> Frame {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut v = self.0.lock().unwrap();
            loop {
                if let Some(i) = v.iter().position(&f) {
                    return v.remove(i);
                }
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                assert!(!left.is_zero(), "no {what} from the TAP; got {} other frames", v.len());
                v = self.1.wait_timeout(v, left).unwrap().0;
            }
        }
    }

    /// The kernel behind a TAP in its own namespace answers what the backend writes on any
    /// queue: a ping (plain frame) and a TCP SYN sent as a GSO super-frame (its reset comes
    /// back with a checksum the backend completed or verified).
    #[test]
    fn tap_in_a_namespace_talks_to_the_kernel() {
        let ns = Namespace(format!("pvgtap{}", std::process::id()));
        let st = std::process::Command::new("ip").args(["netns", "add", &ns.0]).status().expect("running ip");
        assert!(st.success(), "ip netns add (tests run as root)");
        ip(&ns.0, &["tuntap", "add", "dev", "pvtap0", "mode", "tap", "multi_queue", "vnet_hdr"]);
        ip(&ns.0, &["link", "set", "pvtap0", "up"]);
        ip(&ns.0, &["addr", "add", "10.99.9.1/24", "dev", "pvtap0"]);
        let me = [0x02, 0, 0, 0, 0, 0x02];
        ip(&ns.0, &["neigh", "add", "10.99.9.2", "lladdr", "02:00:00:00:00:02", "dev", "pvtap0"]);
        let tap = Tap::open("pvtap0", 2, Some(&ns.0)).unwrap();
        let sink = Arc::new(Collect(std::sync::Mutex::new(Vec::new()), std::sync::Condvar::new()));
        let dyn_sink: Arc<dyn FrameSink> = sink.clone();
        tap.attach(Arc::downgrade(&dyn_sink)).unwrap();
        // The TAP's MAC, from the kernel.
        let out = std::process::Command::new("ip").args(["-n", &ns.0, "-o", "link", "show", "pvtap0"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mac_s = text.split("link/ether ").nth(1).and_then(|r| r.split_whitespace().next()).expect("tap MAC");
        let mut tap_mac = [0u8; 6];
        for (d, p) in tap_mac.iter_mut().zip(mac_s.split(':')) {
            *d = u8::from_str_radix(p, 16).unwrap();
        }

        // ICMP echo request 10.99.9.2 -> 10.99.9.1 on queue 1.
        let mut f = vec![0u8; 14 + 20 + 8 + 32];
        f[..6].copy_from_slice(&tap_mac);
        f[6..12].copy_from_slice(&me);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((20 + 8 + 32) as u16).to_be_bytes());
        f[22] = 64;
        f[23] = 1;
        f[26..30].copy_from_slice(&[10, 99, 9, 2]);
        f[30..34].copy_from_slice(&[10, 99, 9, 1]);
        f[34] = 8;
        f[38..40].copy_from_slice(&0x4242u16.to_be_bytes());
        f[40..42].copy_from_slice(&7u16.to_be_bytes());
        let h = offload::headers(&f).unwrap();
        offload::fill_ipv4_checksum(&mut f, &h).unwrap();
        let c = !offload::fold(offload::sum(0, &f[34..]));
        f[36..38].copy_from_slice(&c.to_be_bytes());
        tap.transmit(1, vec![Frame::new(f)]);
        let reply = sink.wait("echo reply", |r| r.data.len() >= 42 && r.data[23] == 1 && r.data[34] == 0 && r.data[38..40] == [0x42, 0x42]);
        assert_eq!((&reply.data[..6], &reply.data[30..34]), (&me[..], &[10, 99, 9, 2][..]));

        // A 20000-byte TCP segment to a closed port as a GSO frame on queue 0: the kernel
        // takes it and answers with a reset.
        let mut syn = offload::tests::tcp4(&[0x33; 20000], 1000, 0x02);
        syn[..6].copy_from_slice(&tap_mac);
        syn[6..12].copy_from_slice(&me);
        syn[26..30].copy_from_slice(&[10, 99, 9, 2]);
        syn[30..34].copy_from_slice(&[10, 99, 9, 1]);
        let g = offload::prepare_lso(&mut syn, 34, 1448, false).unwrap();
        tap.transmit(0, vec![Frame { data: syn, gso: Some(g), csum_valid: false }]);
        let rst = sink.wait("TCP reset", |r| r.data.len() >= 54 && r.data[23] == offload::IPPROTO_TCP && r.data[47] & 0x04 != 0);
        assert!(rst.csum_valid || offload::checksums_ok(&rst.data) == Some(true));
        assert_eq!(offload::checksums_ok(&rst.data), Some(true), "the reset's checksums");
        let d = tap.describe();
        assert!(d.contains("queues=2") && d.contains("tap_tx=2") && d.contains("tap_tx_errors=0"), "{d}");
    }
}
