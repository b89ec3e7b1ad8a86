"""A long fuzzing campaign over every input surface: cases tried and contract violations.

    python benchmarks/fuzz.py --examples 1000            # 1000 cases per surface
    python benchmarks/fuzz.py --examples 200 --surface onnx --seed 7 --show 5

Draws from the generators of tests/fuzz/surfaces.py (the CI suite runs a few hundred
seeded cases of each; this runs as many as asked, from another seed) and prints, per
surface, the cases tried, how many broke the contract, the wall time, and the first
violations of each kind. Exit code 1 when any case broke the contract.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.surfaces import SURFACES  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def campaign(name: str, examples: int, rng_seed: int,
             keep: Path | None = None) -> tuple[int, list[list[str]], float]:
    """Run ``examples`` cases of one surface; return cases tried, violations, seconds. The
    files of a case that broke the contract are copied under ``keep`` (when given)."""
    surface = SURFACES[name]
    found: list[list[str]] = []
    tried = 0

    @seed(rng_seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=("generate",))
    @given(st.data())
    def probe(data: st.DataObject) -> None:
        nonlocal tried
        tried += 1
        root = Path(tempfile.mkdtemp(prefix=f"desim-fuzz-{name}-"))
        try:
            bad = surface(data, root)
            if bad and keep is not None:
                shutil.copytree(root, keep / f"{name}-{len(found)}", dirs_exist_ok=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if bad:
            found.append(bad)

    t0 = time.perf_counter()
    probe()
    return tried, found, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="cases per surface")
    parser.add_argument("--surface", action="append", choices=list(SURFACES),
                        help="only this surface (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the campaign")
    parser.add_argument("--show", type=int, default=3,
                        help="violations of each kind to print per surface")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="copy the files of every case that broke the contract here")
    args = parser.parse_args()
    total_cases = total_bad = 0
    print(f"{'surface':<12}{'cases':>8}{'violations':>12}{'seconds':>10}")
    for name in args.surface or list(SURFACES):
        tried, found, seconds = campaign(name, args.examples, args.seed, args.keep)
        total_cases += tried
        total_bad += len(found)
        print(f"{name:<12}{tried:>8}{len(found):>12}{seconds:>10.1f}", flush=True)
        kinds: Counter[str] = Counter()
        for bad in found:
            kind = bad[0].split(":")[0][:60]
            kinds[kind] += 1
            if kinds[kind] <= args.show:
                print("    " + "\n      ".join(bad), flush=True)
    print(f"{'total':<12}{total_cases:>8}{total_bad:>12}")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
