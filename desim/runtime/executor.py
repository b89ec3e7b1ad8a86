"""The runtime: executes a schedule on a built SoC, layer after layer.

It sees the SoC through its platform interface (:class:`desim.soc.base.Soc`): memory
levels (``l1``, ``l2``, ``dram``), DMA paths between them, and engines
(:mod:`desim.engines`). Per layer: the engine's set-up first (crossbar programming when
the layer opens a programming group); then its tiles through a double-buffered pipeline
(:mod:`desim.runtime.pipeline`):

    load(i)    DMA of the tile's inputs (and weights when its channel block changes) into
               L1 from the level each lives in; operands in DRAM, on a platform whose L1
               is fed from L2, come first through an L2 staging buffer (DRAM -> L2 -> L1)
    compute(i) the engine's jobs for the tile (Engine.run_tile)
    store(i)   DMA of the tile's outputs from L1 back to their level (through L2 staging
               for outputs in DRAM when L1 is fed from L2)

Each layer records its start and end, cycles, MACs, bytes moved at each level, how long
its engine computed and how long it waited for data from L2 (``dma``) or from DRAM
(``dram``), and the energy spent while it ran.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import simpy

from desim.hw.dma import Copy1D, Copy2D, DmaRecord
from desim.mapping.schedule import Copy, Layer, Schedule, Tile
from desim.runtime.pipeline import double_buffered

if TYPE_CHECKING:
    from desim.soc.base import Soc

LOAD, STORE = 0, 1  # DMA channels


def descriptor(c: Copy, to_l1: bool, level_addr: int | None = None) -> Copy1D | Copy2D:
    """The DMA descriptor moving ``c`` into L1 (``to_l1``) or out of it; ``level_addr``
    replaces the level address (a contiguous staging buffer)."""
    if level_addr is not None:
        return Copy1D(level_addr, c.l1_addr, c.nbytes) if to_l1 else Copy1D(
            c.l1_addr, level_addr, c.nbytes)
    if c.rows == 1 or c.stride == c.row_bytes:
        return Copy1D(c.addr, c.l1_addr, c.nbytes) if to_l1 else Copy1D(c.l1_addr, c.addr,
                                                                          c.nbytes)
    if to_l1:
        return Copy2D(c.addr, c.l1_addr, c.row_bytes, c.rows, c.stride, c.row_bytes)
    return Copy2D(c.l1_addr, c.addr, c.row_bytes, c.rows, c.row_bytes, c.stride)


def pieces(c: Copy, limit: int) -> list[Copy]:
    """``c`` cut into copies of at most ``limit`` bytes (whole rows when a row fits)."""
    if c.nbytes <= limit:
        return [c]
    if c.row_bytes <= limit:
        per = limit // c.row_bytes
        return [Copy(c.tensor, c.level, c.addr + r * c.stride, min(per, c.rows - r),
                     c.row_bytes, c.stride, c.l1_addr + r * c.row_bytes)
                for r in range(0, c.rows, per)]
    out = []
    for r in range(c.rows):
        for off in range(0, c.row_bytes, limit):
            n = min(limit, c.row_bytes - off)
            out.append(Copy(c.tensor, c.level, c.addr + r * c.stride + off, 1, n, n,
                            c.l1_addr + r * c.row_bytes + off))
    return out


def staged(c: Copy, stage: int, to_stage: bool) -> Copy1D | Copy2D:
    """The I/O DMA descriptor between DRAM (strided as ``c``) and a contiguous stage."""
    if c.rows == 1 or c.stride == c.row_bytes:
        return Copy1D(c.addr, stage, c.nbytes) if to_stage else Copy1D(stage, c.addr, c.nbytes)
    if to_stage:
        return Copy2D(c.addr, stage, c.row_bytes, c.rows, c.stride, c.row_bytes)
    return Copy2D(stage, c.addr, c.row_bytes, c.rows, c.row_bytes, c.stride)


@dataclass
class Execution:
    """What executing a workload produced, for the summary (``summary.json``)."""

    #: one record per layer (empty for workloads without layers)
    layers: list[dict[str, Any]] = field(default_factory=list)
    macs: int = 0
    #: component path -> pJ, and "total"
    energy_pj: dict[str, float] = field(default_factory=dict)
    #: peak footprint per level and DRAM traffic (None for workloads without a mapping)
    memory: dict[str, Any] | None = None
    #: engine name -> the engine's summary entry (e.g. ``aimc``)
    engines: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the static part of ``energy_pj`` (background, idle power) per path, and "total"
    energy_static_pj: dict[str, float] = field(default_factory=dict)


def energy_of(parts: list[Any], attr: str = "energy_pj") -> dict[str, float]:
    """``{path: pJ, ..., "total": pJ}`` of components that account energy: their
    ``energy_pj``, or with ``attr="static_energy_pj"`` its static part (0 for components
    that model none)."""
    energy = {c.path: round(getattr(c, attr, 0.0), 3) for c in parts}
    energy["total"] = round(sum(energy.values()), 3)
    return energy


class _Snapshot(NamedTuple):
    """Counters at one moment: bytes moved in L1, L2 and DRAM; energy by component path."""

    moved: tuple[int, ...]
    energy_pj: dict[str, float]

    @property
    def total_pj(self) -> float:
        return sum(self.energy_pj.values())


class Runtime:
    """Runs ``schedule`` on ``soc``; ``functional`` (optional) computes real tensors.

    ``functional`` (a :class:`desim.functional.mode.Functional`) gives digital engines
    the callable their jobs run on completion (``tile_fn``) and holds the models of
    engines with numerics of their own (``models``).
    """

    def __init__(self, soc: Soc, schedule: Schedule, functional: Any = None):
        self.soc, self.schedule, self.fn = soc, schedule, functional
        self.env = soc.env
        self.layers: list[dict[str, Any]] = []
        self.l1 = soc.memory("l1")
        self._parts = soc.energy_parts()
        self._levels = [soc.memory(level) if soc.has_memory(level) else None
                        for level in ("l2", "dram")]
        mem = schedule.memory
        self._stage = mem.get("staging_addr")
        #: staging regions in L2: loads of even / odd tiles, then stores of even / odd tiles
        self._region = mem.get("staging_bytes", 0) // 4

    # -- whole run -----------------------------------------------------------------------

    def run(self) -> Generator[simpy.Event, Any, Execution]:
        """Execute every layer in order (``yield from`` it); return what it produced."""
        for engine in self.soc.engines.values():
            engine.preload(self)
        sim, n = self.soc.sim, len(self.schedule.layers)
        for k, layer in enumerate(self.schedule.layers):
            yield from self._layer(layer)
            if sim.progress is not None:
                sim.progress(sim, k + 1, n)
        return self.results()

    def results(self) -> Execution:
        """The run's layers, MACs, energy, memory use and engine entries."""
        soc = self.soc
        mem = self.schedule.memory
        dram = self._levels[1]
        memory = {"l1_peak_bytes": mem["l1_peak_bytes"], "l2_peak_bytes": mem["l2_peak_bytes"],
                  "dram_bytes": mem["dram_bytes"],
                  "dram_traffic_bytes": int(dram.counters["bytes_read"]
                                            + dram.counters["bytes_written"]) if dram else 0}
        engines = {e.name: r for e in soc.engines.values()
                   if (r := e.results(self, self.schedule)) is not None}
        return Execution(self.layers, sum(layer["macs"] for layer in self.layers),
                         energy_of(self._parts), memory, engines,
                         energy_of(self._parts, "static_energy_pj"))

    # -- one layer -----------------------------------------------------------------------

    def _layer(self, layer: Layer) -> Generator[simpy.Event, Any, None]:
        soc = self.soc
        before = self._snapshot()
        start = soc.sim.now
        engine = soc.engines.get(layer.engine)
        if engine is not None:
            yield from engine.before_layer(self, layer)
        setup = (soc.sim.now - start, self._snapshot().total_pj - before.total_pj)
        busy = [0]
        kinds: list[str] = []
        tracer = soc.sim.tracer
        if tracer is not None:
            tracer.counter(self.l1.path, "occupancy", start, layer.l1_bytes)
            if self._levels[0] is not None:
                tracer.counter(self._levels[0].path, "occupancy", start, layer.l2_bytes)
        track = engine.track(layer) if engine is not None else ("", "")
        loaded: dict[int, DmaRecord | None] = {}
        computed: dict[int, int] = {}

        def load(i: int) -> Generator[simpy.Event, Any, None]:
            tile = layer.tiles[i]
            kinds.append("dram" if any(c.level == "dram" for c in tile.loads) else "dma")
            loaded[i] = yield from self._loads(layer, tile, i)

        def compute(i: int) -> Generator[simpy.Event, Any, None]:
            t0 = soc.sim.now
            assert engine is not None
            yield from engine.run_tile(self, layer, layer.tiles[i])
            busy[0] += soc.sim.now - t0
            record = loaded.pop(i)
            if tracer is not None and record is not None:  # arrow: tile in -> compute
                tracer.flow(tracer.new_flow_id(), f"{layer.name} t{i}", record.track,
                            record.end_ps, track, t0)
            computed[i] = soc.sim.now

        def store(i: int) -> Generator[simpy.Event, Any, None]:
            record = yield from self._stores(layer.tiles[i], i)
            t1 = computed.pop(i)
            if tracer is not None and record is not None:  # arrow: compute -> tile out
                tracer.flow(tracer.new_flow_id(), f"{layer.name} t{i}", track, t1,
                            record.track, record.start_ps)

        waits = yield from double_buffered(soc, len(layer.tiles), load, compute, store,
                                           layer.name)
        self._record(layer, start, before, busy[0], waits, kinds, setup)

    def _snapshot(self) -> _Snapshot:
        self.soc.sim.catch_up()
        moved = tuple(m.counters["bytes_read"] + m.counters["bytes_written"] if m else 0
                      for m in (self.l1, *self._levels))
        return _Snapshot(moved, {p.path: p.energy_pj for p in self._parts})

    def _record(self, layer: Layer, start: int, before: _Snapshot, busy: int,
                waits: list[int], kinds: list[str], setup: tuple[int, float]) -> None:
        """The layer's record; ``setup`` is the (ps, pJ) of its engine's set-up (e.g. the
        crossbar programming it waited for), kept apart from its own compute and stalls."""
        clock = self.soc.clock
        after = self._snapshot()
        end = self.soc.sim.now
        cycles = clock.cycles(end - start)
        stall = {"dma": 0.0, "dram": 0.0}
        for wait, kind in zip(waits, kinds, strict=False):
            stall[kind] += clock.cycles(wait)
        compute = clock.cycles(busy)
        setup_cycles = clock.cycles(setup[0])
        transfer = stall["dma"] + stall["dram"]
        bound = max((compute, "compute"), (transfer, "transfer"), (setup_cycles, "setup"),
                    key=lambda x: x[0])[1]
        self.layers.append({
            "index": layer.index, "name": layer.name, "kind": layer.kind,
            "engine": layer.engine, "start_ps": start, "end_ps": end,
            "cycles": round(cycles, 3), "macs": layer.macs,
            "macs_per_cycle": round(layer.macs / cycles, 4) if cycles else 0.0,
            "tiles": len(layer.tiles),
            "bytes": {level: a - b for level, a, b in zip(("l1", "l2", "dram"), after.moved,
                                                          before.moved, strict=True)},
            "bound": bound,
            "compute_cycles": round(compute, 3),
            "setup_cycles": round(setup_cycles, 3),
            "setup_energy_pj": round(setup[1], 3),
            "stall_cycles": {k: round(v, 3) for k, v in stall.items()},
            "energy_pj": round(after.total_pj - before.total_pj, 3),
            "energy_by_component_pj": {path: round(pj - before.energy_pj[path], 3)
                                       for path, pj in after.energy_pj.items()},
            "l1_footprint_bytes": layer.l1_bytes, "l2_live_bytes": layer.l2_bytes,
        })

    # -- data movement -------------------------------------------------------------------

    def _staged(self, c: Copy) -> bool:
        """Whether ``c`` reaches L1 through L2 staging (DRAM data, L1 fed from L2)."""
        return c.level == "dram" and self._stage is not None

    def load(self, c: Copy, slot: int, name: str) -> Generator[simpy.Event, Any, DmaRecord]:
        """Copy ``c`` into L1 and wait for it (staging slot ``slot`` for DRAM data)."""
        if self._staged(c):
            record = yield from self._through_l2(c, slot, True, name)
            assert record is not None
            return record
        dma = self.soc.dma(c.level, "l1")
        return (yield from dma.copy(descriptor(c, True), LOAD, name))

    def _loads(self, layer: Layer, tile: Tile, i: int
               ) -> Generator[simpy.Event, Any, DmaRecord | None]:
        name = f"{layer.name} t{tile.index} in"
        dones = []
        record = None
        for c in tile.loads:
            if self._staged(c):
                record = yield from self._through_l2(c, i % 2, True, name)
            else:
                dma = self.soc.dma(c.level, "l1")
                dones.append((yield from dma.submit(descriptor(c, True), LOAD, name)))
        if dones:
            results = yield self.env.all_of(dones)
            last = results[dones[-1]]
            if record is None or last.end_ps > record.end_ps:
                record = last
        return record

    def _stores(self, tile: Tile, i: int) -> Generator[simpy.Event, Any, DmaRecord | None]:
        """Write the tile's outputs back; returns the first copy's record (for flows)."""
        first = None
        for c in tile.stores:
            name = f"{c.tensor} t{tile.index} out"
            if self._staged(c):
                record = yield from self._through_l2(c, 2 + i % 2, False, name, first=True)
            else:
                record = yield from self.soc.dma("l1", c.level).copy(descriptor(c, False),
                                                                     STORE, name)
            first = first or record
        return first

    def _through_l2(self, c: Copy, region: int, to_l1: bool, name: str,
                    first: bool = False) -> Generator[simpy.Event, Any, DmaRecord | None]:
        """Move ``c`` between DRAM and L1 through staging region ``region`` of L2, in
        pieces that fit it: the DRAM <-> L2 DMA on one side, the L2 <-> L1 DMA on the
        other. Returns the L1-side record of the last piece (of the first with ``first``)."""
        soc = self.soc
        stage = self._stage + region * self._region
        channel = LOAD if to_l1 else STORE
        record = None
        if to_l1:
            far, near = soc.dma("dram", "l2"), soc.dma("l2", "l1")
        else:
            far, near = soc.dma("l2", "dram"), soc.dma("l1", "l2")
        for part in pieces(c, self._region):
            if to_l1:
                yield from far.copy(staged(part, stage, True), channel, f"{name} (dram)")
                record = yield from near.copy(descriptor(part, True, stage), channel, name)
            else:
                out = yield from near.copy(descriptor(part, False, stage), channel, name)
                record = record if first and record is not None else out
                yield from far.copy(staged(part, stage, False), channel, f"{name} (dram)")
        return record
