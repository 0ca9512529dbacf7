"""Guest test harness: boots the Debian kernel in QEMU with our modules and runs scenarios.

A *guest test* is a bash script under tests/<suite>/ (not under lib/, guest/, harness/fixtures/
or selftest-module/). Its header comments configure it:

    # timeout: 60                 seconds the test may take inside the guest (default 120)
    # boot: vcpus=4 cpu=EPYC      how the guest boots; tests with equal boot settings share a boot
    # sim: <simulator config>     host simulator devices to attach (pvg-host arguments)
    # also: hostile               other suites whose filter selects it too (scripts/test hostile)

Tests with the same boot settings run one after another in one guest. The guest runner
(tests/guest/init) reports over a virtio-serial port; this module keeps a watchdog on it, kills
a guest that stops answering, and fails any test during which the kernel log shows a WARNING,
BUG, Oops, panic, Rust panic, KASAN/UBSAN report, lockup, RCU stall or hung task.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import harness_net

TOP = Path(__file__).resolve().parent.parent
TESTS = TOP / "tests"
CACHE = Path(os.environ.get("PVGUEST_CACHE") or
             Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pvguest")

# Kernel log lines that fail the test they appear in. Each entry: (name, regex).
BAD_LOG = [
    # The debug kernel's checkers first (scripts/debug-kernel): their reports begin with
    # "BUG: ..." or "WARNING: ..." lines, and the kind should name the checker.
    ("KASAN", re.compile(r"KASAN: |BUG: KASAN")),
    ("UBSAN", re.compile(r"UBSAN: ")),
    ("kmemleak", re.compile(r"kmemleak: \d+ new suspected memory leaks|unreferenced object 0x")),
    ("lockdep", re.compile(r"possible circular locking dependency|inconsistent lock state|possible recursive locking"
                           r"|possible irq lock inversion|lock order detected|bad unlock balance|held lock freed"
                           r"|suspicious RCU usage|lock held when returning to user space")),
    ("sleep in atomic", re.compile(r"BUG: sleeping function called from invalid context|scheduling while atomic")),
    ("debugobjects", re.compile(r"\bODEBUG: ")),
    # "WARNING: CPU: 1 PID: 154 at f.c:3 fn" (older) and "WARNING: f.rs:38 at fn, CPU#1: x/154" (7.x)
    ("WARNING", re.compile(r"(^|\]\s*)WARNING: ")),
    ("BUG", re.compile(r"\bBUG: |kernel BUG at")),
    ("Oops", re.compile(r"\bOops\b|general protection fault|invalid opcode: ")),
    ("panic", re.compile(r"Kernel panic - not syncing|\bpanicked at\b|rust_panic")),
    ("KMSAN/KCSAN/KFENCE", re.compile(r"\bKMSAN: |\bKCSAN: |\bKFENCE: ")),
    ("hung task", re.compile(r"INFO: task .* blocked for more than \d+ seconds")),
    ("lockup", re.compile(r"soft lockup|hard LOCKUP|watchdog: BUG")),
    ("RCU stall", re.compile(r"rcu: INFO: rcu_\w+ (self-)?detected stalls?\b")),
    ("list corruption", re.compile(r"list_(add|del) corruption")),
    ("refcount", re.compile(r"refcount_t: (underflow|overflow|saturated|addition on 0)")),
]

# The root partition's GPT PARTUUID (scripts/setup-guest writes it).
ROOT_PARTUUID = "5076675f-726f-6f74-8000-000000000001"

MARK_BEGIN = re.compile(r"pvguest: BEGIN (\S+)")
MARK_END = re.compile(r"pvguest: END (\S+) rc=(-?\d+)")
LOGTIME = re.compile(r"^\[\s*\d+\.\d+\]\s?")


def bad_lines(lines: list[str]) -> list[tuple[str, str]]:
    """The (kind, line) pairs among kernel log lines that indicate a kernel problem."""
    found = []
    for line in lines:
        for kind, rx in BAD_LOG:
            if rx.search(line):
                found.append((kind, LOGTIME.sub("", line).strip()))
                break
    return found


@dataclasses.dataclass(frozen=True)
class Boot:
    """How a guest boots. Tests with equal Boot values share one guest."""
    vcpus: int = 2
    sockets: int = 1       # the vCPUs spread evenly over this many sockets
    cpu: str = "Skylake-Server"
    mem: str = "2G"
    sim: str = ""          # host simulator configuration ("" = no simulator)
    cmdline: str = ""      # extra kernel command line (space separated)

    def smp(self) -> str:
        """QEMU's -smp value: all vCPUs as cores of one socket, or spread over sockets."""
        if self.sockets <= 1:
            return str(self.vcpus)
        if self.vcpus % self.sockets:
            raise ValueError(f"{self.vcpus} vCPUs do not spread evenly over {self.sockets} sockets")
        return f"{self.vcpus},sockets={self.sockets},cores={self.vcpus // self.sockets},threads=1"

    def label(self) -> str:
        s = f"{self.vcpus} vCPU" + (f" in {self.sockets} sockets" if self.sockets > 1 else "")
        s += f" {self.cpu} {self.mem}"
        s += f" cmdline={self.cmdline.replace(' ', ',')}" if self.cmdline else ""
        return s + (f" sim={self.sim}" if self.sim else "")


