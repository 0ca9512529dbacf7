//! pvg-host: the pvguest host simulator.
//!
//! Plays the Hyper-V hypervisor and parent partition for one QEMU guest: it is the server of
//! the guest's `ivshmem-doorbell` device (doorbells in, MSI-X interrupts out), maps the guest's
//! RAM from QEMU's shared memory file, serves the guest's hypercalls and synthetic MSRs through
//! per-VP call slots (see the `sim-proto` crate), and delivers SynIC messages and events.
//!
//! ```text
//! pvg-host --ram /dev/shm/guest.ram --ram-size 2G --vps 4 \
//!          --ivshmem /run/x/ivshmem.sock --control /run/x/control.sock
//! qemu-system-x86_64 ... -object memory-backend-file,id=ram,size=2G,mem-path=/dev/shm/guest.ram,share=on \
//!     -machine q35,memory-backend=ram -chardev socket,id=ivsh,path=/run/x/ivshmem.sock \
//!     -device ivshmem-doorbell,chardev=ivsh,vectors=5
//! ```
//! It prints `pvg-host: ready` once QEMU may start.

mod bar;
mod capture;
mod control;
mod disk;
mod faults;
mod guestmem;
mod hv;
mod ivshmem;
mod leak;
mod net;
mod vmbus;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;
use sim_proto::{guest_state, vp_for_vector, BarHeader, VECTOR_CONTROL};

/// Command line.
#[derive(Parser, Debug)]
#[command(version, about = "pvguest host simulator: a virtual Hyper-V host for a QEMU guest")]
struct Args {
    /// The guest RAM file QEMU maps (memory-backend-file mem-path); created if missing.
    #[arg(long)]
    ram: PathBuf,
    /// Guest RAM size (bytes, or with K/M/G suffix); must equal QEMU's -m.
    #[arg(long, value_parser = parse_size)]
    ram_size: u64,
    /// Number of virtual processors to serve (QEMU's -smp; at most 64).
    #[arg(long, default_value_t = 4)]
    vps: u32,
    /// UNIX socket for QEMU's ivshmem-doorbell chardev.
    #[arg(long)]
    ivshmem: PathBuf,
    /// UNIX socket for commands (tests drive the host through it).
    #[arg(long)]
    control: Option<PathBuf>,
    /// Log every call the guest makes (to stderr).
    #[arg(long)]
    trace: bool,
    /// Offer this many echo devices (test class) on VMBus: echo0, echo1, ...
    #[arg(long, default_value_t = 0)]
    echo: u8,
    /// Fault plan (hostile mode): lines "SECONDS COMMAND...", each control command run that
    /// many seconds after the guest first connects to VMBus ('#' starts a comment).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Scan everything the guest sends for poison bytes (uninitialised memory; see leak.rs
    /// and tests/hostile/info-leak.sh); `leaks` reports what was found.
    #[arg(long)]
    leak_check: bool,
    /// A LUN of the synthetic SCSI controller storage0 (repeatable):
    /// size=SIZE[,path=IMG][,lun=N][,sector=512|4096][,discard=on][,direct=on][,create=no][,remove=on];
    /// without path= a temporary sparse image in the current directory, deleted at exit.
    #[arg(long = "disk", value_name = "SPEC")]
    disks: Vec<String>,
    /// A synthetic NIC nic0, nic1, ... (repeatable): tap=NAME[,netns=NS] | switch=NAME |
    /// loopback, [,mac=xx:xx:xx:xx:xx:xx][,queues=1..16][,mtu=68..9000].
    #[arg(long = "nic", value_name = "SPEC")]
    nics: Vec<String>,
    /// Write what the host sends the guest (VMBus messages, ring packets) to files under DIR,
    /// by kind, to seed the fuzz targets (`scripts/fuzz --seed DIR`; see capture.rs).
    #[arg(long, value_name = "DIR")]
    capture: Option<PathBuf>,
    /// Where temporary disk images go, and what `{workdir}` in a disk's path= means
    /// (default: the current directory; the test harness passes the guest's directory).
    #[arg(long)]
    workdir: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(|| format!("bad size {s:?}"))
}

struct Irq(ivshmem::Guest);

impl hv::Interrupts for Irq {
    fn raise(&self, vector: u16) {
        self.0.interrupt(vector);
    }
}

