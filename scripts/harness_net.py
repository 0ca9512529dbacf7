"""The network side of guest tests: a test whose simulator arguments have `--nic tap=NAME`
gets a network namespace of its own with that TAP device in it (multi-queue, vnet header,
MTU 9000, up, addresses 10.99.K.1/24 and fd99:K::1/64 for the K-th TAP), the simulator opens
the TAP there (`netns=` is added to the NIC's specification), and the test drives the peer
side with `host net ...` (see tests/lib/guest.sh `host`):

  net run CMD ARGS...        run CMD in the namespace (RUN_LIMIT s); its output, its status
  net bg NAME CMD ARGS...    start CMD in the background
  net wait NAME [SECS]       wait for it (default and at most RUN_LIMIT s); its output, status
  net kill NAME              stop it; its output

Commands run in the guest's work directory with scripts/ on PATH (netpeer). Everything is
removed when the guest is done: background commands are killed, the namespace and its
devices deleted.
"""

from __future__ import annotations

import itertools
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

SCRIPTS = Path(__file__).resolve().parent
# The guest's `host` helper waits 120 s for an answer: a command must answer before that.
RUN_LIMIT = 110
_counter = itertools.count()


def tap_names(sim_args: list[str]) -> list[str]:
    """The TAP names of the `--nic` options, in order."""
    return [t for _, t in _taps(sim_args)]


def _taps(sim_args: list[str]) -> list[tuple[int, str]]:
    """(index in sim_args of the NIC spec, tap name) for each `--nic` with tap=."""
    out = []
    i = 0
    while i < len(sim_args):
        a = sim_args[i]
        spec_i = None
        if a == "--nic" and i + 1 < len(sim_args):
            spec_i = i + 1
            i += 1
        elif a.startswith("--nic="):
            spec_i = i
        if spec_i is not None:
            spec = sim_args[spec_i].removeprefix("--nic=")
            for item in spec.split(","):
                if item.startswith("tap="):
                    out.append((spec_i, item[4:]))
        i += 1
    return out


