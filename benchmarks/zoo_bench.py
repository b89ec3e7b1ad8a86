"""Simulator speed on whole networks: every zoo network on the DNN platforms, timing mode.

Prints, per run, the simulated latency, MAC/cycle, energy and DRAM traffic (what the
hardware did) and the wall time, events and events/s (what the simulator cost), trace
off, best of ``--repeat``. With ``--markdown`` it prints only the README's results table
(``desim.report.results_table``; tests/test_readme_results.py checks the README against
the golden baselines with the same function).

    python benchmarks/zoo_bench.py [--repeat 1] [--platform P ...] [--workload W ...]
                                   [--skip P/W ...] [--markdown]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

from desim.driver import simulate
from desim.regress.baseline import metrics
from desim.report import results_table
from desim.workload.zoo import zoo_names

PLATFORMS = ("pulp_cluster", "gap9", "imc_cluster", "hetero_cluster", "flat_cluster")

#: engines beside the cores, by the spec key that configures them, as the note names them
ENGINE_NOTES = (("aimc", "{n_crossbars} crossbars"), ("ne16", "NE16"),
                ("depthwise", "depthwise engine"))


def row(platform: str, workload: str, params: Mapping[str, Any],
        met: Mapping[str, Any]) -> dict[str, Any]:
    """A row of ``desim.report.results_table`` from a platform's spec and a run's metrics as
    the golden baselines hold them (``desim.regress.baseline.metrics``). DRAM traffic is
    ``soc.dram``'s bytes read + written; the note names the cores, the other engines, L2
    and DRAM."""
    engines = [text.format(**params[key]) for key, text in ENGINE_NOTES if params.get(key)]
    l2 = params.get("l2")
    note = ", ".join([" + ".join([f"{params['cluster']['n_cores']} cores", *engines]),
                      f"{l2['capacity_bytes'] / 2**20:g} MiB L2" if l2 else "no L2",
                      params["dram"]["name"]])
    dram = met["bytes"].get("soc.dram", {"read": 0, "written": 0})
    return {"workload": workload, "platform": platform, "note": note,
            "total_ps": met["total_ps"], "cycles": met["cycles"], "macs": met["macs"],
            "energy_pj": met["energy_pj"]["total"], "dram_bytes": dram["read"] + dram["written"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--platform", action="append", default=None)
    ap.add_argument("--workload", action="append", default=None)
    ap.add_argument("--skip", action="append", default=[], metavar="PLATFORM/WORKLOAD",
                    help="leave out one case (repeatable)")
    ap.add_argument("--markdown", action="store_true",
                    help="print only the README's results table")
    args = ap.parse_args()
    if not args.markdown:
        print(f"{'platform':<14} {'workload':<16} {'latency':>11} {'MAC/cyc':>8} "
              f"{'energy':>10} {'DRAM':>9} {'wall s':>7} {'events':>10} {'events/s':>10}")
    rows = []
    for workload in args.workload or zoo_names():
        for platform in args.platform or PLATFORMS:
            if f"{platform}/{workload}" in args.skip:
                continue
            best = None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                doc = simulate(platform, workload, trace=False).summary
                wall = time.perf_counter() - t0
                if best is None or wall < best[0]:
                    best = (wall, doc)
            wall, doc = best  # type: ignore[misc]
            r = row(platform, workload, doc["platform"]["params"], metrics(doc))
            rows.append(r)
            if not args.markdown:
                events = doc["sim"]["events"]
                print(f"{platform:<14} {workload:<16} {r['total_ps'] / 1e9:>8.3f} ms "
                      f"{r['macs'] / r['cycles']:>8.2f} {r['energy_pj'] / 1e6:>7.1f} uJ "
                      f"{r['dram_bytes'] / 2**20:>5.2f} MiB {wall:>7.2f} {events:>10,} "
                      f"{events / wall:>10,.0f}", flush=True)
    if args.markdown:
        print(results_table(rows))


if __name__ == "__main__":
    main()
