"""The engines a training step runs on: the cores with floating-point kernels, and the
crossbars' write periphery for in-array weight updates."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import simpy

from desim.engines.base import Engine
from desim.engines.cluster import ClusterEngine
from desim.hw.fp_kernels import FpJob

if TYPE_CHECKING:
    from desim.hw.aimc import Aimc
    from desim.mapping.schedule import Layer, Tile
    from desim.runtime.executor import Runtime
    from desim.workload.op import Op


class FpClusterEngine(ClusterEngine):
    """The cluster's cores running a training schedule: a layer's payload is the
    :class:`FpJob` of the whole primitive; each tile runs its share."""

    def run_tile(self, rt: Runtime, layer: Layer, tile: Tile
                 ) -> Generator[simpy.Event, Any, None]:
        p: FpJob = layer.payload
        rows = tile.r1 - tile.r0
        if p.kind == "matmul":
            cols = tile.c1 - tile.c0
            depth = tile.macs // (rows * cols)  # a block of the reduction when K is cut
            # im2col / transposes: once per block of B (a column block's first row tile,
            # or every tile when the reduction is cut)
            copies = (p.copies * cols * depth // p.k if depth < p.k or tile.r0 == 0 else 0)
            job = replace(p, n=p.n if p.axis == "m" else rows, m=cols, k=depth, copies=copies)
        else:
            job = replace(p, n=rows)
        fn = rt.fn.tile_fn(layer, tile) if rt.fn is not None else None
        yield from self.cluster.run(replace(job, in_addr=tile.in_addr, w_addr=tile.w_addr,
                                            out_addr=tile.out_addr,
                                            name=f"{layer.name} t{tile.index}",
                                            layer=layer.name, tile=tile.index, compute=fn))


@dataclass(frozen=True)
class Write:
    """Pulses applied to one crossbar: how long its write periphery is busy and the
    energy the pulses take."""

    crossbar: int
    ps: int
    energy_pj: float


class AnalogWriteEngine(Engine):
    """The crossbars' write periphery: a layer's payload is the :class:`Write` s of one
    weight update; crossbars write together when ``aimc.program_parallel``, else in turn."""

    name = "aimc_write"
    component: Aimc

    def __init__(self, aimc: Aimc):
        super().__init__(aimc)
        self.aimc = aimc

    def supports(self, op: Op) -> str | None:
        return "the write periphery only applies weight updates"

    def run_tile(self, rt: Runtime, layer: Layer, tile: Tile
                 ) -> Generator[simpy.Event, Any, None]:
        writes: tuple[Write, ...] = layer.payload
        env = rt.env

        def one(w: Write) -> Generator[simpy.Event, Any, None]:
            xbar = self.aimc.crossbars[w.crossbar]
            t0 = xbar.begin()
            yield env.timeout(w.ps)
            xbar.end(t0, "write", layer.name, "aimc_write")
            xbar.energy_pj += w.energy_pj
            self.aimc.energy_pj += w.energy_pj

        if self.aimc.spec.program_parallel:
            yield env.all_of([env.process(one(w)) for w in writes])
        else:
            for w in writes:
                yield from one(w)

    def track(self, layer: Layer) -> tuple[str, str]:
        writes: tuple[Write, ...] = layer.payload
        return self.aimc.crossbars[writes[0].crossbar if writes else 0].path, "write"

    def energy_components(self) -> list[Any]:
        return [self.aimc]
