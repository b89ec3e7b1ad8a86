"""Mapping a graph onto a platform: engine choice, engine allocation, tiling, placement.

Steps, each a pure function of the graph and the platform's :class:`Target` (its memory
levels, transfer costs and engines, :mod:`desim.engines`):

1. **Engine** per op: reshapes move nothing; ``mapping.engine_overrides`` forces an engine
   per layer name or op kind; ``mapping.policy`` gives op kinds to an engine whenever it
   supports them (a platform's mapping policy); every other op goes to the cheapest of
   the engines that support it, by ``mapping.objective`` (latency: the tiled layer's
   estimated cycles; energy: the engine's estimated energy), ties to the platform's first.
2. **Allocation**: each engine allocates its layers (the crossbars pack them, pinned or in
   programming groups); a layer an engine cannot hold goes to the next cheapest engine.
3. **Tiling** (:mod:`desim.mapping.tiler`) for L1, per layer, by the engine's cost.
4. **Placement**: activations in an L2 arena by lifetime (first fit; a reshape's output
   aliases its input), spilling to DRAM when the arena is full; weights that engines do
   not keep in L2 while they fit beside the activations, largest first to DRAM otherwise.
   Anything in DRAM is staged through two L2 buffers per direction (DRAM -> L2 -> L1), as
   DORY moves L3 data; on a platform without L2 every tensor lives in DRAM and moves to
   L1 directly.
5. **Tiles**: the copies each tile needs, and the L1 buffers it uses (double-buffered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from desim.arena import Arena
from desim.engines.base import Engine, EngineMapping
from desim.errors import SpecError
from desim.mapping.schedule import Copy, Layer, Schedule, Tile
from desim.mapping.spec import MappingSpec
from desim.mapping.tiler import (
    TILE_COST,
    Geometry,
    TileRegion,
    TileShape,
    choose,
    geometry,
    regions,
)
from desim.workload.graph import Graph
from desim.workload.op import Op, OpKind
from desim.workload.tensor import Tensor


@dataclass(frozen=True)
class Level:
    """A memory level as the mapper sees it: where it starts and how large it is."""

    base: int
    capacity: int


@dataclass(frozen=True)
class Target:
    """What the mapper needs to know of a platform."""

    name: str
    engines: tuple[Engine, ...]
    mapping: MappingSpec
    l1: Level
    l2: Level | None  # None: L1 is fed from DRAM directly
    dram: Level | None  # None: no off-chip memory
    clock_hz: int  # the main clock, in which cycles are estimated
    link_bytes_per_cycle: float  # into L1: the tiler's transfer cost model
    dma_setup_cycles: int
    dram_txn_bytes: int = 64  # DRAM transaction
    dram_txn_cycles: float = 0.0  # main-clock cycles per DRAM transaction, streaming

    def engine(self, name: str) -> Engine:
        return next(e for e in self.engines if e.name == name)


def candidates(op: Op, target: Target) -> list[Engine]:
    """The platform's engines that can run ``op``, in platform order."""
    return [e for e in target.engines if e.supports(op) is None]


def _forced(op: Op, target: Target) -> Engine | None:
    """The engine ``mapping.engine_overrides`` or ``mapping.policy`` gives ``op``."""
    names = [e.name for e in target.engines]
    forced = target.mapping.override_for(op.name, op.kind.value)
    if forced is not None:
        if forced not in names:
            raise SpecError(f"mapping.engine_overrides: {target.name} has no engine "
                            f"'{forced}' (engines: {', '.join(names)})")
        engine = target.engine(forced)
        why = engine.supports(op)
        if why is not None:
            able = ", ".join(e.name for e in candidates(op, target)) or "none"
            raise SpecError(f"mapping.engine_overrides: layer {op.name} ({op.kind.value}) "
                            f"cannot run on {forced}: {why}; engines that can: {able}")
        return engine
    policy = target.mapping.policy_for(op.kind.value)
    if policy is not None:
        if policy not in names:
            raise SpecError(f"mapping.policy: {target.name} has no engine '{policy}' "
                            f"(engines: {', '.join(names)}); remove it from mapping.policy")
        engine = target.engine(policy)
        if engine.supports(op) is None:
            return engine
    return None


