"""Replay a DRAM request trace through the controller model and report its metrics.

Trace format (plain text or gzip), one request per line, ``#`` comments allowed::

    0x00001040 READ 0        byte address (hex, transaction aligned), READ|WRITE, arrival

The arrival is in DRAM clock cycles (tCK). Front end: requests are offered in file order,
at most one per cycle, each from its arrival cycle on, and wait while the read queue
(write buffer) is full; an offered request enters the controller the next cycle. When the
trace is exhausted, leftover buffered writes drain once the command queues are empty.

Metrics (the definitions of reference/dram/README.md)::

    read latency   = cycle of the last data beat - cycle the read entered the queue
    total cycles   = cycle the last data transfer ends (reads and writes)
    bandwidth      = requests * transaction bytes / (total cycles * tCK)       GB/s
    row-hit rate   = column commands to a row already read/written since its ACT
                     / all column commands
    percentiles    = nearest rank: the smallest latency with >= q of the reads at or below

Command line: ``desim dram-replay TRACE [--preset NAME] [--set KEY=VALUE] [--json]``
(desim/cli/dram.py). :func:`write_trace` writes the format (``desim run --dram-trace``).
"""

from __future__ import annotations

import gzip
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desim.errors import SpecError
from desim.hw.dram.controller import DramEngine
from desim.hw.dram.spec import DramSpec

if TYPE_CHECKING:
    from desim.hw.dram.fast import FastDramEngine


@dataclass
class Trace:
    """Requests of a trace file, in order."""

    path: str
    addrs: list[int]
    writes: list[bool]
    arrivals: list[int]

    def __len__(self) -> int:
        return len(self.addrs)


@dataclass
class ReplayResult:
    """Metrics of one replay, plus the engine's command counts and energy."""

    spec: DramSpec
    requests: int
    reads: int
    total_cycles: int
    bandwidth_gbps: float
    read_latency: dict[str, float] | None
    row_hit_rate: float
    stats: dict[str, Any] = field(default_factory=dict)
    energy_pj: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    #: the engine after the replay, for statistics beyond these (e.g. ``state_cycles``)
    engine: DramEngine | FastDramEngine | None = field(default=None, repr=False)

    def metrics(self) -> dict[str, Any]:
        """The documented metrics as one JSON-ready object."""
        return {"requests": self.requests, "total_cycles": self.total_cycles,
                "bandwidth_gbps": self.bandwidth_gbps, "read_latency": self.read_latency,
                "row_hit_rate": self.row_hit_rate}


