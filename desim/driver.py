"""One simulation run: map a workload onto a platform, execute it, collect the result.

This is what ``desim run`` does, as a library call that takes objects as well as names::

    import desim
    result = desim.simulate("imc_cluster", "resnet8", overrides={"aimc.n_crossbars": 8})
    result.summary["cycles"]   # exactly what summary.json holds
    result.layers_frame()      # the layer records as a pandas DataFrame
    result.write("out")        # summary.json (+ trace.json.gz, timeline.png when traced)

``platform`` is a built-in name, a script path, a loaded platform module, a spec object
whose class can build it (:class:`desim.soc.pulp.SocSpec`) or a
:class:`~desim.soc.loader.Platform`; ``workload`` a built-in name, a model path or a
:class:`~desim.workload.graph.Graph`. The driver composes the steps: elaborate (spec +
overrides, build on a fresh Sim), map (``soc.map``, before anything runs), run
(``soc.execute`` as the main process), and summarise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import numpy as np

from desim import limits
from desim.errors import SpecError
from desim.kernel import Sim
from desim.result import RunResult
from desim.runtime.executor import Execution
from desim.soc.loader import Platform, load_platform
from desim.spec import Spec
from desim.trace import Recorder
from desim.workload import load_workload

PlatformLike = str | Path | ModuleType | Spec | Platform


def elaborate(platform: PlatformLike, overrides: Mapping[str, Any] | None = None,
              seed: int = 0, trace: bool = False,
              trace_cap: int | None = None) -> tuple[Platform, Sim, Spec, Any]:
    """Resolve a platform's spec with overrides and build it on a fresh Sim (traced, with
    at most ``trace_cap`` records kept, when ``trace``)."""
    plat = load_platform(platform)
    spec = plat.default_spec().with_overrides(overrides or {})
    sim = Sim(seed=seed, tracer=Recorder(cap=trace_cap) if trace else None)
    return plat, sim, spec, plat.build(sim, spec)


def capping(progress: Callable[[Sim, int, int], None] | None,
             tracer: Recorder | None) -> Callable[[Sim, int, int], None] | None:
    """``progress``, also applying the trace's record cap after each layer."""
    if tracer is None or tracer.cap is None:
        return progress

    def step(sim: Sim, done: int, total: int) -> None:
        tracer.check_cap()
        if progress is not None:
            progress(sim, done, total)
    return step


def check_seed(seed: Any) -> None:
    """Refuse a seed that is not a whole number >= 0 (numpy's generators take no other)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SpecError(f"seed {seed!r}: give a whole number >= 0")


def simulate(platform: PlatformLike, workload: Any, *, seed: int = 0,
             overrides: Mapping[str, Any] | None = None, trace: bool = False,
             functional: bool = False, inputs: np.ndarray | str | Path | None = None,
             progress: Callable[[Sim, int, int], None] | None = None,
             max_minutes: float | None = limits.DEFAULT_MAX_MINUTES,
             trace_cap: int | None = limits.DEFAULT_TRACE_CAP) -> RunResult:
    """Run ``workload`` on ``platform`` to completion and return the result.

    ``functional`` (implied by ``inputs``) also computes the graph on real tensors:
    ``inputs`` (an array or a ``.npy`` path) or a seeded random input, the model's
    weights or seeded random ones; timing is the same as without it. ``progress(sim,
    done, total)`` is called as the run advances (after each layer of a DNN graph). A run
    estimated to take longer than ``max_minutes`` is refused before it starts (None: no
    limit; see :mod:`desim.limits`). A trace keeps at most ``trace_cap`` records (None: no
    cap); ``result.tracer.dropped`` counts those dropped beyond it.
    """
    check_seed(seed)
    wl = load_workload(str(workload)) if isinstance(workload, str | Path) else workload
    functional = functional or inputs is not None
    if functional:  # bad input fails here, before anything is built
        from desim.functional import mode

        wl, weights = mode.functional_graph(wl, seed)
        if inputs is None:
            values, source = mode.random_inputs(wl, seed), f"random (seed {seed})"
        else:
            values = mode.load_input(wl, inputs)
            source = "array" if isinstance(inputs, np.ndarray) else str(inputs)
    limits.check_trace_cap(trace_cap)
    plat, sim, spec, soc = elaborate(platform, overrides, seed, trace, trace_cap)
    sim.progress = capping(progress, sim.tracer)
    plan = soc.map(wl)  # validation and mapping, before anything runs
    limits.check(limits.schedule_work(soc, plan), max_minutes)
    fn = None
    if functional:
        fn = mode.Functional(wl, plan, values).attach(soc.engines.values(), plan, seed)
    main = sim.process(soc.execute(plan, fn), "main")
    sim.run()
    execution = cast(Execution, main.value)
    result = RunResult(plat.name, getattr(wl, "name", str(workload)), wl, spec, seed, sim,
                       soc, plan, execution)
    if fn is not None:
        result.outputs, result.tensors = fn.outputs(), fn.values
        result.functional = {**fn.summary(), "input": source, "weights": weights}
    result.summary = result.make_summary()
    return result