@dataclasses.dataclass
class GuestTest:
    id: str                 # suite/name
    path: Path              # the script
    timeout: int = 120
    boot: Boot = Boot()
    also: tuple[str, ...] = ()  # other suites that select it too ('# also: hostile')

    @property
    def suite(self) -> str:
        return self.id.split("/", 1)[0]


@dataclasses.dataclass
class Result:
    id: str
    ok: bool
    seconds: float = 0.0
    reason: str = ""                       # one line: why it failed
    output: list[str] = dataclasses.field(default_factory=list)
    log_problems: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def parse_header(path: Path) -> dict[str, str]:
    """The '# key: value' lines at the top of a test script."""
    hdr = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            if line.strip():
                break
            continue
        m = re.match(r"#\s*([a-z-]+):\s*(.*)$", line)
        if m:
            hdr[m.group(1)] = m.group(2).strip()
    return hdr


def parse_boot(spec: str, base: Boot = Boot()) -> Boot:
    """'vcpus=N cpu=MODEL mem=SIZE sim=ARGS...': sim= takes the rest of the line (the host
    simulator's arguments, which may contain spaces)."""
    kw = {}
    head, sep, sim = spec.partition("sim=")
    if sep:
        if head and not head.endswith(" "):
            raise ValueError(f"bad boot setting near 'sim=' in {spec!r}")
        kw["sim"] = sim.strip()
    for item in head.split():
        k, _, v = item.partition("=")
        if k in ("vcpus", "sockets"):
            kw[k] = int(v)
        elif k in ("cpu", "mem"):
            kw[k] = v
        elif k == "cmdline":
            # Kernel parameters, comma separated: cmdline=init_on_alloc=0,slub_debug=P
            kw[k] = " ".join(x for x in v.split(",") if x)
        else:
            raise ValueError(f"unknown boot setting {k!r} (know vcpus=, sockets=, cpu=, mem=, cmdline=, sim= (last))")
    return dataclasses.replace(base, **kw)


def load_test(path: Path, root: Path = TESTS) -> GuestTest:
    rel = path.relative_to(root)
    tid = str(rel.with_suffix(""))
    hdr = parse_header(path)
    t = GuestTest(id=tid, path=path)
    if "timeout" in hdr:
        t.timeout = int(hdr["timeout"])
    if "boot" in hdr:
        t.boot = parse_boot(hdr["boot"])
    if "sim" in hdr:
        t.boot = dataclasses.replace(t.boot, sim=hdr["sim"])
    if "also" in hdr:
        t.also = tuple(hdr["also"].split())
    return t