def map_graph(graph: Graph, target: Target) -> Schedule:
    """The schedule of ``graph`` on ``target``."""
    order = graph.topological_order()
    cost = _CostModel(target)
    excluded: dict[str, set[str]] = {}

    def pick(op: Op) -> str:
        if op.kind is OpKind.RESHAPE:
            return "none"
        out = excluded.get(op.name, set())
        forced = _forced(op, target)
        if forced is not None and forced.name not in out:
            return forced.name
        able = [e for e in candidates(op, target) if e.name not in out]
        if not able:
            why = "; ".join(f"{e.name}: {e.supports(op) or 'cannot hold it'}"
                            for e in target.engines)
            raise SpecError(f"layer {op.name} ({op.kind.value}) runs on no engine of "
                            f"{target.name} ({why})")
        if len(able) == 1:
            return able[0].name
        return min(able, key=lambda e: cost.layer(op, e)).name

    engines = {op.name: pick(op) for op in order}
    notes: dict[str, str] = {}
    fallback: dict[str, list[str]] = {}
    for _ in range(len(target.engines) + 1):
        maps = {e.name: e.allocate([op for op in order if engines[op.name] == e.name])
                for e in target.engines}
        rejected = [(op, e, why) for e, m in maps.items() for op in order
                    if (why := m.rejected.get(op.name)) is not None]
        if not rejected:
            break
        for op, e, why in rejected:
            excluded.setdefault(op.name, set()).add(e)
            fallback.setdefault(e, []).append(op.name)
            engines[op.name] = pick(op)
            notes[op.name] = f"{why}: on {engines[op.name]}"

    def tile(op: Op, dram: tuple[bool, bool, bool] = (False, False, False)) -> TileShape:
        engine = target.engine(engines[op.name])
        return choose(op, target.l1.capacity, engine.l1_needs(op),
                      target.mapping.l1_overhead_bytes, cost.estimate(engine, dram))

    shapes = {op.name: tile(op) for op in order if engines[op.name] != "none"}
    resident = frozenset().union(*(m.resident for m in maps.values()))
    place = _Placement(graph, order, engines, resident, shapes, target)
    if place.where and any(level == "dram" for level, _ in place.where.values()):
        # placement does not depend on tile shapes (but for the staging buffers): re-tile
        # the layers with operands in DRAM, knowing it, and place again
        for op in order:
            dram = place.in_dram(op)
            if op.name in shapes and any(dram):
                shapes[op.name] = tile(op, dram)
        place = _Placement(graph, order, engines, resident, shapes, target)
    layers = []
    for i, op in enumerate(order):
        engine = engines[op.name]
        mapping = maps.get(engine)
        note = notes.get(op.name) or (mapping.notes.get(op.name, "") if mapping else "")
        layer = _layer(i, op, graph, engine, mapping, shapes.get(op.name), place, target,
                       note)
        layers.append(replace(layer, l2_bytes=place.live[i] + place.resident))
    summaries = {name: {**m.summary, **({"fallback": fallback[name]} if name in fallback
                                        else {})}
                 for name, m in maps.items() if m.summary or name in fallback}
    memory = {"l1_bytes": target.l1.capacity,
              "l1_peak_bytes": max((s.footprint for s in shapes.values()), default=0),
              "l2_bytes": target.l2.capacity if target.l2 else 0,
              "l2_peak_bytes": place.l2_peak,
              "dram_bytes": place.dram_used, "staging_bytes": place.staging_bytes,
              "staging_addr": place.staging,
              "weights_in_l2_bytes": place.weights_l2, "weights_in_dram_bytes":
              place.weights_dram, "activations_in_dram": sorted(place.act_dram)}
    return Schedule(target.name, graph.name, tuple(layers), place.where, memory, summaries)