struct Control {
    hv: Arc<hv::Hypervisor>,
    vmbus: Arc<vmbus::VmbusHost>,
    /// VP 0's doorbell (as if the guest rang it): after a stall, it makes the doorbell thread
    /// take the signals the guest left in its signal page meanwhile (the guest rings only
    /// when none were pending, so it will not ring for those again).
    vp0_doorbell: Option<Arc<nix::sys::eventfd::EventFd>>,
}

impl control::Commands for Control {
    fn command(&self, line: &str) -> Result<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["stats"] => {
                let s = &self.hv.stats;
                Ok(format!(
                    "calls={} spurious={} torn={} delivered={} queued={} dropped={} interrupts={} page_signals={} bad_signals={}",
                    s.calls.load(Ordering::Relaxed),
                    s.spurious.load(Ordering::Relaxed),
                    s.torn.load(Ordering::Relaxed),
                    s.delivered.load(Ordering::Relaxed),
                    s.queued.load(Ordering::Relaxed),
                    s.dropped.load(Ordering::Relaxed),
                    s.interrupts.load(Ordering::Relaxed),
                    s.page_signals.load(Ordering::Relaxed),
                    s.bad_signals.load(Ordering::Relaxed)
                ))
            }
            // post VP SINT TYPE HEX: put a message into a SynIC slot unprompted.
            ["post", vp, sint, ty, hex] => {
                let payload = parse_hex(hex)?;
                let ok = self.hv.post_to_guest(vp.parse()?, sint.parse()?, parse_u32(ty)?, &payload);
                if !ok {
                    bail!("message not accepted (SINT not set up, or queue full)");
                }
                Ok("posted".into())
            }
            // post-raw VP SINT TYPE SIZE HEX: a raw slot write ignoring SINT state and size rules.
            ["post-raw", vp, sint, ty, size, hex] => {
                let payload = parse_hex(hex)?;
                if !self.hv.post_raw(vp.parse()?, sint.parse()?, parse_u32(ty)?, size.parse()?, &payload) {
                    bail!("no message page for that VP yet");
                }
                Ok("posted".into())
            }
            ["stall", "on"] => {
                self.hv.stalled.store(true, Ordering::Release);
                Ok("stalled: calls are not answered".into())
            }
            ["stall", "off"] => {
                self.hv.stalled.store(false, Ordering::Release);
                if let Some(e) = &self.vp0_doorbell {
                    e.write(1).context("ringing VP 0's doorbell")?;
                }
                Ok("answering calls again".into())
            }
            ["vmbus"] => Ok(self.vmbus.describe()),
            ["rescind", name] => self.vmbus.rescind(name),
            ["offer", name] => self.vmbus.reoffer(name),
            ["add-echo", name] => {
                let n = self.vmbus.describe().matches("echo").count();
                self.vmbus.add_device(Arc::new(vmbus::echo::Echo::new(name, 0x80 + n as u8)))
            }
            ["inject", kind, args @ ..] => self.vmbus.inject(kind, args),
            ["restart"] => self.vmbus.restart(),
            ["leaks"] => Ok(leak::report()),
            ["storm", name, count] => self.vmbus.interrupt_storm(name, count.parse()?),
            ["lie", kind] => self.vmbus.set_lie(kind),
            // Storage: `disk ...` goes to storage0; `<device> ...` to that device.
            ["disk", ..] => self.device_command("storage0", &words),
            [name, args @ ..] if self.vmbus.device(name).is_some() => self.device_command(name, args),
            ["dev", name, args @ ..] => {
                let dev = self.vmbus.device(name).ok_or_else(|| anyhow::anyhow!("no device {name}"))?;
                dev.command(&self.vmbus, args)
            }
            [] => Ok(String::new()),
            _ => bail!(
                "unknown command {line:?} (known: stats, post, post-raw, stall on|off, vmbus, rescind NAME, offer NAME, add-echo NAME, \
                 inject KIND [NAME], restart, storm NAME COUNT, lie KIND, leaks, dev NAME ...)"
            ),
        }
    }
}

impl Control {
    fn device_command(&self, name: &str, args: &[&str]) -> Result<String> {
        let dev = self.vmbus.device(name).ok_or_else(|| anyhow::anyhow!("no device {name}"))?;
        dev.command(&self.vmbus, args)
    }
}

