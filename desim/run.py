"""One simulation run: build a platform, execute a workload, collect the summary.

This is what ``desim run`` does, as a library call::

    result = simulate("stream_soc", "tiles", seed=0, overrides={"dma.channels": "2"})
    result.summary()           # the summary.json document
    result.write("out")        # summary.json, trace.json.gz, timeline.png
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import desim
from desim.errors import DesimError
from desim.fileio import atomic_open
from desim.kernel import Component, Sim
from desim.registry import load_platform
from desim.spec import Spec
from desim.trace import Recorder
from desim.workload import load_workload


@dataclass
class RunResult:
    """Everything a finished run produced."""

    platform_name: str
    workload_name: str
    spec: Spec
    sim: Sim
    soc: Component
    workload: Any
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tracer(self) -> Recorder | None:
        return self.sim.tracer

    @property
    def clock_hz(self) -> int:
        return self.soc.clock.freq_hz

    def summary(self) -> dict[str, Any]:
        """The summary.json document (schema in docs/summary.md)."""
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
        doc: dict[str, Any] = {
            "desim_version": desim.__version__,
            "platform": {"name": self.platform_name, "params": self.spec.to_dict()},
            "workload": {"name": self.workload_name},
            "seed": self.seed,
            "total_ps": total,
            "cycles": round(self.soc.clock.cycles(total), 3),
            "clock_hz": self.clock_hz,
            "components": comps,
            "layers": self.extra.get("layers", []),
        }
        doc.update({k: v for k, v in self.extra.items() if k != "layers"})
        doc["sim"] = self.sim.stats.to_dict()
        return doc

    def write(self, outdir: str | os.PathLike[str], timeline: bool = True) -> dict[str, Path]:
        """Write summary.json, and when traced trace.json.gz and timeline.png, atomically."""
        from desim.trace import chrome

        out = prepare_outdir(outdir)
        paths = {"summary": out / "summary.json"}
        with atomic_open(paths["summary"], "w") as fh:
            json.dump(self.summary(), fh, indent=2)
            fh.write("\n")
        rec = self.tracer
        if rec is not None:
            rec.meta.update({"platform": self.platform_name, "workload": self.workload_name,
                             "seed": self.seed, "clock_hz": self.clock_hz,
                             "total_ps": self.sim.now})
            paths["trace"] = chrome.write(rec, out / "trace.json.gz")
            if timeline:
                from desim.trace import timeline as tl

                paths["timeline"] = tl.plot(
                    rec, out / "timeline.png", clock_hz=self.clock_hz,
                    title=f"{self.workload_name} on {self.platform_name}")
        return paths


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


def build(platform: str, overrides: dict[str, Any] | None = None, seed: int = 0,
          trace: bool = True) -> tuple[Sim, Spec, Component]:
    """Elaborate a platform: resolve its spec with overrides and build it on a fresh Sim."""
    module = load_platform(platform)
    spec = module.default_spec().with_overrides(overrides or {})
    sim = Sim(seed=seed, tracer=Recorder() if trace else None)
    soc = module.build(sim, spec)
    return sim, spec, soc


def simulate(platform: str, workload: str, seed: int = 0,
             overrides: dict[str, Any] | None = None, trace: bool = True) -> RunResult:
    """Run ``workload`` on ``platform`` to completion and return the result."""
    wl = load_workload(workload)
    sim, spec, soc = build(platform, overrides, seed, trace)
    extra: dict[str, Any] = {}
    prepare = getattr(soc, "prepare", None)
    if prepare is not None:  # validation and mapping, before anything runs
        prepare(wl)
    sim.process(soc.execute(wl, extra), "main")  # type: ignore[attr-defined]
    sim.run()
    name = Path(platform).stem if platform.endswith(".py") else platform
    return RunResult(name, getattr(wl, "name", workload), spec, sim, soc, wl, seed, extra)