class _Placement:
    """Where every tensor lives (level, address), decided before anything runs."""

    def __init__(self, graph: Graph, order: tuple[Op, ...], engines: dict[str, str],
                 resident: frozenset[str], shapes: dict[str, TileShape], target: Target):
        self.where: dict[str, tuple[str, int]] = {}
        self.act_dram: set[str] = set()
        self.target = target
        dram = Arena(target.dram.base, target.dram.capacity) if target.dram else Arena(0, 0)
        # weights that must sit in memory: those of layers whose engine does not keep them
        weights = [t for op in order for t in (op.weights, op.bias)
                   if t is not None and engines[op.name] != "none" and op.name not in resident]
        l2 = target.l2 or Level(0, 0)
        # four staging regions (load and store, double-buffered), each as large as a tile's
        # operands but at most an eighth of L2: larger copies go through them in pieces
        region = max((s.in_bytes + s.w_bytes + s.out_bytes for s in shapes.values()), default=0)
        stage = 4 * max(min(region, l2.capacity // 32), 256) if target.l2 else 0
        for staging in (0, stage):
            arena = Arena(l2.base, l2.capacity)
            reserved = arena.alloc(staging, 8) if staging else None
            spilled = self._activations(graph, order, arena)
            w_l2, w_dram = self._weights(weights, arena)
            if not (spilled or w_dram) or staging or not stage:
                break
        if spilled or w_dram:
            if target.dram is None:
                raise SpecError(f"{graph.name} needs more L2 than the {l2.capacity} B of "
                                f"{target.name} (tensors left over: "
                                f"{', '.join(sorted(spilled | {t.name for t in w_dram}))[:200]})"
                                " and the platform has no DRAM; enlarge l2.capacity_bytes")
            for name in sorted(spilled):
                self._to_dram(graph.tensor(name), dram)
            for t in w_dram:
                self._to_dram(t, dram)
        self.act_dram = spilled
        self.staging = reserved if (spilled or w_dram) else None
        self.staging_bytes = staging if self.staging is not None else 0
        #: bytes held in L2 for the whole run: resident weights and staging buffers
        self.resident = sum(t.nbytes for t in w_l2) + self.staging_bytes
        self.l2_peak = arena.peak
        self.dram_used = dram.peak
        self.weights_l2 = sum(t.nbytes for t in w_l2)
        self.weights_dram = sum(t.nbytes for t in w_dram)
        for alias, root in self.aliases.items():
            if root in self.where:
                self.where[alias] = self.where[root]

    def in_dram(self, op: Op) -> tuple[bool, bool, bool]:
        """Whether ``op``'s (inputs, weights, output) live in DRAM (and reach L1 through
        the DRAM's transactions)."""
        def d(t: Tensor | None) -> bool:
            return t is not None and self.where.get(t.name, ("l2", 0))[0] == "dram"
        return (any(d(t) for t in op.inputs if not t.const), d(op.weights), d(op.output))

    def _to_dram(self, t: Tensor, dram: Arena) -> None:
        addr = dram.alloc(t.nbytes, 64)
        if addr is None:
            raise SpecError(f"tensor {t.name} ({t.nbytes} B) does not fit the DRAM of "
                            f"{self.target.name}; choose a larger DRAM preset")
        self.where[t.name] = ("dram", addr)

    def _activations(self, graph: Graph, order: tuple[Op, ...], arena: Arena) -> set[str]:
        """Place activations by lifetime; return the names that did not fit L2."""
        self.aliases: dict[str, str] = {}

        def root(name: str) -> str:
            while name in self.aliases:
                name = self.aliases[name]
            return name

        last_use: dict[str, int] = {}
        for i, op in enumerate(order):
            for t in op.inputs:
                if not t.const:
                    last_use[root(t.name)] = i
            if op.kind is OpKind.RESHAPE:
                self.aliases[op.output.name] = root(op.input.name)
        for t in graph.outputs:
            last_use[root(t.name)] = len(order)
        spilled: set[str] = set()
        live: dict[str, tuple[int, int]] = {}
        #: per op: activation bytes live in L2 while it runs (its inputs and output)
        self.live: list[int] = []

        def put(t: Tensor) -> None:
            addr = arena.alloc(t.nbytes, 8)
            if addr is None:
                spilled.add(t.name)
            else:
                live[t.name] = (addr, t.nbytes)
                self.where[t.name] = ("l2", addr)

        for t in graph.inputs:
            put(t)
        for i, op in enumerate(order):
            if op.kind is not OpKind.RESHAPE:
                put(op.output)
            self.live.append(sum(n for _, n in live.values()))
            for name in [n for n in live if last_use.get(n, -1) <= i]:
                arena.free(*live.pop(name))
        return spilled

    def _weights(self, weights: list[Tensor], arena: Arena) -> tuple[list[Tensor],
                                                                    list[Tensor]]:
        """Weights into the L2 room left; the largest go to DRAM while they do not fit."""
        total = sum(t.nbytes for t in weights)
        room = arena.base + arena.size - arena.high
        to_dram: list[Tensor] = []
        for t in sorted(weights, key=lambda t: (-t.nbytes, t.name)):
            if total <= room:
                break
            to_dram.append(t)
            total -= t.nbytes
        in_l2 = [t for t in weights if t not in to_dram]
        # weights stay for the whole inference: lay them out above the activations
        addr = arena.high
        for t in in_l2:
            addr = -(-addr // 8) * 8
            self.where[t.name] = ("l2", addr)
            addr += t.nbytes
        arena.peak += addr - arena.high
        arena.high = addr
        return in_l2, to_dram


def _layer(index: int, op: Op, graph: Graph, engine: str, mapping: EngineMapping | None,
           shape: TileShape | None, place: _Placement, target: Target, note: str) -> Layer:
    deps = tuple(sorted({graph.topological_order().index(p) for t in op.inputs
                         if (p := graph.producer(t.name)) is not None}))
    if engine == "none" or shape is None or mapping is None:
        return Layer(index, op.name, op.kind.value, "none", 0, None, (), 0, deps)
    weights = target.engine(engine).l1_needs(op).weights
    tiles = _tiles(op, geometry(op), shape, weights, place, target)
    return Layer(index, op.name, op.kind.value, engine, op.macs, mapping.payloads[op.name],
                 tiles, shape.footprint, deps, note)


class _CostModel:
    """Cycles of a layer under a tiling, from the engines' own timing models: compute
    (the engine's tile cycles) against transfer (bytes over the link into L1, DMA setups,
    DRAM transactions), overlapped by double buffering, plus the first tile's load."""

    def __init__(self, target: Target):
        self.t = target
        #: an engine's cycles for a tile of h rows x c channels of a layer, by (engine,
        #: layer, h, c): the tiler asks for the same tiles again and again
        self._cycles: dict[tuple[Any, str, int, int], float] = {}

    def _transfer(self, t: TileShape, dram: tuple[bool, bool, bool]) -> float:
        """Cycles of the layer's DMA traffic: every byte crosses the link into L1; operands
        in DRAM also cross the DRAM, where a row costs at least one transaction."""
        m = t.moved
        cycles = (t.cost - TILE_COST * t.n_tiles) / self.t.link_bytes_per_cycle
        cycles += 3 * t.n_tiles * self.t.dma_setup_cycles
        txn, per_txn = self.t.dram_txn_bytes, self.t.dram_txn_cycles
        for in_dram, nbytes, rows in zip(dram, (m.in_bytes, m.w_bytes, m.out_bytes),
                                         (m.in_rows, m.w_rows, m.out_rows), strict=True):
            if in_dram and rows:
                cycles += rows * -(-(nbytes // rows) // txn) * per_txn
        return cycles

    def _per_tile(self, g: Geometry, t: TileShape, each: Callable[[int, int], float]) -> float:
        """``each(h, c)`` summed over the tiles of a layer of geometry ``g`` (full tiles and
        the edge ones)."""
        n_h, n_c = -(-g.h_out // t.h), -(-g.c_out // t.c)
        last_h, last_c = g.h_out - (n_h - 1) * t.h, g.c_out - (n_c - 1) * t.c
        total = 0.0
        for h, nh in ((t.h, n_h - 1), (last_h, 1)):
            for c, nc in ((t.c, n_c - 1), (last_c, 1)):
                if nh and nc:
                    total += nh * nc * each(h, c)
        return total

    def estimate(self, engine: Engine, dram: tuple[bool, bool, bool] = (False, False, False)
                 ) -> Any:
        """The tiler's cost function for a layer on ``engine`` whose (input, weights,
        output) are in DRAM as ``dram`` says."""
        scale = self.t.clock_hz / engine.clock_hz  # engine cycles -> main-clock cycles

        memo = self._cycles

        def cycles(op: Op, g: Any, h: int, c: int) -> float:
            key = (engine, op.name, h, c)
            got = memo.get(key)
            if got is None:
                got = memo[key] = engine.tile_cycles(op, g, h, c)
            return got

        def cost(op: Op, g: Any, t: TileShape) -> float:
            compute = self._per_tile(g, t, lambda h, c: cycles(op, g, h, c))
            if scale != 1:
                compute *= scale
            transfer = self._transfer(t, dram)
            return max(compute, transfer) + (t.in_bytes + t.w_bytes) / self.t.link_bytes_per_cycle
        return cost

    def layer(self, op: Op, engine: Engine) -> tuple[float, float]:
        """``op`` on ``engine`` by the mapping objective: (objective, latency)."""
        est = self.estimate(engine)
        t = choose(op, self.t.l1.capacity, engine.l1_needs(op),
                   self.t.mapping.l1_overhead_bytes, est)
        cycles = est(op, geometry(op), t)
        if self.t.mapping.objective == "energy":
            g = geometry(op)
            return self._per_tile(g, t, lambda h, c: engine.tile_energy_pj(op, g, h, c)), cycles
        return cycles, cycles


def _tiles(op: Op, g: Any, shape: TileShape, weights: bool, place: _Placement,
           target: Target) -> tuple[Tile, ...]:
    """Each tile's copies and L1 buffers; channel blocks reuse their weights in L1."""
    slots = 2 if shape.double_buffered else 1
    layout = Arena(target.l1.base, target.l1.capacity)
    ins = [layout.alloc(shape.in_bytes, 8) for _ in range(slots)]
    outs = [layout.alloc(shape.out_bytes, 8) for _ in range(slots)]
    ws = [layout.alloc(max(shape.w_bytes, 1), 8) for _ in range(slots)]
    tiles = []
    block = -1
    for region in regions(op, shape):
        k = region.index % slots
        new_block = region.c0 // shape.c
        loads = list(_input_copies(op, g, region, place, ins[k]))  # type: ignore[arg-type]
        w_addr = ws[new_block % slots]
        if weights and new_block != block:
            loads += _weight_copies(op, g, region, place, w_addr)  # type: ignore[arg-type]
        block = new_block
        stores = (_out_copy(op, g, region, place, outs[k]),)  # type: ignore[arg-type]
        macs = op.macs * (region.r1 - region.r0) * (region.c1 - region.c0) // max(
            g.h_out * g.c_out, 1)
        tiles.append(Tile(region.index, region.r0, region.r1, region.c0, region.c1, macs,
                          tuple(loads), stores, ins[k], w_addr, outs[k]))  # type: ignore[arg-type]
    return tuple(tiles)


def _at(place: _Placement, t: Tensor) -> tuple[str, int]:
    return place.where[t.name]


def _input_copies(op: Op, g: Any, r: TileRegion, place: _Placement, l1: int) -> list[Copy]:
    out = []
    rows = r.in_r1 - r.in_r0
    for t in (x for x in op.inputs if not x.const):
        level, addr = _at(place, t)
        row = g.w_in * g.c_in
        if g.dense or op.kind is OpKind.FULLY_CONNECTED:
            out.append(Copy(t.name, level, addr + r.in_r0 * row, 1, rows * row, rows * row, l1))
        else:
            m = op.depth_multiplier
            c0, c1 = r.c0 // m, -(-r.c1 // m)
            if c1 - c0 == g.c_in:
                out.append(Copy(t.name, level, addr + r.in_r0 * row, 1, rows * row,
                                rows * row, l1))
            else:
                out.append(Copy(t.name, level, addr + r.in_r0 * row + c0, rows * g.w_in,
                                c1 - c0, g.c_in, l1))
        l1 += out[-1].nbytes
    return out


def _weight_copies(op: Op, g: Any, r: TileRegion, place: _Placement, l1: int) -> list[Copy]:
    out = []
    c = r.c1 - r.c0
    w = op.weights
    if w is not None:
        level, addr = _at(place, w)
        if op.kind is OpKind.DEPTHWISE_CONV2D:
            taps = g.k_h * g.k_w
            out.append(Copy(w.name, level, addr + r.c0, taps, c, g.c_out, l1) if c < g.c_out
                       else Copy(w.name, level, addr, 1, w.nbytes, w.nbytes, l1))
        else:
            per = w.nbytes // g.c_out
            out.append(Copy(w.name, level, addr + r.c0 * per, 1, c * per, c * per, l1))
        l1 += out[-1].nbytes
    if op.bias is not None:
        level, addr = _at(place, op.bias)
        item = op.bias.itemsize
        out.append(Copy(op.bias.name, level, addr + r.c0 * item, 1, c * item, c * item, l1))
    return out


def _out_copy(op: Op, g: Any, r: TileRegion, place: _Placement, l1: int) -> Copy:
    level, addr = _at(place, op.output)
    row = g.w_out * g.c_out
    h, c = r.r1 - r.r0, r.c1 - r.c0
    if c == g.c_out:
        return Copy(op.output.name, level, addr + r.r0 * row, 1, h * row, h * row, l1)
    return Copy(op.output.name, level, addr + r.r0 * row + r.c0, h * g.w_out, c, g.c_out, l1)
