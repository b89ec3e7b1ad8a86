"""Sweep overhead: the same points through ``desim.sweep.run`` and as plain ``simulate`` calls.

Runs every point (by default the four MLPerf Tiny zoo networks x pulp_cluster/imc_cluster x
three core counts = 24 points) once as ``desim.driver.simulate`` calls in this process and
once through ``desim.sweep.run`` with ``--jobs`` workers into a fresh folder, and prints
both wall times and the per-point overhead of the sweep:

    overhead = sweep wall x jobs / points - mean single-run wall

also as a share of a single run's wall. The overhead covers the worker pool's start-up,
pickling the summaries, writing ``points/<id>.json``, building ``results.parquet`` and any
slowdown of the workers sharing the host; it is a ratio to compare between versions on
one machine, not an absolute figure (``sim_wall_s`` inside the sweep is printed too: the
simulations' own time with the workers running side by side).

    python benchmarks/sweep_bench.py [--jobs 2] [--platform P ...] [--workload W ...]
                                     [--key cluster.n_cores] [--values 2,4,8]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from typing import Any

from desim.driver import simulate
from desim.sweep import Study, run

WORKLOADS = ("resnet8", "dscnn", "mobilenetv1_vww", "autoencoder")
PLATFORMS = ("pulp_cluster", "imc_cluster")


def parse_value(text: str) -> Any:
    """An integer or float when the text reads as one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--platform", action="append", help=f"default: {PLATFORMS}")
    parser.add_argument("--workload", action="append", help=f"default: {WORKLOADS}")
    parser.add_argument("--key", default="cluster.n_cores", help="the swept parameter")
    parser.add_argument("--values", default="2,4,8", help="its values, comma-separated")
    args = parser.parse_args()
    platforms = args.platform or list(PLATFORMS)
    workloads = args.workload or list(WORKLOADS)
    values = [parse_value(v) for v in args.values.split(",")]
    points = len(platforms) * len(workloads) * len(values)

    # plain calls, one process: the per-point reference
    walls = []
    t0 = time.perf_counter()
    for platform, workload, value in itertools.product(platforms, workloads, values):
        start = time.perf_counter()
        simulate(platform, workload, overrides={args.key: value})
        walls.append(time.perf_counter() - start)
    plain_wall = time.perf_counter() - t0
    single = sum(walls) / len(walls)

    study = Study({"platform": platforms, "workload": workloads, args.key: values})
    with tempfile.TemporaryDirectory(prefix="sweep_bench_") as outdir:
        t0 = time.perf_counter()
        frame = run(study, outdir, jobs=args.jobs)
        sweep_wall = time.perf_counter() - t0
    failed = int((frame["status"] != "ok").sum())
    in_sweep = float(frame["sim_wall_s"].mean())

    overhead = sweep_wall * args.jobs / points - single
    print(f"points              {points} ({len(platforms)} platforms x {len(workloads)} "
          f"workloads x {args.key}={args.values}), {failed} failed")
    print(f"plain simulate      {plain_wall:8.2f} s wall, one process "
          f"(mean single run {single * 1e3:.1f} ms)")
    print(f"desim.sweep.run     {sweep_wall:8.2f} s wall, jobs={args.jobs} "
          f"(mean sim_wall_s in the workers {in_sweep * 1e3:.1f} ms)")
    print(f"speed-up            {plain_wall / sweep_wall:8.2f} x (ideal {args.jobs} x)")
    print(f"overhead per point  {overhead * 1e3:8.1f} ms = sweep wall x jobs / points - "
          f"mean single run ({overhead / single:+.1%} of a single run)")


if __name__ == "__main__":
    main()
