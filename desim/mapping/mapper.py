"""Mapping a graph onto a platform: engine choice, AIMC allocation, tiling, placement.

Steps, each a pure function of the graph and the platform's :class:`Target`:

1. **Engine** per op: conv2d and fully_connected on AIMC when the platform has crossbars
   (``mapping.aimc_kinds``), everything else on the cluster; reshapes move nothing.
   ``mapping.engine_overrides`` forces an engine per layer name or op kind.
2. **AIMC allocation** (:mod:`desim.mapping.aimc_alloc`): pinned when all fits, else
   programming groups; a layer too large for all crossbars falls back to the cluster.
3. **Tiling** (:mod:`desim.mapping.tiler`) for L1, per layer.
4. **Placement**: activations in an L2 arena by lifetime (first fit; a reshape's output
   aliases its input), spilling to DRAM when the arena is full; weights in L2 while they
   fit beside the activations, largest first to DRAM otherwise. Anything in DRAM is staged
   through two L2 buffers per direction (the I/O DMA brings it from DRAM to L2, the cluster
   DMA from L2 to L1), as DORY moves L3 data.
5. **Tiles**: the copies each tile needs, and the L1 buffers it uses (double-buffered).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from desim.arena import Arena
from desim.errors import SpecError
from desim.mapping.aimc_alloc import Allocation, Block, allocate
from desim.mapping.schedule import Copy, Layer, Schedule, Tile
from desim.mapping.spec import MappingSpec
from desim.mapping.tiler import TILE_COST, TileRegion, TileShape, choose, geometry, regions
from desim.workload.graph import Graph
from desim.workload.op import Op, OpKind
from desim.workload.tensor import Tensor

#: cluster kernel per op kind (desim.hw.jobs.KernelJob.op)
CLUSTER_KERNEL = {
    OpKind.CONV2D: "conv2d", OpKind.DEPTHWISE_CONV2D: "depthwise",
    OpKind.FULLY_CONNECTED: "fc", OpKind.AVG_POOL2D: "avgpool", OpKind.MAX_POOL2D: "maxpool",
    OpKind.ADD: "add", OpKind.SOFTMAX: "requant", OpKind.PAD: "requant",
    OpKind.CONCAT: "requant", OpKind.QUANTIZE: "requant", OpKind.DEQUANTIZE: "requant",
}


@dataclass(frozen=True)
class Target:
    """What the mapper needs to know of a platform."""

    name: str
    l1_base: int
    l1_bytes: int
    l2_base: int
    l2_bytes: int
    n_cores: int
    mapping: MappingSpec
    aimc: Any = None  # desim.hw.aimc.AimcSpec, or None without crossbars
    dram_base: int = 0
    dram_bytes: int = 0  # 0: no DRAM
    cluster: Any = None  # desim.hw.cluster.ClusterSpec: the tiler's compute cost model
    l2_bytes_per_cycle: float = 8.0  # L2 <-> L1 bandwidth: the tiler's transfer cost model
    dma_setup_cycles: int = 12
    dram_txn_bytes: int = 64  # DRAM transaction
    dram_txn_cycles: float = 0.0  # cluster cycles per DRAM transaction, streaming


def engine_of(op: Op, target: Target) -> str:
    """The engine ``op`` runs on, before AIMC capacity is considered."""
    if op.kind is OpKind.RESHAPE:
        return "none"
    forced = target.mapping.override_for(op.name, op.kind.value)
    if forced == "aimc" and (target.aimc is None or op.kind.value not in
                             ("conv2d", "fully_connected")):
        raise SpecError(f"engine_overrides: layer {op.name} ({op.kind.value}) cannot run on "
                        "AIMC (the platform has no crossbars, or the op is not a dense conv "
                        "or fully connected layer)")
    if forced:
        return forced
    if target.aimc is not None and op.kind.value in target.mapping.aimc_kinds:
        return "aimc"
    return "cluster"


def matrix_of(op: Op) -> tuple[int, int]:
    """(K, N): the weight matrix of a dense op as a crossbar sees it."""
    g = geometry(op)
    return g.k_h * g.k_w * g.c_in, g.c_out


def map_graph(graph: Graph, target: Target) -> Schedule:
    """The schedule of ``graph`` on ``target``."""
    order = graph.topological_order()
    engines = {op.name: engine_of(op, target) for op in order}
    alloc = _allocate_aimc(order, engines, target)
    for name in alloc.too_large:
        engines[name] = "cluster"
    cost = _CostModel(target)

    def tile(op: Op, dram: tuple[bool, bool, bool] = (False, False, False)) -> TileShape:
        return choose(op, target.l1_bytes, target.n_cores, engines[op.name] == "aimc",
                      target.mapping.l1_overhead_bytes,
                      cost.estimate(engines[op.name], dram) if target.cluster else None)

    shapes = {op.name: tile(op) for op in order if engines[op.name] != "none"}
    place = _Placement(graph, order, engines, alloc, shapes, target)
    if place.where and any(level == "dram" for level, _ in place.where.values()):
        # placement does not depend on tile shapes (but for the staging buffers): re-tile
        # the layers with operands in DRAM, knowing it, and place again
        for op in order:
            dram = place.in_dram(op)
            if op.name in shapes and any(dram):
                shapes[op.name] = tile(op, dram)
        place = _Placement(graph, order, engines, alloc, shapes, target)
    layers = []
    for i, op in enumerate(order):
        layer = _layer(i, op, graph, engines[op.name], shapes.get(op.name), place, alloc,
                       target)
        layers.append(replace(layer, l2_bytes=place.live[i] + place.resident))
    aimc = {}
    if target.aimc is not None:
        aimc = {"pinned": alloc.pinned, "groups": alloc.groups,
                "crossbars_used": alloc.crossbars_used,
                "crossbars": target.aimc.n_crossbars,
                "cluster_fallback": list(alloc.too_large),
                "pinned_rows": sum(b.rows for bs in alloc.blocks.values() for b in bs)
                if alloc.pinned else 0,
                # layer -> (weight tensor, K): where programming reads each matrix from
                "matrices": {op.name: (op.weights.name, matrix_of(op)[0]) for op in order
                             if op.name in alloc.blocks and op.weights is not None}}
    memory = {"l1_bytes": target.l1_bytes,
              "l1_peak_bytes": max((s.footprint for s in shapes.values()), default=0),
              "l2_bytes": target.l2_bytes, "l2_peak_bytes": place.l2_peak,
              "dram_bytes": place.dram_used, "staging_bytes": place.staging_bytes,
              "staging_addr": place.staging,
              "weights_in_l2_bytes": place.weights_l2, "weights_in_dram_bytes":
              place.weights_dram, "activations_in_dram": sorted(place.act_dram)}
    return Schedule(target.name, graph.name, tuple(layers), place.where, memory, aimc)


def _allocate_aimc(order: tuple[Op, ...], engines: dict[str, str],
                   target: Target) -> Allocation:
    spec = target.aimc
    mats = [(op.name, *matrix_of(op)) for op in order if engines[op.name] == "aimc"]
    if spec is None or not mats:
        return Allocation({}, {}, True, 0, ())
    return allocate(mats, spec.n_crossbars, spec.rows, spec.cols)


class _Placement:
    """Where every tensor lives (level, address), decided before anything runs."""

    def __init__(self, graph: Graph, order: tuple[Op, ...], engines: dict[str, str],
                 alloc: Allocation, shapes: dict[str, TileShape], target: Target):
        self.where: dict[str, tuple[str, int]] = {}
        self.act_dram: set[str] = set()
        self.target = target
        dram = Arena(target.dram_base, target.dram_bytes)
        # weights that must sit in memory: cluster layers', and AIMC ones when not pinned
        weights = [t for op in order for t in (op.weights, op.bias)
                   if t is not None and (engines[op.name] == "cluster" or not alloc.pinned)]
        # four staging regions (load and store, double-buffered), each as large as a tile's
        # operands but at most an eighth of L2: larger copies go through them in pieces
        region = max((s.in_bytes + s.w_bytes + s.out_bytes for s in shapes.values()), default=0)
        stage = 4 * max(min(region, target.l2_bytes // 32), 256)
        for staging in (0, stage):
            arena = Arena(target.l2_base, target.l2_bytes)
            reserved = arena.alloc(staging, 8) if staging else None
            spilled = self._activations(graph, order, arena)
            w_l2, w_dram = self._weights(weights, arena)
            if not (spilled or w_dram) or staging:
                break
        if spilled or w_dram:
            if not target.dram_bytes:
                raise SpecError(f"{graph.name} needs more L2 than the {target.l2_bytes} B of "
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
        """Whether ``op``'s (inputs, weights, output) live in DRAM."""
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


