"""A sweep's results: one JSON per point under ``points/``, and the table built from them.

``points/<id>.json`` holds the point's summary.json (absent for a failed point) and a
``sweep`` entry: the point, its status and one-line error. ``results.parquet`` is always
rebuilt from those files, so it never loses or duplicates a row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desim.errors import SpecError
from desim.fileio import atomic_open, atomic_path

RESULTS = "results.parquet"

#: the figures of a row, after the swept parameters and the run keys
METRICS = ("latency_s", "cycles", "energy_j", "macs", "mac_per_cycle", "tops_per_w",
           "area_mm2", "l1_peak_bytes", "l2_peak_bytes", "dram_bytes", "sim_wall_s")


def require_pyarrow() -> Any:
    """The pyarrow module, or a SpecError saying how to install it."""
    try:
        import pyarrow
    except ModuleNotFoundError:
        raise SpecError("desim sweep writes parquet and needs pyarrow: "
                        "pip install 'desim[parquet]'") from None
    return pyarrow


def point_path(outdir: Path, pid: str) -> Path:
    """Where the point ``pid`` keeps its result."""
    return outdir / "points" / f"{pid}.json"


def write_point(outdir: Path, pid: str, doc: dict[str, Any]) -> None:
    """Write a point's result atomically: present means done."""
    path = point_path(outdir, pid)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)


def read_point(outdir: Path, pid: str) -> dict[str, Any] | None:
    """The result of the point ``pid``; None when it has none, or one that does not read
    as a point's result (damaged, or not written by desim): the point runs again."""
    path = point_path(outdir, pid)
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return doc if _is_result(doc) else None


def _is_result(doc: Any) -> bool:
    """True when ``doc`` has what :func:`row` and the table need."""
    if not isinstance(doc, dict) or not isinstance(doc.get("sweep"), dict):
        return False
    sweep = doc["sweep"]
    number = (int, float)
    ok = (all(isinstance(sweep.get(k), str) for k in ("platform", "workload", "status"))
          and isinstance(sweep.get("seed"), int) and isinstance(sweep.get("overrides"), dict)
          and isinstance(sweep.get("sim_wall_s"), number)
          and "error" in sweep and isinstance(sweep["error"], str | None))
    if not ok or sweep["status"] != "ok":
        return ok
    mem, area = doc.get("memory", {}), doc.get("area_mm2", {})
    return (isinstance(doc.get("cycles"), number) and isinstance(doc.get("total_ps"), number)
            and isinstance(doc.get("energy_pj"), dict)
            and isinstance(doc["energy_pj"].get("total", 0.0), number)
            and isinstance(doc.get("macs") or 0, number)
            and isinstance(mem, dict) and isinstance(area, dict))


def row(doc: dict[str, Any]) -> dict[str, Any]:
    """The table row of one point's result document."""
    sweep = doc["sweep"]
    out: dict[str, Any] = {"platform": sweep["platform"], "workload": sweep["workload"],
                           "seed": sweep["seed"], "status": sweep["status"],
                           "error": sweep["error"]}
    out.update(dict.fromkeys(METRICS))
    out["sim_wall_s"] = sweep["sim_wall_s"]
    if sweep["status"] != "ok":
        return out
    macs, cycles = doc.get("macs") or 0, doc["cycles"]
    energy_j = doc["energy_pj"].get("total", 0.0) * 1e-12 or None
    latency_s = doc["total_ps"] * 1e-12
    mem = doc.get("memory", {})
    out.update(latency_s=latency_s, cycles=cycles, energy_j=energy_j, macs=macs,
               mac_per_cycle=macs / cycles if cycles else None,
               tops_per_w=2 * macs / energy_j / 1e12 if energy_j else None,
               area_mm2=doc.get("area_mm2", {}).get("total"),
               l1_peak_bytes=mem.get("l1_peak_bytes"), l2_peak_bytes=mem.get("l2_peak_bytes"),
               dram_bytes=mem.get("dram_bytes"))
    return out


def write_table(outdir: Path, pids: Sequence[str]) -> Path:
    """Rebuild ``results.parquet`` from the points ``pids`` that are done, in that order."""
    pa = require_pyarrow()
    import pyarrow.parquet as pq

    docs = [doc for pid in dict.fromkeys(pids) if (doc := read_point(outdir, pid)) is not None]
    keys = list(dict.fromkeys(k for d in docs for k in d["sweep"]["overrides"]))
    columns = {k: _typed([d["sweep"]["overrides"].get(k) for d in docs]) for k in keys}
    rows = [row(d) for d in docs]
    names = [*keys, *(rows[0] if rows else ["platform", "workload", "seed", "status", "error",
                                              *METRICS])]
    data = {k: columns[k] if k in columns else [r[k] for r in rows] for k in names}
    table = pa.table({k: _column(pa, v) for k, v in data.items()})
    path = outdir / RESULTS
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def load(outdir: str | Path) -> Any:
    """A sweep's ``results.parquet`` as a pandas DataFrame."""
    path = Path(outdir) / RESULTS
    if not path.is_file():
        raise SpecError(f"{path} does not exist: run desim sweep ... -o {outdir} first")
    require_pyarrow()
    import pandas as pd
    import pyarrow

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise SpecError(f"{path} is not a readable results table ({type(exc).__name__}: "
                        f"{exc}); run the sweep again with -o {outdir} to rebuild it from "
                        "its points") from None


def _column(pa: Any, values: list[Any]) -> Any:
    """``values`` as an Arrow column; as text when their types do not mix."""
    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values])


def _typed(values: list[Any]) -> list[Any]:
    """A swept parameter's values as numbers when all of them read as numbers."""
    for kind in (int, float):
        try:
            return [None if v is None else _number(v, kind) for v in values]
        except (TypeError, ValueError):
            continue
    return [None if v is None else str(v) for v in values]


def _number(value: Any, kind: type[int] | type[float]) -> int | float:
    if isinstance(value, bool) or (kind is int and isinstance(value, float)):
        raise ValueError(value)
    return kind(value)
