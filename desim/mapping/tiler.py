"""L1 tiling of one layer (DORY-style): how to cut its output so that tiles fit L1.

A tile is a block of output rows ``[r0, r1)`` and output channels ``[c0, c1)`` over the
full width (HWC layout keeps rows contiguous). It needs in L1 (bytes):

    in   = rows_in(h) * W_in * C_in_tile * n_inputs      rows_in(h) = (h - 1) * s + k
    out  = h * W_out * c
    w    = c * (k_h * k_w * C_in_tile) + 4 * c            (weights + int32 bias)
    scratch                                               (per layer, e.g. im2col)

and fits when ``db * (in + out + w) + scratch + overhead <= L1``, with ``db = 2`` (double
buffering) when the layer has more than one tile and 1 when it is not tiled. The engine
says what it needs (:class:`desim.engines.base.L1Needs`): whether weights come into L1
(not on crossbars, which hold them), its scratch (the cluster's im2col buffers,
``2 * n_cores * k_h * k_w * C_in`` for a spatial conv, as DORY reserves), the row
quantum its work splits by (the cluster's core count), and the channel quantum of its
channel blocks (an accelerator's output channels per pass; 1 for the cores).

Candidates: for each channel count (all, about C/k in multiples of 4, rounded up to the
channel quantum; any count when no multiple of it fits), the most rows that
fit, multiples of the row quantum below it, and even splits of the output rows. Among
those that fit, the tiler takes the cheapest, then the one with more channels. Cost is
an estimate of the layer's cycles when the mapper gives one (it builds it on the engines'
timing models, as cost-model-driven mappers such as ZigZag and Timeloop do); otherwise

    cost = moved bytes + 64 B x (DMA rows) + 1024 B x (tiles)

where weights are loaded once per channel block, inputs once per channel block of a
dense conv, a channel-sliced tensor moves as one DMA row per pixel (a row shorter than a
64-byte bus or DRAM transaction costs a whole one), and each tile pays a fixed overhead
(descriptor setup, job dispatch, barrier) worth about 1 KiB of transfer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from desim.errors import SpecError
from desim.workload.op import Op, OpKind

if TYPE_CHECKING:
    from desim.engines.base import L1Needs

#: byte-equivalent cost of one DMA row and of one tile (see the module docstring)
ROW_COST, TILE_COST = 64, 1024

#: ops whose tiles need every input channel (a dense reduction over channels)
DENSE = frozenset({OpKind.CONV2D, OpKind.FULLY_CONNECTED})


@dataclass(frozen=True)
class Geometry:
    """An op's output and input in HWC terms (2-D tensors become 1 x 1 x C)."""

    h_out: int
    w_out: int
    c_out: int
    h_in: int
    w_in: int
    c_in: int
    k_h: int
    k_w: int
    s_h: int
    pad_top: int
    n_inputs: int
    dense: bool

    def in_rows(self, r0: int, r1: int) -> tuple[int, int]:
        """Input rows ``[a, b)`` that output rows ``[r0, r1)`` read (padding excluded)."""
        a = r0 * self.s_h - self.pad_top
        b = (r1 - 1) * self.s_h - self.pad_top + self.k_h
        return max(a, 0), min(b, self.h_in)


def _hwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) == 4:
        return shape[1], shape[2], shape[3]
    if len(shape) == 3:
        return 1, shape[1], shape[2]
    return 1, 1, shape[-1] if shape else 1


def geometry(op: Op) -> Geometry:
    """The HWC geometry of ``op``'s output and first input."""
    h_out, w_out, c_out = _hwc(op.output.shape)
    if op.kind is OpKind.FULLY_CONNECTED:
        assert op.weights is not None
        return Geometry(1, 1, c_out, 1, 1, op.weights.shape[1], 1, 1, 1, 0, 1, True)
    h_in, w_in, c_in = _hwc(op.input.shape)
    windowed = op.kind in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.AVG_POOL2D,
                           OpKind.MAX_POOL2D)
    k_h, k_w = op.kernel if windowed else (1, 1)
    s_h = op.stride[0] if windowed else 1
    pad_top = op.padding.top if windowed else 0
    n_inputs = sum(1 for t in op.inputs if not t.const)
    if not windowed and (h_in, w_in) != (h_out, w_out):
        # reshape-like ops (softmax over a vector, pad, concat): one tile over everything
        h_in, w_in, c_in = h_out, w_out, max(c_in, 1)
    return Geometry(h_out, w_out, c_out, h_in, w_in, c_in, k_h, k_w, s_h, pad_top, n_inputs,
                    op.kind is OpKind.CONV2D)


