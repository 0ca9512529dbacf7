//! A learning Ethernet switch connecting synthetic NICs: `--nic switch=NAME` puts the NIC on
//! switch NAME of this process. A NAME containing `/` is a directory shared with other
//! pvg-host processes (two guests): each process binds a datagram socket `DIR/<pid>.sock`
//! and frames for unknown or remote stations go to every other socket there.
//!
//! Frames are forwarded as a wire would carry them: LSO super-frames are segmented and every
//! frame's checksums are verified, so the receiving NIC can report them.

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use anyhow::{Context, Result};

use super::{offload, Backend, Frame, FrameSink};

/// A port: a NIC, or the link to the other processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PortId {
    Local(usize),
    Uplink,
}

struct Uplink {
    sock: UnixDatagram,
    dir: PathBuf,
    me: PathBuf,
}

impl Drop for Uplink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.me);
    }
}

/// One switch.
pub struct Switch {
    name: String,
    ports: Mutex<Vec<Option<Weak<dyn FrameSink>>>>,
    macs: Mutex<HashMap<[u8; 6], PortId>>,
    uplink: Option<Uplink>,
    forwarded: AtomicU64,
    flooded: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Switch>>> {
    static R: OnceLock<Mutex<HashMap<String, Arc<Switch>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Switch {
    /// The switch named `name` (created on first use).
    pub fn get(name: &str) -> Result<Arc<Switch>> {
        let mut r = lock(registry());
        if let Some(s) = r.get(name) {
            return Ok(s.clone());
        }
        let s = Self::create(name)?;
        r.insert(name.to_string(), s.clone());
        Ok(s)
    }

    /// A new switch (not registered: [`Switch::get`] does that).
    fn create(name: &str) -> Result<Arc<Switch>> {
        let uplink = if name.contains('/') { Some(Self::bind(Path::new(name))?) } else { None };
        let s = Arc::new(Switch {
            name: name.to_string(),
            ports: Mutex::new(Vec::new()),
            macs: Mutex::new(HashMap::new()),
            uplink,
            forwarded: AtomicU64::new(0),
            flooded: AtomicU64::new(0),
        });
        if s.uplink.is_some() {
            let w = Arc::downgrade(&s);
            std::thread::Builder::new().name("switch-uplink".into()).spawn(move || uplink_rx(w))?;
        }
        Ok(s)
    }

    fn bind(dir: &Path) -> Result<Uplink> {
        static N: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(dir).with_context(|| format!("creating switch directory {}", dir.display()))?;
        let me = dir.join(format!("{}-{}.sock", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_file(&me);
        let sock = UnixDatagram::bind(&me).with_context(|| format!("binding {}", me.display()))?;
        Ok(Uplink { sock, dir: dir.to_path_buf(), me })
    }

    /// A new port for a NIC.
    pub fn port(self: &Arc<Self>) -> Arc<SwitchPort> {
        let mut p = lock(&self.ports);
        p.push(None);
        Arc::new(SwitchPort { switch: self.clone(), id: p.len() - 1 })
    }

    fn forward(&self, from: PortId, frames: Vec<Frame>) {
        let mut per_port: HashMap<PortId, Vec<Frame>> = HashMap::new();
        for f in frames {
            for mut w in f.into_wire() {
                let (Some(dst), Some(src)) = (w.dst(), w.src()) else { continue };
                w.csum_valid = offload::checksums_ok(&w.data) == Some(true);
                if src[0] & 1 == 0 {
                    lock(&self.macs).insert(src, from);
                }
                let known = if dst[0] & 1 == 0 { lock(&self.macs).get(&dst).copied() } else { None };
                match known {
                    Some(p) if p == from => {}
                    Some(p) => {
                        self.forwarded.fetch_add(1, Ordering::Relaxed);
                        per_port.entry(p).or_default().push(w);
                    }
                    None => {
                        self.flooded.fetch_add(1, Ordering::Relaxed);
                        let n = lock(&self.ports).len();
                        for i in 0..n {
                            if PortId::Local(i) != from {
                                per_port.entry(PortId::Local(i)).or_default().push(w.clone());
                            }
                        }
                        if self.uplink.is_some() && from != PortId::Uplink {
                            per_port.entry(PortId::Uplink).or_default().push(w);
                        }
                    }
                }
            }
        }
        for (port, frames) in per_port {
            match port {
                PortId::Local(i) => {
                    let sink = lock(&self.ports).get(i).and_then(|s| s.as_ref()).and_then(|w| w.upgrade());
                    if let Some(s) = sink {
                        s.deliver(frames);
                    }
                }
                PortId::Uplink => self.send_uplink(&frames),
            }
        }
    }

    fn send_uplink(&self, frames: &[Frame]) {
        let Some(u) = &self.uplink else { return };
        let Ok(dir) = std::fs::read_dir(&u.dir) else { return };
        let peers: Vec<PathBuf> =
            dir.flatten().map(|e| e.path()).filter(|p| p != &u.me && p.extension().is_some_and(|x| x == "sock")).collect();
        for f in frames {
            for p in &peers {
                let _ = u.sock.send_to(&f.data, p);
            }
        }
    }
}

fn uplink_rx(sw: Weak<Switch>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Some(s) = sw.upgrade() else { return };
        let Some(u) = &s.uplink else { return };
        let _ = u.sock.set_read_timeout(Some(std::time::Duration::from_secs(1)));
        match u.sock.recv(&mut buf) {
            Ok(n) => s.forward(PortId::Uplink, vec![Frame::new(buf[..n].to_vec())]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => {
                eprintln!("pvg-host: switch {}: {e}", s.name);
                return;
            }
        }
    }
}

/// A NIC's port on a switch.
pub struct SwitchPort {
    switch: Arc<Switch>,
    id: usize,
}

impl Backend for SwitchPort {
    fn attach(&self, sink: Weak<dyn FrameSink>) -> Result<()> {
        if let Some(slot) = lock(&self.switch.ports).get_mut(self.id) {
            *slot = Some(sink);
        }
        Ok(())
    }

    fn transmit(&self, _queue: usize, frames: Vec<Frame>) {
        self.switch.forward(PortId::Local(self.id), frames);
    }

    fn describe(&self) -> String {
        format!(
            "switch={} port={} forwarded={} flooded={}",
            self.switch.name,
            self.id,
            self.switch.forwarded.load(Ordering::Relaxed),
            self.switch.flooded.load(Ordering::Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sink(Mutex<Vec<Frame>>);
    impl FrameSink for Sink {
        fn deliver(&self, frames: Vec<Frame>) {
            lock(&self.0).extend(frames);
        }
    }

    fn frame(dst: [u8; 6], src: [u8; 6]) -> Frame {
        let mut f = offload::tests::tcp4(b"x", 0, 0);
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        Frame::new(f)
    }

    #[test]
    fn learns_floods_and_segments() {
        let sw = Switch::get("test-switch").unwrap();
        let sinks: Vec<Arc<Sink>> = (0..3).map(|_| Arc::new(Sink(Mutex::new(Vec::new())))).collect();
        let ports: Vec<_> = sinks
            .iter()
            .map(|s| {
                let p = sw.port();
                let w: Weak<dyn FrameSink> = Arc::downgrade(&(s.clone() as Arc<dyn FrameSink>));
                p.attach(w).unwrap();
                p
            })
            .collect();
        let (a, b) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
        // Unknown destination: flooded to the two others.
        ports[0].transmit(0, vec![frame(b, a)]);
        assert_eq!((lock(&sinks[1].0).len(), lock(&sinks[2].0).len()), (1, 1));
        // b answers: a is known now, only port 0 gets it.
        ports[1].transmit(0, vec![frame(a, b)]);
        assert_eq!((lock(&sinks[0].0).len(), lock(&sinks[2].0).len()), (1, 1));
        assert!(lock(&sinks[0].0)[0].csum_valid);
        // An LSO frame arrives segmented with good checksums.
        let mut big = offload::tests::tcp4(&[9u8; 4000], 0, 0);
        big[..6].copy_from_slice(&b);
        big[6..12].copy_from_slice(&a);
        let g = offload::prepare_lso(&mut big, 34, 1000, false).unwrap();
        ports[0].transmit(0, vec![Frame { data: big, gso: Some(g), csum_valid: false }]);
        let got = lock(&sinks[1].0);
        assert_eq!(got.len(), 1 + 4);
        assert!(got[1..].iter().all(|f| f.csum_valid && f.data.len() <= 1054));
    }

    /// Two switches on one directory (as two pvg-host processes would have) reach each
    /// other's stations through their datagram sockets.
    #[test]
    fn directory_switches_connect() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("sw").to_string_lossy().to_string();
        let (a, b) = (Switch::create(&name).unwrap(), Switch::create(&name).unwrap());
        let (sa, sb) = (Arc::new(Sink(Mutex::new(Vec::new()))), Arc::new(Sink(Mutex::new(Vec::new()))));
        let (pa, pb) = (a.port(), b.port());
        let wa: Weak<dyn FrameSink> = Arc::downgrade(&(sa.clone() as Arc<dyn FrameSink>));
        let wb: Weak<dyn FrameSink> = Arc::downgrade(&(sb.clone() as Arc<dyn FrameSink>));
        pa.attach(wa).unwrap();
        pb.attach(wb).unwrap();
        let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
        let wait = |s: &Sink, n: usize| {
            let t0 = std::time::Instant::now();
            while lock(&s.0).len() < n {
                assert!(t0.elapsed() < std::time::Duration::from_secs(10), "frame did not cross the uplink");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        pa.transmit(0, vec![frame(mb, ma)]);
        wait(&sb, 1);
        assert_eq!(lock(&sb.0)[0].src(), Some(ma));
        assert!(lock(&sb.0)[0].csum_valid);
        pb.transmit(0, vec![frame(ma, mb)]);
        wait(&sa, 1);
        assert_eq!(lock(&sa.0)[0].dst(), Some(ma));
        // b learned that ma is behind its uplink: the answer was forwarded, not flooded.
        assert!(pb.describe().contains("forwarded=1"), "{}", pb.describe());
        let socks = std::fs::read_dir(&name).unwrap().count();
        assert_eq!(socks, 2);
        drop((pa, pb, a, b));
    }
}
