"""The schema of ``summary.json``, as typed records: what each key holds, its unit, when
it is present.

One source for three uses: :func:`validate` checks a summary against it (the tests run it
on real runs), :func:`markdown` renders the reference tables of ``docs/summary.md``, and
the records below are the typed reading of a summary for code that consumes one.

Each record is a dataclass whose fields carry a description, a unit and, for keys that
are not always present, the condition (``when``). A record with a ``SECTION`` is rendered
as its own table; the others are flattened into their parent's table as dotted keys. A
record with ``EXTRA`` is an open mapping: besides its fields it takes keys of its own
(component paths in ``energy_pj``, engine entries at the top level).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, ClassVar

from desim.errors import DesimError


def key(doc: str, unit: str = "", when: str = "") -> Any:
    """A field's description, unit and, when it is not always present, the condition."""
    return field(metadata={"doc": doc, "unit": unit, "when": when})


@dataclass(frozen=True)
class Extra:
    """The keys an open record takes besides its fields: placeholder, type, meaning."""

    name: str
    type: Any
    doc: str
    unit: str = ""


# -- records ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlatformEntry:
    """The platform that ran."""

    name: str = key("platform name (built-in) or script stem")
    params: dict[str, Any] = key("the fully resolved platform spec, overrides applied: every "
                                 "key is settable with `--set` (see [platforms.md](platforms.md))")


@dataclass(frozen=True)
class WorkloadEntry:
    """The workload that ran."""

    name: str = key("workload name (built-in) or model file stem")


@dataclass(frozen=True)
class Component:
    """One component of the SoC tree (memories, DMA engines, links, engines)."""

    SECTION: ClassVar[str] = "Components: `components[path]`"

    kind: str = key("model kind: `soc`, `sram`, `dma`, `interconnect`, `engine`, `dram`, ...")
    busy_ps: int = key("time during which at least one of its lanes was busy (the union of "
                       "its busy intervals)", "ps")
    utilization: float = key("`busy_ps / total_ps`", "fraction")
    bytes_read: int = key("bytes read from this component (memories) or by it (masters)",
                          "B")
    bytes_written: int = key("bytes written to this component (memories) or by it "
                             "(masters)", "B")


@dataclass(frozen=True)
class LevelBytes:
    """Bytes a layer moved at each memory level."""

    l1: int = key("bytes read and written in L1", "B")
    l2: int = key("bytes read and written in L2 (0 without an L2)", "B")
    dram: int = key("bytes read and written in DRAM", "B")


@dataclass(frozen=True)
class StallCycles:
    """Cycles a layer's engine sat idle waiting for data."""

    dma: float = key("waiting for tiles to arrive in L1 from on-chip memory", "cycles")
    dram: float = key("waiting for weights or activations streamed from DRAM", "cycles")


@dataclass(frozen=True)
class Layer:
    """One executed op of a DNN graph, in execution order (the list is empty for workloads
    without layers)."""

    SECTION: ClassVar[str] = "Layers: `layers[i]`"

    index: int = key("position in execution order")
    name: str = key("op name from the graph")
    kind: str = key("op kind: `conv2d`, `depthwise_conv2d`, `fully_connected`, `add`, ...")
    engine: str = key("what ran it: `cluster`, `aimc`, another engine of the platform, or "
                      "`none` (ops that move no data, e.g. reshape)")
    start_ps: int = key("when the layer's first job started", "ps")
    end_ps: int = key("when its last output was written", "ps")
    cycles: float = key("`end_ps - start_ps` in cycles of the main clock", "cycles")
    macs: int = key("MACs of the op (padded positions count)", "MAC")
    macs_per_cycle: float = key("`macs / cycles`", "MAC/cycle")
    tiles: int = key("number of tiles the layer was cut into")
    bytes: LevelBytes = key("bytes moved at each level for this layer")
    bound: str = key("`compute`, `transfer` or `setup`: what took most of the layer's "
                     "time (computing, waiting for data, or its engine's set-up)")
    compute_cycles: float = key("cycles during which the layer's engine was computing",
                                "cycles")
    setup_cycles: float = key("cycles the layer waited for its engine's set-up before its "
                              "tiles, e.g. the crossbar programming of the group it opens "
                              "(work done for every layer of the group)", "cycles")
    setup_energy_pj: float = key("energy spent during that set-up (part of `energy_pj`)",
                                 "pJ")
    stall_cycles: StallCycles = key("cycles the engine sat idle within the layer")
    energy_pj: float = key("energy spent while the layer ran", "pJ")
    energy_by_component_pj: dict[str, float] = key(
        "that energy by component path (the components of the top-level `energy_pj`); the "
        "values add up to `energy_pj` within rounding", "pJ")
    l1_footprint_bytes: int = key("L1 the layer's tiles occupy (double-buffered tiles, "
                                  "im2col buffer)", "B")
    l2_live_bytes: int = key("L2 occupied while the layer runs: live activations, resident "
                             "weights, staging", "B")
    phase: str = key("the training phase it belongs to (see `training.phases`)",
                     when="`desim train`")
    sample: int = key("the sample of the batch it processes (0 for the update)",
                      when="`desim train`")


