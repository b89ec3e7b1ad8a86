"""Simulator speed on whole networks: every zoo network on both DNN platforms, timing mode.

Prints, per run, the simulated latency, MAC/cycle, energy and DRAM traffic (what the
hardware did) and the wall time, events and events/s (what the simulator cost), trace
off, best of ``--repeat``.

    python benchmarks/zoo_bench.py [--repeat 1] [--platform P ...] [--workload W ...]
"""

from __future__ import annotations

import argparse
import time

from desim.driver import simulate
from desim.workload.zoo import zoo_names

PLATFORMS = ("pulp_cluster", "imc_cluster")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--platform", action="append", default=None)
    ap.add_argument("--workload", action="append", default=None)
    args = ap.parse_args()
    print(f"{'platform':<14} {'workload':<16} {'latency':>11} {'MAC/cyc':>8} {'energy':>10} "
          f"{'DRAM':>9} {'wall s':>7} {'events':>10} {'events/s':>10}")
    for platform in args.platform or PLATFORMS:
        for workload in args.workload or zoo_names():
            best = None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                doc = simulate(platform, workload, trace=False).summary
                wall = time.perf_counter() - t0
                if best is None or wall < best[0]:
                    best = (wall, doc)
            wall, doc = best  # type: ignore[misc]
            sim = doc["sim"]
            dram = doc["memory"]["dram_traffic_bytes"] / 2**20
            print(f"{platform:<14} {workload:<16} {doc['total_ps'] / 1e9:>8.3f} ms "
                  f"{doc['macs'] / doc['cycles']:>8.2f} {doc['energy_pj']['total'] / 1e6:>7.1f} uJ "
                  f"{dram:>5.2f} MiB {wall:>7.2f} {sim['events']:>10,} "
                  f"{sim['events'] / wall:>10,.0f}")


if __name__ == "__main__":
    main()
