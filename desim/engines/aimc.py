"""AIMC crossbars as an engine: dense convolutions and fully connected layers as MVMs.

A layer's weights form a ``K x N`` matrix (``K = k_h * k_w * C_in``) cut into crossbar
blocks and packed on the crossbars (:mod:`desim.engines.crossbar_packing`): pinned when
every layer fits at once, else in programming groups, the crossbars rewritten before each
group's first layer. A tile of ``h`` rows x ``c`` channels is one
:class:`~desim.hw.jobs.MvmJob` of ``h * W_out`` products per block its channels touch;
a matrix of more than one row block adds its partial sums on the cluster (one add job of
``(row blocks - 1)`` planes). Weights never enter L1 for the MVMs; they do while a
group is programmed (DMA to L1, then written; the next blocks' fetches overlap the
current writes, as many blocks in flight as L1 areas, two when the crossbars program one
at a time).

The allocation rejects two kinds of layer, which the mapper then runs on another engine:
one too large for all the crossbars at once, and one whose weights would force
reprogramming. When the layers do not pin, the layers whose own programming takes longer
than the extra time running them on the cores (``accumulator``) costs are candidates;
greedily, least weight reuse first (most weight cells per MAC), they are left out until
the rest pin; then those the rest still pin with come back, best reuse first. If the
rest never pin, none is left out: the groups are reprogrammed anyway. The cores' time is
their compute for the whole layer as one tile, which omits their data movement: a lower
bound, so a layer moves only when programming it clearly costs more.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import simpy

from desim.engines.base import Engine, EngineMapping, L1Needs
from desim.engines.cluster import ClusterEngine
from desim.engines.crossbar_packing import Block, allocate, cut
from desim.functional.analog import AnalogModel, AnalogSpec, crossbar_spec
from desim.hw.aimc import Aimc
from desim.hw.jobs import JobTiming, MvmJob, ProgramJob
from desim.mapping.schedule import Copy
from desim.mapping.tiler import Geometry, geometry
from desim.workload.op import Op, OpKind

if TYPE_CHECKING:
    from desim.mapping.schedule import Layer, Schedule, Tile
    from desim.runtime.executor import Runtime


def matrix_of(op: Op, g: Geometry | None = None) -> tuple[int, int]:
    """(K, N): the weight matrix of a dense op as a crossbar sees it (``g``: its geometry,
    when known already)."""
    g = geometry(op) if g is None else g
    return g.k_h * g.k_w * g.c_in, g.c_out


@dataclass(frozen=True)
class AimcLayer:
    """A layer's place on the crossbars: its blocks, and those to program before it."""

    w_out: int
    weights: str  # the weight tensor programming reads
    k: int  # matrix rows (the weight tensor's row stride when programming)
    blocks: tuple[Block, ...]
    program: tuple[Block, ...] = ()

    @property
    def row_blocks(self) -> int:
        return len({(b.k0, b.k1) for b in self.blocks})

    def blocks_for(self, c0: int, c1: int) -> list[tuple[Block, int, int]]:
        """The blocks overlapping output channels ``[c0, c1)``, each with the overlapping
        column range."""
        out = []
        for b in self.blocks:
            lo, hi = max(b.n0, c0), min(b.n1, c1)
            if lo < hi:
                out.append((b, lo, hi))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"w_out": self.w_out, "weights": self.weights, "k": self.k,
                "blocks": [asdict(b) | {"tag": b.tag} for b in self.blocks],
                "program": [b.tag for b in self.program]}