@dataclass(frozen=True)
class Energy:
    """Energy per component that accounts it, and their sum."""

    EXTRA: ClassVar[Extra] = Extra("<path>", float, "energy of the component at that path",
                                   "pJ")

    total: float = key("sum over the components", "pJ",
                       when="energy is modelled (the object is empty otherwise)")


@dataclass(frozen=True)
class Area:
    """Silicon area per component that declares one, and their sum."""

    EXTRA: ClassVar[Extra] = Extra("<path>", float, "area of the component at that path, "
                                   "times the platform's `area_scale` (0 off chip: DRAM)",
                                   "mm^2")

    total: float = key("sum over the components", "mm^2")


@dataclass(frozen=True)
class Memory:
    """Memory use of a mapped workload (DNN graphs)."""

    SECTION: ClassVar[str] = "Memory: `memory`"

    l1_peak_bytes: int = key("largest L1 footprint of a layer's tiles", "B")
    l2_peak_bytes: int = key("high-water mark of L2 allocation: activations, weights kept in "
                             "L2, staging buffers (0 without an L2)", "B")
    dram_bytes: int = key("DRAM allocated to the tensors placed there (those that do not fit "
                          "on chip)", "B")
    dram_traffic_bytes: int = key("bytes read from and written to DRAM during the run", "B")


@dataclass(frozen=True)
class ProgrammingGroup:
    """One reprogramming of the crossbars during the run."""

    SECTION: ClassVar[str] = "Programming groups: `aimc.programming[i]`"

    before: str = key("the layer that waited for it (the group's first layer)")
    layers: list[str] = key("the layers whose weights it wrote, in execution order")
    blocks: int = key("crossbar blocks written")
    rows: int = key("crossbar rows written", "rows")
    cycles: float = key("time from its first weight fetch to its last write", "cycles")
    energy_pj: float = key("programming energy of its writes", "pJ")


@dataclass(frozen=True)
class ProgrammedLayer:
    """Programming done on one layer's behalf during the run."""

    cycles: float = key("crossbar time spent writing the layer's blocks", "cycles")
    rows: int = key("rows written for it", "rows")
    energy_pj: float = key("energy of those writes", "pJ")


@dataclass(frozen=True)
class Aimc:
    """The AIMC engine's entry: how the layers were put on the crossbars."""

    SECTION: ClassVar[str] = "AIMC engine entry: `aimc`"

    pinned: bool = key("all AIMC layers fit at once: programmed before the run, never "
                       "reprogrammed")
    groups: int = key("programming groups: layer groups programmed in turn when not pinned")
    crossbars_used: int = key("crossbars holding weights")
    crossbars: int = key("crossbars of the platform (`aimc.n_crossbars`)")
    pinned_rows: int = key("crossbar rows programmed before the run (0 when not pinned)",
                           "rows")
    row_writes: int = key("crossbar rows written, before and during the run", "rows")
    packing_efficiency: float = key("cells holding weights / cells of the crossbars in use, "
                                    "over every programming", "fraction")
    programming: list[ProgrammingGroup] = key("each reprogramming during the run (empty "
                                              "when pinned)")
    programmed_layers: dict[str, ProgrammedLayer] = key("programming during the run per "
                                                        "layer whose weights it wrote")
    usage: str = key("one line on how the crossbars were used (the text summary prints it)")
    fallback: list[str] = key("layers the crossbars rejected (too large, or weights that "
                              "would force reprogramming), run by another engine",
                              when="a layer was rejected")
    fallback_reasons: dict[str, str] = key(
        "per rejected layer, why and where it went (its schedule note): too large for the "
        "crossbars, or weights that would force reprogramming while the rest pin without "
        "them", when="a layer was rejected")


