"""Whole runs against an earlier revision of desim: how many times faster, timing equal.

The revision's source is exported (``git archive``) into a temporary folder. Each side
runs in a process of its own (the earlier one with that folder first on its path),
interleaved ``--repeat`` times so that a slow spell of the machine hits both sides; a
process runs the network once to warm up (numba compiles, caches fill) and times the
next run (CPU seconds; with ``--trace``, traced and its trace file written). Printed:
each side's best, the ratio, the events, and whether both simulated the same end and
layer ends (speed work must not move timing).

    python benchmarks/speedup_bench.py --against 4b2085a [--repeat 2] [--trace]
        [--platform pulp_cluster --platform imc_cluster] [--workload mobilenetv2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: what each measuring process runs: warm up, then one timed run (traced: with its trace
#: file written)
_MEASURE = """
import json, sys, tempfile, time
import desim
from desim.driver import simulate
platform, workload, traced = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
out = tempfile.mkdtemp()

def once():
    res = simulate(platform, workload, trace=traced)
    if traced:
        res.write(out, timeline=False)
    return res.summary

once()
t0 = time.process_time()
summary = once()
cpu = time.process_time() - t0
print(json.dumps({"cpu": cpu, "events": summary["sim"]["events"],
                  "end_ps": summary["total_ps"],
                  "layers": [layer.get("end_ps") for layer in summary["layers"]],
                  "source": desim.__file__}))
"""


def export(rev: str, into: Path) -> Path:
    """The source tree of ``rev`` of this repository, extracted under ``into``."""
    got = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev],
                         capture_output=True)
    if got.returncode:
        sys.exit(f"speedup_bench: git cannot export revision '{rev}' of {ROOT} "
                 f"({got.stderr.decode().strip()}); give a commit, tag or branch "
                 "(e.g. --against 4b2085a)")
    tree = into / "tree"
    with tarfile.open(fileobj=io.BytesIO(got.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # (Python 3.11.4 on)
            tar.extractall(tree, filter="data")
        else:
            tar.extractall(tree)  # (the archive is of this repository)
    return tree


def measure(tree: Path, platform: str, workload: str, traced: bool) -> dict[str, Any]:
    """One measuring process with ``tree``'s desim first on its path."""
    got = subprocess.run([sys.executable, "-c", _MEASURE, platform, workload, str(int(traced))],
                         capture_output=True, text=True, cwd=tree,
                         env={**os.environ, "PYTHONPATH": str(tree)})
    if got.returncode:
        sys.exit(f"speedup_bench: the run of {platform}/{workload} with {tree} failed:\n"
                 f"{got.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(got.stdout.strip().splitlines()[-1])
    if not out["source"].startswith(str(tree)):
        sys.exit(f"speedup_bench: the process imported desim from {out['source']}, not "
                 f"from {tree}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, metavar="REV",
                    help="the earlier revision (commit, tag or branch)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--platform", action="append",
                    help="platform to run (repeatable; default pulp_cluster, imc_cluster)")
    ap.add_argument("--workload", default="mobilenetv2")
    ap.add_argument("--trace", action="store_true",
                    help="time traced runs, their trace file written")
    args = ap.parse_args()
    platforms = args.platform or ["pulp_cluster", "imc_cluster"]
    with tempfile.TemporaryDirectory() as tmp:
        old = export(args.against, Path(tmp))
        what = "traced, trace file written" if args.trace else "untraced"
        print(f"{args.workload}, {what} (CPU s of the second run in a process, best of "
              f"{args.repeat}): {args.against} against the working tree")
        print(f"{'platform':16} {args.against[:12]:>12} {'now':>8} {'faster':>8}"
              f" {'events then':>12} {'events now':>11}  timing")
        for platform in platforms:
            then, now = [], []
            for _ in range(args.repeat):
                then.append(measure(old, platform, args.workload, args.trace))
                now.append(measure(ROOT, platform, args.workload, args.trace))
            a = min(then, key=lambda r: r["cpu"])
            b = min(now, key=lambda r: r["cpu"])
            same = (a["end_ps"] == b["end_ps"] and a["layers"] == b["layers"])
            timing = "same end and layer ends" if same else (
                f"DIFFERS: end {a['end_ps']} ps then, {b['end_ps']} ps now")
            print(f"{platform:16} {a['cpu']:12.2f} {b['cpu']:8.2f} {a['cpu'] / b['cpu']:7.1f}x"
                  f" {a['events']:12,} {b['events']:11,}  {timing}")


if __name__ == "__main__":
    main()
