"""Shared part of scripts/launch-kvm-hyperv and scripts/launch-kvm-xen: what /dev/kvm can do
(KVM_CHECK_EXTENSION ioctls on /dev/kvm through fcntl.ioctl), a clear refusal when it cannot give the
guest what the launcher needs, and the boot itself (the project's guest under KVM instead of
TCG, or any disk image the user names).

The capability numbers and flags are from include/uapi/linux/kvm.h and
arch/x86/include/uapi/asm/kvm.h of the 7.3 kernel; QEMU's requirements from its
target/i386/kvm/kvm.c (Hyper-V features, kvm_xen_init) and docs/system/i386/{hyperv,xen}.rst.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

KVMIO = 0xAE


def _io(nr: int) -> int:
    return (KVMIO << 8) | nr


KVM_GET_API_VERSION = _io(0x00)
KVM_CREATE_VM = _io(0x01)
KVM_CHECK_EXTENSION = _io(0x03)

CAP = {
    "KVM_CAP_XEN_HVM": 38,
    "KVM_CAP_HYPERV": 44,
    "KVM_CAP_HYPERV_VAPIC": 45,
    "KVM_CAP_HYPERV_SPIN": 46,
    "KVM_CAP_HYPERV_TIME": 96,
    "KVM_CAP_SPLIT_IRQCHIP": 121,
    "KVM_CAP_HYPERV_SYNIC": 123,
    "KVM_CAP_HYPERV_SYNIC2": 148,
    "KVM_CAP_HYPERV_VP_INDEX": 149,
    "KVM_CAP_HYPERV_EVENTFD": 154,
    "KVM_CAP_HYPERV_TLBFLUSH": 155,
    "KVM_CAP_HYPERV_SEND_IPI": 161,
    "KVM_CAP_HYPERV_CPUID": 167,
    "KVM_CAP_SYS_HYPERV_CPUID": 191,
}

# KVM_CAP_XEN_HVM returns these flags (arch/x86/include/uapi/asm/kvm.h).
XEN_FLAGS = {
    "HYPERCALL_MSR": 1 << 0,
    "INTERCEPT_HCALL": 1 << 1,
    "SHARED_INFO": 1 << 2,
    "RUNSTATE": 1 << 3,
    "EVTCHN_2LEVEL": 1 << 4,
    "EVTCHN_SEND": 1 << 5,
}
# What QEMU's kvm_xen_init() insists on; EVTCHN_SEND makes event channels fast (recommended).
XEN_REQUIRED = ("HYPERCALL_MSR", "INTERCEPT_HCALL", "SHARED_INFO")

# Each Hyper-V enlightenment the launcher asks QEMU for, and the KVM capability it needs.
HV_FEATURES = [
    ("hv-relaxed", "KVM_CAP_HYPERV"),
    ("hv-vapic", "KVM_CAP_HYPERV_VAPIC"),
    ("hv-spinlocks=0x1fff", "KVM_CAP_HYPERV_SPIN"),
    ("hv-vpindex", "KVM_CAP_HYPERV_VP_INDEX"),
    ("hv-runtime", "KVM_CAP_HYPERV"),
    ("hv-time", "KVM_CAP_HYPERV_TIME"),
    ("hv-synic", "KVM_CAP_HYPERV_SYNIC2"),
    ("hv-stimer", "KVM_CAP_HYPERV_SYNIC2"),
    ("hv-stimer-direct", "KVM_CAP_HYPERV_SYNIC2"),
    ("hv-frequencies", "KVM_CAP_HYPERV_CPUID"),
    ("hv-reenlightenment", "KVM_CAP_HYPERV_CPUID"),
    ("hv-tlbflush", "KVM_CAP_HYPERV_TLBFLUSH"),
    ("hv-ipi", "KVM_CAP_HYPERV_SEND_IPI"),
    ("hv-reset", "KVM_CAP_HYPERV"),
]
HV_CPU = "host," + ",".join(f for f, _ in HV_FEATURES)
XEN_VERSION = "0x40011"          # Xen 4.17, as in QEMU's documentation


@dataclasses.dataclass
class KvmInfo:
    device: str = "/dev/kvm"
    error: str = ""                       # why /dev/kvm is unusable at all ("" = usable)
    api: int = 0
    provider: str = ""                    # the loaded KVM vendor module
    caps: dict[str, int] = dataclasses.field(default_factory=dict)

    def has(self, cap: str) -> int:
        return self.caps.get(cap, 0)


def kvm_provider() -> str:
    for m in ("kvm_intel", "kvm_amd", "kvm_pvm"):
        if Path("/sys/module", m).exists():
            return m
    return ""


def probe(device: str = "/dev/kvm") -> KvmInfo:
    """Asks /dev/kvm for every capability in CAP, on the system fd and on a VM fd (some are
    per-VM); the larger answer counts."""
    info = KvmInfo(device=device, provider=kvm_provider())
    if not os.path.exists(device):
        info.error = f"{device} does not exist (no KVM: hardware virtualization off, or the kvm modules not loaded)"
        return info
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        info.error = f"cannot open {device}: {e.strerror} (run as root or join the kvm group)"
        return info
    vm = -1
    try:
        info.api = fcntl.ioctl(fd, KVM_GET_API_VERSION)
        if info.api != 12:
            info.error = f"{device} speaks KVM API {info.api}, not 12"
            return info
        try:
            vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        except OSError:
            vm = -1
        for name, nr in CAP.items():
            vals = []
            for f in (fd, vm):
                if f < 0:
                    continue
                try:
                    vals.append(fcntl.ioctl(f, KVM_CHECK_EXTENSION, nr))
                except OSError:
                    vals.append(0)
            info.caps[name] = max(vals or [0])
    finally:
        if vm >= 0:
            os.close(vm)
        os.close(fd)
    return info


def provider_note(info: KvmInfo) -> str:
    if info.provider == "kvm_pvm":
        return ("provided by kvm_pvm (PVM, KVM in a VM without nested hardware virtualization): "
                "it runs only PVM-enabled guest kernels, never a stock distro kernel with Hyper-V "
                "or Xen emulation")
    if info.provider:
        return f"provided by {info.provider}"
    return "provider unknown"


def qemu_has_device(qemu: str, name: str) -> bool:
    try:
        out = subprocess.run([qemu, "-device", "help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return f'name "{name}"' in out


def refuse(prog: str, what: str, info: KvmInfo, missing: list[str], hint: str) -> int:
    print(f"{prog}: refusing to start: {what}", file=sys.stderr)
    if info.error:
        print(f"  {info.error}", file=sys.stderr)
    else:
        print(f"  {info.device}: KVM API {info.api}, {provider_note(info)}", file=sys.stderr)
    for m in missing:
        print(f"  missing: {m}", file=sys.stderr)
    print(f"  what to do: {hint}", file=sys.stderr)
    return 3


HOST_HINT = ("run it on a host with hardware virtualization (VT-x/AMD-V) and the stock kvm_intel or "
             "kvm_amd module, as root or in the kvm group. On this machine, use scripts/run: the "
             "same guest under TCG with the host simulator playing Hyper-V.")


def check_hyperv(info: KvmInfo, qemu: str) -> list[str]:
    missing = []
    if not info.error:
        need: dict[str, list[str]] = {}
        for feat, cap in HV_FEATURES:
            need.setdefault(cap, []).append(feat.split("=")[0])
        need.setdefault("KVM_CAP_HYPERV_SYNIC2", []).append("vmbus-bridge")
        for cap, feats in need.items():
            if not info.has(cap):
                missing.append(f"{cap} (for {', '.join(feats)})")
    if shutil.which(qemu) is None:
        missing.append(f"{qemu} (install qemu-system-x86)")
    elif not qemu_has_device(qemu, "vmbus-bridge"):
        missing.append(f"QEMU device vmbus-bridge ({qemu} was built without VMBus support)")
    return missing


def check_xen(info: KvmInfo, qemu: str) -> list[str]:
    missing = []
    if not info.error:
        flags = info.has("KVM_CAP_XEN_HVM")
        if not flags:
            missing.append("KVM_CAP_XEN_HVM (KVM's Xen HVM emulation; needs a host kernel with CONFIG_KVM_XEN)")
        else:
            lack = [f for f in XEN_REQUIRED if not flags & XEN_FLAGS[f]]
            if lack:
                missing.append("KVM_XEN_HVM_CONFIG_" + ", KVM_XEN_HVM_CONFIG_".join(lack) +
                               " (QEMU's Xen emulation needs them; host kernel too old)")
        if not info.has("KVM_CAP_SPLIT_IRQCHIP"):
            missing.append("KVM_CAP_SPLIT_IRQCHIP (Xen emulation runs with kernel-irqchip=split)")
    if shutil.which(qemu) is None:
        missing.append(f"{qemu} (install qemu-system-x86)")
    elif not qemu_has_device(qemu, "xen-platform"):
        missing.append(f"QEMU Xen emulation ({qemu} has no xen-platform device: built without CONFIG_XEN_EMU)")
    return missing


# --------------------------------------------------------------------------------------------
# Booting


def accel_and_cpu(kind: str) -> tuple[list[str], list[str], str]:
    """(accelerator args, extra device args, -cpu value) for 'hyperv' or 'xen'."""
    if kind == "hyperv":
        return ["-accel", "kvm"], ["-device", "vmbus-bridge"], HV_CPU
    return ["-accel", f"kvm,xen-version={XEN_VERSION},kernel-irqchip=split"], [], "host,+xen-vapic"


def disk_argv(kind: str, args: argparse.Namespace) -> list[str]:
    """A guest of the user's own: a disk image booted by its firmware/bootloader."""
    accel, devs, cpu = accel_and_cpu(kind)
    argv = ["qemu-system-x86_64", "-name", f"pvguest-{kind}", "-machine", "q35", *accel,
            "-cpu", cpu, "-smp", str(args.vcpus), "-m", args.mem, *devs,
            "-display", "none", "-serial", "mon:stdio"]
    if kind == "xen":
        # Xen PV disk (xvda) for the guest's xen-blkfront, IDE for the bootloader (unplugged by
        # the guest once it switches to PV), as in QEMU's docs/system/i386/xen.rst.
        argv += ["-drive", f"file={args.disk},if=xen,snapshot=on",
                 "-drive", f"file={args.disk},file.locking=off,if=ide,snapshot=on"]
    else:
        argv += ["-drive", f"file={args.disk},if=virtio,snapshot=on"]
    return argv


