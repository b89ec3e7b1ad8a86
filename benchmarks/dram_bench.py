"""DRAM controller model speed: requests simulated per second of wall time.

Replays the twelve DDR4-3200 reference traces when the reference folder is present
(``../shared`` beside the repository, or ``$DESIM_SHARED``), otherwise three generated
65,536-request traces (sequential, random, 8 KiB stride, back to back). Then drives the
SimPy component with 4 masters x 32 accesses of 64 KiB and reports SimPy events per
access. Printed per trace: requests, simulated DRAM cycles, wall time, requests/s.

    python benchmarks/dram_bench.py            # all traces
    python benchmarks/dram_bench.py FILE ...   # given trace files
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from desim.hw.dram import DramController, DramSpec
from desim.hw.dram.replay import Trace, read_trace, replay
from desim.kernel import Clock, Component, Sim

N = 65536
SHARED = Path(os.environ.get("DESIM_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def generated() -> list[Trace]:
    """Sequential, random and 8 KiB-strided reads of 64 B, all arriving at cycle 0."""
    rng = random.Random(1)
    patterns = {
        "gen_seq": [64 * i for i in range(N)],
        "gen_rand": [64 * rng.randrange(1 << 20) for _ in range(N)],
        "gen_stride_8k": [8192 * (i % 8192) + 64 * (i // 8192) for i in range(N)],
    }
    return [Trace(name, addrs, [False] * N, [0] * N) for name, addrs in patterns.items()]


def traces(paths: list[str]) -> list[Trace]:
    spec = DramSpec()
    if paths:
        return [read_trace(p, spec) for p in paths]
    folder = SHARED / "reference/dram/traces"
    if folder.is_dir():
        return [read_trace(p, spec) for p in sorted(folder.glob("*.trc.gz"))]
    print(f"(no reference traces in {folder}: using generated ones)")
    return generated()


def component_run() -> tuple[int, int, float]:
    """4 masters x 32 accesses of 64 KiB, reads and writes: (accesses, events, wall s)."""
    sim = Sim()
    soc = Component(sim, "soc", Clock("main", 10**9))
    dram = DramController(soc, "dram")

    def master(k: int):
        for i in range(32):
            yield from dram.access(((k << 24) | (i << 16)), 1 << 16, i % 4 == 3, f"m{k}")

    for k in range(4):
        sim.process(master(k), f"m{k}")
    stats = sim.run()
    return 4 * 32, stats.events, stats.wall_s


def main() -> None:
    spec = DramSpec()
    total_req = 0
    total_wall = 0.0
    todo = traces(sys.argv[1:])
    print(f"{'trace':<22} {'requests':>9} {'cycles':>10} {'wall s':>7} {'req/s':>9}")
    for trace in todo:
        res = replay(trace, spec)
        total_req += res.requests
        total_wall += res.wall_s
        print(f"{Path(trace.path).name:<22} {res.requests:>9,} {res.total_cycles:>10,} "
              f"{res.wall_s:>7.2f} {res.requests / res.wall_s:>9,.0f}")
    print(f"{'total':<22} {total_req:>9,} {'':>10} {total_wall:>7.2f} "
          f"{total_req / total_wall:>9,.0f}")
    accesses, events, wall = component_run()
    print(f"\ncomponent: {accesses} accesses of 64 KiB ({accesses * 1024:,} bursts) in "
          f"{wall:.2f} s, {events} SimPy events ({events / accesses:.1f} per access)")


if __name__ == "__main__":
    main()