fn parse_hex(hex: &str) -> Result<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        bail!("payload must be an even number of hex digits");
    }
    (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).context("payload must be hex")).collect()
}

fn parse_u32(s: &str) -> Result<u32> {
    Ok(match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16)?,
        None => s.parse()?,
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.vps == 0 || args.vps > sim_proto::MAX_VPS {
        bail!("--vps must be 1..={}", sim_proto::MAX_VPS);
    }
    if args.leak_check {
        leak::enable();
    }
    if let Some(dir) = &args.capture {
        capture::enable(dir)?;
    }
    let ram = Arc::new(guestmem::GuestRam::create(&args.ram, args.ram_size)?);
    let header = BarHeader::new_host(args.vps, args.ram_size, 1);
    let (bar, shm) = bar::Bar::create(&header)?;
    let bar = Arc::new(bar);
    let hv = Arc::new(hv::Hypervisor::new(ram, bar.clone(), args.vps));
    hv.trace.store(args.trace, Ordering::Relaxed);
    let mut devices: Vec<Arc<dyn vmbus::DeviceModel>> = Vec::new();
    for i in 0..args.echo {
        devices.push(Arc::new(vmbus::echo::Echo::new(&format!("echo{i}"), i)));
    }
    if !args.disks.is_empty() {
        let workdir = match args.workdir {
            Some(w) => w,
            None => std::env::current_dir().context("the current directory")?,
        };
        let specs = args.disks.iter().map(|d| vmbus::storage::DiskSpec::parse(d, &workdir)).collect::<Result<Vec<_>>>()?;
        devices.push(vmbus::storage::StorVsp::new("storage0", 0, &specs, args.vps, workdir)?);
    }
    for (i, spec) in args.nics.iter().enumerate() {
        let index = u8::try_from(i).context("too many NICs")?;
        let nic = vmbus::network::NicSpec::parse(spec, index).with_context(|| format!("--nic {spec}"))?;
        devices.push(vmbus::network::NetVsp::new(&format!("nic{i}"), index, nic)?);
    }
    let vmbus = vmbus::VmbusHost::new(hv.clone(), devices, vmbus_proto::version::NEWEST, args.trace);
    hv.set_partition(vmbus.clone());
    let server = ivshmem::Server::bind(&args.ivshmem, shm, header.vectors)?;
    let vp0_doorbell = server.host_events.get(usize::from(sim_proto::vector_for_vp(0))).cloned();
    let commands = Arc::new(Control { hv: hv.clone(), vmbus: vmbus.clone(), vp0_doorbell });
    if let Some(path) = &args.control {
        control::serve(path, commands.clone())?;
    }
    if let Some(path) = &args.faults {
        let plan = faults::Plan::load(path)?;
        eprintln!("pvg-host: fault plan {} ({} steps)", path.display(), plan.len());
        plan.start(commands.clone(), vmbus.clone())?;
    }
    // One thread per doorbell vector: vector 0 is transport control, 1+vp are VP calls.
    for (vector, event) in server.host_events.iter().enumerate() {
        let event = event.clone();
        let hv = hv.clone();
        let bar = bar.clone();
        let vps = args.vps;
        std::thread::Builder::new().name(format!("doorbell{vector}")).spawn(move || {
            while let Ok(_) = ivshmem::wait_event(&event) {
                if vector as u16 == VECTOR_CONTROL {
                    let g = bar.guest();
                    if g.state != guest_state::ACTIVE {
                        hv.reset();
                    }
                    eprintln!("pvg-host: guest transport state {} ({} vps, slots at {:#x})", g.state, g.vps, g.slots_gpa);
                } else if let Some(vp) = vp_for_vector(vector as u16, vps) {
                    hv.doorbell(vp);
                }
            }
        })?;
    }
    println!("pvg-host: ready");
    std::io::stdout().flush()?;
    loop {
        let guest = Arc::new(Irq(server.accept()?));
        eprintln!("pvg-host: guest connected");
        hv.set_interrupts(Some(guest.clone()));
        guest.0.wait_closed();
        hv.set_interrupts(None);
        hv.reset();
        vmbus.guest_gone();
        bar.reset_guest();
        eprintln!("pvg-host: guest disconnected");
    }
}
