"""Kernel overhead: desim components vs a bare SimPy loop doing the same work.

Pattern: 16 workers, each doing 20,000 busy intervals of 1-4 cycles (a timeout each).
The bare loop only yields timeouts; desim workers are Components that account busy time
with begin()/end(), once with tracing off and once with tracing on. Printed: events/s of
each and the ratios to bare SimPy, all measured in this one run (best of 3).

    python benchmarks/kernel_bench.py
"""

from __future__ import annotations

import time

import simpy

from desim.kernel import Clock, Component, Sim
from desim.trace import Recorder

WORKERS, STEPS = 16, 20_000
CLK = Clock("main", 1_000_000_000)
DELAYS = [CLK.ps(1 + (i % 4)) for i in range(64)]


def bare() -> tuple[int, float]:
    env = simpy.Environment()

    def worker(w):
        for k in range(STEPS):
            yield env.timeout(DELAYS[(w + k) & 63])

    for w in range(WORKERS):
        env.process(worker(w))
    t0 = time.perf_counter()
    env.run()
    return WORKERS * STEPS, time.perf_counter() - t0


def desim_run(trace: bool) -> tuple[int, float]:
    sim = Sim(tracer=Recorder() if trace else None)
    soc = Component(sim, "soc", CLK)
    timeout = sim.env.timeout

    def worker(comp, w):
        for k in range(STEPS):
            t = comp.begin()
            yield timeout(DELAYS[(w + k) & 63])
            comp.end(t, "busy", "job", "compute")

    for w in range(WORKERS):
        comp = Component(soc, f"pe{w}")
        comp.process(worker(comp, w), "worker")
    stats = sim.run()
    return WORKERS * STEPS, stats.wall_s


def best(fn, *args) -> float:
    rates = []
    for _ in range(3):
        n, wall = fn(*args)
        rates.append(n / wall)
    return max(rates)


def main() -> None:
    base = best(bare)
    off = best(desim_run, False)
    on = best(desim_run, True)
    print(f"pattern: {WORKERS} workers x {STEPS} busy intervals (one timeout each)")
    print(f"bare SimPy          {base:12,.0f} events/s   1.00x")
    print(f"desim, trace off    {off:12,.0f} events/s   {off / base:.2f}x")
    print(f"desim, trace on     {on:12,.0f} events/s   {on / base:.2f}x")


if __name__ == "__main__":
    main()