def _layer(index: int, op: Op, graph: Graph, engine: str, shape: TileShape | None,
           place: _Placement, alloc: Allocation, target: Target) -> Layer:
    deps = tuple(sorted({graph.topological_order().index(p) for t in op.inputs
                         if (p := graph.producer(t.name)) is not None}))
    if engine == "none" or shape is None:
        return Layer(index, op.name, op.kind.value, "none", 0, {}, (), 0, deps)
    g = geometry(op)
    job = cluster_job(op, g) if engine == "cluster" else {"w_out": g.w_out}
    blocks = alloc.blocks.get(op.name, ()) if engine == "aimc" else ()
    program = alloc.programs.get(op.name, ()) if engine == "aimc" else ()
    tiles = _tiles(op, g, shape, engine, place, target)
    note = ""
    if op.name in alloc.too_large:
        note = "too large for the crossbars: on the cluster"
    elif program:
        note = f"programs {len(program)} crossbar blocks"
    return Layer(index, op.name, op.kind.value, engine, op.macs, job, tiles, shape.footprint,
                 deps, tuple(blocks), tuple(program), note)


def cluster_job(op: Op, g: Any) -> dict[str, Any]:
    """The KernelJob fields every cluster tile of ``op`` shares."""
    kernel = CLUSTER_KERNEL[op.kind]
    if kernel == "conv2d" and op.kernel == (1, 1) and op.stride == (1, 1):
        kernel = "pointwise"
    return {"op": kernel, "w_out": g.w_out, "k_h": g.k_h, "k_w": g.k_w, "stride_h": g.s_h,
            "stride_w": op.stride[1] if g.k_h * g.k_w > 1 or g.s_h > 1 else 1,
            "c_in": g.c_in if kernel in ("conv2d", "pointwise", "fc") else 0}


