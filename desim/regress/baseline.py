"""Timing regression baselines: record what a case produced, re-run it, compare.

A case is a platform, a workload, a seed and parameter overrides. Its baseline is one
JSON file holding the case, the metrics it produced and where they came from::

    {"format": 1,
     "case": {"platform": "stream_soc", "workload": "tiles", "seed": 0, "overrides": {}},
     "desim_version": "0.1.0", "clock_hz": 100000000,
     "platform_spec": {...every parameter, overrides applied...},
     "metrics": {"total_ps": ..., "cycles": ..., "macs": ...,
                 "bytes": {"soc.l2": {"read": ..., "written": ...}, ...},
                 "energy_pj": {"soc.l2": ..., "total": ...},
                 "layers": [{"index": 0, "name": "conv1", "engine": "cluster",
                             "cycles": ..., "bytes": {"l1": ..., "l2": ..., "dram": ...}}]}}

Comparison: every number in ``metrics`` is matched by name; a value passes when
``|new - old| <= tolerance * |old|`` (so an old zero must stay zero). A layer list whose
names differ, or a name present on one side only, fails. The platform spec is not
compared (a changed default shows in the metrics it changes) but its differences are
listed next to the deltas, since they usually explain them.

A platform script or model file given by path is stored relative to the baseline's
folder, so a folder of baselines can move with the scripts beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import desim
from desim.errors import DesimError, SimulationStalled
from desim.fileio import atomic_open

FORMAT = 1


# -- cases --------------------------------------------------------------------------------

def _is_path(name: str) -> bool:
    return name.endswith((".py", ".tflite", ".onnx", ".json")) or "/" in name or "\\" in name


@dataclass(frozen=True)
class Case:
    """One platform x workload run as stored in a baseline (paths relative to its folder)."""

    platform: str
    workload: str
    seed: int = 0
    overrides: tuple[tuple[str, str], ...] = ()

    @classmethod
    def make(cls, platform: str, workload: str, seed: int = 0,
             overrides: Mapping[str, Any] | None = None,
             folder: str | os.PathLike[str] | None = None) -> Case:
        """A case from command-line names; paths become relative to ``folder``."""
        def store(name: str) -> str:
            if folder is None or not _is_path(name):
                return name
            return Path(os.path.relpath(Path(name).resolve(), Path(folder).resolve())).as_posix()

        items = tuple(sorted((str(k), _as_text(v)) for k, v in (overrides or {}).items()))
        return cls(store(platform), store(workload), int(seed), items)

    def resolve(self, folder: str | os.PathLike[str]) -> tuple[str, str]:
        """The platform and workload arguments to run, paths resolved against ``folder``."""
        def arg(name: str) -> str:
            return str(Path(folder) / name) if _is_path(name) else name

        return arg(self.platform), arg(self.workload)

    @property
    def label(self) -> str:
        """``platform/workload`` with the seed and overrides when set."""
        text = f"{Path(self.platform).stem}/{Path(self.workload).stem}"
        if self.seed:
            text += f" seed={self.seed}"
        return text + "".join(f" {k}={v}" for k, v in self.overrides)

    @property
    def file_name(self) -> str:
        """``platform__workload[__seedN][__hash].json``."""
        name = f"{Path(self.platform).stem}__{Path(self.workload).stem}"
        if self.seed:
            name += f"__seed{self.seed}"
        if self.overrides:
            name += "__" + hashlib.sha256(json.dumps(self.overrides).encode()).hexdigest()[:8]
        return name + ".json"

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "workload": self.workload, "seed": self.seed,
                "overrides": dict(self.overrides)}


def _as_text(value: Any) -> str:
    """An override value as ``--set`` would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return ",".join(_as_text(v) for v in value)
    return str(value)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as dotted keys."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def param_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for every dotted parameter that differs (missing: None)."""
    a, b = flatten(old), flatten(new)
    return [(k, a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


def overrides_of(platform: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The overrides that turn ``platform``'s default spec into ``params``."""
    from desim.soc.loader import load_platform

    defaults = load_platform(platform).default_spec().to_dict()
    return {k: _as_text(v) for k, _, v in param_diff(defaults, params)}


# -- metrics ------------------------------------------------------------------------------

def metrics(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable figures of a summary.json document."""
    comps = summary.get("components", {})
    nbytes = {p: {"read": int(c.get("bytes_read", 0)), "written": int(c.get("bytes_written", 0))}
              for p, c in comps.items() if c.get("bytes_read") or c.get("bytes_written")}
    layers = []
    for k, e in enumerate(summary.get("layers") or []):
        entry: dict[str, Any] = {"index": e.get("index", k), "name": e.get("name", ""),
                                 "engine": e.get("engine", ""), "cycles": e.get("cycles")}
        if isinstance(e.get("bytes"), Mapping):
            entry["bytes"] = dict(e["bytes"])
        layers.append(entry)
    return {"total_ps": summary["total_ps"], "cycles": summary["cycles"],
            "macs": summary.get("macs"), "bytes": nbytes,
            "energy_pj": dict(summary.get("energy_pj") or {}), "layers": layers}


def baseline_doc(case: Case, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline file's content for ``case`` and the summary its run produced."""
    return {"format": FORMAT, "case": case.to_dict(),
            "desim_version": summary.get("desim_version", desim.__version__),
            "clock_hz": summary.get("clock_hz"),
            "platform_spec": summary.get("platform", {}).get("params", {}),
            "metrics": metrics(summary)}


def write_baseline(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> Path:
    """Write a baseline file atomically."""
    target = Path(path)
    with atomic_open(target, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    return target


def load_baseline(path: str | os.PathLike[str]) -> tuple[Case, dict[str, Any]]:
    """Read and check one baseline file: its case and its document."""
    p = Path(path)
    fix = (f"restore it, or record it anew with 'desim regress record {p.parent} --platform P "
           "--workload W'")
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise DesimError(f"baseline {p} does not exist; give the path of a baseline "
                         "file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DesimError(f"baseline {p} is not readable JSON ({exc}); {fix}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else None
        raise DesimError(f"baseline {p}: format {got!r} is not {FORMAT} (not a desim "
                         f"baseline, or from another desim version); {fix}")
    problem = _malformed(doc)
    if problem:
        raise DesimError(f"baseline {p}: {problem}; {fix}")
    case = doc["case"]
    items = tuple(sorted((str(k), str(v)) for k, v in case.get("overrides", {}).items()))
    return Case(case["platform"], case["workload"], case.get("seed", 0), items), doc


def _malformed(doc: Mapping[str, Any]) -> str | None:
    """What is wrong with a baseline document's case and metrics, or None."""
    case, met = doc.get("case"), doc.get("metrics")
    if not isinstance(case, dict) or not isinstance(met, dict):
        return "'case' or 'metrics' is missing or not an object"
    seed = case.get("seed", 0)
    overrides = case.get("overrides", {})
    checks = [
        (isinstance(case.get("platform"), str) and isinstance(case.get("workload"), str),
         "case.platform and case.workload must be names or paths"),
        (type(seed) is int and seed >= 0, "case.seed must be a whole number >= 0"),
        (isinstance(overrides, dict)
         and all(isinstance(v, str | int | float | bool) for v in overrides.values()),
         "case.overrides must map keys to values"),
        (isinstance(doc.get("platform_spec", {}), dict), "platform_spec must be an object"),
        (type(met.get("total_ps")) is int, "metrics.total_ps must be a whole number"),
        (_number(met.get("cycles")), "metrics.cycles must be a number"),
        (met.get("macs") is None or _number(met["macs"]), "metrics.macs must be a number"),
        (_table(met.get("bytes", {}), lambda rw: isinstance(rw, dict) and all(
            _number(v) for v in rw.values())), "metrics.bytes must map paths to read/written"),
        (_table(met.get("energy_pj", {}), _number), "metrics.energy_pj must map paths to "
                                                   "numbers"),
        (isinstance(met.get("layers", []), list)
         and all(_layer(e) for e in met.get("layers", [])),
         "metrics.layers must list objects with index, name, engine, cycles and bytes"),
    ]
    return next((why for ok, why in checks if not ok), None)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _table(value: Any, item: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and item(v)
                                           for k, v in value.items())


def _layer(entry: Any) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("name", ""), str)
            and isinstance(entry.get("engine", ""), str)
            and (entry.get("cycles") is None or _number(entry["cycles"]))
            and _table(entry.get("bytes", {}), _number))


def baseline_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The baseline files of a folder, in name order; a missing or empty folder is an error."""
    d = Path(folder)
    if not d.is_dir():
        raise DesimError(f"baseline folder {d} does not exist; record baselines with "
                         f"'desim regress record {d} --platform P --workload W'")
    files = sorted(p for p in d.glob("*.json") if not p.name.startswith("."))
    if not files:
        raise DesimError(f"baseline folder {d} holds no baseline (*.json); record some with "
                         f"'desim regress record {d} --platform P --workload W'")
    return files


# -- comparison ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Delta:
    """One compared figure of a case."""

    item: str                 # "total", "layer 3 conv1", "bytes", "energy", "layers"
    metric: str               # "cycles", "soc.l2 read", ...
    old: float | str | None
    new: float | str | None
    ok: bool

    @property
    def changed(self) -> bool:
        return self.old != self.new

    @property
    def rel(self) -> float | None:
        """(new - old) / old, or None when not a number or old is zero."""
        if isinstance(self.old, int | float) and isinstance(self.new, int | float) and self.old:
            return (self.new - self.old) / abs(self.old)
        return None


def _figures(met: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {("total", "cycles"): met.get("cycles"),
                                        ("total", "time_ps"): met.get("total_ps")}
    if met.get("macs") is not None:
        out[("total", "macs")] = met["macs"]
    for path, rw in sorted((met.get("bytes") or {}).items()):
        for side in ("read", "written"):
            out[("bytes", f"{path} {side}")] = rw.get(side)
    for path, value in sorted((met.get("energy_pj") or {}).items()):
        out[("energy_pj", path)] = value
    for e in met.get("layers") or []:
        item = f"layer {e.get('index')} {e.get('name')}"
        out[(item, "cycles")] = e.get("cycles")
        for level, value in sorted((e.get("bytes") or {}).items()):
            out[(item, f"bytes {level}")] = value
    return out


def _within(old: Any, new: Any, tolerance: float) -> bool:
    if not (isinstance(old, int | float) and isinstance(new, int | float)):
        return old == new
    return math.isclose(old, new, rel_tol=1e-12, abs_tol=0.0) or \
        abs(new - old) <= tolerance * abs(old)


def compare(old: Mapping[str, Any], new: Mapping[str, Any], tolerance: float) -> list[Delta]:
    """Every figure of two ``metrics`` documents, each marked within tolerance or not."""
    names_old = [e.get("name") for e in old.get("layers") or []]
    names_new = [e.get("name") for e in new.get("layers") or []]
    out = []
    if names_old != names_new:
        out.append(Delta("layers", "names", f"{len(names_old)} layers",
                         f"{len(names_new)} layers", False))
    a, b = _figures(old), _figures(new)
    for key in list(a) + [k for k in b if k not in a]:
        va, vb = a.get(key), b.get(key)
        out.append(Delta(key[0], key[1], va, vb, key in a and key in b
                         and _within(va, vb, tolerance)))
    return out


def parse_tolerance(text: str) -> float:
    """``2%`` or ``2`` (both percent) as a fraction; ``0`` is exact."""
    t = text.strip().rstrip("%").strip()
    try:
        value = float(t)
    except ValueError:
        value = -1.0
    if not value >= 0 or not math.isfinite(value):
        raise DesimError(f"--tolerance {text!r}: give a percentage >= 0, e.g. 0, 0.5% or 2%")
    return value / 100


# -- record and check ---------------------------------------------------------------------

def run_case(case: Case, folder: str | os.PathLike[str],
             extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Simulate ``case`` (without a trace) and return its summary document."""
    from desim.driver import simulate

    platform, workload = case.resolve(folder)
    overrides = {**dict(case.overrides), **dict(extra or {})}
    return simulate(platform, workload, seed=case.seed, overrides=overrides,
                    trace=False).summary


def validate(cases: Iterable[Case], folder: str | os.PathLike[str],
             files: Sequence[Path] | None = None) -> None:
    """Fail on an unknown platform, workload or override before anything runs; with
    ``files`` (the baselines the cases come from), the error names the file."""
    from desim.soc.loader import load_platform
    from desim.workload import load_workload

    for i, case in enumerate(cases):
        platform, workload = case.resolve(folder)
        try:
            load_platform(platform).default_spec().with_overrides(dict(case.overrides))
            load_workload(workload)
        except DesimError as exc:
            if files is None:
                raise
            raise DesimError(f"baseline {files[i]}: {exc}") from None


def record(folder: str | os.PathLike[str], cases: Sequence[Case]) -> list[Path]:
    """Run each case and write its baseline into ``folder`` (created when missing)."""
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DesimError(f"cannot create baseline folder {d}: {exc.strerror}") from None
    validate(cases, d)
    return [write_baseline(d / c.file_name, baseline_doc(c, run_case(c, d))) for c in cases]


@dataclass
class CaseResult:
    """The comparison of one baseline with a fresh run of its case."""

    case: Case
    path: Path
    deltas: list[Delta]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.deltas)


def check_case(path: str | os.PathLike[str], tolerance: float,
               extra: Mapping[str, str] | None = None) -> CaseResult:
    """Re-run the case of the baseline at ``path`` and compare."""
    p = Path(path)
    case, doc = load_baseline(p)
    try:
        summary = run_case(case, p.parent, extra)
    except SimulationStalled:
        raise
    except DesimError as exc:
        raise DesimError(f"baseline {p.name}: {exc}") from None
    new = baseline_doc(case, summary)
    return CaseResult(case, p, compare(doc["metrics"], new["metrics"], tolerance),
                      _notes(doc, new))


def _notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    notes = []
    diff = param_diff(old.get("platform_spec", {}), new.get("platform_spec", {}))
    if diff:
        notes.append("platform spec differs from the baseline's: "
                     + ", ".join(f"{k} {a!r} -> {b!r}" for k, a, b in diff))
    if old.get("desim_version") != new.get("desim_version"):
        notes.append(f"recorded with desim {old.get('desim_version')}, now "
                     f"{new.get('desim_version')}")
    return notes


def check(folder: str | os.PathLike[str], tolerance: float,
          extra: Mapping[str, str] | None = None) -> list[CaseResult]:
    """Check every baseline of ``folder``; bad files fail before any case runs."""
    files = baseline_files(folder)
    cases = [load_baseline(p)[0] for p in files]
    validate(cases, folder, files)
    return [check_case(p, tolerance, extra) for p in files]


# -- text ---------------------------------------------------------------------------------

def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}"
    if isinstance(value, int | float):
        return f"{value:,.0f}"
    return str(value)


def format_deltas(results: Sequence[CaseResult], tolerance: float,
                  verbose: bool = False) -> str:
    """The table of deltas: per case its total cycles, and every figure that changed
    (every figure with ``verbose``), failing rows marked FAIL; then notes and a verdict."""
    from desim.trace.inspect import table

    rows = []
    for r in results:
        for d in r.deltas:
            if not (verbose or d.changed or (d.item, d.metric) == ("total", "cycles")):
                continue
            rel = d.rel
            pct = f"{100 * rel:+.2f}%" if rel is not None else ("0.00%" if not d.changed
                                                                else "new" if d.old is None
                                                                else "gone" if d.new is None
                                                                else "changed")
            rows.append((r.case.label, d.item, d.metric, _num(d.old), _num(d.new), pct,
                         "ok" if d.ok else "FAIL"))
    lines = table(("case", "item", "metric", "old", "new", "delta", ""), rows, 3)
    for r in results:
        lines += [f"note: {r.case.label}: {n}" for n in r.notes]
    bad = [r for r in results if not r.ok]
    tol = f"{100 * tolerance:g}%"
    if bad:
        lines.append(f"FAIL: {len(bad)} of {len(results)} case(s) differ beyond {tol}: "
                     + ", ".join(r.path.name for r in bad))
    else:
        lines.append(f"ok: {len(results)} case(s) within {tol}")
    return "\n".join(lines)