def collect(root: Path = TESTS) -> list[GuestTest]:
    skip = {"lib", "guest", "selftest-module", "bench", "matrix"}
    tests = []
    for p in sorted(root.glob("*/*.sh")):
        if p.parent.name in skip:
            continue
        tests.append(load_test(p, root))
    return tests


# --------------------------------------------------------------------------------------------
# Running a guest


@dataclasses.dataclass
class Kernel:
    release: str
    vmlinuz: Path
    root_img: Path
    modules_dir: Optional[Path] = None  # the kernel's own modules, shipped in the payload (None: the image's)
    mem: str = ""                       # least guest memory it needs ("": as each test says)
    time_factor: float = 1.0            # how much slower than the distro kernel: timeouts grow by it

    @staticmethod
    def from_cache() -> "Kernel":
        if KERNEL_CHOICE == "debug":
            return Kernel.debug()
        if KERNEL_CHOICE:
            raise SystemExit(f"error: PVGUEST_KERNEL={KERNEL_CHOICE!r} is not a kernel this harness knows\n"
                             "  what to do: unset it (the Debian kernel) or set PVGUEST_KERNEL=debug")
        rel_file = CACHE / "kernel" / "RELEASE"
        if not rel_file.exists():
            raise SystemExit("error: no prepared kernel (missing %s)\n  what to do: run scripts/setup" % rel_file)
        release = rel_file.read_text().strip()
        vml = CACHE / "kernel" / release / "vmlinuz"
        img = CACHE / "guest" / "root.img"
        for p in (vml, img):
            if not p.exists():
                raise SystemExit(f"error: {p} is missing\n  what to do: run scripts/setup")
        return Kernel(release, vml.resolve(), img)

    @staticmethod
    def debug() -> "Kernel":
        """The debug kernel built by scripts/debug-kernel (KASAN, lockdep, kmemleak, ...): the
        same guest image, its own few modules in the payload, more memory, longer timeouts."""
        d = debug_kernel_dir()
        release = (d / "modules" / "lib" / "modules").iterdir().__next__().name
        img = CACHE / "guest" / "root.img"
        if not img.exists():
            raise SystemExit(f"error: {img} is missing\n  what to do: run scripts/setup")
        return Kernel(release, d / "vmlinuz", img, modules_dir=d / "modules" / "lib" / "modules" / release,
                      mem=os.environ.get("PVGUEST_DEBUG_MEM", "4G"),
                      time_factor=float(os.environ.get("PVGUEST_DEBUG_TIME_FACTOR", "4")))

    def own_modules(self) -> list[Path]:
        return sorted(self.modules_dir.glob("kernel/**/*.ko*")) if self.modules_dir else []


# PVGUEST_KERNEL=debug: guests boot the debug kernel and load our modules built against it
# (scripts/build builds them in a private copy of the sources, under the debug kernel's cache).
KERNEL_CHOICE = os.environ.get("PVGUEST_KERNEL", "")


def debug_kernel_dir() -> Path:
    """The debug kernel scripts/debug-kernel built last (it records it in 'current')."""
    cur = CACHE / "debug-kernel" / "current"
    d = CACHE / "debug-kernel" / (cur.read_text().strip() if cur.exists() else "?")
    if not (d / "vmlinuz").exists():
        raise SystemExit("error: no debug kernel is built\n  what to do: run scripts/debug-kernel")
    return d


def prepare_kernel() -> Optional[str]:
    """Set-up (scripts/setup) and, for PVGUEST_KERNEL=debug, the debug kernel, their progress
    shown as they go; None when both are ready, else what failed."""
    if subprocess.run([str(TOP / "scripts" / "setup")]).returncode != 0:
        return "set-up failed (see above)"
    # The debug kernel builds (once, for about an hour) with its progress shown here.
    if KERNEL_CHOICE == "debug" and subprocess.run([str(TOP / "scripts" / "debug-kernel")]).returncode != 0:
        return "the debug kernel is not available (see above)"
    return None