@dataclass(frozen=True)
class Functional:
    """What a functional run computed (see [functional.md](functional.md))."""

    SECTION: ClassVar[str] = "Functional runs: `functional`"

    output_file: str = key("file of the first graph output: `output.npy`")
    output_files: list[str] = key("every output file: `output.npy`, `output_1.npy`, ...",
                                  when="the graph has more than one output")
    input: str = key("where the input came from: `random (seed N)`, the `--input` path, or "
                     "`array`")
    weights: str = key("where the weights came from: `model`, or `random (seed N)`")
    top1_agreement: bool | float = key(
        "whether the output's largest element is the digital result's (a bool for one row, "
        "the fraction of rows that agree for a batch)", when="an engine with numerics of its "
        "own (AIMC) ran layers")
    snr_db: float | None = key(
        "`10 log10(sum ref^2 / sum (out - ref)^2)` over the dequantised outputs; null when "
        "they are identical", "dB", when="as `top1_agreement`")
    layer_snr_db: dict[str, float | None] = key(
        "per layer of such an engine, the same SNR of its output against the digital layer "
        "fed the same input (the error that layer adds)", "dB", when="as `top1_agreement`")


@dataclass(frozen=True)
class TrainingOptions:
    """The options the step was built with (``desim train`` flags)."""

    trainable: str = key("`all`, `last:N` or the layer names trained")
    dtype: str = key("`fp32`, `fp16` or `bf16`")
    optimizer: str = key("`sgd`, `momentum` or `adam`")
    loss: str = key("`mse` or `cross_entropy`")
    batch: int = key("samples per weight update (gradients accumulated)")
    replay: int = key("latent-replay buffer, in samples (0: none)")
    aimc_training: str | None = key("`forward-only`, `mixed-precision`, `analog-sgd`, or null "
                                    "(digital training)")
    autotune: bool = key("whether each matrix multiply took its fastest kernel")


@dataclass(frozen=True)
class Phase:
    """One phase of the step: the layers that carry it."""

    cycles: float = key("cycles of its layers", "cycles")
    energy_pj: float = key("energy spent while they ran", "pJ")
    macs: int = key("MACs executed", "MAC")
    layers: int = key("number of its layers (primitives)")


@dataclass(frozen=True)
class TrainingMacs:
    """MACs of the step."""

    executed: int = key("what the kernels execute (the input gradient's full convolution "
                        "over padding zeros included)", "MAC")
    algorithmic: int = key("the forward-equivalent work of each primitive", "MAC")


@dataclass(frozen=True)
class PeakBytes:
    """Most bytes live at once per level."""

    l1: int = key("L1: the largest layer's tiles (double-buffered) with their im2col and "
                  "transpose buffers", "B")
    l2: int = key("L2: live tensors (lifetime-aware) and DRAM staging", "B")
    dram: int = key("DRAM: live tensors that did not fit L2", "B")


@dataclass(frozen=True)
class Footprint:
    """The training tensors: their sizes by kind, where they were placed, the peaks."""

    total_bytes: int = key("sum of every tensor's size (no sharing)", "B")
    by_kind: dict[str, int] = key(
        "bytes per kind: `activation` (kept for backward), `act_grad`, `weight`, "
        "`weight_grad`, `optimizer_state`, `im2col`, `transpose`, `replay`, `chi` "
        "(mixed-precision buffer), `label`", "B")
    peak_bytes: PeakBytes = key("most bytes live at once per level")
    by_level: dict[str, dict[str, int]] = key(
        "bytes per kind placed in `l2` and `dram`; `l1` lists the im2col and transpose "
        "buffers as the library sizes them (whole layers: desim builds them per tile, "
        "within `peak_bytes.l1`)", "B")
    staging_bytes: int = key("L2 reserved to stage DRAM operands (0: everything in L2)",
                             "B")


