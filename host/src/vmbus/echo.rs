//! The echo device (class `vmbus_proto::guid::ECHO`, test only): sends back every in-band
//! packet the guest sends, and on command sends packets of its own that the guest echoes, which
//! it verifies (`vmbus_proto::echo`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vmbus_proto::echo;
use vmbus_proto::guid::{self, Guid};
use vmbus_proto::packet::PacketType;
use vmbus_proto::ring::OutgoingPacket;

use super::channel::HostChannel;
use super::{DeviceModel, VmbusHost};

/// Counters.
#[derive(Default)]
pub struct EchoStats {
    /// Guest packets echoed back.
    pub echoed: AtomicU64,
    /// Host packets sent.
    pub sent: AtomicU64,
    /// Echoes of host packets that matched.
    pub verified: AtomicU64,
    /// Echoes of host packets that did not (or were never sent).
    pub bad: AtomicU64,
}

/// One echo device.
pub struct Echo {
    name: String,
    instance: Guid,
    /// Counters.
    pub stats: Arc<EchoStats>,
    channels: Mutex<Vec<Arc<HostChannel>>>,
    /// Seed and count of the last host-originated burst.
    burst: Arc<Mutex<(u64, u64, usize, usize)>>,
}

impl Echo {
    /// Echo device `name`, with an instance GUID derived from `index`.
    pub fn new(name: &str, index: u8) -> Echo {
        let instance = Guid::from_fields(0x9c4e_0000 | u32::from(index), 0xec40, 0x4a11, [0xa1, 0, 0, 0, 0, 0, 0, index]);
        Echo {
            name: name.to_string(),
            instance,
            stats: Arc::new(EchoStats::default()),
            channels: Mutex::new(Vec::new()),
            burst: Arc::new(Mutex::new((0, 0, 1, 1))),
        }
    }
}

fn serve(ch: Arc<HostChannel>, stats: Arc<EchoStats>, burst: Arc<Mutex<(u64, u64, usize, usize)>>) {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while ch.wait(Duration::from_millis(100)) {
        let r = ch.drain(&mut buf, |p, raw| {
            let payload = raw.get(p.header_len() as usize..).unwrap_or(&[]);
            if p.packet_type() != Some(PacketType::DataInband) {
                return;
            }
            let id = p.trans_id();
            if id & echo::HOST_ORIGINATED != 0 {
                let (seed, sent, min, max) = *burst.lock().unwrap_or_else(|e| e.into_inner());
                let seq = id & !echo::HOST_ORIGINATED;
                let n = echo::payload_len(seed, seq, min, max);
                // The ring pads payloads to 8 bytes; compare the generated length.
                let ok = seq < sent && payload.len() >= n && echo::verify(seed, seq, &payload[..n]);
                if ok { &stats.verified } else { &stats.bad }.fetch_add(1, Ordering::Relaxed);
                return;
            }
            out.clear();
            out.extend_from_slice(payload);
            let parts = [&out[..]];
            if ch.send(&OutgoingPacket::inband(id, 0, &parts), Duration::from_secs(5)).is_ok() {
                stats.echoed.fetch_add(1, Ordering::Relaxed);
            }
        });
        if let Err(e) = r {
            eprintln!("pvg-host: echo channel {}: {}; stopping it", ch.relid, e.as_str());
            return;
        }
    }
}

impl DeviceModel for Echo {
    fn name(&self) -> &str {
        &self.name
    }

    fn class_id(&self) -> Guid {
        guid::ECHO
    }

    fn instance_id(&self) -> Guid {
        self.instance
    }

    fn open(&self, _host: &Arc<VmbusHost>, ch: Arc<HostChannel>, _user_data: &[u8]) -> anyhow::Result<()> {
        let (stats, burst, c) = (self.stats.clone(), self.burst.clone(), ch.clone());
        std::thread::Builder::new().name(format!("echo-ch{}", ch.relid)).spawn(move || serve(c, stats, burst))?;
        self.channels.lock().unwrap_or_else(|e| e.into_inner()).push(ch);
        Ok(())
    }

    fn close(&self, relid: u32) {
        self.channels.lock().unwrap_or_else(|e| e.into_inner()).retain(|c| c.relid != relid);
    }

    fn stats(&self) -> String {
        let s = &self.stats;
        format!(
            "echoed={} sent={} verified={} bad={}",
            s.echoed.load(Ordering::Relaxed),
            s.sent.load(Ordering::Relaxed),
            s.verified.load(Ordering::Relaxed),
            s.bad.load(Ordering::Relaxed)
        )
    }

    /// `send N [seed [min max]]`: N host-originated packets on the primary channel.
    fn command(&self, _host: &Arc<VmbusHost>, args: &[&str]) -> anyhow::Result<String> {
        match args {
            ["send", n, rest @ ..] => {
                let n: u64 = n.parse()?;
                let seed: u64 = rest.first().map_or(Ok(1), |s| s.parse())?;
                let min: usize = rest.get(1).map_or(Ok(1), |s| s.parse())?;
                let max: usize = rest.get(2).map_or(Ok(echo::MAX_PAYLOAD), |s| s.parse())?;
                let ch = self.channels.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|c| c.sub_index == 0).cloned();
                let ch = ch.ok_or_else(|| anyhow::anyhow!("{} is not open", self.name))?;
                *self.burst.lock().unwrap_or_else(|e| e.into_inner()) = (seed, n, min, max);
                let mut buf = vec![0u8; echo::MAX_PAYLOAD];
                for seq in 0..n {
                    let len = echo::payload_len(seed, seq, min, max);
                    echo::fill(seed, seq, &mut buf[..len]);
                    let parts = [&buf[..len]];
                    ch.send(&OutgoingPacket::inband(echo::HOST_ORIGINATED | seq, 0, &parts), Duration::from_secs(10))
                        .map_err(|e| anyhow::anyhow!("packet {seq}: {e}"))?;
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(format!("sent {n} packets"))
            }
            _ => anyhow::bail!("echo commands: send N [seed [min max]]"),
        }
    }
}
