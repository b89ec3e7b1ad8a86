"""Whole-run simulator speed, and what a run's cost grows with.

Three parts, every figure measured in this one run (CPU seconds of this process, best of
``--repeat``), so the ratios do not depend on what else the machine is doing:

1. MobileNetV2 on pulp_cluster and imc_cluster: the run untraced (summary written), the
   run traced, writing its trace.json.gz, and drawing its timeline.png; the ratio of the
   traced run with its trace file (and with the timeline too) to the untraced one.
2. The MLPerf Tiny networks on both clusters, untraced.
3. Doubling: a DMA channel copies N descriptors of B bytes from L2 to L1, with G idle
   cycles between them (alone on its links; then with a second channel copying the other
   way, sharing both memory ports). Each of N, B and G is doubled in turn and the ratio of
   run cost to the base case is printed: alone or sharing the ports (booked together),
   the cost follows N only.
4. Window-limited copies: 2-D descriptors of 8 B rows (MobileNetV2's depthwise tiles), whose
   8 bursts in flight do not cover a burst's round trip, paced as one transfer against
   ``burst_by_burst()``: the same simulated end, and the ratio of run cost and events.

    python benchmarks/run_bench.py [--repeat 2] [--skip-mobilenet] [--skip-tiny]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from typing import Any

import networkx as nx

from desim.driver import simulate
from desim.hw.dma import Copy1D, Copy2D, Dma, DmaSpec, Region, burst_by_burst
from desim.hw.interconnect import Interconnect, add_link
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Component, Sim
from desim.trace import timeline

CLUSTERS = ("pulp_cluster", "imc_cluster")
TINY = ("autoencoder", "dscnn", "mobilenetv1_vww", "resnet8")


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of ``fn()`` and its value."""
    t0 = time.process_time()
    value = fn()
    return time.process_time() - t0, value


