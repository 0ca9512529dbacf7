"""Packaging tests (scripts/test packaging): DKMS in the build root against the Debian kernel's
headers, the .deb and .rpm, the DKMS-installed modules loaded by udev/modprobe in a guest, the
build probe's messages for missing prerequisites, and the KVM launchers' refusal on a host whose
/dev/kvm cannot do Hyper-V or Xen. Host-side items like harness_selftest; they change the build
root's package state (DKMS registrations, pvguest-dkms installed and removed again) and leave it
as they found it, except for the Rust build tree kernel-rust-metadata generates once per kernel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Callable

import harness as h
import kvmlaunch

TOP = h.TOP
BUILDROOT = h.CACHE / "buildroot"

TESTS = [
    "packaging/probe-errors",
    "packaging/rust-metadata",
    "packaging/dkms-build",
    "packaging/deb",
    "packaging/rpm",
    "packaging/guest-modprobe",
    "packaging/kvm-launchers-refuse",
    "packaging/deb-remove",
]


class Failed(Exception):
    pass


def sh(argv: list[str], timeout: int = 900, env: dict | None = None) -> tuple[int, str]:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Failed(f"timed out after {timeout}s: {' '.join(argv)[:120]}")
    return r.returncode, r.stdout + r.stderr


def br(*cmd: str, timeout: int = 900) -> tuple[int, str]:
    """Runs cmd inside the build root (scripts/lib.sh's in_buildroot)."""
    return sh(["bash", "-c", '. "$0"/scripts/lib.sh; in_buildroot "$@"', str(TOP), *cmd], timeout)


def need(cond: bool, why: str, out: list[str] | None = None, text: str = "") -> None:
    if not cond:
        if out is not None and text:
            out += [l for l in text.splitlines() if l.strip()][-25:]
        raise Failed(why)


def version() -> str:
    m = re.search(r'^PACKAGE_VERSION="?([^"\n]*)"?$', (TOP / "dkms.conf").read_text(), re.M)
    assert m, "dkms.conf has no PACKAGE_VERSION"
    return m.group(1)


def packaged_modules() -> list[str]:
    rc, out = sh(["bash", str(TOP / "scripts" / "dkms-probe"), "--modules", str(TOP)])
    if rc != 0:
        raise Failed("dkms-probe --modules failed: " + out.strip()[-200:])
    return sorted(l.split()[0] for l in out.splitlines() if l.strip())


def installed_modules(release: str) -> list[str]:
    d = BUILDROOT / "lib" / "modules" / release / "updates" / "dkms"
    return sorted(p.name[:-3] for p in d.glob("*.ko")) if d.is_dir() else []


def clean_buildroot(release: str) -> list[str]:
    """No pvguest-dkms package, no pvguest DKMS registration, no /usr/src/pvguest-*."""
    done = []
    rc, out = br("dpkg-query", "-W", "-f=${Status}", "pvguest-dkms")
    if rc == 0 and "installed" in out:
        rc, out = br("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "pvguest-dkms")
        if rc != 0:
            raise Failed("could not purge pvguest-dkms: " + out.strip()[-300:])
        done.append("purged pvguest-dkms")
    rc, out = br("dkms", "status", "pvguest")
    for v in sorted(set(re.findall(r"^pvguest/([^,:\s]+)", out, re.M))):
        br("dkms", "remove", f"pvguest/{v}", "--all")
        done.append(f"dkms remove pvguest/{v}")
    for p in BUILDROOT.joinpath("usr", "src").glob("pvguest-*"):
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return done


def rust_tree(release: str) -> Path:
    return BUILDROOT / "usr" / "src" / f"linux-rust-headers-{release}"


# ------------------------------------------------------------------------------------------


def t_probe_errors(release: str, out: list[str]) -> None:
    """The probe passes for the real kernel and fails, saying what is missing and how to get it,
    for a wrong rustc (version, or same version but another build than the metadata's), a
    bindgen of another series, a kernel configuration without CONFIG_RUST, a kernel without
    headers; with --dkms the status is 77 (DKMS: skipped)."""
    fake = BUILDROOT / "var" / "tmp" / "pvguest-probe-fakes"
    if fake.exists():
        shutil.rmtree(fake)
    fake.mkdir(parents=True)

    def tool(name: str, text: str) -> str:
        p = fake / name
        p.write_text(f"#!/bin/sh\necho '{text}'\n")
        p.chmod(0o755)
        return f"/var/tmp/pvguest-probe-fakes/{name}"

    cfg = (BUILDROOT / "usr" / "src" / f"linux-headers-{release}" / ".config").read_text()
    (fake / "config-norust").write_text(re.sub(r"^CONFIG_RUST=y$", "# CONFIG_RUST is not set", cfg, flags=re.M))
    probe = "/src/scripts/dkms-probe"
    cases = [
        ("real kernel", [probe, "-k", release], 0, ["all prerequisites present", f"linux-rust-headers-{release}"]),
        ("rustc 1.84.1", [probe, "-k", release, "--rustc", tool("rustc", "rustc 1.84.1 (e71f9a9a9 2025-01-27)")], 1,
         ["MISSING  rustc", "built with rustc 1.85.1", "is 1.84.1", "E0514", "rustup toolchain install 1.85.1"]),
        ("rustc 1.84.1 --dkms", [probe, "--dkms", "-k", release, "--rustc", "/var/tmp/pvguest-probe-fakes/rustc"], 77,
         ["MISSING  rustc", "skipping this kernel (status 77)"]),
        ("another rustc 1.85.1 build", [probe, "-k", release, "--rustc",
                                        tool("rustc-other", "rustc 1.85.1 (0000000aa 2025-03-18) (other build)")], 1,
         ["MISSING  Rust metadata", "was built by 'rustc 1.85.1 (4eb161250", "E0514", "kernel-rust-metadata --force"]),
        ("bindgen 0.65.1", [probe, "-k", release, "--bindgen", tool("bindgen", "bindgen 0.65.1")], 1,
         ["MISSING  bindgen", "is 0.65.1 but the kernel used bindgen 0.71.1", "apt install bindgen"]),
        ("no CONFIG_RUST", [probe, "-k", release, "--config", "/var/tmp/pvguest-probe-fakes/config-norust"], 1,
         ["MISSING  CONFIG_RUST", "built without CONFIG_RUST=y"]),
        ("kernel 7.2", [probe, "-k", "7.2.12+deb13-cloud-amd64", "--config",
                        f"/usr/src/linux-headers-{release}/.config"], 1,
         ["MISSING  kernel version", "older than 7.3"]),
        ("no headers", [probe, "-k", "7.3.99+deb13-none"], 1,
         ["MISSING  headers", "apt install linux-headers-7.3.99+deb13-none"]),
    ]
    problems = []
    for name, argv, want_rc, needles in cases:
        rc, text = br(*argv)
        first = next((l.strip() for l in text.splitlines() if "MISSING" in l), text.strip().splitlines()[-1] if text.strip() else "")
        out.append(f"{name}: exit {rc}: {first}")
        mine = ([f"{name}: exit {rc}, expected {want_rc}"] if rc != want_rc else []) + \
            [f"{name}: output lacks {n!r}" for n in needles if n not in text]
        if mine:
            problems += mine
            out += ["    | " + l for l in text.splitlines()[-12:]]
    shutil.rmtree(fake)
    need(not problems, "; ".join(problems[:3]))


def t_rust_metadata(release: str, out: list[str]) -> None:
    """The Rust build tree for the Debian kernel (headers + regenerated metadata) exists and is
    current, or is generated now from linux-source (the user's path; ~3 min, once per kernel)."""
    rc, text = br("/src/scripts/kernel-rust-metadata", "--check", release, timeout=300)
    if rc != 0:
        out.append("not there or stale: " + text.strip().splitlines()[-1][:200])
        t0 = time.time()
        rc, text = br("/src/scripts/kernel-rust-metadata", "--no-dkms", release, timeout=1800)
        out += [l for l in text.splitlines() if l.startswith("==>")]
        need(rc == 0, "kernel-rust-metadata failed: " + text.strip()[-300:], out, text)
        out.append(f"generated in {time.time() - t0:.0f}s")
    else:
        out.append(text.strip().splitlines()[-1])
    stamp = rust_tree(release) / ".pvguest-rust-metadata"
    out += ["stamp: " + l for l in stamp.read_text().splitlines()]


def stage(dest: str) -> str:
    """The DKMS source tree staged under the build root's /var/tmp; returns its path inside."""
    host = BUILDROOT / dest.lstrip("/")
    if host.exists():
        shutil.rmtree(host)
    rc, text = sh([str(TOP / "packaging" / "stage-source"), str(host)])
    if rc != 0:
        raise Failed("packaging/stage-source failed: " + text.strip()[-300:])
    return dest + "/pvguest-" + version()


def t_dkms_build(release: str, out: list[str]) -> None:
    """dkms add / build / install of the suite for the Debian kernel in the build root, from
    the staged DKMS source tree; first with the Rust build tree hidden (DKMS must skip the
    kernel with status 77 and make.log must say what to run), then for real."""
    v = version()
    out += clean_buildroot(release)
    src = stage("/var/tmp/pvguest-dkms-test")
    t0 = time.time()
    rc, text = br("dkms", "add", src)
    need(rc == 0, "dkms add failed", out, text)
    out.append(f"dkms add {src}: {time.time() - t0:.1f}s")

    tree = rust_tree(release)
    hidden = tree.with_name(tree.name + ".hidden-by-test")
    need(tree.is_dir(), f"{tree} is missing (packaging/rust-metadata makes it)")
    os.rename(tree, hidden)
    try:
        rc, text = br("dkms", "build", f"pvguest/{v}", "-k", release)
    finally:
        os.rename(hidden, tree)
    log = BUILDROOT / "var" / "lib" / "dkms" / "pvguest" / v / "build" / "make.log"
    logtext = log.read_text(errors="replace") if log.exists() else ""
    out.append(f"without Rust metadata: dkms build exit {rc} (77 = skipped)")
    need(rc == 77, f"dkms build without Rust metadata exited {rc}, expected 77 (skipped)", out, text)
    for n in ("MISSING  Rust metadata", "kernel-rust-metadata " + release, "apt install linux-source-7.3"):
        need(n in logtext, f"make.log of the skipped build lacks {n!r}", out, logtext)
    out.append("  make.log: " + next(l.strip() for l in logtext.splitlines() if "MISSING" in l))

    t0 = time.time()
    rc, text = br("dkms", "build", f"pvguest/{v}", "-k", release, timeout=1800)
    need(rc == 0, "dkms build failed", out, text)
    out.append(f"dkms build pvguest/{v} -k {release}: {time.time() - t0:.0f}s")
    log = BUILDROOT / "var" / "lib" / "dkms" / "pvguest" / v / release / "x86_64" / "log" / "make.log"
    cmd = next((l for l in log.read_text(errors="replace").splitlines() if l.startswith("+ make")), "?")
    out.append("  " + cmd)
    need(f"KDIR=/usr/src/linux-rust-headers-{release}" in cmd and "CC=x86_64-linux-gnu-gcc-14" in cmd,
         f"the build did not use the Rust build tree and the kernel's gcc: {cmd}")
    t0 = time.time()
    rc, text = br("dkms", "install", f"pvguest/{v}", "-k", release)
    need(rc == 0, "dkms install failed", out, text)
    out.append(f"dkms install: {time.time() - t0:.1f}s")
    rc, text = br("dkms", "status", "pvguest")
    out.append("dkms status: " + text.strip())
    need(f"pvguest/{v}, {release}, x86_64: installed" in text, "dkms status does not say installed", out, text)
    want, got = packaged_modules(), installed_modules(release)
    out.append(f"installed in updates/dkms: {' '.join(got)} (Kbuild's packaged modules: {' '.join(want)})")
    need(got == want, f"installed modules {got} differ from what Kbuild builds {want}")
    need("pvg_selftest" not in got, "the test fixture pvg_selftest was packaged")
    for m in got:
        rc, vm = sh(["modinfo", "-F", "vermagic", str(BUILDROOT / "lib/modules" / release / "updates/dkms" / f"{m}.ko")])
        need(vm.startswith(release + " "), f"{m}: vermagic {vm.strip()!r}")
    rc, text = br("dkms", "remove", f"pvguest/{v}", "--all")
    need(rc == 0 and not installed_modules(release), "dkms remove --all did not remove the modules", out, text)
    out.append("dkms remove --all: modules gone")
    br("rm", "-rf", "/var/tmp/pvguest-dkms-test")


def deb_path() -> Path:
    return TOP / "out" / "packages" / f"pvguest-dkms_{version()}_all.deb"


def build_deb(out: list[str]) -> Path:
    t0 = time.time()
    rc, text = sh([str(TOP / "scripts" / "package-deb")], timeout=900)
    need(rc == 0, "scripts/package-deb failed", out, text)
    out.append(f"scripts/package-deb: {time.time() - t0:.0f}s -> {deb_path().relative_to(TOP)}")
    return deb_path()


def install_deb(release: str, deb: Path, out: list[str]) -> None:
    clean_buildroot(release)
    dst = BUILDROOT / "var" / "tmp" / deb.name
    shutil.copy2(deb, dst)
    t0 = time.time()
    rc, text = br("sh", "-c", f"cd /var/tmp && DEBIAN_FRONTEND=noninteractive apt install -y ./{deb.name}", timeout=1800)
    dst.unlink()
    need(rc == 0, "apt install ./" + deb.name + " failed", out, text)
    out.append(f"apt install ./{deb.name}: {time.time() - t0:.0f}s")
    out += ["  | " + l for l in text.splitlines()
            if re.search(r"Building (for|initial)|Running the pre_build|Building module|Installing /|Setting up pvguest", l)]
    rc, text = br("dkms", "status", "pvguest")
    need(f"{release}, x86_64: installed" in text, "after apt install, dkms status is not 'installed': " + text.strip(), out, text)
    out.append("dkms status: " + text.strip())


def t_deb(release: str, out: list[str]) -> None:
    """dpkg-buildpackage makes pvguest-dkms_<ver>_all.deb with the DKMS tree and nothing else;
    `apt install ./…deb` in the build root registers it and DKMS builds and installs the modules."""
    deb = build_deb(out)
    rc, listing = sh(["dpkg-deb", "-c", str(deb)])
    need(rc == 0, "dpkg-deb -c failed")
    paths = [l.split()[5].lstrip(".") for l in listing.splitlines() if len(l.split()) >= 6]
    v = version()
    base = f"/usr/src/pvguest-{v}/"
    for p in ("dkms.conf", "Kbuild", "Makefile", "scripts/dkms-probe", "scripts/kernel-rust-metadata",
              "scripts/Kbuild.rust", "hypercall-adapter/module/Kbuild", "hypercall-adapter/abi/src/lib.rs"):
        need(base + p in paths, f"the .deb lacks {base + p}")
    for p in ("/etc/modprobe.d/pvguest.conf", "/usr/sbin/pvguest-kernel-rust-metadata", "/usr/sbin/pvguest-dkms-probe"):
        need(p in paths, f"the .deb lacks {p}")
    bad = [p for p in paths if p.startswith(base) and (
        re.search(r"/(target|out|host|fuzz|tests|docs|packaging|debian)/", p[len(base) - 1:]) or
        re.search(r"\.(o|ko|rmeta|cmd|mod)$", p))]
    need(not bad, f"the .deb carries what it should not: {bad[:5]}")
    out.append(f"contents: {sum(1 for p in paths if p.startswith(base) and not p.endswith('/'))} files under {base}, "
               "/etc/modprobe.d/pvguest.conf, /usr/sbin/pvguest-{kernel-rust-metadata,dkms-probe}; "
               "no target/ out/ host/ tests/ or build artefacts")
    rc, info = sh(["dpkg-deb", "-f", str(deb), "Depends"])
    out.append("Depends: " + info.strip())
    install_deb(release, deb, out)


def t_rpm(release: str, out: list[str]) -> None:
    """The RPM spec builds (rpmbuild -ba, Debian's rpm in the build root) a noarch package with
    the same DKMS tree and the modprobe.d file, and DKMS scriptlets. Not installed anywhere."""
    t0 = time.time()
    rc, text = sh([str(TOP / "packaging" / "rpm" / "build-rpm")], timeout=900)
    need(rc == 0, "packaging/rpm/build-rpm failed", out, text)
    v = version()
    rpm = f"/var/tmp/pvguest-rpm/RPMS/noarch/pvguest-dkms-{v}-1.noarch.rpm"
    out.append(f"rpmbuild -ba: {time.time() - t0:.0f}s -> out/packages/pvguest-dkms-{v}-1.noarch.rpm")
    rc, files = br("rpm", "-qlp", rpm)
    need(rc == 0, "rpm -qlp failed", out, files)
    for p in (f"/usr/src/pvguest-{v}/dkms.conf", f"/usr/src/pvguest-{v}/hypercall-adapter/module/Kbuild",
              "/usr/lib/modprobe.d/pvguest.conf"):
        need(p in files.splitlines(), f"the RPM lacks {p}")
    need(not re.search(r"/(target|out|host|tests)/|\.ko$", files), "the RPM carries build artefacts or test code")
    rc, scripts = br("rpm", "-qp", "--scripts", rpm)
    need("dkms add -m pvguest" in scripts and "dkms remove -m pvguest" in scripts, "the RPM's scriptlets lack dkms add/remove")
    out.append(f"{len(files.splitlines())} files; %post dkms add/build/install, %preun dkms remove")


def t_guest_modprobe(release: str, out: list[str], kernel: h.Kernel, outdir: Path) -> list[str]:
    """Boots the Debian kernel with the modules DKMS installed from the .deb (no modules in the
    payload): udev loads pvg_hcall for its device, modprobe by name and alias, depmod in the guest."""
    if not installed_modules(release):
        out.append("pvguest-dkms is not installed in the build root: building and installing it first")
        install_deb(release, deb_path() if deb_path().exists() else build_deb(out), out)
    if not h.SIM_BIN.exists():
        rc, text = sh(["cargo", "build", "--release", "-p", "pvg-host", "--manifest-path", str(TOP / "Cargo.toml")], 1800)
        need(rc == 0, "the host simulator (pvg-host) does not build", out, text)
    root = outdir / "guest-root"
    if root.exists():
        shutil.rmtree(root)
    (root / "packaging").mkdir(parents=True)
    script = root / "packaging" / "guest-modprobe.sh"
    shutil.copy2(h.TESTS / "packaging" / "guest" / "modprobe.sh", script)
    upd = BUILDROOT / "lib" / "modules" / release / "updates" / "dkms"
    # The VSC for the one device class the simulator offers today is the pvg_echo test fixture,
    # which is not packaged. Build it from the installed DKMS source (plus the fixture's own
    # directory) the way DKMS built the rest, so it matches the installed pvg_vmbus exactly: the
    # modules' C-level API is not versioned, and mixing builds of different sources is unsafe.
    echo: list[Path] = []
    fixture = TOP / "tests" / "echo-module"
    if fixture.is_dir():
        v = version()
        work = BUILDROOT / "var" / "tmp" / "pvguest-echo"
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(BUILDROOT / "usr" / "src" / f"pvguest-{v}", work, symlinks=True)
        (work / "tests" / "echo-module").mkdir(parents=True)
        for f in fixture.iterdir():
            if f.suffix in (".rs", ".c", ".h", ".S") or f.name == "Kbuild":
                shutil.copy2(f, work / "tests" / "echo-module" / f.name)
        t0 = time.time()
        rc, text = br("sh", "-c", "cd /var/tmp/pvguest-echo && "
                      f"eval \"$(scripts/dkms-probe -k {release} --env | grep -v '^EXCLUDED=')\" && "
                      "make -j2 KDIR=$KDIR CC=$CC HOSTCC=$HOSTCC RUSTC=$RUSTC CONFIG_PVG_SELFTEST=n modules", timeout=1800)
        need(rc == 0, "building the pvg_echo fixture from the installed DKMS source failed", out, text)
        keep = outdir / "pvg_echo.ko"
        shutil.copy2(work / "tests" / "echo-module" / "pvg_echo.ko", keep)
        shutil.rmtree(work)
        echo = [keep]
        out.append(f"built the pvg_echo test fixture from /usr/src/pvguest-{v} + tests/echo-module: {time.time() - t0:.0f}s")
    with tarfile.open(root / "packaging" / "guest-modprobe.tar", "w") as tar:
        for ko in sorted(upd.glob("*.ko")):
            tar.add(ko, f"usr/lib/modules/{release}/updates/dkms/{ko.name}")
        for ko in echo:
            tar.add(ko, f"usr/lib/modules/{release}/updates/pvguest-test/{ko.name}")
        tar.add(BUILDROOT / "etc" / "modprobe.d" / "pvguest.conf", "etc/modprobe.d/pvguest.conf")
    out.append(f"guest gets: {' '.join(p.name for p in sorted(upd.glob('*.ko')))} from the build root's "
               f"/lib/modules/{release}/updates/dkms and its /etc/modprobe.d/pvguest.conf"
               + (", and the test VSC pvg_echo.ko in updates/pvguest-test" if echo else ""))
    t = h.load_test(script, root)
    t0 = time.time()
    res = h.run_guest([t], t.boot, kernel, outdir / "guest", modules=[], root=root,
                      progress=lambda s: out.append("  " + s) if s.startswith("booted") else None)
    r = res[0]
    out += r.output
    out.append(f"guest: {time.time() - t0:.0f}s; log {outdir / 'guest' / 'console.log'}")
    if not r.ok:
        for kind, line in r.log_problems[:5]:
            out.append(f"kernel log ({kind}): {line}")
        raise Failed(r.reason)
    return out


def t_kvm_launchers(release: str, out: list[str]) -> None:
    """Both launchers check /dev/kvm's capabilities first; where KVM cannot do Hyper-V or Xen
    (here: PVM) they refuse with exit 3, naming each missing capability and what to do."""
    info = kvmlaunch.probe()
    problems = []
    for kind, script in (("hyperv", "launch-kvm-hyperv"), ("xen", "launch-kvm-xen")):
        missing = kvmlaunch.check_hyperv(info, "qemu-system-x86_64") if kind == "hyperv" else \
            kvmlaunch.check_xen(info, "qemu-system-x86_64")
        for args in (["--check"], []):
            rc, text = sh([str(TOP / "scripts" / script), *args], timeout=120)
            label = f"{script} {' '.join(args)}".strip()
            if info.error or missing:
                needles = ["refusing to start", "what to do:"] + [m.split(" (")[0] for m in missing]
                if info.provider == "kvm_pvm":
                    needles.append("kvm_pvm")
                if rc != 3:
                    problems.append(f"{label}: exit {rc}, expected 3 (refused)")
                problems += [f"{label}: message lacks {n!r}" for n in needles if n not in text]
                out.append(f"{label}: exit {rc}; " + " | ".join(l.strip() for l in text.splitlines()[:2]))
                out.append(f"    missing: {', '.join(m.split(' (')[0] for m in missing) or info.error}")
            else:
                out.append(f"{label}: this host can run it (exit {rc}); not booting in a test")
                if args and rc != 0:
                    problems.append(f"{label}: exit {rc} on a capable host")
                break
        rc, text = sh([str(TOP / "scripts" / script), "--print-cmdline"])
        want = ["hv-synic", "hv-stimer", "hv-tlbflush", "hv-ipi", "vmbus-bridge"] if kind == "hyperv" else \
            ["xen-version=0x40011", "kernel-irqchip=split"]
        problems += [f"{script} --print-cmdline lacks {w}" for w in want if w not in text]
    need(not problems, "; ".join(problems[:3]))


def t_deb_remove(release: str, out: list[str]) -> None:
    """apt purge pvguest-dkms: DKMS removes the modules for every kernel, /usr/src/pvguest-* goes."""
    rc, st = br("dpkg-query", "-W", "-f=${Status}", "pvguest-dkms")
    if not (rc == 0 and "install ok installed" in st):
        out.append("pvguest-dkms was not installed: installing it first")
        install_deb(release, deb_path() if deb_path().exists() else build_deb(out), out)
    t0 = time.time()
    rc, text = br("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "pvguest-dkms")
    need(rc == 0, "apt-get purge pvguest-dkms failed", out, text)
    out.append(f"apt-get purge pvguest-dkms: {time.time() - t0:.0f}s")
    out += ["  | " + l for l in text.splitlines() if "dkms" in l.lower() or "Deleting" in l][:8]
    rc, st = br("dkms", "status", "pvguest")
    need(not st.strip(), "dkms still lists pvguest: " + st.strip())
    need(not installed_modules(release), "modules are left in updates/dkms")
    need(not list((BUILDROOT / "usr" / "src").glob("pvguest-*")), "/usr/src/pvguest-* is left")
    need(not (BUILDROOT / "etc" / "modprobe.d" / "pvguest.conf").exists(), "/etc/modprobe.d/pvguest.conf is left after purge")
    out.append("no registration, no modules, no /usr/src/pvguest-*, no modprobe.d file left")


STEPS: dict[str, Callable[..., None]] = {
    "packaging/probe-errors": t_probe_errors,
    "packaging/rust-metadata": t_rust_metadata,
    "packaging/dkms-build": t_dkms_build,
    "packaging/deb": t_deb,
    "packaging/rpm": t_rpm,
    "packaging/kvm-launchers-refuse": t_kvm_launchers,
    "packaging/deb-remove": t_deb_remove,
}


def run(ids: list[str], kernel: h.Kernel, outdir: Path) -> list[h.Result]:
    outdir.mkdir(parents=True, exist_ok=True)
    results = []
    for tid in [t for t in TESTS if t in ids]:
        out: list[str] = []
        t0 = time.time()
        try:
            if tid == "packaging/guest-modprobe":
                t_guest_modprobe(kernel.release, out, kernel, outdir)
            else:
                STEPS[tid](kernel.release, out)
            results.append(h.Result(tid, True, time.time() - t0, "", out))
        except Failed as e:
            results.append(h.Result(tid, False, time.time() - t0, str(e), out))
        except Exception as e:  # a bug in the test itself must still be a failure with a reason
            results.append(h.Result(tid, False, time.time() - t0, f"{type(e).__name__}: {e}", out))
        (outdir / (tid.split("/")[1] + ".log")).write_text("\n".join(out) + "\n")
    return results