class AimcEngine(Engine):
    """The crossbars of ``aimc``; partial sums of split matrices add on ``accumulator``.

    ``analog`` holds the non-idealities functional runs apply.
    """

    name = "aimc"
    component: Aimc

    def __init__(self, aimc: Aimc, accumulator: ClusterEngine, analog: AnalogSpec):
        super().__init__(aimc)
        self.aimc, self.accumulator, self.analog = aimc, accumulator, analog
        #: one record per programming group run (see :meth:`results`)
        self._groups: list[dict[str, Any]] = []
        #: layer -> cycles, rows and energy of programming its own blocks
        self._programmed: dict[str, dict[str, float]] = {}

    # -- mapping -------------------------------------------------------------------------

    def supports(self, op: Op) -> str | None:
        if op.kind not in (OpKind.CONV2D, OpKind.FULLY_CONNECTED):
            return ("the crossbars run dense convolutions and fully connected layers, "
                    f"not {op.kind.value}")
        return None

    def l1_needs(self, op: Op) -> L1Needs:
        return L1Needs(weights=False, scratch_bytes=0,
                       row_quantum=self.accumulator.cluster.spec.n_cores)

    def tile_cycles(self, op: Op, g: Geometry, h: int, c: int) -> int:
        spec, clock = self.aimc.spec, self.aimc.clock
        k, _ = matrix_of(op, g)
        cycles = 0
        for n0 in range(0, c, spec.cols):
            for k0 in range(0, k, spec.rows):
                cycles += spec.batch_cycles(min(spec.rows, k - k0), min(spec.cols, c - n0),
                                            h * g.w_out, clock)
        row_blocks = -(-k // spec.rows)
        if row_blocks > 1:
            cycles += self.accumulator.add_cycles(h, g.w_out, c * (row_blocks - 1))
        return cycles

    def tile_energy_pj(self, op: Op, g: Geometry, h: int, c: int) -> float:
        spec = self.aimc.spec
        k, _ = matrix_of(op, g)
        energy = 0.0
        for n0 in range(0, c, spec.cols):
            for k0 in range(0, k, spec.rows):
                energy += h * g.w_out * spec.mvm_energy_pj(min(spec.rows, k - k0),
                                                           min(spec.cols, c - n0))
        return energy

    def allocate(self, ops: Sequence[Op]) -> EngineMapping:
        spec = self.aimc.spec
        matrices = [(op.name, *matrix_of(op)) for op in ops]
        alloc = allocate(matrices, spec.n_crossbars, spec.rows, spec.cols)
        rejected = {name: "too large for the crossbars" for name in alloc.too_large}
        if not alloc.pinned:
            left_out = self._left_out([op for op in ops if op.name not in rejected])
            if left_out:
                rejected.update(left_out)
                alloc = allocate([m for m in matrices if m[0] not in rejected],
                                 spec.n_crossbars, spec.rows, spec.cols)
        payloads, notes = {}, {}
        for op in ops:
            if op.name not in alloc.blocks:
                continue
            assert op.weights is not None
            program = alloc.programs.get(op.name, ())
            payloads[op.name] = AimcLayer(geometry(op).w_out, op.weights.name,
                                          matrix_of(op)[0], alloc.blocks[op.name], program)
            if program:
                notes[op.name] = f"programs {len(program)} crossbar blocks"
        summary = {"pinned": alloc.pinned, "groups": alloc.groups,
                   "crossbars_used": alloc.crossbars_used, "crossbars": spec.n_crossbars,
                   "pinned_rows": sum(b.rows for bs in alloc.blocks.values() for b in bs)
                   if alloc.pinned else 0,
                   "packing_efficiency": round(alloc.packing_efficiency(spec.rows,
                                                                        spec.cols), 4)}
        return EngineMapping(payloads, rejected,
                             frozenset(payloads) if alloc.pinned else frozenset(), summary,
                             notes)

    def _left_out(self, ops: Sequence[Op]) -> dict[str, str]:
        """The layers to leave out so that the rest pin, each with the reason (module
        docstring's policy); empty when leaving candidates out does not pin the rest."""
        spec, clock = self.aimc.spec, self.aimc.clock
        cores = self.accumulator
        candidates = []
        for i, op in enumerate(ops):
            g = geometry(op)
            k, n = matrix_of(op)
            write_s = sum(spec.program_cycles(k1 - k0, n1 - n0, clock)
                          for k0, k1, n0, n1 in cut(op.name, k, n, spec.rows, spec.cols)
                          ) / clock.freq_hz
            here_s = self.tile_cycles(op, g, g.h_out, g.c_out) / clock.freq_hz
            there_s = cores.tile_cycles(op, g, g.h_out, g.c_out) / cores.clock_hz
            if write_s > there_s - here_s:
                reason = (f"its {k * n:,} weights would force reprogramming ({_ms(write_s)} "
                          f"to write them, {_ms(there_s)} of compute on {cores.name}; the "
                          "rest pin without it)")
                candidates.append((-k * n / op.macs, i, op.name, reason))

        def pins(left: dict[str, str]) -> bool:
            rest = [(op.name, *matrix_of(op)) for op in ops if op.name not in left]
            return allocate(rest, spec.n_crossbars, spec.rows, spec.cols).pinned

        left: dict[str, str] = {}
        for _, _, name, reason in sorted(candidates):
            left[name] = reason
            if pins(left):
                # the last one left out may make room for some taken before it
                for back in list(left)[-2::-1]:
                    if pins({x: why for x, why in left.items() if x != back}):
                        del left[back]
                return left
        return {}

    # -- runtime ---------------------------------------------------------------------------

    def _layers(self, schedule: Schedule) -> list[Layer]:
        return [layer for layer in schedule.layers if layer.engine == self.name]

    def preload(self, rt: Runtime) -> None:
        """Pinned weights are programmed at deployment, before the run."""
        if not rt.schedule.engines.get(self.name, {}).get("pinned"):
            return
        for layer in self._layers(rt.schedule):
            for b in layer.payload.blocks:
                job = ProgramJob(b.crossbar, b.tag, b.rows, b.cols, b.row0, b.col0,
                                 weights=self._weights(rt, b))
                self.aimc.crossbars[b.crossbar].preload(job)

    def _weights(self, rt: Runtime, block: Block) -> Any:
        """What crossbar ``block.crossbar`` keeps for ``block`` (functional runs)."""
        model = rt.fn.models.get(self.name) if rt.fn is not None else None
        if model is None:
            return None
        return model.block_weights(block, self.aimc.crossbars[block.crossbar])

    def before_layer(self, rt: Runtime, layer: Layer) -> Generator[simpy.Event, Any, None]:
        """Reprogram the crossbars with the blocks of ``layer``'s group. Each block's weights
        come to L1 by DMA into one of a few areas, then are written; the next blocks travel
        while it is written. An area is reused once its block is written: two areas when
        the crossbars program one at a time per interface, as many as L1 holds when they
        program in parallel (``aimc.program_parallel``)."""
        blocks = layer.payload.program
        if not blocks:
            return
        sources = {x.name: x.payload for x in self._layers(rt.schedule)}
        spec, clock = self.aimc.spec, rt.soc.clock
        l1 = rt.soc.memory("l1")
        area = max(b.rows * b.cols for b in blocks)
        room = l1.size // area if spec.program_parallel else min(2, l1.size // area)
        areas = [l1.base + i * area for i in range(max(1, min(room, len(blocks))))]
        start, energy0 = rt.env.now, self.aimc.energy_pj
        writes: list[simpy.Event] = []
        for i, b in enumerate(blocks):
            if i >= len(areas):  # the area's previous block must be written first
                yield writes[i - len(areas)]
            src = sources[b.layer]
            level, addr = rt.schedule.placement[src.weights]
            c = Copy(src.weights, level, addr + b.n0 * src.k + b.k0, b.cols, b.rows, src.k,
                     areas[i % len(areas)])
            yield from rt.load(c, i % 2, f"{b.tag} weights")
            writes.append(self.aimc.submit(ProgramJob(
                b.crossbar, b.tag, b.rows, b.cols, b.row0, b.col0,
                src_addr=areas[i % len(areas)], weights=self._weights(rt, b), layer=b.layer)))
        timings = yield rt.env.all_of(writes)
        for b, done in zip(blocks, writes, strict=True):
            timing: JobTiming = timings[done]
            own = self._programmed.setdefault(b.layer, {"cycles": 0.0, "rows": 0,
                                                        "energy_pj": 0.0})
            own["cycles"] += clock.cycles(timing.end - timing.start)
            own["rows"] += b.rows
            own["energy_pj"] += spec.program_energy_pj(b.rows, b.cols)
        self._groups.append({
            "before": layer.name, "layers": list(dict.fromkeys(b.layer for b in blocks)),
            "blocks": len(blocks), "rows": sum(b.rows for b in blocks),
            "cycles": round(clock.cycles(rt.env.now - start), 3),
            "energy_pj": round(self.aimc.energy_pj - energy0, 3)})

    def run_tile(self, rt: Runtime, layer: Layer, tile: Tile
                 ) -> Generator[simpy.Event, Any, None]:
        p: AimcLayer = layer.payload
        label = f"{layer.name} t{tile.index}"
        h = tile.r1 - tile.r0
        model = rt.fn.models.get(self.name) if rt.fn is not None else None
        events = []
        for b, lo, hi in p.blocks_for(tile.c0, tile.c1):
            fn = model.block_fn(layer, tile, b, lo, hi) if model is not None else None
            mvm = MvmJob(b.crossbar, h * p.w_out, b.rows, hi - lo, b.row0, b.col0 + lo - b.n0,
                         b.tag, tile.in_addr, tile.out_addr, f"{label} {b.tag}", layer.name,
                         tile.index, compute=fn)
            events.append(self.aimc.submit(mvm))
        yield rt.env.all_of(events)
        if p.row_blocks > 1:
            yield from self.accumulator.accumulate(layer, tile, p.w_out, p.row_blocks - 1)

    def track(self, layer: Layer) -> tuple[str, str]:
        return self.aimc.crossbars[layer.payload.blocks[0].crossbar].path, "mvm"

    def results(self, rt: Runtime, schedule: Schedule) -> dict[str, Any] | None:
        """The mapping's entry, rows written, programming per group and per layer whose
        weights it wrote, why each rejected layer went elsewhere (its schedule note), and a
        one-line account of the crossbars' use."""
        if self.name not in schedule.engines:
            return None  # a schedule without crossbar layers (e.g. digital training)
        entry = dict(schedule.engines[self.name])
        entry["row_writes"] = sum(x.writes for x in self.aimc.crossbars)
        entry["programming"] = self._groups
        entry["programmed_layers"] = {name: {k: round(v, 3) for k, v in rec.items()}
                                      for name, rec in self._programmed.items()}
        if entry.get("fallback"):
            notes = {x.name: x.note for x in schedule.layers}
            entry["fallback_reasons"] = {name: notes[name] for name in entry["fallback"]}
        entry["usage"] = self._usage(entry, rt.soc.clock)
        return entry

    @staticmethod
    def _usage(entry: dict[str, Any], clock: Any) -> str:
        """How the crossbars were used, in one line for the text summary."""
        used = f"{entry['crossbars_used']} of {entry['crossbars']} crossbars used"
        if entry["pinned"]:
            how = f"pinned ({entry['pinned_rows']:,} rows written at deployment)"
        else:
            cycles = sum(g["cycles"] for g in entry["programming"])
            rows = sum(g["rows"] for g in entry["programming"])
            how = (f"{entry['groups']} programming groups ({rows:,} rows written in "
                   f"{cycles:,.0f} cycles, {cycles / clock.freq_hz * 1e3:.2f} ms)")
        packing = f"packing {100 * entry['packing_efficiency']:.1f}%"
        n = len(entry.get("fallback", ()))
        rest = (f"; {n} layer{'s' if n > 1 else ''} on another engine "
                "(aimc.fallback_reasons)" if n else "")
        return f"{used}; {how}; {packing}{rest}"

    # -- functional mode -------------------------------------------------------------------

    def functional_model(self, fn: Any, schedule: Schedule, seed: int) -> AnalogModel | None:
        layers = {x.name: x.payload.blocks for x in self._layers(schedule)}
        if not layers:
            return None
        pinned = schedule.engines.get(self.name, {}).get("pinned")
        return AnalogModel(fn, layers, crossbar_spec(self.aimc.spec, self.analog),
                           self.analog.weights_age_s if pinned else 0.0,
                           None if self.analog.adc_full_scale else seed)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"
