"""Kernel overhead: desim components vs a bare SimPy loop doing the same work.

Pattern: 16 workers, each doing 20,000 busy intervals of 1-4 cycles (a timeout each).
The bare loop only yields timeouts; desim workers are Components that account busy time
with begin()/end(), once with tracing off and once with tracing on. Printed: events per
CPU second of each and the ratios to bare SimPy, all measured in this one run: the three
take turns for five rounds and each keeps its best, so that a slow spell of a noisy
machine hits all three alike.

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
    t0 = time.process_time()
    env.run()
    return WORKERS * STEPS, time.process_time() - t0


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
    t0 = time.process_time()
    sim.run()
    return WORKERS * STEPS, time.process_time() - t0


def main() -> None:
    runs = {"bare": (bare,), "off": (desim_run, False), "on": (desim_run, True)}
    rates: dict[str, float] = dict.fromkeys(runs, 0.0)
    for _ in range(5):
        for key, (fn, *args) in runs.items():
            n, wall = fn(*args)
            rates[key] = max(rates[key], n / wall)
    base, off, on = rates["bare"], rates["off"], rates["on"]
    print(f"pattern: {WORKERS} workers x {STEPS} busy intervals (one timeout each)")
    print(f"bare SimPy          {base:12,.0f} events/s   1.00x")
    print(f"desim, trace off    {off:12,.0f} events/s   {off / base:.2f}x")
    print(f"desim, trace on     {on:12,.0f} events/s   {on / base:.2f}x")


if __name__ == "__main__":
    main()
