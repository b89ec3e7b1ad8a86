"""Interconnect speed: desim transfers vs bare SimPy loops doing the same traffic.

Pattern: 8 cores each move 100 tiles of 4 KiB, back to back, over one shared link of
8 B/cycle (2 cycles latency) at 1 GHz. Compared, all in this one run (best of 3):

- desim ``Interconnect.transfer`` (round robin in 256 B chunks), trace off and on, and
  the chunk-by-chunk model its one-event bookings stand for (``chunk_by_chunk``);
- bare SimPy, one ``Resource`` request per 64 B burst (the burst-level model);
- bare SimPy, one ``Resource`` request per 256 B chunk (desim's granularity);
- bare SimPy, one next-free-time reservation per tile (no sharing: first come, first
  served; the cheapest possible model).

Printed per model: transfers/s, events per transfer, the makespan in cycles (the models
should agree on it), and the speed ratio of desim (trace off) to each.

    python benchmarks/interconnect_bench.py
"""

from __future__ import annotations

import time

import networkx as nx
import simpy

from desim.hw.interconnect import Interconnect, LinkSpec, add_link, chunk_by_chunk
from desim.kernel import Clock, Component, Sim
from desim.trace import Recorder

CORES, TILES, TILE = 8, 100, 4096
BW, LAT = 8, 2  # B/cycle, cycles
CLK = Clock("main", 1_000_000_000)
CYCLE = CLK.ps(1)


def desim_chunked() -> tuple[float, int, int]:
    with chunk_by_chunk():
        return desim_run(False)


def desim_run(trace: bool) -> tuple[float, int, int]:
    sim = Sim(tracer=Recorder() if trace else None)
    soc = Component(sim, "soc", CLK)
    g = nx.DiGraph()
    add_link(g, "l2", "l1", LinkSpec(bandwidth_bytes_per_cycle=BW, latency_cycles=LAT))
    ic = Interconnect(soc, "ic", g)

    def core(c: int):
        for _ in range(TILES):
            yield from ic.transfer("l2", "l1", TILE, f"core{c}")

    for c in range(CORES):
        soc.process(core(c), f"core{c}")
    stats = sim.run()
    return stats.wall_s, stats.events, sim.now


def _run_env(env: simpy.Environment) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    return wall, int(repr(env._eid)[6:-1]), int(env.now)  # type: ignore[attr-defined]


def bare_resource(burst: int) -> tuple[float, int, int]:
    env = simpy.Environment()
    link = simpy.Resource(env, capacity=1)
    hold = burst * CYCLE // BW

    def core():
        for _ in range(TILES):
            for _ in range(TILE // burst):
                with link.request() as req:
                    yield req
                    yield env.timeout(hold)
            yield env.timeout(LAT * CYCLE)

    for _ in range(CORES):
        env.process(core())
    return _run_env(env)


def bare_reservation() -> tuple[float, int, int]:
    env = simpy.Environment()
    free_at = [0]
    hold = TILE * CYCLE // BW

    def core():
        for _ in range(TILES):
            start = max(env.now, free_at[0])
            free_at[0] = start + hold
            yield env.timeout(start + hold + LAT * CYCLE - env.now)

    for _ in range(CORES):
        env.process(core())
    return _run_env(env)


def best(fn, *args) -> tuple[float, int, int]:
    runs = [fn(*args) for _ in range(3)]
    return min(runs, key=lambda r: r[0])


def main() -> None:
    n = CORES * TILES
    rows = [
        ("desim, trace off", best(desim_run, False)),
        ("desim, trace on", best(desim_run, True)),
        ("desim, chunk by chunk", best(desim_chunked)),
        ("SimPy Resource, 64 B bursts", best(bare_resource, 64)),
        ("SimPy Resource, 256 B chunks", best(bare_resource, 256)),
        ("SimPy reservation per tile", best(bare_reservation)),
    ]
    ref_wall = rows[0][1][0]
    print(f"pattern: {CORES} cores x {TILES} tiles of {TILE} B over one {BW} B/cycle link")
    print(f"{'model':30} {'transfers/s':>12} {'events/transfer':>16} {'makespan (cyc)':>15}"
          f" {'desim-off speedup':>18}")
    for label, (wall, events, end) in rows:
        print(f"{label:30} {n / wall:12,.0f} {events / n:16.1f} {end / CYCLE:15,.0f}"
              f" {wall / ref_wall:17.2f}x")


if __name__ == "__main__":
    main()