def read_trace(path: str | Path, spec: DramSpec | None = None) -> Trace:
    """Parse a trace; a malformed line is a SpecError naming the file and line number.

    With ``spec``, addresses must also be transaction aligned and inside its capacity.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            packed = raw.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise SpecError(f"trace {path}: cannot read it ({exc.strerror or exc}); "
                        "give the path of a trace file") from None
    align = spec.txn_bytes if spec else 1
    limit = spec.capacity_bytes if spec else 1 << 64
    addrs: list[int] = []
    writes: list[bool] = []
    arrivals: list[int] = []
    lineno = 0
    try:
        with gzip.open(path, "rt") if packed else open(path) as fh:
            for lineno, line in enumerate(fh, 1):
                parts = line.split()
                if not parts or parts[0].startswith("#"):
                    continue
                try:
                    addrs.append(_field_addr(parts, align, limit))
                    writes.append(_field_op(parts))
                    arrivals.append(_field_cycle(parts))
                except _BadLine as exc:
                    raise SpecError(f"{path}:{lineno}: {exc}") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SpecError(f"trace {path}: unreadable near line {lineno + 1} ({exc})") from None
    if not addrs:
        raise SpecError(f"trace {path}: no requests in it")
    return Trace(str(path), addrs, writes, arrivals)


def write_trace(path: str | Path, requests: Iterable[tuple[int, bool, int]],
                comment: str = "") -> int:
    """Write (address, write, arrival cycle) requests in the trace format, gzip-compressed
    when ``path`` ends in ``.gz``, each line of ``comment`` as a ``#`` line first; returns
    the number of requests written."""
    path = Path(path)
    n = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as fh:
        for line in comment.splitlines():
            fh.write(f"# {line}\n")
        for addr, write, cycle in requests:
            fh.write(f"{addr:#010x} {'WRITE' if write else 'READ'} {cycle}\n")
            n += 1
    return n


class _BadLine(Exception):
    """A malformed trace line; the message says what is wrong and what is expected."""


_FORMAT = "expected '<hex address> READ|WRITE <cycle>'"


def _field_addr(parts: list[str], align: int, limit: int) -> int:
    if len(parts) != 3:
        raise _BadLine(f"{len(parts)} fields instead of 3; {_FORMAT}")
    try:
        addr = int(parts[0], 16)
    except ValueError:
        raise _BadLine(f"address '{parts[0]}' is not hexadecimal; {_FORMAT}") from None
    if addr < 0 or addr >= limit:
        raise _BadLine(f"address {parts[0]} is outside the {limit} B of the DRAM; use "
                       f"addresses below {limit:#x} or a larger part")
    if addr % align:
        raise _BadLine(f"address {parts[0]} is not aligned to the {align} B transaction; "
                       "align it, or set bus_width/burst_length to the trace's size")
    return addr


def _field_op(parts: list[str]) -> bool:
    op = parts[1].upper()
    if op not in ("READ", "WRITE"):
        raise _BadLine(f"operation '{parts[1]}' is neither READ nor WRITE; {_FORMAT}")
    return op == "WRITE"


def _field_cycle(parts: list[str]) -> int:
    try:
        cycle = int(parts[2])
    except ValueError:
        raise _BadLine(f"arrival '{parts[2]}' is not a whole number of cycles; "
                       f"{_FORMAT}") from None
    if cycle < 0:
        raise _BadLine(f"arrival {cycle} is negative; arrivals count cycles from 0")
    return cycle


def replay(trace: Trace, spec: DramSpec, fast: bool = True) -> ReplayResult:
    """Run ``trace`` through a controller built from ``spec`` until every request is done;
    ``fast=False`` uses the event-level Python engine (same results, slower)."""
    engine: DramEngine | FastDramEngine
    if fast:
        from desim.hw.dram.fast import FastDramEngine  # imports numba: only when used

        engine = FastDramEngine(spec)  # loads the compiled kernel (once per process)
    else:
        engine = DramEngine(spec)
    t0 = time.perf_counter()
    engine.submit(trace.addrs, trace.writes, trace.arrivals)
    engine.finish()
    wall = time.perf_counter() - t0
    total = engine.last_data_end
    stats = engine.stats()
    return ReplayResult(
        spec=spec, requests=len(trace), reads=len(trace) - sum(trace.writes),
        total_cycles=total,
        bandwidth_gbps=len(trace) * spec.txn_bytes / (total * spec.tCK_ns) if total else 0.0,
        read_latency=latency_summary(engine.lat_hist), row_hit_rate=stats["row_hit_rate"],
        stats=stats, energy_pj=engine.energy_pj(total), wall_s=wall, engine=engine)


def latency_summary(hist: dict[int, int]) -> dict[str, float] | None:
    """avg, p50, p99, min and max of a {latency: count} histogram (None if empty)."""
    n = sum(hist.values())
    if not n:
        return None
    keys = sorted(hist)
    out: dict[str, float] = {"avg": sum(k * hist[k] for k in keys) / n}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        need = math.ceil(q * n)
        seen = 0
        for k in keys:
            seen += hist[k]
            if seen >= need:
                out[name] = k
                break
    out["min"], out["max"] = keys[0], keys[-1]
    return out


def format_result(result: ReplayResult, name: str) -> str:
    """A readable table of one replay."""
    spec = result.spec
    st = result.stats
    lat = result.read_latency
    lat_text = ("no reads" if lat is None else
                f"avg {lat['avg']:.1f}  p50 {lat['p50']}  p99 {lat['p99']}  "
                f"min {lat['min']}  max {lat['max']} cycles")
    cycles = result.total_cycles
    gbps = result.bandwidth_gbps
    rate = result.requests / max(result.wall_s, 1e-9)
    rows = [
        ("trace", f"{name} ({result.requests:,} requests, {spec.name}, "
                  f"{spec.txn_bytes} B each)"),
        ("total cycles", f"{cycles:,} ({cycles * spec.tCK_ns / 1e3:,.2f} us)"),
        ("bandwidth", f"{gbps:.3f} GB/s ({100 * gbps / spec.peak_gbps:.1f} % of the "
                      f"{spec.peak_gbps:.2f} GB/s peak)"),
        ("read latency", lat_text),
        ("row-hit rate", f"{result.row_hit_rate:.4f}"),
        ("commands", f"ACT {st['act']:,}  PRE {st['pre']:,}  RD {st['read']:,}  "
                     f"WR {st['write']:,}  REF {st['ref']:,}"),
        ("energy", f"{result.energy_pj['total'] / 1e6:,.2f} uJ (background "
                   f"{result.energy_pj['background'] / 1e6:,.2f} uJ)"),
        ("simulated in", f"{result.wall_s:.2f} s ({rate:,.0f} requests/s)"),
    ]
    return "\n".join(f"{k:<14} {v}" for k, v in rows)

