"""The points of a sweep: grids, random samples and TOML sweep files, as plain data.

Pure: nothing here simulates. A point is a platform, a workload, a seed and a dict of
dotted overrides (values as given; ``Spec.with_overrides`` parses strings), so a point
travels to a worker process or a dask worker as it is.
"""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desim.errors import SpecError

#: grid keys that choose the run rather than a platform parameter
RUN_KEYS = ("platform", "workload", "seed")
#: the most points a sweep may have: design-space studies sample 10^2 to 10^4 points, and
#: 10^5 runs of even the smallest network take a day
MAX_POINTS = 100_000


@dataclass(frozen=True)
class Point:
    """One run of a sweep."""

    platform: str
    workload: str
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Range:
    """A random parameter's interval; integer bounds draw integers, ``log`` draws evenly
    in log space (for parameters spanning decades)."""

    lo: float
    hi: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: random.Random) -> int | float:
        """One value drawn from the range."""
        if self.log:
            value = math.exp(rng.uniform(math.log(self.lo), math.log(self.hi)))
        else:
            value = rng.uniform(self.lo, self.hi)
        return round(value) if self.integer else value


@dataclass(frozen=True)
class Study:
    """What a sweep runs: grid axes (including platform, workload and seed) crossed with
    ``n_random`` random draws of the ranges."""

    grid: dict[str, list[Any]]
    ranges: dict[str, Range] = field(default_factory=dict)
    n_random: int = 0
    random_seed: int = 0

    def points(self) -> list[Point]:
        """Every point of the study, in a stable order (grid order, then draws)."""
        return build_points(self.grid, self.ranges, self.n_random, self.random_seed)


def build_points(grid: Mapping[str, Sequence[Any]], ranges: Mapping[str, Range] | None = None,
                 n_random: int = 0, random_seed: int = 0) -> list[Point]:
    """The cartesian product of ``grid`` crossed with ``n_random`` draws of ``ranges``."""
    if "platform" not in grid or "workload" not in grid:
        raise SpecError("a sweep needs a platform and a workload")
    ranges = ranges or {}
    if bool(ranges) != bool(n_random):
        raise SpecError("--random N and --range KEY=LO:HI go together: give both or neither")
    clash = sorted(set(ranges) & set(grid))
    if clash:
        raise SpecError(f"{', '.join(clash)}: swept both on a grid and at random; pick one")
    total = math.prod(len(v) for v in grid.values()) * max(n_random, 1)
    if n_random < 0 or total > MAX_POINTS:
        raise SpecError(f"the sweep has {total:,} points (grid values multiplied, times "
                        f"--random {n_random}); give between 1 and {MAX_POINTS:,}")
    rng = random.Random(random_seed)
    draws = [{k: r.draw(rng) for k, r in ranges.items()} for _ in range(n_random)] or [{}]
    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        combo = dict(zip(keys, values, strict=True))
        run = {k: combo.pop(k) for k in RUN_KEYS if k in combo}
        seed = _int("seed", run.get("seed", 0))
        for draw in draws:
            out.append(Point(str(run["platform"]), str(run["workload"]), seed,
                             {**combo, **draw}))
    return out


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``KEY=V1,V2,...`` items as axes (a later KEY replaces an earlier one)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        parts = [v.strip() for v in values.split(",")]
        if not sep or not key.strip() or not all(parts):
            raise SpecError(f"--grid {item!r}: expected KEY=V1,V2,..., e.g. "
                            "--grid cluster.n_cores=4,8")
        out[key.strip()] = parts
    return out


def parse_range(item: str, option: str = "--range") -> tuple[str, Range]:
    """``KEY=LO:HI[:log]`` as a key and its range."""
    key, sep, spec = item.partition("=")
    parts = spec.split(":")
    example = f"e.g. {option} l1.capacity_bytes=65536:524288:log"
    if not sep or not key.strip() or len(parts) not in (2, 3) or parts[2:] not in ([], ["log"]):
        raise SpecError(f"{option} {item!r}: expected KEY=LO:HI[:log], {example}")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise SpecError(f"{option} {item!r}: LO and HI must be numbers, {example}") from None
    log = parts[2:] == ["log"]
    if not lo < hi or (log and lo <= 0):
        raise SpecError(f"{option} {item!r}: need LO < HI (and LO > 0 with log), {example}")
    integer = all(_is_int(p) for p in parts[:2])
    return key.strip(), Range(lo, hi, log, integer)


def load_toml(path: str | Path) -> Study:
    """The study a TOML sweep file describes (see docs/sweep.md); errors name the file."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except OSError as exc:
        raise SpecError(f"sweep file {p}: {exc.strerror}; give the path of a .toml sweep "
                        "file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"sweep file {p}: {exc}; fix the TOML there (see docs/sweep.md)") \
            from None
    unknown = sorted(set(doc) - {"platform", "workload", "seed", "grid", "random"})
    if unknown:
        raise SpecError(f"sweep file {p}: unknown entries {', '.join(unknown)}; expected "
                        "platform, workload, seed, [grid] and [random]")
    grid: dict[str, list[Any]] = {}
    for key in RUN_KEYS:
        if key in doc:
            grid[key] = _list(doc[key])
    for key, values in _table(doc, "grid", p).items():
        grid[key] = _list(values)
    rnd = _table(doc, "random", p)
    ranges = dict(parse_range(f"{k}={v}", f"{p} [random.range]")
                  for k, v in _table(rnd, "range", p).items())
    try:
        return Study(grid, ranges, _int("[random] n", rnd.get("n", 0)),
                     _int("[random] seed", rnd.get("seed", 0)))
    except SpecError as exc:
        raise SpecError(f"sweep file {p}: {exc}") from None


def _table(doc: Mapping[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise SpecError(f"sweep file {path}: {name} must be a table, [{name}]")
    return value


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SpecError(f"{name} {value!r}: expected a whole number")
    try:
        return int(value)
    except ValueError:
        raise SpecError(f"{name} {value!r}: expected a whole number") from None


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
