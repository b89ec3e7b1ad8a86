"""Inspection speed on a large trace: load, reports, plots and exports.

Pattern: a synthetic trace shaped like a tiled DNN run on a cluster platform, with N tile
steps over 40 layers. Each step is a DMA-in (a descriptor on ch0, two link chunks, two
L2 and two L1 port accesses with bandwidth counters), a cluster job (one job interval, a
fork on the controller and one interval per core on 8 cores) and a DMA-out on ch1: 18
intervals per step, so N = 5,000 gives 90,000 intervals. Printed per stage: wall time.

    python benchmarks/trace_inspect_bench.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from desim.trace import chrome, parquet, timeline
from desim.trace import csv as trace_csv
from desim.trace.critical import critical_path
from desim.trace.inspect import format_stalls, format_summary
from desim.trace.recorder import Recorder
from desim.trace.rundir import open_run

NS = 1000  # ps
LAYERS = 40


def synthetic(steps: int) -> Recorder:
    rec = Recorder(meta={"platform": "bench", "workload": "synthetic", "clock_hz": 1e9})
    t = 0
    for i in range(steps):
        layer = f"layer{i * LAYERS // steps}"
        a = {"layer": layer, "bytes": 4096}
        rec.interval("soc.dma", "ch0", f"in t{i}", "dma", t, t + 600 * NS, a)
        for k in range(2):
            s = t + 40 * NS + k * 256 * NS
            rec.interval("soc.ic", "l2->l1", f"in t{i}", "transfer", s, s + 256 * NS, a)
            rec.interval("soc.l2", "port", "read", "mem", s, s + 64 * NS, a)
            rec.interval("soc.l1", "port", "write", "mem", s + 200 * NS, s + 232 * NS, a)
            rec.counter("soc.ic.l2->l1", "bandwidth", s, 8.0)
            rec.counter("soc.l2.port", "bandwidth", s, 32.0)
            rec.counter("soc.l2.port", "bandwidth", s + 64 * NS, 0.0)
        rec.counter("soc.ic.l2->l1", "bandwidth", t + 552 * NS, 0.0)
        c0 = t + 600 * NS
        fid = rec.new_flow_id()
        rec.flow(fid, f"t{i}", ("soc.dma", "ch0"), c0, ("soc.cluster", "jobs"), c0)
        rec.interval("soc.cluster.ctrl", "ctrl", f"fork t{i}", "sync", c0, c0 + 10 * NS)
        for core in range(8):
            rec.interval(f"soc.cluster.core{core}", "exec", f"t{i}", "conv2d", c0 + 12 * NS,
                         c0 + 700 * NS, {"layer": layer, "macs": 1000})
        rec.interval("soc.cluster", "jobs", f"t{i}", "compute", c0, c0 + 710 * NS,
                     {"layer": layer, "macs": 8000})
        rec.interval("soc.dma", "ch1", f"out t{i}", "dma", c0 + 710 * NS, c0 + 900 * NS, a)
        t = c0 + 720 * NS
    rec.meta["total_ps"] = rec.end_ps()
    return rec


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<44} {time.perf_counter() - t0:7.2f} s")
    return out


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rec = synthetic(steps)
    print(f"{len(rec.intervals):,} intervals, {len(rec.counters):,} counter samples, "
          f"{len(rec.flows):,} flows")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        timed("write trace.json.gz", lambda: chrome.write(rec, d / "trace.json.gz"))
        run = timed("load it back (open_run)", lambda: open_run(d / "trace.json.gz"))
        timed("trace summary (text)", lambda: format_summary(run))
        timed("critical path", lambda: critical_path(run.recorder))
        timed("trace stalls (text, with critical path)", lambda: format_stalls(run))
        end = run.end_ps
        timed("plot whole run, timeline only", lambda: timeline.plot(
            run.recorder, d / "a.png", clock_hz=1e9))
        timed("plot whole run, 3 panels, by layer", lambda: timeline.plot(
            run.recorder, d / "b.png", clock_hz=1e9, by="layer",
            panels=timeline.PANELS))
        timed("plot 1% window, 3 panels", lambda: timeline.plot(
            run.recorder, d / "c.png", window=(end // 2, end // 2 + end // 100),
            clock_hz=1e9, panels=timeline.PANELS))
        timed("export csv", lambda: trace_csv.write(run.recorder, d / "t.csv"))
        timed("export parquet", lambda: parquet.write(run.recorder, d / "t.parquet"))


if __name__ == "__main__":
    main()