def main(kind: str, prog: str, doc: str) -> int:
    ap = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check that this host can run it (exit 0 or 3)")
    ap.add_argument("--print-cmdline", action="store_true", help="print the QEMU command line and exit (no checks)")
    ap.add_argument("--disk", help="boot this disk image (your own guest) instead of the project's guest")
    ap.add_argument("--vcpus", type=int, default=2)
    ap.add_argument("--mem", default="2G")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--device", default="/dev/kvm", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.print_cmdline:
        if args.disk:
            print(shlex.join(disk_argv(kind, args)))
        else:
            accel, devs, cpu = accel_and_cpu(kind)
            print("scripts/run's guest, with -accel tcg replaced by:", shlex.join(accel),
                  "\n  -cpu", cpu, "\n  and", shlex.join(devs) if devs else "no extra devices")
        return 0

    info = probe(args.device)
    what = ("this host's KVM cannot give the guest Hyper-V enlightenments" if kind == "hyperv"
            else "this host's KVM cannot emulate Xen for the guest")
    if info.error:
        return refuse(prog, what, info, [], HOST_HINT)
    missing = check_hyperv(info, args.qemu) if kind == "hyperv" else check_xen(info, args.qemu)
    if missing:
        return refuse(prog, what, info, missing, HOST_HINT)
    print(f"{prog}: {info.device} ({provider_note(info)}) has everything needed")
    if args.check:
        return 0

    if args.disk:
        argv = disk_argv(kind, args)
        print("+", shlex.join(argv), flush=True)
        return subprocess.call(argv)
    return boot_project_guest(kind, args)