class _CostModel:
    """Cycles of a layer under a tiling, from the engines' own timing models: compute
    (cluster job cycles, AIMC batch cycles) against transfer (bytes over the L2 link,
    DMA setups), overlapped by double buffering, plus the first tile's load."""

    def __init__(self, target: Target):
        from desim.hw.jobs import KernelJob
        from desim.kernel import Clock

        self.t = target
        self.job = KernelJob
        self.clock = Clock("cost", int(target.cluster.freq_hz)) if target.cluster else None
        self._cycles: dict[Any, int] = {}

    def _cluster(self, job: Any) -> int:
        c = self._cycles.get(job)
        if c is None:
            c = self._cycles[job] = self.t.cluster.job_cycles(job)
        return c

    def _tile(self, op: Op, g: Any, engine: str, h: int, c: int) -> int:
        if engine == "cluster":
            return self._cluster(self.job(**{**cluster_job(op, g), "h_out": h, "c_out": c}))
        spec = self.t.aimc
        k, _ = matrix_of(op)
        row_blocks = -(-k // spec.rows)
        cycles = 0
        for n0 in range(0, c, spec.cols):
            for k0 in range(0, k, spec.rows):
                cycles += spec.batch_cycles(min(spec.rows, k - k0), min(spec.cols, c - n0),
                                            h * g.w_out, self.clock)
        if row_blocks > 1:
            cycles += self._cluster(self.job("add", h, g.w_out, c * (row_blocks - 1)))
        return cycles

    def _transfer(self, t: TileShape, dram: tuple[bool, bool, bool]) -> float:
        """Cycles of the layer's DMA traffic: every byte crosses the L2 link; operands in
        DRAM also cross the DRAM, where a row costs at least one transaction."""
        m = t.moved
        cycles = (t.cost - TILE_COST * t.n_tiles) / self.t.l2_bytes_per_cycle
        cycles += 3 * t.n_tiles * self.t.dma_setup_cycles
        txn, per_txn = self.t.dram_txn_bytes, self.t.dram_txn_cycles
        for in_dram, nbytes, rows in zip(dram, (m.in_bytes, m.w_bytes, m.out_bytes),
                                         (m.in_rows, m.w_rows, m.out_rows), strict=True):
            if in_dram and rows:
                cycles += rows * -(-(nbytes // rows) // txn) * per_txn
        return cycles

    def estimate(self, engine: str, dram: tuple[bool, bool, bool] = (False, False, False)
                 ) -> Any:
        """The tiler's cost function for a layer on ``engine`` whose (input, weights,
        output) are in DRAM as ``dram`` says."""
        def cost(op: Op, g: Any, t: TileShape) -> float:
            n_h, n_c = -(-g.h_out // t.h), -(-g.c_out // t.c)
            last_h, last_c = g.h_out - (n_h - 1) * t.h, g.c_out - (n_c - 1) * t.c
            compute = 0
            for h, nh in ((t.h, n_h - 1), (last_h, 1)):
                for c, nc in ((t.c, n_c - 1), (last_c, 1)):
                    if nh and nc:
                        compute += nh * nc * self._tile(op, g, engine, h, c)
            transfer = self._transfer(t, dram)
            return max(compute, transfer) + (t.in_bytes + t.w_bytes) / self.t.l2_bytes_per_cycle
        return cost


def _tiles(op: Op, g: Any, shape: TileShape, engine: str, place: _Placement,
           target: Target) -> tuple[Tile, ...]:
    """Each tile's copies and L1 buffers; channel blocks reuse their weights in L1."""
    base = target.l1_base
    slots = 2 if shape.double_buffered else 1
    layout = Arena(base, target.l1_bytes)
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
        if engine == "cluster" and new_block != block:
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


def blocks_for(layer: Layer, c0: int, c1: int) -> list[tuple[Block, int, int]]:
    """The layer's AIMC blocks overlapping output channels ``[c0, c1)``, each with the
    overlapping column range."""
    out = []
    for b in layer.blocks:
        lo, hi = max(b.n0, c0), min(b.n1, c1)
        if lo < hi:
            out.append((b, lo, hi))
    return out
