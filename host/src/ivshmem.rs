//! The ivshmem server side (QEMU's `docs/specs/ivshmem-spec.rst`): the simulator is the server
//! and "peer 0"; the guest's QEMU connects as client "peer 1".
//!
//! On connection the server sends, as little-endian int64 messages with an optional file
//! descriptor: the protocol version (0), the client's id, `-1` with the shared-memory fd, one
//! "peer 0 connected" message per vector carrying our eventfd for that vector (the guest's
//! doorbell writes to peer 0 land there), and one message per vector with the client's own
//! id carrying the eventfd QEMU turns into that MSI-X vector (we signal those to interrupt the
//! guest).

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use sim_proto::{GUEST_PEER_ID, HOST_PEER_ID};

/// The listening server with the host's per-vector eventfds.
pub struct Server {
    listener: UnixListener,
    /// Eventfds the guest's doorbell writes signal, one per vector.
    pub host_events: Vec<Arc<EventFd>>,
    shm: OwnedFd,
}

/// A connected guest (one QEMU process).
pub struct Guest {
    stream: UnixStream,
    /// Eventfds that raise the guest's MSI-X vectors, one per vector.
    guest_events: Vec<EventFd>,
}

fn send(stream: &UnixStream, value: i64, fd: Option<BorrowedFd<'_>>) -> Result<()> {
    let bytes = value.to_le_bytes();
    let iov = [IoSlice::new(&bytes)];
    let raw;
    let cmsgs: &[ControlMessage<'_>] = match fd {
        Some(fd) => {
            raw = [fd.as_raw_fd()];
            &[ControlMessage::ScmRights(&raw)]
        }
        None => &[],
    };
    sendmsg::<()>(stream.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None).context("ivshmem: sending to QEMU")?;
    Ok(())
}

impl Server {
    /// Listens on `path` for QEMU, sharing `shm` (BAR2) and offering `vectors` vectors.
    pub fn bind(path: &Path, shm: OwnedFd, vectors: u32) -> Result<Server> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))?;
        let host_events = (0..vectors)
            .map(|_| EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC).map(Arc::new))
            .collect::<nix::Result<Vec<_>>>()
            .context("creating eventfds")?;
        Ok(Server { listener, host_events, shm })
    }

    /// Waits for QEMU to connect and runs the handshake.
    pub fn accept(&self) -> Result<Guest> {
        let (stream, _) = self.listener.accept().context("ivshmem: accepting QEMU")?;
        let guest_events = (0..self.host_events.len())
            .map(|_| EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC))
            .collect::<nix::Result<Vec<_>>>()
            .context("creating eventfds")?;
        send(&stream, 0, None)?; // protocol version
        send(&stream, i64::from(GUEST_PEER_ID), None)?; // your id
        send(&stream, -1, Some(self.shm.as_fd()))?; // shared memory
        for e in &self.host_events {
            send(&stream, i64::from(HOST_PEER_ID), Some(e.as_fd()))?; // peer 0's vectors
        }
        for e in &guest_events {
            send(&stream, i64::from(GUEST_PEER_ID), Some(e.as_fd()))?; // your own vectors
        }
        Ok(Guest { stream, guest_events })
    }
}

/// Waits for `event` to be signalled and consumes the count. QEMU sets `O_NONBLOCK` on the
/// eventfds we pass it, and the flag is shared with our descriptor (same open file), so a
/// plain blocking read would fail with `EAGAIN`: poll first, and retry on `EAGAIN`/`EINTR`.
pub fn wait_event(event: &EventFd) -> Result<u64> {
    use nix::errno::Errno;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [PollFd::new(event.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).context("polling an eventfd"),
        }
        match event.read() {
            Ok(n) => return Ok(n),
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(e) => return Err(e).context("reading an eventfd"),
        }
    }
}

impl Guest {
    /// Raises MSI-X `vector` in the guest (ignored if out of range).
    pub fn interrupt(&self, vector: u16) {
        if let Some(e) = self.guest_events.get(usize::from(vector)) {
            let _ = e.write(1);
        }
    }

    /// Blocks until QEMU closes the connection (the guest is gone).
    pub fn wait_closed(&self) {
        let mut buf = [0u8; 64];
        loop {
            match nix::unistd::read(self.stream.as_fd(), &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}