def boot_project_guest(kind: str, args: argparse.Namespace) -> int:
    """scripts/run --shell, under KVM with the enlightenments or Xen emulation: the Debian kernel,
    the guest image, the built modules, the demo, then a shell on the console."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import harness as h

    top = h.TOP
    for step in ("setup", "build"):
        if subprocess.run([str(top / "scripts" / step)]).returncode != 0:
            print(f"error: scripts/{step} failed (see above)")
            return 1
    accel, devs, cpu = accel_and_cpu(kind)

    class KvmGuest(h.Guest):
        def qemu_argv(self) -> list[str]:
            argv = super().qemu_argv()
            i = argv.index("-accel")
            argv[i:i + 2] = accel
            argv[argv.index("-cpu") + 1] = cpu
            return argv + devs

    h.Guest = KvmGuest      # run_guest builds its guest through this name
    kernel = h.Kernel.from_cache()
    demo = h.load_test(h.TESTS / "guest" / "demo.sh")
    boot = h.Boot(vcpus=args.vcpus, cpu=cpu, mem=args.mem)
    workdir = top / "out" / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"==> booting {kernel.release} under KVM ({kind}); the guest console follows", flush=True)
    results = h.run_guest([demo], boot, kernel, workdir, interactive=True)
    r = results[0]
    for line in r.output:
        if line.startswith("REPORT "):
            print("  " + line[len("REPORT "):])
    if not r.ok:
        print(f"FAILED: {r.reason} (guest log: {workdir / 'console.log'})")
        return 1
    return 0