@dataclass(frozen=True)
class MaxMean:
    """A figure for the busiest and the mean device."""

    max: float | None = key("the busiest device's (null: never written)")
    mean: float | None = key("the mean over devices (null: never written)")


@dataclass(frozen=True)
class TrainingAimc:
    """Writes to the crossbars and their wear (see [training.md](training.md))."""

    mode: str = key("the crossbar training mode")
    device: str = key("device technology (`aimc.write.device.technology`)")
    estimate: str = key("how the pulse counts were obtained")
    reprogram_every: int | None = key("forward-only: steps between reprogrammings")
    pulses_per_cell: MaxMean = key("pulses per cell per step", "pulses")
    pulses_per_device_per_step: MaxMean = key("pulses per device per step, a PCM pair's "
                                              "refreshes included", "pulses")
    refreshes_per_step: float = key("whole-array refreshes of a PCM pair per step")
    endurance_cycles: float = key("pulses a device survives", "pulses")
    steps_to_wear_out: MaxMean = key("steps until the device reaches its endurance",
                                     "steps")
    layers: dict[str, Any] = key("per crossbar layer: blocks, pulses per step, most "
                                 "pulses of one device per step")
    write_cycles: float = key("cycles of the step's write layers", "cycles")
    write_energy_pj: float = key("energy of the step's write layers", "pJ")


@dataclass(frozen=True)
class Training:
    """One training step (``desim train``, see [training.md](training.md))."""

    SECTION: ClassVar[str] = "Training: `training`"

    options: TrainingOptions = key("the options the step was built with")
    trained_layers: list[str] = key("the weighted layers the step updates")
    cycles: float = key("the step's cycles (its phases added)", "cycles")
    latency_s: float = key("`cycles` at the main clock", "s")
    macs: TrainingMacs = key("MACs executed and algorithmic")
    energy_pj: float = key("energy of the step (its phases added)", "pJ")
    phases: dict[str, Phase] = key("per phase, in order: `forward`, `loss`, "
                                   "`backward_weight`, `backward_input`, `update`, "
                                   "`aimc_write`")
    footprint: Footprint = key("the step's tensors by kind and level")
    kernels: dict[str, str] = key("the matrix-multiply kernel of each matmul primitive")
    aimc: TrainingAimc = key("the crossbars' writes and wear", when="`--aimc-training`")
    functional: dict[str, Any] = key(
        "real float training: `steps`, `losses` (per step), `loss_first`, `loss_last`, "
        "`test_loss_before`, `test_loss`, `accuracy_before`, `accuracy`, `metric` and "
        "`metric_value` (held-out), with crossbars `digital` (the same run trained "
        "digitally), `gap`, `loss_gap`, `accuracy_gap`, `pulses` per layer, "
        "`steps_to_wear_out`", when="`--functional`")


@dataclass(frozen=True)
class SimStats:
    """What the simulation cost (not deterministic: wall time varies run to run)."""

    events: int = key("SimPy events processed")
    wall_s: float = key("wall-clock time spent in the event loop", "s")
    events_per_s: float = key("`events / wall_s`", "events/s")


@dataclass(frozen=True)
class Summary:
    """The document ``desim run`` writes as ``summary.json`` (``RunResult.summary``)."""

    SECTION: ClassVar[str] = "Top level"
    EXTRA: ClassVar[Extra] = Extra(
        "<engine>", dict[str, Any], "the entry of an engine that reports one, named after "
        "the engine (`aimc` above is the built-in one; an engine a platform script defines "
        "may add its own); present when the platform has that engine")

    desim_version: str = key("version of desim that produced the file")
    platform: PlatformEntry = key("the platform that ran")
    workload: WorkloadEntry = key("the workload that ran")
    seed: int = key("root random seed")
    total_ps: int = key("simulated time from 0 to the end of the last activity", "ps")
    cycles: float = key("`total_ps` in cycles of the platform's main clock", "cycles")
    clock_hz: int = key("frequency of the platform's main clock", "Hz")
    components: dict[str, Component] = key("one record per component, by path (`soc.l1`, "
                                           "...)")
    layers: list[Layer] = key("per-layer records in execution order (empty for workloads "
                              "without layers)")
    macs: int = key("multiply-accumulates executed (0 when the workload does not count "
                    "them)", "MAC")
    energy_pj: Energy = key("energy per component path, and `total`", "pJ")
    energy_static_pj: Energy = key("the static part of `energy_pj` (DRAM background and "
                                   "refresh, idle cores) per component path, and `total`; "
                                   "the dynamic part is the difference", "pJ")
    area_mm2: Area = key("silicon area per component path, and `total`, from the published "
                         "figures or stated assumptions of each component's spec (see "
                         "[models/area.md](models/area.md))", "mm^2")
    memory: Memory = key("peak footprint per level and DRAM traffic",
                         when="DNN workloads (a mapped schedule)")
    aimc: Aimc = key("the AIMC engine's entry", when="platforms with crossbars")
    functional: Functional = key("what a functional run computed",
                                 when="functional runs (`--functional`, `--input`)")
    training: Training = key("the training step", when="`desim train`")
    sim: SimStats = key("simulator statistics")