def best(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    runs = [cpu(fn) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


# -- 1. MobileNetV2, trace off and on ----------------------------------------------------

def traced_parts(platform: str, out: str) -> tuple[float, float, float, int]:
    """CPU seconds of a traced MobileNetV2 run, of writing its trace, of its timeline;
    and its trace records."""
    t_run, res = cpu(lambda: simulate(platform, "mobilenetv2", trace=True))
    t_write, _ = cpu(lambda: res.write(out, timeline=False))
    rec = res.tracer
    layers = [(x["name"], x["start_ps"], x["end_ps"]) for x in res.summary["layers"]]
    t_plot, _ = cpu(lambda: timeline.plot(
        rec, f"{out}/timeline.png", window=(0, max(res.sim.now, 1)), clock_hz=res.clock_hz,
        layers=layers, components=list(res.summary["components"])))
    return t_run, t_write, t_plot, len(rec.raw_intervals()) + len(rec.raw_counters())


def mobilenet(repeat: int) -> None:
    print("MobileNetV2 (CPU s)       untraced   traced run  +trace file  +timeline"
          "   traced/untraced (file)  (file+timeline)   events  records")
    with tempfile.TemporaryDirectory() as d:
        for platform in CLUSTERS:
            offs, tries = [], []
            for _ in range(repeat):  # interleaved: a slow spell of the machine hits both
                offs.append(cpu(lambda p=platform: _untraced(p, d)))
                tries.append(traced_parts(platform, d))
            off, res = min(offs, key=lambda r: r[0])
            run, write, plot, records = min(tries, key=lambda r: sum(r[:3]))
            print(f"{platform:24} {off:10.2f} {run:12.2f} {write:12.2f} {plot:10.2f}"
                  f" {(run + write) / off:21.2f}x {(run + write + plot) / off:15.2f}x"
                  f" {res.summary['sim']['events']:9,} {records:8,}")


def _untraced(platform: str, out: str) -> Any:
    res = simulate(platform, "mobilenetv2")
    res.write(out, timeline=False)
    return res


# -- 2. MLPerf Tiny ----------------------------------------------------------------------

def tiny(repeat: int) -> None:
    print("\nMLPerf Tiny, untraced (CPU s of the simulation; events)")
    for platform in CLUSTERS:
        cells = []
        for wl in TINY:
            t, res = best(repeat, lambda p=platform, w=wl: simulate(p, w))
            cells.append(f"{wl} {t:.3f} s ({res.summary['sim']['events']:,})")
        print(f"  {platform:14} " + "   ".join(cells))


# -- 3. doubling -------------------------------------------------------------------------

CLK = Clock("main", 370_000_000)


def _cluster(sim: Sim) -> tuple[Dma, Sram, Sram]:
    """A PULP-cluster-like L1 and L2 (pulp_cluster's ports and link) and a 2-channel DMA."""
    soc = Component(sim, "soc", CLK)
    l1 = Sram(soc, "l1", SramSpec(capacity_bytes=1 << 22))
    l2 = Sram(soc, "l2", SramSpec(capacity_bytes=1 << 22, base_addr=0x1C000000,
                                  banks=4, word_bytes=8, port_bytes_per_cycle=32.0,
                                  latency_cycles=4))
    g = nx.DiGraph()
    add_link(g, "l1", "l2")
    ic = Interconnect(soc, "ic", g)
    dma = Dma(soc, "dma", ic, [Region.of(l1, "l1"), Region.of(l2, "l2")],
              DmaSpec(channels=2))
    return dma, l1, l2


def copies(n: int, nbytes: int, gap_cycles: int, shared: bool) -> tuple[int, int]:
    """Simulated ps and events of N copies L2 -> L1 (and, shared, as many L1 -> L2 on a
    second channel at the same time)."""
    sim = Sim()
    dma, l1, l2 = _cluster(sim)
    gap = CLK.ps(gap_cycles)

    def channel(src: Sram, dst: Sram, ch: int):
        for _ in range(n):
            yield from dma.copy(Copy1D(src.base, dst.base, nbytes), ch)
            yield sim.env.timeout(gap)

    sim.process(channel(l2, l1, 0), "load")
    if shared:
        sim.process(channel(l1, l2, 1), "store")
    stats = sim.run()
    return sim.now, stats.events


def doubling(repeat: int) -> None:
    base = dict(n=400, nbytes=8192, gap_cycles=5000)
    cases = [("base", base), ("2x transfers", {**base, "n": 800}),
             ("2x bytes per transfer", {**base, "nbytes": 16384}),
             ("2x idle time", {**base, "gap_cycles": 10000})]
    print("\nDoubling: N DMA copies L2 -> L1 of B bytes with G idle cycles between them"
          f" (base N={base['n']}, B={base['nbytes']}, G={base['gap_cycles']})")
    for shared in (False, True):
        label = "with a second channel copying L1 -> L2" if shared else "alone on the links"
        print(f"  {label}")
        ref = None
        for name, kw in cases:
            t, (sim_ps, events) = best(max(repeat, 3), lambda k=kw, s=shared: copies(**k, shared=s))
            ref = ref or t
            print(f"    {name:24} {t * 1e3:8.1f} ms CPU  {events:8,} events"
                  f"  {sim_ps / 1e9:8.3f} ms simulated   cost ratio {t / ref:5.2f}x")


# -- 4. window-limited copies -----------------------------------------------------------

def row_copies(n: int, rows: int, shared: bool, reference: bool) -> tuple[int, int]:
    """Simulated ps and events of N 2-D copies of ``rows`` 8 B rows L2 -> L1 (and, shared,
    as many L1 -> L2 on the second channel), paced or burst by burst (``reference``)."""
    sim = Sim()
    dma, l1, l2 = _cluster(sim)

    def channel(src: Sram, dst: Sram, ch: int):
        for _ in range(n):
            yield from dma.copy(Copy2D(src.base, dst.base, 8, rows, 32, 8), ch)

    sim.process(channel(l2, l1, 0), "load")
    if shared:
        sim.process(channel(l1, l2, 1), "store")
    if reference:
        with burst_by_burst():
            stats = sim.run()
    else:
        stats = sim.run()
    return sim.now, stats.events


def paced(repeat: int) -> None:
    n, rows = 200, 96
    print(f"\nWindow-limited copies: {n} 2-D descriptors of {rows} rows of 8 B, L2 -> L1"
          " (8 bursts in flight, short of the round trip)")
    for shared in (False, True):
        label = "and as many L1 -> L2 on a second channel" if shared else "alone"
        runs = {}
        for reference in (True, False):
            runs[reference] = best(max(repeat, 3),
                                   lambda s=shared, r=reference: row_copies(n, rows, s, r))
        (t_ref, (ps_ref, ev_ref)), (t, (ps, ev)) = runs[True], runs[False]
        print(f"  {label:42} burst by burst {t_ref * 1e3:6.1f} ms CPU {ev_ref:8,} events;"
              f" paced {t * 1e3:5.1f} ms {ev:6,} events: {t_ref / t:5.1f}x faster,"
              f" {ev_ref / ev:5.1f}x fewer events, end {ps / ps_ref - 1:+.3%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-mobilenet", action="store_true")
    ap.add_argument("--skip-tiny", action="store_true")
    args = ap.parse_args()
    if not args.skip_mobilenet:
        mobilenet(args.repeat)
    if not args.skip_tiny:
        tiny(args.repeat)
    doubling(args.repeat)
    paced(args.repeat)


if __name__ == "__main__":
    main()
