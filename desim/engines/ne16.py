"""NE16 as an engine: 3x3 and 1x1 convolutions and 3x3 depthwise ones, one job per subtile.

A tile of ``h`` output rows x ``c`` channels (over the whole output width ``W``) becomes a
job per subtile (:class:`~desim.hw.ne16.Subtile`): patches of ``p x p`` outputs (``p =
3``, or 2 at stride 2, where a stride-1 patch keeps 4 of its 9 outputs) over the tile's
rows and columns, in blocks of 32 output channels (16 depthwise), in the order NE16 walks
them (channel block, then rows, then columns). The tile's cycles are
:func:`desim.hw.ne16.queued_cycles` of its jobs' :func:`~desim.hw.ne16.phases`, the
functions the component's jobs run by, so the mapper's estimate is the simulated time
whenever nothing else holds the L1 port.

L1: the tile's channel block of weights comes in with it. NE16 keeps them as bit planes,
16 input channels at a time (``ceil(C_in / 16) * qw * 18`` B per output channel at 3x3,
``* 2`` at 1x1, ``qw * 18`` per 16 channels depthwise), and adds an 8-bit scale (and a
shift) per channel to the int32 bias; what this exceeds the int8 tensor the tiler counts
by (a first layer of 3 input channels pads them to 16) is reserved as scratch for both
weight buffers. Rows per tile are preferably multiples of ``p`` and channels of 32 (16
depthwise), as DORY's NE16 tiler prefers.

Functional runs: with ``ne16.arithmetic=tflite`` a tile is computed exactly
(``rt.fn.tile_fn``) when its last job ends; with ``ne16`` the accumulators are exact and
the output stage is NE16's normquant (:class:`Ne16Numerics`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from desim.engines.base import Engine, L1Needs
from desim.hw.ne16 import DENSE_K, DW_K, SLICE, Ne16, Ne16Job, Subtile, queued_cycles
from desim.mapping.tiler import Geometry, geometry, weight_bytes_per_channel
from desim.workload.op import Op, OpKind

if TYPE_CHECKING:
    from desim.mapping.schedule import Layer, Schedule, Tile
    from desim.runtime.executor import Runtime


def _pair(p: tuple[int, int]) -> str:
    return f"{p[0]}x{p[1]}"


@dataclass(frozen=True)
class Ne16Layer:
    """What the engine keeps of a layer in the schedule."""

    mode: str  # "3x3", "1x1" or "dw"
    patch: int  # output rows and columns per subtile
    slices: int  # 16-channel input slices per subtile
    w_out: int
    macs_per_output: int  # k_h * k_w * C_in (depthwise: k_h * k_w)
    bias: bool
    w_per_c: int  # weight and bias bytes of one output channel in the graph

    @property
    def channels(self) -> int:
        """Output channels per subtile."""
        return DW_K if self.mode == "dw" else DENSE_K


def _spans(n: int, p: int) -> list[tuple[int, int]]:
    """``(size, count)`` of the ``p``-wide pieces of ``n``: the full ones, then the rest."""
    return [(size, count) for size, count in ((p, n // p), (n % p, int(n % p > 0))) if count]


def subtiles(lay: Ne16Layer, h: int, c: int) -> list[tuple[Subtile, int]]:
    """The jobs of a tile of ``h`` rows x ``c`` channels, ``(shape, count)``; the last
    entry is the shape of the job that runs last."""
    return [(Subtile(lay.mode, k, lay.slices, rows * cols, lay.bias), nk * nr * nc)
            for k, nk in _spans(c, lay.channels)
            for rows, nr in _spans(h, lay.patch)
            for cols, nc in _spans(lay.w_out, lay.patch)]


class Ne16Engine(Engine):
    """Convolutions on an :class:`~desim.hw.ne16.Ne16`; the layer payload is an
    :class:`Ne16Layer`."""

    name = "ne16"
    component: Ne16

    # -- mapping -------------------------------------------------------------------------

    def supports(self, op: Op) -> str | None:
        if op.kind is OpKind.FULLY_CONNECTED:
            return ("NE16's linear mode is not modelled: its published phase costs "
                    "(GVSoC's) give its matrix-vector cycles but not its input stream, and "
                    "DORY and pulp-nnx run fully connected layers on the cores")
        if op.kind not in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D):
            return f"NE16 runs convolutions, not {op.kind.value}"
        if op.stride not in ((1, 1), (2, 2)):
            return (f"NE16 runs stride 1, and stride 2 by masked stores, not stride "
                    f"{_pair(op.stride)}")
        if op.dilation != (1, 1):
            return f"NE16 runs undilated filters, not dilation {_pair(op.dilation)}"
        if op.kind is OpKind.DEPTHWISE_CONV2D:
            if op.kernel != (3, 3):
                return f"NE16's depthwise mode runs 3x3 filters only, not {_pair(op.kernel)}"
            if op.depth_multiplier != 1:
                return f"NE16 runs a depth multiplier of 1, not {op.depth_multiplier}"
            return None
        if op.kernel not in ((3, 3), (1, 1)):
            return f"NE16's datapath runs 3x3 and 1x1 filters only, not {_pair(op.kernel)}"
        assert op.weights is not None
        if op.weights.shape[3] != op.input.shape[-1]:
            return "NE16 runs dense and depthwise convolutions, not grouped ones"
        return None

    def payload(self, op: Op) -> Ne16Layer:
        g = geometry(op)
        dw = op.kind is OpKind.DEPTHWISE_CONV2D
        mode = "dw" if dw else "3x3" if op.kernel == (3, 3) else "1x1"
        taps = g.k_h * g.k_w
        return Ne16Layer(mode, 3 if g.s_h == 1 else 2, 1 if dw else -(-g.c_in // SLICE),
                         g.w_out, taps if dw else taps * g.c_in, op.bias is not None,
                         weight_bytes_per_channel(op, g))

    def l1_needs(self, op: Op) -> L1Needs:
        g, lay, spec = geometry(op), self.payload(op), self.component.spec
        plane = 2 if lay.mode == "1x1" else 18  # bytes of one weight bit of 16 channels
        if lay.mode == "dw":
            layout, int8 = -(-g.c_out // DW_K) * spec.weight_bits * plane, g.c_out * 9
        else:
            layout = g.c_out * lay.slices * spec.weight_bits * plane
            int8 = g.c_out * lay.macs_per_output
        extra = max(0, layout - int8) + g.c_out * (1 + int(spec.per_channel_shift))
        return L1Needs(weights=True, scratch_bytes=2 * extra, row_quantum=lay.patch,
                       channel_quantum=lay.channels)

    def tile_cycles(self, op: Op, g: Geometry, h: int, c: int) -> int:
        jobs = subtiles(self.payload(op), h, c)
        ne16 = self.component
        return queued_cycles(ne16.spec.program_cycles,
                             [(ne16.phases(s).cycles, n) for s, n in jobs],
                             ne16.phases(jobs[-1][0]).cycles)

    def tile_energy_pj(self, op: Op, g: Geometry, h: int, c: int) -> float:
        spec = self.component.spec
        macs = h * g.w_out * c * self.payload(op).macs_per_output
        return macs * spec.energy_pj_per_mac * spec.weight_bits / 8

    # -- runtime ---------------------------------------------------------------------------

    def run_tile(self, rt: Runtime, layer: Layer, tile: Tile
                 ) -> Generator[simpy.Event, Any, None]:
        lay: Ne16Layer = layer.payload
        ne16 = self.component
        h, c, w = tile.r1 - tile.r0, tile.c1 - tile.c0, lay.w_out
        done = None
        for c0 in range(0, c, lay.channels):
            k = min(lay.channels, c - c0)
            for r in range(0, h, lay.patch):
                rows = min(lay.patch, h - r)
                for x in range(0, w, lay.patch):
                    cols = min(lay.patch, w - x)
                    shape = Subtile(lay.mode, k, lay.slices, rows * cols, lay.bias)
                    done = ne16.submit(Ne16Job(
                        shape, rows * cols * k * lay.macs_per_output, tile.in_addr,
                        tile.w_addr + c0 * lay.w_per_c, tile.out_addr + (r * w + x) * c + c0,
                        f"{layer.name} t{tile.index}", layer.name, tile.index))
        assert done is not None  # a tile has at least one row and one channel
        yield done  # jobs run in submission order: the last ends last
        if rt.fn is not None:
            model = rt.fn.models.get(self.name)
            if model is not None:
                model.compute(layer, tile)
            else:
                rt.fn.tile_fn(layer, tile)(ne16)

    def track(self, layer: Layer) -> tuple[str, str]:
        return self.component.path, "jobs"

    # -- functional mode -------------------------------------------------------------------

    def functional_model(self, fn: Any, schedule: Schedule, seed: int) -> Any:
        if self.component.spec.arithmetic != "ne16":
            return None
        return Ne16Numerics(fn, [layer.name for layer in schedule.layers
                                 if layer.engine == self.name],
                            self.component.spec.per_channel_shift)


class Ne16Numerics:
    """NE16's arithmetic in a functional run ``fn`` for ``layers``: the int32 accumulators
    are TFLite's (exact: NE16 takes the input offset by 128 and the weights offset by
    their minimum, which the bias absorbs), the output stage is
    :func:`desim.hw.ne16.normquant` with :func:`desim.hw.ne16.scales` of TFLite's
    multipliers."""

    def __init__(self, fn: Any, layers: list[str], per_channel_shift: bool):
        self.fn = fn
        self.layers = layers
        self.per_channel = per_channel_shift

    def compute(self, layer: Layer, tile: Tile) -> None:
        """Compute and store ``tile`` of ``layer`` as NE16 does."""
        from desim.functional.ops import Region, output_stage
        from desim.hw.ne16 import normquant, scales

        op = self.fn.ops[layer.name]
        region = Region(tile.r0, tile.r1, tile.c0, tile.c1)
        st = output_stage(op)
        c = slice(tile.c0, tile.c1)
        acc = accumulators(op, self.fn.values, region)
        if st.bias is not None:
            acc = acc + st.bias[c]
        m, n = scales(st.multiplier[c], st.shift[c], None if st.bias is None else st.bias[c],
                      st.zero_point, self.per_channel)
        self.fn.store(layer.name, region, normquant(acc, m, n, st.zero_point, st.act_min,
                                                    st.act_max))


def accumulators(op: Op, values: dict[str, np.ndarray], r: Any) -> np.ndarray:
    """The int64 accumulators (bias excluded) of the output rows ``[r.r0, r.r1)`` and
    channels ``[r.c0, r.c1)`` of a conv2d or depthwise ``op``, summed in float64 (exact:
    ``k_h * k_w * C_in * 255 * 128`` stays far below 2^53)."""
    from desim.functional.ops import quant_of, weight_data, window

    a, b, pads = window(op, r)
    _, zp = quant_of(op, op.input)
    x = np.pad(values[op.input.name][:, a:b].astype(np.float64) - zp,
               ((0, 0), pads[:2], pads[2:], (0, 0)))
    w = weight_data(op).astype(np.float64)
    (sh, sw), (kh, kw) = op.stride, op.kernel
    h, w_out = r.r1 - r.r0, op.output.shape[2]
    acc = np.zeros((x.shape[0], h, w_out, r.c1 - r.c0))
    for ky in range(kh):
        for kx in range(kw):
            tap = x[:, ky:ky + (h - 1) * sh + 1:sh, kx:kx + (w_out - 1) * sw + 1:sw, :]
            if op.kind is OpKind.DEPTHWISE_CONV2D:
                acc += tap[..., r.c0:r.c1] * w[0, ky, kx, r.c0:r.c1]
            else:
                acc += tap @ w[r.c0:r.c1, ky, kx, :].T
    return acc.astype(np.int64)