# -- validation ---------------------------------------------------------------------------

def validate(doc: Any, engines: Iterable[str] = (), partial: bool = False) -> None:
    """Check ``doc`` against :class:`Summary`: required keys, types, no unknown keys where a
    record is closed. Raises :class:`DesimError` naming the first offending key path.

    An unknown top-level key passes as an engine entry when it names an engine: one that
    ran a layer (``layers[].engine``) or one given in ``engines``. With ``partial``, the
    top level and the layer records may lack keys and have unknown ones (a summary written
    by hand, or by another version of desim); the keys present must still have their types
    and every other record must be whole.
    """
    layers = doc.get("layers") if isinstance(doc, Mapping) else None
    known = set(engines) | {x.get("engine") for x in layers or () if isinstance(x, Mapping)
                            and isinstance(x.get("engine"), str)}
    _check(doc, Summary, "", known, partial)


def _check(value: Any, tp: Any, path: str, engines: AbstractSet[Any] = frozenset(),
           partial: bool = False) -> None:
    if dataclasses.is_dataclass(tp):
        _check_record(value, tp, path, engines, partial)
        return
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        for option in args:
            try:
                _check(value, option, path, partial=partial)
                return
            except DesimError:
                continue
        _fail(path, _type_name(tp), value)
    elif origin is list:
        if not isinstance(value, list):
            _fail(path, _type_name(tp), value)
        for i, item in enumerate(value):
            _check(item, args[0], f"{path}[{i}]", partial=partial)
    elif origin is dict:
        if not isinstance(value, Mapping):
            _fail(path, _type_name(tp), value)
        for k, item in value.items():
            if not isinstance(k, str):
                _fail(f"{path}.{k!r}", "a string key", k)
            _check(item, args[1], _join(path, k), partial=partial)
    elif not _is_instance(value, tp):
        _fail(path, _type_name(tp), value)


def _check_record(value: Any, tp: Any, path: str, engines: AbstractSet[Any],
                  partial: bool = False) -> None:
    if not isinstance(value, Mapping):
        _fail(path, f"an object ({tp.__name__})", value)
    hints = typing.get_type_hints(tp)
    names = set()
    for f in dataclasses.fields(tp):
        names.add(f.name)
        if f.name in value:
            _check(value[f.name], hints[f.name], _join(path, f.name), partial=partial)
        elif not f.metadata["when"] and not (partial and tp in _LENIENT):
            raise DesimError(f"summary.json: {_join(path, f.name)}: required key is missing; "
                             f"expected {_type_name(hints[f.name])}: {f.metadata['doc']}")
    extra: Extra | None = getattr(tp, "EXTRA", None)
    for k in value:
        if k in names:
            continue
        where = _join(path, k)
        if partial and tp in _LENIENT:
            continue
        if extra is None:
            raise DesimError(f"summary.json: {where}: unknown key; {path or 'the top level'} "
                             f"takes {', '.join(sorted(names))}")
        if tp is Summary and k not in engines:
            raise DesimError(f"summary.json: {where}: unknown top-level key; expected one of "
                             f"{', '.join(sorted(names))}, or the entry of an engine that "
                             "ran a layer (layers[].engine) or is passed as engines=")
        _check(value[k], extra.type, where)


