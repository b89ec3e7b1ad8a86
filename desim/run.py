"""One simulation run: build a platform, execute a workload, collect the summary.

This is what ``desim run`` does, as a library call::

    result = simulate("stream_soc", "tiles", seed=0, overrides={"dma.channels": "2"})
    result.summary()           # the summary.json document
    result.write("out")        # summary.json, trace.json.gz, timeline.png

With ``functional=True`` the run also computes real int8 tensors through the same
schedule (docs/functional.md) and ``write`` adds ``output.npy``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
    #: the graph outputs of a functional run (None in timing runs)
    outputs: list[np.ndarray] | None = None
    #: every tensor of a functional run by name (inputs, activations)
    tensors: dict[str, np.ndarray] | None = None

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
        """Write summary.json, when traced trace.json.gz and timeline.png, and in functional
        runs output.npy (output_1.npy, ... for further graph outputs), atomically."""
        from desim.trace import chrome

        out = prepare_outdir(outdir)
        paths = {"summary": out / "summary.json"}
        with atomic_open(paths["summary"], "w") as fh:
            json.dump(self.summary(), fh, indent=2)
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
             overrides: dict[str, Any] | None = None, trace: bool = True,
             functional: bool = False,
             input_tensor: np.ndarray | str | Path | None = None) -> RunResult:
    """Run ``workload`` on ``platform`` to completion and return the result.

    ``functional`` (implied by ``input_tensor``) also computes the graph on real tensors:
    ``input_tensor`` (an array or a ``.npy`` path) or a seeded random input, the model's
    weights or seeded random ones; timing is the same as without it.
    """
    wl = load_workload(workload)
    functional = functional or input_tensor is not None
    if functional:  # bad input fails here, before anything is built
        from desim.functional import mode as fmode

        wl, weights = fmode.functional_graph(wl, seed)
        if input_tensor is None:
            inputs, source = fmode.random_inputs(wl, seed), f"random (seed {seed})"
        else:
            inputs = fmode.load_input(wl, input_tensor)
            source = "array" if isinstance(input_tensor, np.ndarray) else str(input_tensor)
    sim, spec, soc = build(platform, overrides, seed, trace)
    extra: dict[str, Any] = {}
    prepare = getattr(soc, "prepare", None)
    if prepare is not None:  # validation and mapping, before anything runs
        prepare(wl)
    fn = None
    if functional:
        fn = extra["functional"] = fmode.for_soc(soc, wl, inputs, seed)  # the runtime takes it
    sim.process(soc.execute(wl, extra), "main")  # type: ignore[attr-defined]
    sim.run()
    name = Path(platform).stem if platform.endswith(".py") else platform
    result = RunResult(name, getattr(wl, "name", workload), spec, sim, soc, wl, seed, extra)
    if fn is not None:
        result.outputs, result.tensors = fn.outputs(), fn.values
        extra["functional"] = {**fn.summary(), "input": source, "weights": weights}
    return result
