"""The interop matrix's configurations, workloads and grid: scripts/matrix is the command
(its help says what the matrix covers); scripts/test runs the quick subset as matrix/quick."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import time
from pathlib import Path
from typing import Callable

import harness as h

TOP = h.TOP
MATRIX_TESTS = h.TESTS / "matrix"

# (column key, heading, devices it needs: a subset of {"disk", "nic"})
WORKLOADS = [
    ("file", "file serving", {"disk"}),
    ("web", "web serving", {"nic"}),
    ("compute", "compute + I/O", {"disk"}),
    ("network", "networking", {"nic"}),
]
TOPOLOGIES = [(1, 1), (2, 1), (2, 2), (4, 1), (4, 2)]
CPUS = {"intel": "Skylake-Server", "amd": "EPYC"}
DEVICES = {"disk": {"disk"}, "nic": {"nic"}, "both": {"disk", "nic"}}
# Seconds a guest boot and each workload take under TCG on an idle 2-core machine (measured):
# the duration printed up front, for rows a previous run has not timed.
BOOT_SECONDS = 15
WORKLOAD_SECONDS = {"file": 20, "web": 15, "compute": 35, "network": 17}
LAST_TIMINGS = TOP / "out" / "matrix-timings.json"


@dataclasses.dataclass(frozen=True)
class Row:
    vcpus: int
    sockets: int
    vendor: str        # intel | amd
    devices: str       # disk | nic | both

    @property
    def key(self) -> str:
        return f"{self.vcpus}c{self.sockets}s-{self.vendor}-{self.devices}"

    @property
    def label(self) -> str:
        sock = "1 socket" if self.sockets == 1 else f"{self.sockets} sockets"
        dev = {"disk": "disk", "nic": "NIC", "both": "disk+NIC"}[self.devices]
        return f"{self.vcpus} vCPU, {sock}, {'Intel' if self.vendor == 'intel' else 'AMD'}, {dev}"

    def workloads(self) -> list[str]:
        have = DEVICES[self.devices]
        return [w for w, _, need in WORKLOADS if need <= have]

    def boot(self) -> h.Boot:
        have = DEVICES[self.devices]
        sim = []
        if "disk" in have:
            sim.append("--disk size=512M")
        if "nic" in have:
            sim.append("--nic tap=pvm0")
        return h.Boot(vcpus=self.vcpus, sockets=self.sockets, cpu=CPUS[self.vendor], mem="2G",
                      sim=" ".join(sim))


def all_rows() -> list[Row]:
    return [Row(v, s, cpu, dev) for v, s in TOPOLOGIES for cpu in CPUS for dev in DEVICES]


# The quick subset: the smallest and the largest configuration, one per vendor, all devices.
QUICK = [Row(1, 1, "intel", "both"), Row(4, 2, "amd", "both")]


@dataclasses.dataclass
class Cell:
    ok: bool
    figure: str = ""
    reason: str = ""
    seconds: float = 0.0


def figure_of(r: h.Result) -> str:
    for line in reversed(r.output):
        if line.startswith("figure: "):
            return line[len("figure: "):].strip()
    return ""


def run_row(row: Row, kernel: h.Kernel, workdir: Path,
            progress: Callable[[str], None] = lambda s: None) -> dict[str, Cell]:
    tests = [h.load_test(MATRIX_TESTS / f"{w}.sh") for w in row.workloads()]
    boot = row.boot()
    tests = [dataclasses.replace(t, boot=boot) for t in tests]
    answer = (f"vcpus={row.vcpus} sockets={row.sockets} vendor={row.vendor} "
              f"disk={int('disk' in DEVICES[row.devices])} nic={int('nic' in DEVICES[row.devices])}")

    def on_cmd(text: str) -> tuple[int, str]:
        if text == "matrix":
            return 0, answer
        return 1, f"unknown host command {text!r} (the matrix answers 'matrix')"

    results = h.run_guest(tests, boot, kernel, workdir, on_cmd=on_cmd, progress=progress)
    cells = {}
    for t, r in zip(tests, results):
        w = t.id.split("/", 1)[1]
        cells[w] = Cell(r.ok, figure_of(r), r.reason, r.seconds)
    return cells


def grid_text(rows: list[Row], cells: dict[str, dict[str, Cell]]) -> list[str]:
    heads = ["configuration"] + [head for _, head, _ in WORKLOADS]
    table = []
    for row in rows:
        line = [row.label]
        for w, _, _ in WORKLOADS:
            c = cells.get(row.key, {}).get(w)
            if w not in row.workloads():
                line.append("-")
            elif c is None:
                line.append("not run")
            else:
                line.append(("PASS " if c.ok else "FAIL ") + (c.figure if c.ok else c.reason)[:60])
        table.append(line)
    widths = [max(len(x[i]) for x in [heads] + table) for i in range(len(heads))]
    fmt = lambda cols: "  ".join(c.ljust(widths[i]) for i, c in enumerate(cols)).rstrip()  # noqa: E731
    return [fmt(heads), fmt(["-" * w for w in widths])] + [fmt(x) for x in table]


def grid_svg(rows: list[Row], cells: dict[str, dict[str, Cell]], title: str) -> str:
    """The grid as a picture: one coloured cell per configuration and workload."""
    col0, colw, rowh, top = 260, 300, 40, 70
    width = col0 + colw * len(WORKLOADS) + 20
    height = top + rowh * len(rows) + 20
    e = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">{e(title)}</text>']
    for i, (_, head, _) in enumerate(WORKLOADS):
        out.append(f'<text x="{col0 + i * colw + colw / 2}" y="{top - 12}" text-anchor="middle" '
                   f'font-weight="bold">{e(head)}</text>')
    for j, row in enumerate(rows):
        y = top + j * rowh
        out.append(f'<text x="10" y="{y + rowh / 2 + 4}">{e(row.label)}</text>')
        for i, (w, _, _) in enumerate(WORKLOADS):
            x = col0 + i * colw
            c = cells.get(row.key, {}).get(w)
            if w not in row.workloads():
                fill, text, sub = "#eeeeee", "n/a", ""
            elif c is None:
                fill, text, sub = "#f5e6b8", "not run", ""
            elif c.ok:
                fill, text, sub = "#c8ecc8", "PASS", c.figure
            else:
                fill, text, sub = "#f4c2c2", "FAIL", c.reason
            out.append(f'<rect x="{x + 2}" y="{y + 2}" width="{colw - 4}" height="{rowh - 4}" '
                       f'fill="{fill}" stroke="#999"/>')
            out.append(f'<text x="{x + 8}" y="{y + 17}" font-weight="bold">{e(text)}</text>')
            if sub:
                out.append(f'<text x="{x + 8}" y="{y + 31}" font-size="10">{e(sub[:54])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def estimate(rows: list[Row]) -> float:
    """Seconds the rows should take: the last run's time per row where known, else a guess."""
    last: dict[str, float] = {}
    try:
        last = json.loads(LAST_TIMINGS.read_text())
    except (OSError, ValueError):
        pass
    factor = float(os.environ.get("PVGUEST_DEBUG_TIME_FACTOR", "4")) if h.KERNEL_CHOICE == "debug" else 1.0
    guess = lambda r: BOOT_SECONDS + sum(WORKLOAD_SECONDS[w] for w in r.workloads())  # noqa: E731
    return sum(last.get(r.key, guess(r)) * factor for r in rows)