#: the records a partial validation lets lack keys: read key by key, with defaults
_LENIENT = (Summary, Layer)


def _is_instance(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if isinstance(value, bool):
        return tp is bool
    if tp is float:
        return isinstance(value, int | float)
    return isinstance(value, tp)


def _join(path: str, k: str) -> str:
    return f"{path}.{k}" if path else str(k)


def _fail(path: str, expected: str, value: Any) -> typing.NoReturn:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise DesimError(f"summary.json: {path or 'the document'}: expected {expected}, got "
                     f"{_type_name(type(value))} {shown}")


# -- rendering ----------------------------------------------------------------------------

_NAMES = {str: "string", int: "int", float: "number", bool: "bool", type(None): "null",
          Any: "any", dict: "object", list: "list"}


def _type_name(tp: Any) -> str:
    """``tp`` in JSON words: ``int``, ``list of Layer``, ``object of number``, ..."""
    if dataclasses.is_dataclass(tp):
        return "object"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in args)
    inner = "records" if args and dataclasses.is_dataclass(args[-1]) else (
        _type_name(args[-1]) if args else "")
    if origin is list:
        return f"list of {inner}"
    if origin is dict:
        return "object" if args[1] is Any else f"object of {inner}"
    return _NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def _link(tp: Any) -> str:
    """The section a field's record is rendered in, as a Markdown link (or nothing)."""
    inner = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)]
    record = tp if dataclasses.is_dataclass(tp) else (inner[0] if inner else None)
    section = getattr(record, "SECTION", None)
    if section is None:
        return ""
    anchor = "".join(c for c in section.lower().replace(" ", "-") if c.isalnum() or c in "-_")
    return f" (see [below](#{anchor}))"


def _rows(tp: Any, prefix: str) -> list[list[str]]:
    """Table rows of ``tp``'s fields: records without a section inline, as dotted keys."""
    hints = typing.get_type_hints(tp)
    rows = []
    for f in dataclasses.fields(tp):
        ftype, meta = hints[f.name], f.metadata
        name = f"{prefix}{f.name}"
        rows.append([f"`{name}`", _type_name(ftype), meta["unit"], meta["when"] or "always",
                     meta["doc"] + _link(ftype)])
        if dataclasses.is_dataclass(ftype) and not hasattr(ftype, "SECTION"):
            rows += _rows(ftype, f"{name}.")
    extra: Extra | None = getattr(tp, "EXTRA", None)
    if extra is not None:
        rows.append([f"`{prefix}{extra.name}`", _type_name(extra.type), extra.unit,
                     "open: any number of such keys", extra.doc])
    return rows


def _sections(tp: Any) -> list[Any]:
    """``tp`` and every record with a section below it, depth first, each once."""
    out = [tp]
    hints = typing.get_type_hints(tp)
    for f in dataclasses.fields(tp):
        for t in (hints[f.name], *typing.get_args(hints[f.name])):
            if dataclasses.is_dataclass(t):
                out += [s for s in _sections(t) if s not in out]
    return [t for t in out if hasattr(t, "SECTION")]


def markdown() -> str:
    """The reference tables of ``summary.json``: one per record with a section."""
    out = []
    for tp in _sections(Summary):
        doc = " ".join((tp.__doc__ or "").split()).replace("``", "`")
        out += [f"## {tp.SECTION}", "", doc, "",
                "| key | type | unit | present | meaning |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |"
                for row in _rows(tp, "")]
        out.append("")
    return "\n".join(out)


#: the line of docs/summary.md below which :func:`markdown` writes
MARKER = "<!-- generated by desim.schema.markdown(); do not edit below -->"


def with_reference(text: str) -> str:
    """``text`` (a document holding :data:`MARKER`) with everything below the marker
    regenerated from the schema."""
    head, sep, _ = text.partition(MARKER)
    if not sep:
        raise DesimError(f"no line '{MARKER}' to write the summary.json reference below")
    return f"{head}{MARKER}\n\n{markdown()}"


if __name__ == "__main__":  # python -m desim.schema docs/summary.md: regenerate in place
    import sys
    from pathlib import Path

    doc = Path(sys.argv[1])
    doc.write_text(with_reference(doc.read_text()))
