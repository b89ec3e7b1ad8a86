"""One simulated training step: build it, place and tile it, run it on the platform.

What ``desim train`` does, as a library call::

    from desim.training import TrainOptions, train
    result = train("pulp_cluster", "dscnn", TrainOptions(optimizer="adam"))
    result.summary["training"]["phases"]["backward_input"]["cycles"]

The step runs on the same SoC model as inference (DMA between L2 and L1, DRAM, the
cluster's fork/barrier and L1 contention); the cores run floating-point kernels
(:mod:`desim.hw.fp_kernels`). With ``aimc_training``, the forward MVMs of the layers the
inference mapping puts on the crossbars run there, and their weight updates are writes
to the devices (:mod:`desim.training.analog`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from desim import limits
from desim.driver import PlatformLike, capping, check_seed, elaborate
from desim.errors import SpecError
from desim.hw.cluster import Cluster
from desim.hw.fp_kernels import SIMD, UNROLLED, FpJob
from desim.kernel import Sim
from desim.mapping.schedule import Layer, Schedule, Tile
from desim.result import RunResult
from desim.runtime.executor import Execution
from desim.training.engines import AnalogWriteEngine, FpClusterEngine
from desim.training.options import TrainOptions
from desim.training.schedule import plan
from desim.training.step import PHASES, Primitive, TrainingStep, build_step
from desim.workload import load_workload
from desim.workload.graph import Graph

#: the matrix-multiply kernel without autotuning: the library's plain kernels
DEFAULT_KERNEL = {"fp32": "naive", "fp16": "fp16_simd", "bf16": "fp16_simd"}


def kernel_choices(dtype: str) -> tuple[str, ...]:
    """Matrix-multiply kernels a step in ``dtype`` can use."""
    return tuple(UNROLLED) if dtype == "fp32" else SIMD


def autotune(step: TrainingStep, cluster: Cluster) -> dict[str, str]:
    """The fastest kernel per matrix-multiply primitive, each timed on the whole
    primitive as one job (PULP-TrainLib's autotuner benchmarks each layer and step)."""
    out = {}
    simd = step.options.dtype != "fp32"
    for p in step.primitives:
        if p.job != "matmul":
            continue
        out[p.name] = min(kernel_choices(step.options.dtype), key=lambda k: cluster.spec.job_cycles(
            FpJob("matmul", p.n, p.k, p.m, kernel=k, axis=p.axis,
                  copies=p.copies + (p.k * p.m if k == "fp16_simd_t" else 0), simd=simd)))
    return out


def train(platform: PlatformLike, workload: Any, options: TrainOptions | None = None, *,
          seed: int = 0, overrides: Mapping[str, Any] | None = None, trace: bool = False,
          progress: Callable[[Sim, int, int], None] | None = None,
          functional_steps: int = 0, data: str | Path | None = None,
          max_minutes: float | None = limits.DEFAULT_MAX_MINUTES,
          trace_cap: int | None = limits.DEFAULT_TRACE_CAP) -> RunResult:
    """Simulate one training step of ``workload`` on ``platform``; the summary has a
    ``training`` block (see docs/training.md). ``functional_steps`` > 0 also trains the
    graph on real float tensors for that many steps (on ``data``, an ``.npz`` with arrays
    ``x`` and ``y``, or a generated task) and adds its figures as ``training.functional``.
    ``max_minutes`` and ``trace_cap`` limit the run as they do :func:`desim.simulate`'s."""
    options = options or TrainOptions()
    check_seed(seed)
    graph = load_workload(str(workload)) if isinstance(workload, str | Path) else workload
    if not isinstance(graph, Graph):
        raise SpecError(f"training needs a DNN graph (a zoo name or a model file), not the "
                        f"synthetic workload '{getattr(graph, 'name', graph)}'")
    arrays = None
    if functional_steps and data is not None:  # bad data fails before anything runs
        from desim.training.functional import load_data

        arrays = load_data(data)
    limits.check_trace_cap(trace_cap)
    plat, sim, spec, soc = elaborate(platform, overrides, seed, trace, trace_cap)
    sim.progress = capping(progress, sim.tracer)
    base = soc.engines.get("cluster")
    if base is None:
        raise SpecError(f"{plat.name} has no cluster of cores to run the training kernels "
                        f"on (engines: {', '.join(soc.engines) or 'none'})")
    cluster: Cluster = base.cluster
    if options.dtype != "fp32" and not cluster.spec.fp.fp16_simd:
        raise SpecError(f"--dtype {options.dtype} needs FP16 SIMD, which the cores of "
                        f"{plat.name} lack (cluster.fp.fp16_simd = false); use --dtype fp32")
    if not cluster.spec.fp.fpu:
        raise SpecError(f"the cores of {plat.name} have no FPU (cluster.fp.fpu = false); "
                        "floating-point training cannot run on them")
    target = soc.target()
    analog, inference = _analog_layers(options, soc, graph, plat.name)
    step = build_step(graph, options, analog)
    kernels = (autotune(step, cluster) if options.autotune else
               {p.name: DEFAULT_KERNEL[options.dtype] for p in step.primitives
                if p.job == "matmul"})
    extra: dict[str, Layer] = {}
    aimc_report: dict[str, Any] | None = None
    if options.aimc_training:
        from desim.training import analog as an

        assert inference is not None
        extra, aimc_report = an.layers(step, soc, inference)
    schedule, placement = plan(step, target, kernels, extra, options.replay_level)
    if inference is not None:
        schedule = replace(schedule, engines=inference.engines)
    limits.check(limits.schedule_work(soc, schedule), max_minutes,
                 instead="train fewer layers (--trainable last:N) or a smaller workload")
    soc.engines["cluster"] = FpClusterEngine(cluster)
    if options.aimc_training:
        soc.engines["aimc_write"] = AnalogWriteEngine(soc.engines["aimc"].aimc)
    main = sim.process(soc.execute(schedule), "main")
    sim.run()
    execution = cast(Execution, main.value)
    phase = {i: (p.phase, p.sample) for i, p in enumerate(step.primitives)}
    for rec in execution.layers:
        rec["phase"], rec["sample"] = phase[rec["index"]]
    if aimc_report is not None:
        writes = [x for x in execution.layers if x["phase"] == "aimc_write"]
        aimc_report["write_cycles"] = round(sum(x["cycles"] for x in writes), 3)
        aimc_report["write_energy_pj"] = round(sum(x["energy_pj"] for x in writes), 3)
    result = RunResult(plat.name, graph.name, graph, spec, seed, sim, soc, schedule,
                       execution)
    summary = result.make_summary()
    summary["training"] = training_block(step, schedule, placement, execution, kernels,
                                         soc.clock.freq_hz, aimc_report)
    if functional_steps:
        device = soc.engines["aimc"].aimc.spec.write.device if options.aimc_training else None
        summary["training"]["functional"] = functional_block(
            graph, options, functional_steps, arrays, seed, device, sim)
    result.summary = summary
    return result


def functional_block(graph: Graph, options: TrainOptions, steps: int, data: Any, seed: int,
                     device: Any, sim: Sim) -> dict[str, Any]:
    """Train ``graph`` on real tensors; the figures for ``training.functional``."""
    from desim.training.functional import train_functional

    def tick(done: int, total: int) -> None:
        if sim.progress is not None:
            sim.progress(sim, done, total)

    fn = train_functional(graph, options, steps, data, seed, device, tick)
    doc = fn.to_dict()
    doc["loss_first"], doc["loss_last"] = fn.losses[0], fn.losses[-1]
    doc["metric_value"] = fn.metric
    if fn.digital is not None:
        doc["digital_metric"] = fn.digital.metric
        doc["gap"] = fn.accuracy_gap if fn.accuracy_gap is not None else fn.loss_gap
        if fn.pulses and device is not None:
            from desim.hw.analog_write import AnalogWriteSpec, wear
            from desim.training.analog import finite

            most = max(p.max_per_step for p in fn.pulses)
            cells = sum(p.cells for p in fn.pulses)
            mean = sum(p.mean_per_step * p.cells for p in fn.pulses) / max(cells, 1)
            worn = wear(most, min(mean, most), AnalogWriteSpec(device=device))
            doc["steps_to_wear_out"] = {"max": finite(worn.steps_max),
                                        "mean": finite(worn.steps_mean)}
    return doc


def _analog_layers(options: TrainOptions, soc: Any, graph: Graph, platform: str
                   ) -> tuple[frozenset[str], Schedule | None]:
    """The layers on crossbars (from the inference mapping) when training with them."""
    if options.aimc_training is None:
        return frozenset(), None
    if "aimc" not in soc.engines:
        raise SpecError(f"--aimc-training needs a platform with crossbars; {platform} has "
                        f"engines {', '.join(soc.engines)} (try imc_cluster)")
    inference = soc.map(graph)
    on_aimc = frozenset(x.name for x in inference.layers if x.engine == "aimc")
    trained = set(options.trained_layers(graph))
    if not on_aimc & trained:
        raise SpecError(f"--aimc-training {options.aimc_training}: none of the trained layers "
                        f"runs on the crossbars of {platform} (trained: "
                        f"{', '.join(sorted(trained))[:120]}); train layers the crossbars hold")
    entry = inference.engines.get("aimc", {})
    if options.aimc_training != "forward-only" and not entry.get("pinned"):
        raise SpecError(f"--aimc-training {options.aimc_training} updates weights in place, so "
                        f"every layer must stay on the crossbars, but {graph.name} needs "
                        f"{entry.get('groups')} programming groups on {platform}; add "
                        "crossbars (--set aimc.n_crossbars=N) or use forward-only")
    return on_aimc, inference


def training_block(step: TrainingStep, schedule: Schedule, placement: Any,
                   execution: Execution, kernels: dict[str, str], clock_hz: int,
                   aimc: dict[str, Any] | None) -> dict[str, Any]:
    """The ``training`` entry of the summary: per phase, MACs, footprint, AIMC writes."""
    o = step.options
    phases: dict[str, dict[str, Any]] = {}
    for rec in execution.layers:
        ph = phases.setdefault(rec["phase"], {"cycles": 0.0, "energy_pj": 0.0, "macs": 0,
                                              "layers": 0})
        ph["cycles"] += rec["cycles"]
        ph["energy_pj"] += rec["energy_pj"]
        ph["macs"] += rec["macs"]
        ph["layers"] += 1
    phases = {k: {**phases[k], "cycles": round(phases[k]["cycles"], 3),
                  "energy_pj": round(phases[k]["energy_pj"], 3)}
              for k in PHASES if k in phases}
    cycles = sum(p["cycles"] for p in phases.values())
    by_kind = step.footprint()
    l1 = {k: v for k, v in by_kind.items() if k in ("im2col", "transpose")}
    levels = {"l1": l1,
              "l2": placement.by_level["l2"], "dram": placement.by_level["dram"]}
    block: dict[str, Any] = {
        "options": {"trainable": o.trainable, "dtype": o.dtype, "optimizer": o.optimizer,
                    "loss": step.loss, "batch": o.batch, "replay": o.replay,
                    "aimc_training": o.aimc_training, "autotune": o.autotune},
        "trained_layers": list(step.trained),
        "cycles": round(cycles, 3),
        "latency_s": cycles / clock_hz,
        "macs": {"executed": step.macs, "algorithmic": step.algorithmic_macs},
        "energy_pj": round(sum(p["energy_pj"] for p in phases.values()), 3),
        "phases": phases,
        "footprint": {"total_bytes": sum(by_kind.values()), "by_kind": by_kind,
                      "peak_bytes": {"l1": schedule.memory["l1_peak_bytes"],
                                     "l2": placement.peak["l2"],
                                     "dram": placement.peak["dram"]},
                      "by_level": levels, "staging_bytes": placement.staging_bytes},
        "kernels": dict(sorted({k: kernels[k] for k in kernels}.items())),
    }
    if aimc is not None:
        block["aimc"] = aimc
    return block


__all__ = ["DEFAULT_KERNEL", "Primitive", "Tile", "TrainOptions", "autotune", "train"]
