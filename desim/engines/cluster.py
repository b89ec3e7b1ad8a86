"""The RISC-V cluster as an engine: every op kind, one PULP-NN kernel job per tile.

A tile of ``h`` output rows x ``c`` channels is one :class:`~desim.hw.jobs.KernelJob` on
the cluster (:mod:`desim.hw.cluster` gives its cycles); its weights come into L1 with
the tile's channel block, and a convolution with a spatial window needs an im2col buffer
of ``2 * n_cores * k_h * k_w * C_in`` bytes (DORY's L1 constraint for PULP-NN). Rows per
tile are preferably multiples of the core count, since the kernels split rows over cores.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from desim.engines.base import Engine, L1Needs
from desim.hw.cluster import Cluster
from desim.hw.jobs import KernelJob
from desim.mapping.tiler import Geometry, geometry
from desim.workload.op import Op, OpKind

if TYPE_CHECKING:
    from desim.mapping.schedule import Layer, Tile
    from desim.runtime.executor import Runtime

#: cluster kernel per op kind (desim.hw.jobs.KernelJob.op)
KERNEL = {
    OpKind.CONV2D: "conv2d", OpKind.DEPTHWISE_CONV2D: "depthwise",
    OpKind.FULLY_CONNECTED: "fc", OpKind.AVG_POOL2D: "avgpool", OpKind.MAX_POOL2D: "maxpool",
    OpKind.ADD: "add", OpKind.SOFTMAX: "requant", OpKind.PAD: "requant",
    OpKind.CONCAT: "requant", OpKind.QUANTIZE: "requant", OpKind.DEQUANTIZE: "requant",
}


def kernel_job(op: Op, g: Geometry) -> dict[str, Any]:
    """The KernelJob fields every tile of ``op`` shares."""
    kernel = KERNEL[op.kind]
    if kernel == "conv2d" and op.kernel == (1, 1) and op.stride == (1, 1):
        kernel = "pointwise"
    return {"op": kernel, "w_out": g.w_out, "k_h": g.k_h, "k_w": g.k_w, "stride_h": g.s_h,
            "stride_w": op.stride[1] if g.k_h * g.k_w > 1 or g.s_h > 1 else 1,
            "c_in": g.c_in if kernel in ("conv2d", "pointwise", "fc") else 0}


class ClusterEngine(Engine):
    """The cores of ``cluster``; the schedule's payload of a layer is its kernel job."""

    name = "cluster"
    component: Cluster

    def __init__(self, cluster: Cluster):
        super().__init__(cluster)
        self.cluster = cluster
        self._cycles: dict[KernelJob, int] = {}
        #: tile_cycles and add_cycles by the job's fields
        self._tiles: dict[tuple[Any, ...], int] = {}

    # -- mapping -------------------------------------------------------------------------

    def supports(self, op: Op) -> str | None:
        if op.kind not in KERNEL:
            return f"the cluster has no kernel for {op.kind.value}"
        return None

    def l1_needs(self, op: Op) -> L1Needs:
        g = geometry(op)
        n = self.cluster.spec.n_cores
        im2col = (2 * n * g.k_h * g.k_w * g.c_in
                  if op.kind is OpKind.CONV2D and g.k_h * g.k_w > 1 else 0)
        return L1Needs(weights=True, scratch_bytes=im2col, row_quantum=n)

    def job_cycles(self, job: KernelJob) -> int:
        """Cycles of ``job`` on the cores when L1 bandwidth is not the limit (cached)."""
        c = self._cycles.get(job)
        if c is None:
            c = self._cycles[job] = self.cluster.spec.job_cycles(job)
        return c

    def tile_cycles(self, op: Op, g: Geometry, h: int, c: int) -> int:
        fields = kernel_job(op, g)
        key = (*fields.values(), h, c)  # the job's fields: layers of one shape share it
        cycles = self._tiles.get(key)
        if cycles is None:
            cycles = self._tiles[key] = self.job_cycles(
                KernelJob(**{**fields, "h_out": h, "c_out": c}))
        return cycles

    def add_cycles(self, h: int, w_out: int, c: int) -> int:
        """Cycles of an elementwise add of ``h x w_out x c`` values (partial sums)."""
        key = ("add", h, w_out, c)
        cycles = self._tiles.get(key)
        if cycles is None:
            cycles = self._tiles[key] = self.job_cycles(KernelJob("add", h, w_out, c))
        return cycles

    def tile_energy_pj(self, op: Op, g: Geometry, h: int, c: int) -> float:
        job = KernelJob(**{**kernel_job(op, g), "h_out": h, "c_out": c})
        busy = sum(self.cluster.spec.core_cycles(job))
        return busy * self.cluster.spec.energy_pj_per_core_cycle

    def payload(self, op: Op) -> dict[str, Any]:
        return kernel_job(op, geometry(op))

    # -- runtime ---------------------------------------------------------------------------

    def run_tile(self, rt: Runtime, layer: Layer, tile: Tile
                 ) -> Generator[simpy.Event, Any, None]:
        fn = rt.fn.tile_fn(layer, tile) if rt.fn is not None else None
        job = KernelJob(**{**layer.payload, "h_out": tile.r1 - tile.r0,
                           "c_out": tile.c1 - tile.c0},
                        in_addr=tile.in_addr, w_addr=tile.w_addr, out_addr=tile.out_addr,
                        name=f"{layer.name} t{tile.index}", layer=layer.name,
                        tile=tile.index, compute=fn)
        yield from self.cluster.run(job)

    def accumulate(self, layer: Layer, tile: Tile, w_out: int, terms: int
                   ) -> Generator[simpy.Event, Any, None]:
        """Add ``terms`` extra partial-sum planes of ``tile`` into its output (an
        elementwise add job over ``h x w_out x c * terms`` values)."""
        h, c = tile.r1 - tile.r0, tile.c1 - tile.c0
        job = KernelJob("add", h, w_out, c * terms, 0, in_addr=tile.out_addr,
                        out_addr=tile.out_addr, name=f"{layer.name} t{tile.index} partial sums",
                        layer=layer.name, tile=tile.index, category="psum")
        yield from self.cluster.run(job)

    def track(self, layer: Layer) -> tuple[str, str]:
        return self.cluster.cores[0].path, "exec"
