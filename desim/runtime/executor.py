"""The runtime: executes a schedule on a built SoC, layer after layer.

Per layer: AIMC programming first when the layer opens a programming group; then its
tiles through a double-buffered pipeline (:mod:`desim.runtime.pipeline`):

    load(i)    cluster DMA L2 -> L1 of the tile's inputs (and weights when its channel
               block changes); operands in DRAM come first through an L2 staging buffer
               by the I/O DMA (DRAM -> L2), then by the cluster DMA (L2 -> L1)
    compute(i) one KernelJob on the cluster, or one MvmJob per crossbar block on AIMC (row
               blocks' partial sums then accumulate on the cluster)
    store(i)   cluster DMA L1 -> L2 (and I/O DMA L2 -> DRAM for outputs placed there)

Each layer records its start and end, cycles, MACs, bytes moved at each level, how long
its engine computed and how long it waited for data from L2 (``dma``) or from DRAM
(``dram``), and the energy spent while it ran.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from desim.hw.dma import Copy1D, Copy2D, DmaRecord
from desim.hw.jobs import KernelJob, MvmJob, ProgramJob
from desim.mapping.mapper import blocks_for
from desim.mapping.schedule import Copy, Layer, Schedule, Tile
from desim.runtime.pipeline import double_buffered

if TYPE_CHECKING:
    from desim.soc import PulpSoc

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


class Runtime:
    """Runs ``schedule`` on ``soc``; ``functional`` (optional) computes real tensors.

    ``functional`` (a :class:`desim.functional.mode.Functional`) supplies the payload a
    crossbar keeps when programmed, ``block_weights(block, crossbar)``, and the callables
    the engines run when a job completes: ``tile_fn(layer, tile)`` on a cluster tile's
    kernel job, ``block_fn(layer, tile, block, lo, hi)`` on each MVM job of an AIMC tile.
    """

    def __init__(self, soc: PulpSoc, schedule: Schedule, functional: Any = None):
        self.soc, self.schedule, self.fn = soc, schedule, functional
        self.env = soc.env
        self.layers: list[dict[str, Any]] = []
        mem = schedule.memory
        self._stage = mem.get("staging_addr")
        #: staging regions in L2: loads of even / odd tiles, then stores of even / odd tiles
        self._region = mem.get("staging_bytes", 0) // 4

    # -- whole run -----------------------------------------------------------------------

    def run(self) -> Generator[simpy.Event, Any, None]:
        """Execute every layer in order (``yield from`` it)."""
        self._preload()
        for layer in self.schedule.layers:
            yield from self._layer(layer)

    def results(self) -> dict[str, Any]:
        """Summary entries: ``layers``, ``macs``, ``energy_pj``, ``memory``, ``aimc``."""
        soc = self.soc
        energy = {c.path: round(c.energy_pj, 3) for c in soc.energy_parts()}
        energy["total"] = round(sum(energy.values()), 3)
        mem = self.schedule.memory
        out: dict[str, Any] = {
            "layers": self.layers,
            "macs": sum(layer["macs"] for layer in self.layers),
            "energy_pj": energy,
            "memory": {"l1_peak_bytes": mem["l1_peak_bytes"],
                       "l2_peak_bytes": mem["l2_peak_bytes"], "dram_bytes": mem["dram_bytes"],
                       "dram_traffic_bytes": int(soc.dram.counters["bytes_read"]
                                                 + soc.dram.counters["bytes_written"])},
        }
        if soc.aimc is not None:
            out["aimc"] = {k: v for k, v in self.schedule.aimc.items() if k != "matrices"}
            out["aimc"]["row_writes"] = sum(x.writes for x in soc.aimc.crossbars)
        return out

    def _preload(self) -> None:
        """Pinned AIMC weights are programmed at deployment, before the run."""
        aimc = self.soc.aimc
        if aimc is None or not self.schedule.aimc.get("pinned"):
            return
        for layer in self.schedule.layers:
            for b in layer.blocks:
                job = ProgramJob(b.crossbar, b.tag, b.rows, b.cols, b.row0, b.col0,
                                 weights=self._weights(b))
                aimc.crossbars[b.crossbar].preload(job)

    def _weights(self, block: Any) -> Any:
        """The payload crossbar ``block.crossbar`` keeps for ``block`` (functional runs)."""
        if self.fn is None:
            return None
        assert self.soc.aimc is not None
        return self.fn.block_weights(block, self.soc.aimc.crossbars[block.crossbar])

    # -- one layer -----------------------------------------------------------------------

    def _layer(self, layer: Layer) -> Generator[simpy.Event, Any, None]:
        soc = self.soc
        before = self._snapshot()
        start = soc.sim.now
        if layer.program:
            yield from self._program(layer)
        busy = [0]
        kinds: list[str] = []
        tracer = soc.sim.tracer
        if tracer is not None:
            tracer.counter(soc.l1.path, "occupancy", start, layer.l1_bytes)
            tracer.counter(soc.l2.path, "occupancy", start, layer.l2_bytes)
        track = self._track(layer)
        loaded: dict[int, DmaRecord | None] = {}
        computed: dict[int, int] = {}

        def load(i: int) -> Generator[simpy.Event, Any, None]:
            tile = layer.tiles[i]
            kinds.append("dram" if any(c.level == "dram" for c in tile.loads) else "dma")
            loaded[i] = yield from self._loads(layer, tile, i)

        def compute(i: int) -> Generator[simpy.Event, Any, None]:
            t0 = soc.sim.now
            yield from self._compute(layer, layer.tiles[i])
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
        self._record(layer, start, before, busy[0], waits, kinds)

    def _track(self, layer: Layer) -> tuple[str, str]:
        """The trace track where ``layer`` computes (flow arrows end and start there)."""
        soc = self.soc
        if layer.engine == "aimc" and layer.blocks and soc.aimc is not None:
            return soc.aimc.crossbars[layer.blocks[0].crossbar].path, "mvm"
        return soc.cluster.cores[0].path, "exec"

    def _snapshot(self) -> tuple[int, ...]:
        soc = self.soc
        c = [m.counters for m in (soc.l1, soc.l2, soc.dram)]
        energy = sum(p.energy_pj for p in soc.energy_parts())
        return (*(x["bytes_read"] + x["bytes_written"] for x in c), energy)  # type: ignore[return-value]

    def _record(self, layer: Layer, start: int, before: tuple[int, ...], busy: int,
                waits: list[int], kinds: list[str]) -> None:
        clock = self.soc.clock
        after = self._snapshot()
        end = self.soc.sim.now
        cycles = clock.cycles(end - start)
        stall = {"dma": 0.0, "dram": 0.0}
        for wait, kind in zip(waits, kinds, strict=False):
            stall[kind] += clock.cycles(wait)
        compute = clock.cycles(busy)
        self.layers.append({
            "index": layer.index, "name": layer.name, "kind": layer.kind,
            "engine": layer.engine, "start_ps": start, "end_ps": end,
            "cycles": round(cycles, 3), "macs": layer.macs,
            "macs_per_cycle": round(layer.macs / cycles, 4) if cycles else 0.0,
            "tiles": len(layer.tiles),
            "bytes": {"l1": after[0] - before[0], "l2": after[1] - before[1],
                      "dram": after[2] - before[2]},
            "bound": "compute" if compute >= stall["dma"] + stall["dram"] else "transfer",
            "compute_cycles": round(compute, 3),
            "stall_cycles": {k: round(v, 3) for k, v in stall.items()},
            "energy_pj": round(after[3] - before[3], 3),
            "l1_footprint_bytes": layer.l1_bytes, "l2_live_bytes": layer.l2_bytes,
        })

    # -- data movement -------------------------------------------------------------------

    def _loads(self, layer: Layer, tile: Tile, i: int
               ) -> Generator[simpy.Event, Any, DmaRecord | None]:
        cl = self.soc.cl_dma
        name = f"{layer.name} t{tile.index} in"
        dones = []
        record = None
        for c in tile.loads:
            if c.level == "dram":
                record = yield from self._through_l2(c, i % 2, True, name)
            else:
                dones.append((yield from cl.submit(descriptor(c, True), LOAD, name)))
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
            if c.level == "dram":
                record = yield from self._through_l2(c, 2 + i % 2, False, name, first=True)
            else:
                record = yield from self.soc.cl_dma.copy(descriptor(c, False), STORE, name)
            first = first or record
        return first

    def _through_l2(self, c: Copy, region: int, to_l1: bool, name: str,
                    first: bool = False) -> Generator[simpy.Event, Any, DmaRecord | None]:
        """Move ``c`` between DRAM and L1 through staging region ``region`` of L2, in
        pieces that fit it: the I/O DMA on the DRAM side, the cluster DMA on the L1 side.
        Returns the L1-side record of the last piece (of the first with ``first``)."""
        cl, io = self.soc.cl_dma, self.soc.io_dma
        stage = self._stage + region * self._region
        channel = LOAD if to_l1 else STORE
        record = None
        for part in pieces(c, self._region):
            if to_l1:
                yield from io.copy(staged(part, stage, True), channel, f"{name} (dram)")
                record = yield from cl.copy(descriptor(part, True, stage), channel, name)
            else:
                out = yield from cl.copy(descriptor(part, False, stage), channel, name)
                record = record if first and record is not None else out
                yield from io.copy(staged(part, stage, False), channel, f"{name} (dram)")
        return record

    # -- computation ---------------------------------------------------------------------

    def _compute(self, layer: Layer, tile: Tile) -> Generator[simpy.Event, Any, None]:
        soc = self.soc
        label = f"{layer.name} t{tile.index}"
        h, c = tile.r1 - tile.r0, tile.c1 - tile.c0
        if layer.engine == "cluster":
            fn = self.fn.tile_fn(layer, tile) if self.fn is not None else None
            job = KernelJob(**{**layer.job, "h_out": h, "c_out": c}, in_addr=tile.in_addr,
                            w_addr=tile.w_addr, out_addr=tile.out_addr, name=label,
                            layer=layer.name, tile=tile.index, compute=fn)
            yield from soc.cluster.run(job)
            return
        assert soc.aimc is not None
        w_out = layer.job["w_out"]
        events = []
        parts = blocks_for(layer, tile.c0, tile.c1)
        for b, lo, hi in parts:
            fn = self.fn.block_fn(layer, tile, b, lo, hi) if self.fn is not None else None
            mvm = MvmJob(b.crossbar, h * w_out, b.rows, hi - lo, b.row0, b.col0 + lo - b.n0,
                         b.tag, tile.in_addr, tile.out_addr, f"{label} {b.tag}", layer.name,
                         tile.index, compute=fn)
            events.append(soc.aimc.submit(mvm))
        yield self.env.all_of(events)
        if layer.row_blocks > 1:
            job = KernelJob("add", h, w_out, c * (layer.row_blocks - 1), 0,
                            in_addr=tile.out_addr, out_addr=tile.out_addr,
                            name=f"{label} partial sums", layer=layer.name, tile=tile.index)
            yield from soc.cluster.run(job)

    def _program(self, layer: Layer) -> Generator[simpy.Event, Any, None]:
        """Reprogram the crossbars with the blocks of ``layer``'s group. Each block's weights
        come to L1 by DMA (through L2 staging from DRAM), then are written; the weights of
        the next block travel while the current one is written (two L1 areas)."""
        soc = self.soc
        assert soc.aimc is not None
        matrices = self.schedule.aimc["matrices"]
        blocks = layer.program
        area = max(b.rows * b.cols for b in blocks)
        areas = [soc.l1.base, soc.l1.base + area]
        if 2 * area > soc.l1.size:  # room for one block only: fetch, then write, in turn
            areas = [soc.l1.base]

        def fetch(i: int) -> Generator[simpy.Event, Any, None]:
            b = blocks[i]
            tensor, k = matrices[b.layer]
            level, addr = self.schedule.placement[tensor]
            c = Copy(tensor, level, addr + b.n0 * k + b.k0, b.cols, b.rows, k,
                     areas[i % len(areas)])
            if level == "dram":
                yield from self._through_l2(c, i % 2, True, f"{b.tag} weights")
            else:
                yield from soc.cl_dma.copy(descriptor(c, True), LOAD, f"{b.tag} weights")

        aimc = soc.aimc

        def write(i: int) -> Generator[simpy.Event, Any, None]:
            b = blocks[i]
            yield from aimc.run(ProgramJob(b.crossbar, b.tag, b.rows, b.cols, b.row0,
                                               b.col0, src_addr=areas[i % len(areas)],
                                               weights=self._weights(b), layer=b.layer))

        if len(areas) == 2:
            yield from double_buffered(soc, len(blocks), fetch, write, _nothing,
                                       f"{layer.name} programming")
        else:
            for i in range(len(blocks)):
                yield from fetch(i)
                yield from write(i)


def _nothing(i: int) -> Generator[simpy.Event, Any, None]:
    yield from ()
