"""DRAM controller model speed: wall time per trace and per request, against DRAMSim3.

Replays the twelve DDR4-3200 reference traces when the reference folder is present
(``../shared`` beside the repository, or ``$DESIM_SHARED``), otherwise three generated
65,536-request traces (sequential, random, 8 KiB stride, back to back), with the compiled
engine (best of three), and the two anchor traces also with the event-level Python engine.
DRAMSim3, the C++ reference, replays seq_read_b2b in 0.37 s and rand_read_b2b in 0.47 s
on the reference machine (2 cores); the ratio column is desim / DRAMSim3 (below 1: faster).

Then the SimPy component: 4 masters x 32 accesses of 64 KiB (SimPy events per access),
and how the cost of a run scales when the number of accesses, the bytes per access or
the idle time between accesses doubles (ratios to the base run; 2.0 = proportional).

    python benchmarks/dram_bench.py            # all traces
    python benchmarks/dram_bench.py FILE ...   # given trace files
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

from desim.hw.dram import DramController, DramSpec
from desim.hw.dram.fast import FastDramEngine
from desim.hw.dram.replay import Trace, read_trace, replay
from desim.kernel import Clock, Component, Sim

N = 65536
SHARED = Path(os.environ.get("DESIM_SHARED", Path(__file__).resolve().parents[2] / "shared"))
#: DRAMSim3 wall time (s) on the reference machine, 65,536 requests each
DRAMSIM3_S = {"seq_read_b2b": 0.37, "rand_read_b2b": 0.47}


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


def first_call_s() -> float:
    """Wall time of the compiled engine's first use in this process (numba loads it)."""
    t0 = time.perf_counter()
    engine = FastDramEngine(DramSpec())
    engine.submit([0], False, 0)
    engine.finish()
    return time.perf_counter() - t0


def replay_table(todo: list[Trace]) -> None:
    spec = DramSpec()
    print(f"{'trace':<22} {'requests':>9} {'cycles':>10} {'wall s':>7} {'us/req':>7} "
          f"{'event-level s':>13} {'DRAMSim3 s':>10} {'ratio':>6}")
    total_req, total_wall = 0, 0.0
    for trace in todo:
        name = Path(trace.path).name.removesuffix(".trc.gz")
        res = min((replay(trace, spec) for _ in range(3)), key=lambda r: r.wall_s)
        total_req += res.requests
        total_wall += res.wall_s
        anchor = DRAMSIM3_S.get(name)
        slow = f"{replay(trace, spec, fast=False).wall_s:13.2f}" if anchor else ""
        ratio = f"{res.wall_s / anchor:6.2f}" if anchor else ""
        print(f"{name:<22} {res.requests:>9,} {res.total_cycles:>10,} {res.wall_s:>7.3f} "
              f"{1e6 * res.wall_s / res.requests:>7.2f} {slow:>13} "
              f"{anchor or '':>10} {ratio:>6}")
    print(f"{'total':<22} {total_req:>9,} {'':>10} {total_wall:>7.3f} "
          f"{1e6 * total_wall / total_req:>7.2f}")


def component_run(masters: int, accesses: int, nbytes: int, gap_ps: int = 0,
                  fast: bool = True) -> tuple[int, float]:
    """``masters`` x ``accesses`` reads and writes of ``nbytes``, ``gap_ps`` apart:
    (SimPy events, wall s)."""
    DramController.fast = fast
    try:
        sim = Sim()
        soc = Component(sim, "soc", Clock("main", 10**9))
        dram = DramController(soc, "dram")
    finally:
        DramController.fast = True

    def master(k: int):
        for i in range(accesses):
            if gap_ps:
                yield sim.env.timeout(gap_ps)
            addr = (k << 26) | (i * nbytes) % (1 << 26)
            yield from dram.access(addr, nbytes, i % 4 == 3, f"m{k}")

    for k in range(masters):
        sim.process(master(k), f"m{k}")
    stats = sim.run()
    return stats.events, stats.wall_s


def best_wall(*args: int) -> float:
    return min(component_run(*args)[1] for _ in range(3))


def main() -> None:
    print(f"compiled engine, first use in this process: {first_call_s():.2f} s "
          "(numba loads the cached kernel once)\n")
    replay_table(traces(sys.argv[1:]))

    events, wall = component_run(4, 32, 1 << 16)
    _, slow = component_run(4, 32, 1 << 16, 0, False)
    print(f"\ncomponent: 4 x 32 accesses of 64 KiB ({4 * 32 * 1024:,} bursts) in {wall:.2f} s "
          f"(event-level engine {slow:.2f} s), {events} SimPy events "
          f"({events / 128:.1f} per access)")

    base = best_wall(4, 500, 256, 2000)
    print("\nscaling of a component run (4 masters, 500 accesses of 256 B, 2 ns apart):"
          f" {base * 1e3:.1f} ms")
    for label, args in (("accesses x2", (4, 1000, 256, 2000)),
                        ("bytes per access x2", (4, 500, 512, 2000)),
                        ("idle time x2 (gap 4 ns)", (4, 500, 256, 4000)),
                        ("idle time x10^5 (gap 200 us)", (4, 500, 256, 200_000_000))):
        print(f"  {label:<28} ratio {best_wall(*args) / base:5.2f}")


if __name__ == "__main__":
    main()