def build_modules() -> tuple[bool, list[str]]:
    """scripts/build: every module against the chosen kernel; (built, its non-empty output lines)."""
    r = subprocess.run([str(TOP / "scripts" / "build")], capture_output=True, text=True)
    return r.returncode == 0, [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]


def module_files() -> list[Path]:
    """The .ko files the build produced (scripts/build)."""
    top = debug_kernel_dir() / "modsrc" if KERNEL_CHOICE == "debug" else TOP
    return sorted(p for p in top.glob("**/*.ko")
                  if "target" not in p.relative_to(top).parts and "out" not in p.relative_to(top).parts)


def depmod_files(dest: Path, release: str, modules: list[Path]) -> list[Path]:
    """modules.dep & co. for the guest's module tree plus ours in updates/pvguest, computed
    on the host (depmod over ~3000 modules takes 15 s under TCG, well under 1 s here)."""
    src = CACHE / "guest" / "rootfs" / "usr" / "lib" / "modules" / release
    if KERNEL_CHOICE == "debug":
        src = debug_kernel_dir() / "modules" / "lib" / "modules" / release
    if not src.is_dir():
        raise SystemExit(f"error: {src} is missing\n  what to do: run scripts/setup")
    base = dest / "depmod"
    if base.exists():
        shutil.rmtree(base)
    tree = base / "lib" / "modules" / release
    tree.mkdir(parents=True)
    for entry in ("kernel", "modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if (src / entry).exists() and not (entry == "kernel" and KERNEL_CHOICE == "debug"):
            (tree / entry).symlink_to(src / entry)
    upd = tree / "updates" / "pvguest"
    upd.mkdir(parents=True)
    for m in modules:
        shutil.copy2(m, upd / m.name)
    r = subprocess.run(["depmod", "-b", str(base), release], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"error: depmod for the guest failed: {r.stderr.strip()}\n"
                         "  what to do: check that kmod is installed on this machine")
    return sorted(p for p in tree.glob("modules.*") if p.is_file() and not p.is_symlink())


# Seconds a task may sit in D state before the guest kernel reports it as hung (and the test
# fails), on the distro kernel; the debug kernel's guests get kernel.time_factor times that.
HUNG_TASK_SECS = 30


def make_payload(dest: Path, tests: list[GuestTest], modules: list[Path], shell: bool,
                 release: str, extra: Optional[dict[str, Path]] = None, root: Path = TESTS,
                 hung_task_secs: int = HUNG_TASK_SECS) -> Path:
    """A tar the guest unpacks to /payload: init, tests/lib, the tests, list, modules and
    the module index (depmod) that includes them, and the hung-task threshold."""
    tar_path = dest / "payload.tar"
    with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT) as tar:
        def add(src: Path, arc: str, mode: int = 0o644):
            info = tar.gettarinfo(str(src), arc)
            info.mode = mode
            info.uid = info.gid = 0
            with open(src, "rb") as f:
                tar.addfile(info, f)
        add(TESTS / "guest" / "init", "init", 0o755)
        for p in sorted((TESTS / "lib").glob("*")):
            add(p, f"tests/lib/{p.name}", 0o755)
        lines = []
        for t in tests:
            rel = t.path.relative_to(root)
            arc = f"tests/{rel}"
            add(t.path, arc, 0o755)
            # Data files next to a test (same stem, other suffix) go along.
            for side in sorted(t.path.parent.glob(t.path.stem + ".*")):
                if side != t.path:
                    add(side, f"tests/{side.relative_to(root)}")
            lines.append(f"{t.id} {t.timeout} {arc}\n")
        for name, src in (extra or {}).items():
            add(src, name, 0o755)
        listing = dest / "list"
        listing.write_text("".join(lines))
        add(listing, "tests/list")
        hung = dest / "hung_task_secs"
        hung.write_text(f"{hung_task_secs}\n")
        add(hung, "hung_task_secs")
        for m in modules:
            add(m, f"modules/{m.name}")
        if modules:
            for f in depmod_files(dest, release, modules):
                add(f, f"modindex/{f.name}")
            shutil.rmtree(dest / "depmod")
        if shell:
            flag = dest / "shell"
            flag.write_text("")
            add(flag, "shell")
    # A raw disk must be a whole number of 512-byte sectors; GNU tar pads to 10 KiB anyway.
    size = tar_path.stat().st_size
    if size % 512:
        with open(tar_path, "ab") as f:
            f.write(b"\0" * (512 - size % 512))
    return tar_path