def _run(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


class NetPeer:
    """The namespace of one guest boot and the commands running in it."""

    def __init__(self, sim_args: list[str], workdir: Path):
        self.sim_args = list(sim_args)
        self.dir = workdir
        self.ns = f"pvg{os.getpid()}n{next(_counter)}"
        self.taps = _taps(self.sim_args)
        self.bg: dict[str, tuple[subprocess.Popen, Path]] = {}
        self.created = False

    def needed(self) -> bool:
        return bool(self.taps)

    def _ip(self, *args: str) -> None:
        r = _run(["ip", "-n", self.ns, *args])
        if r.returncode != 0:
            raise RuntimeError(f"ip -n {self.ns} {' '.join(args)}: {r.stdout.strip()}")

    def setup(self) -> list[str]:
        """Creates the namespace and the TAP devices; returns the simulator's arguments with
        `netns=` added to each TAP NIC."""
        r = _run(["ip", "netns", "add", self.ns])
        if r.returncode != 0:
            raise RuntimeError(f"cannot create network namespace {self.ns}: {r.stdout.strip()}")
        self.created = True
        self._ip("link", "set", "lo", "up")
        args = list(self.sim_args)
        for k, (spec_i, name) in enumerate(self.taps):
            self._ip("tuntap", "add", "dev", name, "mode", "tap", "multi_queue", "vnet_hdr")
            self._ip("link", "set", name, "mtu", "9000", "up")
            self._ip("addr", "add", f"10.99.{k}.1/24", "dev", name)
            self._ip("addr", "add", f"fd99:{k}::1/64", "dev", name, "nodad")
            args[spec_i] = args[spec_i] + f",netns={self.ns}"
        self._log(f"namespace {self.ns}: " + ", ".join(f"{n} 10.99.{k}.1 fd99:{k}::1" for k, (_, n) in enumerate(self.taps)))
        return args

    def _log(self, line: str) -> None:
        with open(self.dir / "net.log", "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def _argv(self, cmd: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *cmd]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{SCRIPTS}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        return env

    def command(self, text: str) -> tuple[int, str]:
        """One `net ...` command (without the `net `); (status, output)."""
        try:
            words = shlex.split(text)
        except ValueError as e:
            return 1, f"net: {e}"
        self._log(f"command: {text}")
        if not words:
            return 1, "net commands: run CMD..., bg NAME CMD..., wait NAME [SECS], kill NAME"
        op, rest = words[0], words[1:]
        if op == "run" and rest:
            try:
                r = subprocess.run(self._argv(rest), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=RUN_LIMIT, cwd=self.dir, env=self._env(), errors="replace")
            except subprocess.TimeoutExpired as e:
                out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
                return 124, (out.strip() + f"\nnet run: {rest[0]} did not finish within {RUN_LIMIT} s").strip()
            except OSError as e:
                return 127, f"net run: {e}"
            return r.returncode, r.stdout.strip()
        if op == "bg" and len(rest) >= 2:
            name, cmd = rest[0], rest[1:]
            if name in self.bg and self.bg[name][0].poll() is None:
                return 1, f"net bg: {name} is still running"
            log = self.dir / f"net-{name}.out"
            with open(log, "w") as out:
                p = subprocess.Popen(self._argv(cmd), stdout=out, stderr=subprocess.STDOUT, cwd=self.dir,
                                     env=self._env(), start_new_session=True)
            self.bg[name] = (p, log)
            return 0, f"started {name} (pid {p.pid})"
        if op == "wait" and len(rest) in (1, 2):
            name = rest[0]
            if name not in self.bg:
                return 1, f"net wait: no background command {name}"
            try:
                secs = min(float(rest[1]) if len(rest) > 1 else RUN_LIMIT, RUN_LIMIT)
            except ValueError:
                return 1, f"net wait: {rest[1]!r} is not seconds"
            p, log = self.bg[name]
            try:
                rc = p.wait(secs)
            except subprocess.TimeoutExpired:
                return 124, (self._output(log) + f"\nnet wait: {name} still running after {secs:g} s").strip()
            del self.bg[name]
            return rc, self._output(log)
        if op == "kill" and len(rest) == 1:
            name = rest[0]
            if name not in self.bg:
                return 1, f"net kill: no background command {name}"
            p, log = self.bg.pop(name)
            self._stop(p)
            return 0, self._output(log)
        return 1, "net commands: run CMD..., bg NAME CMD..., wait NAME [SECS], kill NAME"

    @staticmethod
    def _output(log: Path) -> str:
        try:
            return log.read_text(errors="replace").strip()
        except OSError:
            return ""

    @staticmethod
    def _stop(p: subprocess.Popen) -> None:
        if p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()

    def teardown(self) -> None:
        """Stops what still runs and deletes the namespace (after the simulator stopped)."""
        for name, (p, _) in list(self.bg.items()):
            self._stop(p)
            self._log(f"stopped {name} at teardown")
        self.bg.clear()
        if not self.created:
            return
        # Whatever still runs inside (a command's stray children) goes with the namespace.
        r = _run(["ip", "netns", "pids", self.ns])
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for _, name in self.taps:
            _run(["ip", "-n", self.ns, "link", "del", name])
        r = _run(["ip", "netns", "del", self.ns])
        if r.returncode != 0:
            self._log(f"deleting {self.ns}: {r.stdout.strip()}")
        self.created = False


def peer_for(sim: str, workdir: Path) -> Optional[NetPeer]:
    """The peer of a guest whose simulator arguments are `sim`, if it has TAP NICs."""
    if not sim or sim in ("-", "on"):
        return None
    p = NetPeer(shlex.split(sim), workdir)
    return p if p.needed() else None


# -- the harness's own tests (scripts/harness_selftest.py runs them) -----------------------

def selftest(workdir: Path) -> tuple[bool, str, list[str]]:
    """Sets up a peer for two TAP NICs without a guest and checks the namespace, addresses,
    rewritten arguments, the four commands, netpeer both ways and the teardown."""
    workdir.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        (out if ok else problems).append(("ok: " if ok else "FAILED: ") + what)

    sim = "--echo 1 --nic tap=pvt0,queues=2 --nic=tap=pvt1 --nic switch=x"
    p = peer_for(sim, workdir)
    check(p is not None and tap_names(p.sim_args) == ["pvt0", "pvt1"], "TAP NICs found in the simulator arguments")
    check(peer_for("--echo 1 --nic loopback", workdir) is None, "no namespace without TAP NICs")
    if p is None:
        return False, "; ".join(problems), out
    left: Optional[subprocess.Popen] = None
    try:
        args = p.setup()
        check(args == ["--echo", "1", "--nic", f"tap=pvt0,queues=2,netns={p.ns}", f"--nic=tap=pvt1,netns={p.ns}", "--nic", "switch=x"],
              f"netns= added to the TAP NICs: {args}")
        rc, msg = p.command("run ip -o addr show dev pvt1")
        check(rc == 0 and "10.99.1.1/24" in msg and "fd99:1::1/64" in msg, f"pvt1 addresses: {msg}")
        rc, msg = p.command("run ip -o link show dev pvt0")
        check(rc == 0 and "mtu 9000" in msg and "UP" in msg, f"pvt0 is up with MTU 9000: {msg}")
        rc, msg = p.command("run sh -c 'echo out; echo err >&2; exit 7'")
        check(rc == 7 and "out" in msg and "err" in msg, f"run returns status and output: {rc} {msg!r}")
        rc, msg = p.command("bg s netpeer sink 5001 30")
        check(rc == 0, f"bg sink: {msg}")
        time.sleep(0.5)
        rc, msg = p.command("run netpeer send 127.0.0.1 5001 3000000 9")
        check(rc == 0 and "bytes=3000000" in msg, f"send to the sink: {msg}")
        sent = msg.split("sha256=")[1].split()[0] if "sha256=" in msg else "?"
        rc, msg = p.command("wait s 20")
        check(rc == 0 and f"sha256={sent}" in msg, f"the sink saw the same digest: {msg}")
        rc, msg = p.command("bg src netpeer source 5002 100000 9")
        time.sleep(0.5)
        rc2, msg2 = p.command("run netpeer recv ::1 5002")
        rc, msg = p.command("wait src")
        d1 = msg.split("sha256=")[1].split()[0] if "sha256=" in msg else "?"
        check(rc == 0 and rc2 == 0 and f"sha256={d1}" in msg2 and "bytes=100000" in msg2, f"source to recv: {msg} / {msg2}")
        rc, msg = p.command("bg u netpeer udp-sink 5003 1")
        time.sleep(0.5)
        p.command("run netpeer udp-send 10.99.0.1 5003 50 100")
        rc, msg = p.command("wait u 10")
        check(rc == 0 and "datagrams=50 bytes=5000" in msg, f"udp-sink counted: {msg}")
        rc, msg = p.command("bg z sleep 100")
        rc, msg = p.command("wait z 1")
        check(rc == 124 and "still running" in msg, f"wait times out: {msg}")
        rc, msg = p.command("kill z")
        check(rc == 0, f"kill: {msg}")
        rc, msg = p.command("wait nothing")
        check(rc == 1, f"unknown background command: {msg}")
        rc, msg = p.command("bogus")
        check(rc == 1 and "net commands" in msg, f"unknown command: {msg}")
        p.command("bg left sleep 100")
        left = p.bg["left"][0]
    finally:
        ns = p.ns
        p.teardown()
    r = _run(["ip", "netns", "list"])
    check(ns not in r.stdout, "namespace deleted at teardown")
    check(left is not None and left.poll() is not None, "background commands stopped at teardown")
    return not problems, "; ".join(problems[:3]), out