def run_matrix(rows: list[Row], kernel: h.Kernel, outdir: Path, title: str,
               progress: Callable[[str], None] = print) -> tuple[list[str], list[str]]:
    """Runs the rows; writes grid.json and grid.svg to outdir; returns (the keys of the
    configurations with a failed cell, empty when all passed; the grid text)."""
    outdir.mkdir(parents=True, exist_ok=True)
    cells: dict[str, dict[str, Cell]] = {}
    timings: dict[str, float] = {}
    t_start = time.time()
    for n, row in enumerate(rows, 1):
        progress(f"--- configuration {n}/{len(rows)}: {row.label} "
                 f"({', '.join(row.workloads())}; {time.time() - t_start:.0f}s so far)")
        t0 = time.time()
        cells[row.key] = run_row(row, kernel, outdir / row.key,
                                 progress=lambda s: None if s.startswith(("PASS", "FAIL")) else progress(f"    {s}"))
        timings[row.key] = time.time() - t0
        for w in row.workloads():
            c = cells[row.key][w]
            progress(f"    {'PASS' if c.ok else 'FAIL'} {w} ({c.seconds:.0f}s): {c.figure if c.ok else c.reason}")
            if not c.ok:
                progress(f"       guest log: {outdir / row.key / 'console.log'}")
    seconds = time.time() - t_start
    failed = [key for key, r in cells.items() if not all(c.ok for c in r.values())]
    ok = not failed
    (outdir / "grid.json").write_text(json.dumps({
        "title": title, "seconds": round(seconds), "kernel": kernel.release, "passed": ok,
        "workloads": [{"key": w, "heading": head, "needs": sorted(need)} for w, head, need in WORKLOADS],
        "rows": [{"key": r.key, "label": r.label, "vcpus": r.vcpus, "sockets": r.sockets,
                  "vendor": r.vendor, "cpu": CPUS[r.vendor], "devices": r.devices,
                  "seconds": round(timings.get(r.key, 0)),
                  "cells": {w: dataclasses.asdict(c) for w, c in cells.get(r.key, {}).items()}}
                 for r in rows],
    }, indent=1))
    (outdir / "grid.svg").write_text(grid_svg(rows, cells, f"{title} ({seconds / 60:.0f} min, {kernel.release})"))
    if h.KERNEL_CHOICE != "debug":
        try:
            last = json.loads(LAST_TIMINGS.read_text()) if LAST_TIMINGS.exists() else {}
            last.update({k: round(v) for k, v in timings.items() if all(c.ok for c in cells[k].values())})
            LAST_TIMINGS.write_text(json.dumps(last, indent=1, sort_keys=True))
        except (OSError, ValueError):
            pass
    return failed, grid_text(rows, cells)


def redraw(grid_json: Path) -> list[str]:
    """Draws grid.svg again from a run's grid.json (next to it); returns the grid text."""
    j = json.loads(grid_json.read_text())
    rows = [Row(r["vcpus"], r["sockets"], r["vendor"], r["devices"]) for r in j["rows"]]
    cells = {r["key"]: {w: Cell(**c) for w, c in r["cells"].items()} for r in j["rows"]}
    title = f"{j['title']} ({j['seconds'] / 60:.0f} min, {j['kernel']})"
    (grid_json.parent / "grid.svg").write_text(grid_svg(rows, cells, title))
    return grid_text(rows, cells)