def parse_mem(mem: str) -> int:
    """QEMU's -m syntax (2G, 512M, bytes) in bytes."""
    m = re.fullmatch(r"(\d+)([KMGT]?)", mem.strip().upper())
    if not m:
        raise ValueError(f"bad memory size {mem!r}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


SIM_BIN = TOP / "target" / "release" / "pvg-host"


class Simulator:
    """The host simulator (host/, pvg-host) serving one guest: started before QEMU, which
    then maps the same RAM file and connects to its ivshmem socket."""

    def __init__(self, boot: Boot, workdir: Path):
        self.boot, self.dir = boot, workdir
        self.ram = Path(f"/dev/shm/pvguest-{os.getpid()}-{id(self):x}.ram")
        self.ivshmem = workdir / "ivshmem.sock"
        self.control = workdir / "sim.sock"
        self.log = workdir / "sim.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        if not SIM_BIN.exists():
            raise RuntimeError(f"{SIM_BIN} is missing; run scripts/build")
        args = [] if self.boot.sim in ("", "-", "on") else shlex.split(self.boot.sim)
        argv = [str(SIM_BIN), "--ram", str(self.ram), "--ram-size", str(parse_mem(self.boot.mem)),
                "--vps", str(self.boot.vcpus), "--ivshmem", str(self.ivshmem),
                "--control", str(self.control), "--workdir", str(self.dir), *args]
        (self.dir / "sim.cmd").write_text(shlex.join(argv) + "\n")
        self.logf = open(self.log, "wb")
        # From the top directory, so paths in a test's sim= arguments (fault plans, images)
        # are relative to the repository.
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.logf, cwd=TOP)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode(errors="replace")
        if "ready" not in line:
            self.stop()
            raise RuntimeError("the host simulator did not start: " + self.log.read_text(errors="replace")[-500:])

    def qemu_args(self) -> list[str]:
        return [
            "-object", f"memory-backend-file,id=ram,size={self.boot.mem},mem-path={self.ram},share=on",
            "-chardev", f"socket,id=ivsh,path={self.ivshmem}",
            "-device", f"ivshmem-doorbell,chardev=ivsh,vectors={self.boot.vcpus + 1}",
        ]

    def command(self, text: str, timeout: float = 60) -> tuple[int, str]:
        """One line to the simulator's control socket; (0, answer) or (1, error)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.control))
            s.sendall(text.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        answer = buf.decode(errors="replace").strip()
        if answer.startswith("ok"):
            return 0, answer[2:].strip()
        return 1, answer

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if hasattr(self, "logf"):
            self.logf.close()
        try:
            self.ram.unlink()
        except FileNotFoundError:
            pass


class Guest:
    """One QEMU process and its control channel."""

    def __init__(self, kernel: Kernel, boot: Boot, workdir: Path, payload: Path,
                 extra_args: Optional[list[str]] = None, interactive: bool = False,
                 on_cmd: Optional[Callable[[str], tuple[int, str]]] = None,
                 cmdline_extra: str = ""):
        self.kernel, self.boot, self.dir, self.payload = kernel, boot, workdir, payload
        self.extra_args = extra_args or []
        self.interactive = interactive
        self.on_cmd = on_cmd
        self.cmdline_extra = cmdline_extra
        self.console = workdir / "console.log"
        self.ctl_path = workdir / "ctl.sock"
        self.lines: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        self.closed = False
        self.proc: Optional[subprocess.Popen] = None
        self.sock: Optional[socket.socket] = None

    def qemu_argv(self) -> list[str]:
        b = self.boot
        machine = "q35,memory-backend=ram" if b.sim else "q35"
        append = " ".join([
            "console=ttyS0,115200", f"root=PARTUUID={ROOT_PARTUUID}", "rw", "rootwait",
            "init=/usr/local/sbin/pvguest-boot", "panic=-1", "printk.devkmsg=on",
            b.cmdline, self.cmdline_extra,
        ]).split()
        argv = [
            "qemu-system-x86_64", "-name", "pvguest", "-nodefaults", "-no-user-config",
            "-machine", machine, "-accel", "tcg", "-cpu", b.cpu, "-smp", b.smp(), "-m", b.mem,
            "-display", "none", "-no-reboot",
            "-kernel", str(self.kernel.vmlinuz), "-append", " ".join(append),
            # One NVMe controller with two namespaces, the root image and the payload tar.
            # They probe in either order; the root is found by PARTUUID and the payload is
            # the namespace without partitions.
            "-device", "nvme,id=nvme0,serial=pvguest",
            "-drive", f"if=none,id=root,file={self.kernel.root_img},format=raw,snapshot=on",
            "-device", "nvme-ns,drive=root,bus=nvme0,nsid=1",
            "-drive", f"if=none,id=payload,file={self.payload},format=raw,snapshot=on",
            "-device", "nvme-ns,drive=payload,bus=nvme0,nsid=2",
            "-device", "virtio-serial-pci,id=vser",
            "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off",
            "-device", "virtserialport,bus=vser.0,chardev=ctl,name=pvguest.ctl",
        ]
        if self.interactive:
            argv += ["-chardev", f"stdio,id=con,logfile={self.console},signal=off",
                     "-serial", "chardev:con"]
        else:
            argv += ["-serial", f"file:{self.console}"]
        return argv + self.extra_args

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for p in (self.console, self.ctl_path):
            if p.exists():
                p.unlink()
        argv = self.qemu_argv()
        (self.dir / "qemu.cmd").write_text(shlex.join(argv) + "\n")
        stdio = None if self.interactive else subprocess.DEVNULL
        self.qemu_err = open(self.dir / "qemu.stderr", "wb")
        self.proc = subprocess.Popen(argv, stdin=stdio, stdout=stdio, stderr=self.qemu_err)
        deadline = time.time() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("QEMU exited at start: " + self.qemu_stderr())
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(self.ctl_path))
                self.sock = s
                break
            except OSError:
                s.close()
                if time.time() > deadline:
                    self.kill()
                    raise RuntimeError("QEMU did not open its control socket within 20 s")
                time.sleep(0.05)
        threading.Thread(target=self._reader, daemon=True).start()

    def qemu_stderr(self) -> str:
        try:
            return (self.dir / "qemu.stderr").read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""

    def _reader(self) -> None:
        buf = b""
        assert self.sock is not None
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if line.startswith("CMD "):
                    self._handle_cmd(line)
                with self.cond:
                    self.lines.append((time.time(), line))
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _handle_cmd(self, line: str) -> None:
        _, seq, *rest = line.split(" ", 2)
        text = rest[0] if rest else ""
        if self.on_cmd is None:
            rc, msg = 1, "this guest has no host command handler"
        else:
            try:
                rc, msg = self.on_cmd(text)
            except Exception as e:  # a broken handler must not kill the reader
                rc, msg = 1, f"host command failed: {e}"
        msg = msg.replace("\n", " | ")
        try:
            assert self.sock is not None
            self.sock.sendall(f"ACK {seq} {rc} {msg}\n".encode())
        except OSError:
            pass

    def wait_line(self, pred: Callable[[str], bool], start: int, timeout: float) -> tuple[int, Optional[str]]:
        """Waits for a control line matching pred at index >= start. Returns (index, line),
        or (start, None) on timeout, guest exit or closed channel."""
        deadline = time.time() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i][1]):
                        return i, self.lines[i][1]
                    i += 1
                if self.closed or (self.proc and self.proc.poll() is not None):
                    # drain anything that arrived just before the exit
                    if i >= len(self.lines):
                        return i, None
                    continue
                left = deadline - time.time()
                if left <= 0:
                    return i, None
                self.cond.wait(min(left, 0.5))

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait_exit(self, timeout: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def close(self) -> None:
        self.kill()
        if self.sock:
            self.sock.close()
        if hasattr(self, "qemu_err"):
            self.qemu_err.close()


def console_segments(text: str) -> dict[str, list[str]]:
    """Splits the console log by the runner's kernel-log markers: {test id: lines}, plus
    '<boot>' for lines before the first test and '<after>' for lines after the last."""
    segs: dict[str, list[str]] = {"<boot>": []}
    cur = "<boot>"
    for line in text.splitlines():
        m = MARK_BEGIN.search(line)
        if m:
            cur = m.group(1)
            segs.setdefault(cur, [])
            continue
        m = MARK_END.search(line)
        if m:
            cur = "<after>"
            segs.setdefault(cur, [])
            continue
        segs.setdefault(cur, []).append(line)
    return segs


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_guest(tests: list[GuestTest], boot: Boot, kernel: Kernel, workdir: Path,
              modules: Optional[list[Path]] = None, boot_timeout: int = 180,
              extra_args: Optional[list[str]] = None, interactive: bool = False,
              on_cmd: Optional[Callable[[str], tuple[int, str]]] = None,
              progress: Callable[[str], None] = lambda s: None,
              root: Path = TESTS, cmdline_extra: str = "") -> list[Result]:
    """Boots one guest, runs tests in order, returns one Result per test."""
    workdir.mkdir(parents=True, exist_ok=True)
    tf = kernel.time_factor
    if tf != 1:
        tests = [dataclasses.replace(t, timeout=round(t.timeout * tf)) for t in tests]
        boot_timeout = round(boot_timeout * tf)
    if kernel.mem and parse_mem(boot.mem) < parse_mem(kernel.mem):
        boot = dataclasses.replace(boot, mem=kernel.mem)
    payload = make_payload(workdir, tests, (module_files() if modules is None else modules) + kernel.own_modules(),
                           interactive, kernel.release, root=root,
                           hung_task_secs=round(HUNG_TASK_SECS * tf))
    sim: Optional[Simulator] = None
    net: Optional[harness_net.NetPeer] = None
    if boot.sim:
        sim = Simulator(boot, workdir)
        extra_args = (extra_args or []) + sim.qemu_args()
        # NICs on TAP devices get a network namespace of their own (harness_net).
        net = harness_net.peer_for(boot.sim, workdir)

    def handle_cmd(text: str) -> tuple[int, str]:
        if text == "cpu":
            # CPU seconds QEMU and the simulator have had so far: a guest test can tell a
            # slowdown of its own from a machine too busy to give it the CPU it had before.
            procs = [p for p in (g.proc, sim.proc if sim else None) if p is not None]
            return 0, f"{sum(process_cpu_seconds(p.pid) for p in procs):.2f}"
        if text.startswith("sim "):
            if sim is None:
                return 1, "this guest runs without the host simulator (add '# sim:' to the test)"
            return sim.command(text[4:])
        if text.startswith("net ") or text == "net":
            if net is None:
                return 1, "this guest has no TAP NIC (add --nic tap=NAME to the boot line's sim=)"
            return net.command(text[4:])
        if on_cmd is not None:
            return on_cmd(text)
        return 1, f"unknown host command {text!r}"

    g = Guest(kernel, boot, workdir, payload, extra_args, interactive, handle_cmd, cmdline_extra)
    results: dict[str, Result] = {}
    outputs: dict[str, list[str]] = {t.id: [] for t in tests}
    broke: Optional[str] = None       # why the guest as a whole failed, if it did
    t0 = time.time()
    try:
        if sim is not None:
            if net is not None:
                sim.boot = dataclasses.replace(sim.boot, sim=shlex.join(net.setup()))
            sim.start()
        g.start()
        idx, ready = g.wait_line(lambda l: l.startswith("READY "), 0, boot_timeout)
        if ready is None:
            broke = (f"guest did not boot within {boot_timeout}s" if g.proc and g.proc.poll() is None
                     else "guest exited before it was ready")
        else:
            progress(f"booted in {time.time() - t0:.0f}s: {ready[6:]}")
            pos = idx + 1
            for t in tests:
                pos, line = g.wait_line(lambda l: l.startswith("BEGIN "), pos, 60 * tf)
                if line is None or line.split()[1] != t.id:
                    broke = f"the guest runner did not start {t.id}"
                    break
                started = time.time()
                # Watchdog: the test's own timeout, plus the runner's kill grace, plus slack.
                pos, end = g.wait_line(lambda l: l.startswith("END ") or l.startswith("DONE"), pos + 1,
                                       t.timeout + 45)
                with g.cond:
                    outputs[t.id] = [l[len(f"OUT {t.id} "):] for _, l in g.lines
                                     if l.startswith(f"OUT {t.id} ")]
                if end is None or not end.startswith("END "):
                    # The control channel closes a moment before QEMU exits: give it time.
                    alive = not g.wait_exit(5)
                    if alive:
                        broke = (f"guest stopped responding during {t.id} "
                                 f"(no result {t.timeout + 45}s after it began); killed it")
                    else:
                        broke = f"guest died during {t.id} (QEMU exited)"
                    results[t.id] = Result(t.id, False, time.time() - started, broke, outputs[t.id])
                    break
                _, tid, rc, secs = end.split()[:4]
                rc_i = int(rc)
                if rc_i == 0:
                    results[t.id] = Result(t.id, True, float(secs), "", outputs[t.id])
                else:
                    why = (f"timed out after {t.timeout}s" if rc_i in (124, 137)
                           else f"exited with status {rc_i}")
                    last = next((o for o in reversed(outputs[t.id]) if o.strip()), "")
                    results[t.id] = Result(t.id, False, float(secs),
                                           why + (f": {last.strip()}" if last else ""), outputs[t.id])
                progress(("PASS " if rc_i == 0 else "FAIL ") + t.id)
                pos += 1
            if broke is None and not interactive:
                _, done = g.wait_line(lambda l: l.startswith("DONE"), pos, 60 * tf)
                if done is None:
                    broke = "guest did not finish after its last test"
            if broke is None:
                if not g.wait_exit(None if interactive else 30):
                    broke = "guest did not power off"
    except RuntimeError as e:
        broke = str(e)
    finally:
        g.close()
        sim_died = sim is not None and sim.proc is not None and sim.proc.poll() is not None
        if sim is not None:
            sim.stop()
        if net is not None:
            net.teardown()

    console = g.console.read_text(errors="replace") if g.console.exists() else ""
    segs = console_segments(console)
    out = []
    for t in tests:
        r = results.get(t.id)
        if r is None:
            r = Result(t.id, False, 0.0, f"not run: {broke or 'unknown failure'}", outputs.get(t.id, []))
        probs = bad_lines(segs.get(t.id, []))
        if t is tests[0]:
            probs = bad_lines(segs.get("<boot>", [])) + probs
        if t is tests[-1]:
            probs += bad_lines(segs.get("<after>", []))
        if sim is not None and r.ok:
            sim_log = sim.log.read_text(errors="replace") if sim.log.exists() else ""
            if sim_died or "panicked" in sim_log:
                r.ok = False
                r.reason = "the host simulator died or panicked (see sim.log)"
        if probs:
            r.log_problems = probs
            if r.ok:
                r.ok = False
                kind, line = probs[0]
                r.reason = f"kernel log shows {kind}: {line}"
        out.append(r)
    (workdir / "results.json").write_text(json.dumps([dataclasses.asdict(r) for r in out], indent=1))
    with g.cond:
        (workdir / "ctl.log").write_text("".join(f"{ts - t0:8.2f} {l}\n" for ts, l in g.lines))
    return out
