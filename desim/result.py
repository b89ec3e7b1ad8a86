"""What a run produced: the typed result of :func:`desim.simulate`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import desim
from desim.errors import DesimError
from desim.fileio import atomic_open, signals_held
from desim.kernel import Sim
from desim.lock import STAGING_PREFIX, hold
from desim.runtime.executor import Execution
from desim.spec import Spec
from desim.trace import Recorder

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class RunResult:
    """A finished run: its names, spec, simulator, SoC, plan and execution."""

    platform_name: str
    workload_name: str
    #: the workload as run (a functional run's graph carries its weights)
    workload: Any
    spec: Spec
    seed: int
    sim: Sim
    soc: Any
    #: what the SoC mapped (a Schedule for DNN graphs)
    plan: Any
    execution: Execution
    #: the ``functional`` entry of the summary (None in timing runs)
    functional: dict[str, Any] | None = None
    #: the graph outputs of a functional run
    outputs: list[np.ndarray] | None = None
    #: every tensor of a functional run by name (inputs, activations)
    tensors: dict[str, np.ndarray] | None = None
    #: the summary.json document (schema in docs/summary.md)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def tracer(self) -> Recorder | None:
        return self.sim.tracer

    @property
    def clock_hz(self) -> int:
        return self.soc.clock.freq_hz

    @property
    def schedule(self) -> Any:
        """The mapped schedule (None for workloads the SoC runs without one)."""
        from desim.mapping import Schedule

        return self.plan if isinstance(self.plan, Schedule) else None

    def make_summary(self) -> dict[str, Any]:
        """The summary.json document of the run."""
        total = self.sim.now
        comps: dict[str, Any] = {}
        for comp in self.soc.walk():
            busy = comp.busy_until_now()
            comps[comp.path] = {
                "kind": comp.kind,
                "busy_ps": busy,
                "utilization": round(busy / total, 6) if total else 0.0,
                "bytes_read": int(comp.counters.get("bytes_read", 0)),
                "bytes_written": int(comp.counters.get("bytes_written", 0)),
            }
        ex = self.execution
        doc: dict[str, Any] = {
            "desim_version": desim.__version__,
            "platform": {"name": self.platform_name, "params": self.spec.to_dict()},
            "workload": {"name": self.workload_name},
            "seed": self.seed,
            "total_ps": total,
            "cycles": round(self.soc.clock.cycles(total), 3),
            "clock_hz": self.clock_hz,
            "components": comps,
            "layers": ex.layers,
            "macs": ex.macs,
            "energy_pj": ex.energy_pj,
            "energy_static_pj": ex.energy_static_pj,
            "area_mm2": self._areas(),
        }
        if ex.memory is not None:
            doc["memory"] = ex.memory
        doc.update(ex.engines)
        if self.functional is not None:
            doc["functional"] = self.functional
        doc["sim"] = self.sim.stats.to_dict()
        return doc

    def _areas(self) -> dict[str, float]:
        """Silicon area per component that declares one (its ``area_mm2``, else its spec's,
        as the DRAM's 0), times the platform's ``area_scale``, and their ``total``."""
        scale = getattr(self.spec, "area_scale", 1.0)
        areas: dict[str, float] = {}
        for comp in self.soc.walk():
            area = getattr(comp, "area_mm2", None)
            if area is None:
                area = getattr(comp.spec, "area_mm2", None)
            if area is not None:
                areas[comp.path] = round(area * scale, 6)
        areas["total"] = round(sum(areas.values()), 6)
        return areas

    def layers_frame(self) -> pd.DataFrame:
        """The layer records as a pandas DataFrame, one row per layer (nested records
        flattened to dotted columns, e.g. ``bytes.dram``)."""
        try:
            import pandas as pd
        except ImportError:
            raise DesimError("RunResult.layers_frame needs pandas: pip install "
                             "'desim[pandas]'") from None
        return pd.json_normalize(self.summary["layers"]) if self.summary["layers"] else (
            pd.DataFrame())

    def write(self, outdir: str | os.PathLike[str], timeline: bool = True) -> dict[str, Path]:
        """Write summary.json, when traced trace.json.gz and timeline.png, and in functional
        runs output.npy (output_1.npy, ... for further graph outputs): all of them, or
        (interrupted, or failing) none."""
        out = prepare_outdir(outdir)
        with staged(out) as stage:
            paths = self._write(stage, timeline)
        return unstaged(paths, stage, out)

    def _write(self, out: Path, timeline: bool) -> dict[str, Path]:
        from desim.trace import chrome

        paths = {"summary": out / "summary.json"}
        with atomic_open(paths["summary"], "w") as fh:
            json.dump(self.summary, fh, indent=2)
            fh.write("\n")
        for i, value in enumerate(self.outputs or []):
            key = "output" if i == 0 else f"output_{i}"
            paths[key] = out / f"{key}.npy"
            with atomic_open(paths[key], "wb") as fh:
                np.save(fh, value)
        rec = self.tracer
        if rec is not None:
            rec.meta.update({"platform": self.platform_name, "workload": self.workload_name,
                             "seed": self.seed, "clock_hz": self.clock_hz,
                             "total_ps": self.sim.now})
            if rec.dropped:
                rec.meta["dropped_records"] = rec.dropped
            paths["trace"] = chrome.write(rec, out / "trace.json.gz")
            if timeline:
                from desim.trace import timeline as tl

                layers = [(x["name"], x["start_ps"], x["end_ps"])
                          for x in self.summary["layers"]]
                paths["timeline"] = tl.plot(
                    rec, out / "timeline.png", window=(0, max(self.sim.now, 1)),
                    clock_hz=self.clock_hz, layers=layers,
                    components=list(self.summary["components"]),
                    title=f"{self.workload_name} on {self.platform_name}")
        return paths


@contextmanager
def output_dir(outdir: str | os.PathLike[str], command: str = "desim run") -> Iterator[Path]:
    """The output folder of a run, created (with missing parents) before it starts,
    locked against a second run while this one goes (:mod:`desim.lock`), and removed
    again when the run fails before writing into it: a failed run leaves no empty folder
    behind."""
    out = Path(outdir)
    missing = [p for p in (out, *out.parents) if not p.exists()]
    path = prepare_outdir(out)
    try:
        with hold(path, command):
            yield path
    except BaseException:
        for p in missing:  # innermost first; stops at the first that is not empty
            try:
                p.rmdir()
            except OSError:
                break
        raise


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A hidden folder inside ``out`` to write a run's files into. When the block ends
    they move into ``out`` together (SIGINT and SIGTERM held back while they move, so an
    interrupted run leaves all of them or none); when it fails they are deleted."""
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        yield stage
        with signals_held():
            _move_into(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _move_into(src: Path, dst: Path) -> None:
    """Move every entry of folder ``src`` into folder ``dst``, merging subfolders."""
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and target.is_dir():
            _move_into(entry, target)
        else:
            os.replace(entry, target)


def unstaged(paths: Mapping[str, Path], stage: Path, out: Path) -> dict[str, Path]:
    """Where ``paths`` written under ``stage`` are once :func:`staged` moved them."""
    return {k: out / p.relative_to(stage) if p.is_relative_to(stage) else p
            for k, p in paths.items()}


def prepare_outdir(outdir: str | os.PathLike[str]) -> Path:
    """Create the output folder, or fail with a clear message when it cannot be written."""
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DesimError(f"cannot create output directory {out}: {exc.strerror}; "
                         "choose another with -o") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise DesimError(f"output directory {out} is not writable; choose another with -o")
    return out