@dataclass(frozen=True)
class Moved:
    """Bytes and DMA rows a tiling moves per operand over the whole layer."""

    in_bytes: int
    in_rows: int
    out_bytes: int
    out_rows: int
    w_bytes: int
    w_rows: int

    @property
    def bytes(self) -> int:
        return self.in_bytes + self.out_bytes + self.w_bytes

    @property
    def rows(self) -> int:
        return self.in_rows + self.out_rows + self.w_rows


@dataclass(frozen=True)
class TileShape:
    """Output rows and channels per tile, and the L1 bytes each tile needs."""

    h: int
    c: int
    n_tiles: int
    in_bytes: int
    out_bytes: int
    w_bytes: int
    im2col_bytes: int
    double_buffered: bool
    footprint: int
    moved: Moved
    cost: int


def weight_bytes_per_channel(op: Op, g: Geometry) -> int:
    """Weight and bias bytes of one output channel (0 for ops without weights)."""
    if op.weights is None:
        return 0
    per = op.weights.size // g.c_out * op.weights.itemsize
    if op.bias is not None:
        per += op.bias.itemsize
    return per


def shape_for(op: Op, g: Geometry, h: int, c: int, needs: L1Needs,
              overhead: int) -> TileShape:
    """The tile shape of ``h`` output rows x ``c`` channels, with its L1 footprint and the
    data it moves (weights once per channel block, inputs once per channel block of a
    dense op, as the tiles run channel blocks outer and row blocks inner)."""
    dense = g.dense or op.kind is OpKind.FULLY_CONNECTED
    rows_in = min((h - 1) * g.s_h + g.k_h, g.h_in)
    c_in_tile = g.c_in if dense else c
    if op.kind is OpKind.DEPTHWISE_CONV2D:
        c_in_tile = -(-c // op.depth_multiplier)
    in_b = rows_in * g.w_in * c_in_tile * g.n_inputs
    out_b = h * g.w_out * c
    w_per = weight_bytes_per_channel(op, g) if needs.weights else 0
    w_b = c * w_per
    im2col = needs.scratch_bytes
    n_c, n_h = -(-g.c_out // c), -(-g.h_out // h)
    n = n_c * n_h
    db = n > 1
    footprint = (2 if db else 1) * (in_b + out_b + w_b) + im2col + overhead
    halo = rows_in - min(h * g.s_h, rows_in)
    in_bytes = (n_c if dense else 1) * (g.h_in + (n_h - 1) * halo) * g.w_in * g.c_in
    split = c < g.c_out  # channel slices move as one DMA row per pixel
    moved = Moved(
        in_bytes * g.n_inputs, n * g.n_inputs * (rows_in * g.w_in if split and not dense else 1),
        g.h_out * g.w_out * g.c_out, n * (h * g.w_out if split else 1),
        g.c_out * w_per, n_c if needs.weights else 0)
    cost = moved.bytes + ROW_COST * moved.rows + TILE_COST * n
    return TileShape(h, c, n, in_b, out_b, w_b, im2col, db, footprint, moved, cost)


def _channel_steps(c_out: int, quantum: int = 1) -> list[int]:
    """Candidate channels per tile: all of them, about C/k for k = 2..16 in multiples of 4
    (PULP-NN's 4-channel blocks), powers of two from 4, and every count when there are
    few channels; with a ``quantum`` above 1, each rounded up to a multiple of it (at most
    all the channels)."""
    steps = {c_out}
    steps.update(min(c_out, 4 * -(-c_out // (4 * k))) for k in range(2, 17))
    steps.update(4 << j for j in range(c_out.bit_length()) if 4 << j < c_out)
    if c_out <= 16:
        steps.update(range(1, c_out + 1))
    if quantum > 1:
        steps = {min(c_out, quantum * -(-c // quantum)) for c in steps}
    return sorted(steps, reverse=True)


def _row_steps(h_max: int, h_out: int, quantum: int) -> list[int]:
    """Candidate rows per tile up to ``h_max``: the most, multiples of the row quantum
    (e.g. conv kernels split rows over cores), and even splits of the output."""
    steps = {h_max}
    steps.update(quantum * k for k in range(1, h_max // quantum + 1)
                 if quantum * k >= h_max // 4)
    steps.update(h for k in range(1, 5) if (h := -(-h_out // k)) <= h_max)
    return sorted(steps, reverse=True)


Estimate = Callable[[Op, Geometry, TileShape], float]


def _rows_that_fit(op: Op, g: Geometry, c: int, needs: L1Needs, overhead: int,
                   l1_bytes: int) -> tuple[int, TileShape]:
    """The most output rows of ``c`` channels whose tile fits ``l1_bytes`` (0 when not
    even one row does), and the smallest such tile tried. All rows at once is one tile (not
    double-buffered); below that the footprint grows with the rows, so a bisection finds
    the most that fit in log(rows) steps, even for absurdly tall outputs."""
    whole = shape_for(op, g, g.h_out, c, needs, overhead)
    if whole.footprint <= l1_bytes:
        return g.h_out, whole
    one = shape_for(op, g, 1, c, needs, overhead)
    least = one if one.footprint < whole.footprint else whole
    if g.h_out == 1 or one.footprint > l1_bytes:
        return 0, least
    lo, hi = 1, g.h_out - 1  # footprint(lo) fits; find the largest that does
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if shape_for(op, g, mid, c, needs, overhead).footprint <= l1_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo, least


def choose(op: Op, l1_bytes: int, needs: L1Needs, overhead: int = 40,
           estimate: Estimate | None = None) -> TileShape:
    """The best tile shape of ``op`` for an L1 of ``l1_bytes`` on an engine that needs
    ``needs`` (SpecError when none fits).

    ``estimate(op, geometry, shape)`` gives a candidate's cost (e.g. its cycles under the
    engine's timing model); without it the byte-equivalent cost of the module docstring.
    """
    g = geometry(op)
    best: tuple[float, int, TileShape] | None = None
    smallest: TileShape | None = None
    for c in _channel_steps(g.c_out, needs.channel_quantum):
        h_max, least = _rows_that_fit(op, g, c, needs, overhead, l1_bytes)
        if smallest is None or least.footprint < smallest.footprint:
            smallest = least
        if not h_max:
            continue
        for h in _row_steps(h_max, g.h_out, needs.row_quantum):
            t = shape_for(op, g, h, c, needs, overhead)
            cost = estimate(op, g, t) if estimate is not None else t.cost
            if best is None or (cost, -c) < best[:2]:
                best = (cost, -c, t)
    if best is None and needs.channel_quantum > 1:  # no channel block fits: any count
        return choose(op, l1_bytes, replace(needs, channel_quantum=1), overhead, estimate)
    if best is None:
        assert smallest is not None
        raise SpecError(f"layer {op.name} ({op.kind.value}): its smallest tile (1 row x "
                        f"{smallest.c} channels) needs {smallest.footprint} B of L1, more "
                        f"than the {l1_bytes} B there are; enlarge l1.capacity_bytes")
    return best[2]


@dataclass(frozen=True)
class TileRegion:
    """Output rows ``[r0, r1)`` and channels ``[c0, c1)`` of one tile, and the input rows
    ``[in_r0, in_r1)`` it reads."""

    index: int
    r0: int
    r1: int
    c0: int
    c1: int
    in_r0: int
    in_r1: int


def regions(op: Op, shape: TileShape) -> list[TileRegion]:
    """The tiles of ``op`` in execution order: channel blocks outer, row blocks inner, so a
    channel block's weights are loaded once and stay in L1 across its row tiles."""
    g = geometry(op)
    out: list[TileRegion] = []
    for c0 in range(0, g.c_out, shape.c):
        for r0 in range(0, g.h_out, shape.h):
            r1, c1 = min(r0 + shape.h, g.h_out), min(c0 + shape.c, g.c_out)
            a, b = g.in_rows(r0, r1)
            out.append(TileRegion(len(out), r0, r1, c0, c1, a, b))
    return out
