"""Per-core cycle models of the cluster's int8 kernels, after PULP-NN's structure.

Each kernel's work is split across ``n`` cores the way PULP-NN splits it: contiguous
chunks of ``ceil(items / n)`` items, so the last cores may get less work or none (the
load imbalance the barrier then waits for). Items are output rows (conv2d, pointwise,
pooling), channels (depthwise), neurons (fc) or 32-bit words of elements (add,
requant). For a core's share the model returns the issue cycles of a single-issue
core (one instruction per cycle, hardware loops, post-increment loads), its L1
accesses and the bytes they move. All counts are cycles of the cluster clock, with
``kq = K // 4`` four-deep SIMD steps and ``kr = K % 4`` leftover elements of a
reduction of length ``K`` (a leftover element costs a full step: the same instruction
count with byte loads and scalar MACs)::

    conv2d, K = k_h * k_w * c_in, P = rows * w_out pixels of the core:
      im2col(pixel) = k_h * (im2col_row + ceil(k_w * c_in / 4) * copy_word)
      pair          = mm_call + (c_out // 4) * (mm_block + (kq + kr) * mm_4x2_step + 8 * requant)
                              + (c_out % 4) * (mm_block + (kq + kr) * mm_1x2_step + 2 * requant)
      odd pixel     = c_out * (mm_block + (kq + kr) * mm_1x1_step + requant)
      issue         = core_setup + P * im2col(pixel) + (P // 2) * pair + (P % 2) * odd pixel
    pointwise: conv2d with k = 1 and no im2col (the matmul reads the input pixels)
    depthwise, per channel, h_in = (h_out - 1) * stride_h + k_h:
      channel = w_out * (dw_column + h_in * ceil(k_w / 4) * copy_word
                         + h_out * (dw_pixel + (kq + kr) * dw_step + requant))
    fc, per neuron: fc_neuron + (kq + kr) * mm_1x1_step + requant
    maxpool / avgpool, per output pixel, cw = ceil(c / 4) words:
      max: pool_pixel + k_h * k_w * cw * maxpool_word + cw
      avg: pool_pixel + k_h * k_w * cw * avgpool_word + c * requant
    add, per element: add_elem;  requant, per element: 1 + requant

The cluster adds ``l1_conflict_stall`` cycles per L1 access for bank conflicts and
takes each core's time as the larger of its cycles and its L1 traffic's memory time.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from desim.errors import SpecError
from desim.hw.jobs import KernelJob
from desim.spec import Spec, param

_PULPNN = "pulp-platform/pulp-nn 8bit kernels"


#: the largest cycle cost a kernel parameter takes: kernel costs are a few to a few hundred
#: cycles, and a run's length grows with them
MAX_COST_CYCLES = 100_000


@dataclass(frozen=True)
class KernelCosts(Spec):
    """Cycle costs of the PULP-NN int8 kernels on one RI5CY-class core (XpulpV2)."""

    core_setup_cycles: int = param(
        30, unit="cycles", ge=0, doc="kernel prologue per core per job (arguments, chunk "
        "bounds, pointers)", source="assumed: a few tens of instructions of prologue")
    copy_word_cycles: int = param(
        2, unit="cycles/word", ge=0, doc="copy of one 32-bit word (im2col, depthwise buffer)",
        source=f"derived: one lw + one sw ({_PULPNN}, im2col and depthwise buffer loops)")
    im2col_row_cycles: int = param(
        8, unit="cycles", ge=0, doc="call and loop setup of one kernel-row copy of im2col",
        source="assumed: function call and pointer arithmetic per kernel row")
    mm_call_cycles: int = param(
        20, unit="cycles", ge=0, doc="matmul call per pair of output pixels",
        source="assumed: call, pointer setup and return of pulp_nn_matmul")
    mm_block_cycles: int = param(
        16, unit="cycles", ge=0, doc="setup of one output-channel block (bias loads, "
        "accumulator init, row pointers)",
        source=f"derived: 4 bias lb + 8 accumulator inits + 4 pointer updates ({_PULPNN}, "
        "pulp_nn_matmul.c)")
    mm_4x2_step_cycles: int = param(
        14, unit="cycles", ge=1, doc="four-deep step of the 4x2 matmul (4 channels x 2 "
        "pixels, 32 MAC)",
        source=f"derived: 4 weight lw + 2 activation lw + 8 sdotp ({_PULPNN}, pulp_nn_matmul.c)")
    mm_1x2_step_cycles: int = param(
        5, unit="cycles", ge=1, doc="four-deep step for a leftover output channel (8 MAC)",
        source=f"derived: 1 weight lw + 2 activation lw + 2 sdotp ({_PULPNN})")
    mm_1x1_step_cycles: int = param(
        3, unit="cycles", ge=1, doc="four-deep dot-product step of one output (4 MAC): "
        "odd pixel and fc", source=f"derived: 2 lw + 1 sdotp ({_PULPNN}, linear and leftover)")
    requant_cycles: int = param(
        5, unit="cycles", ge=0, doc="requantise and store one output",
        source=f"derived: mul, rounding add, shift, clip and sb (pulp_nn_quant_u8, {_PULPNN})")
    dw_column_cycles: int = param(
        10, unit="cycles", ge=0, doc="depthwise: setup of one output column's buffer",
        source="assumed: loop and pointer setup per column (pulp_nn_depthwise_generic.c)")
    dw_pixel_cycles: int = param(
        6, unit="cycles", ge=0, doc="depthwise: per output pixel (sum init, pointers, loop)",
        source="assumed: a handful of instructions around the tap loop")
    dw_step_cycles: int = param(
        3, unit="cycles", ge=1, doc="depthwise: four kernel taps of one channel",
        source=f"derived: 1 weight lw + 1 buffer lw + 1 sdotp ({_PULPNN}, depthwise_generic)")
    fc_neuron_cycles: int = param(
        8, unit="cycles", ge=0, doc="fc: per neuron (bias, pointers, loop)",
        source="assumed: a handful of instructions around the dot product")
    pool_pixel_cycles: int = param(
        6, unit="cycles", ge=0, doc="pooling: per output pixel", source="assumed: loop and "
        "pointer setup per output pixel")
    maxpool_word_cycles: int = param(
        2, unit="cycles/word", ge=1, doc="max pooling: one window tap of 4 channels",
        source="derived: lw + pv.maxu.b (XpulpV2 SIMD max)")
    avgpool_word_cycles: int = param(
        5, unit="cycles/word", ge=1, doc="average pooling: one window tap of 4 channels",
        source="derived: lw + 2 byte-to-half unpacks + 2 pv.add.h into 16-bit sums")
    add_elem_cycles: int = param(
        6, unit="cycles/element", ge=1, doc="elementwise add with requantisation",
        source="derived: two scaled terms (2 mul/mac), rounding shift, clip, sb; the word "
        "loads of both inputs amortised over 4 elements")

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("unit", "").startswith("cycles") and value > MAX_COST_CYCLES:
                raise SpecError(f"{f.name} = {value} cycles is beyond any kernel's cost (a few "
                                f"to a few hundred cycles); give at most {MAX_COST_CYCLES:,}")


class CoreWork(NamedTuple):
    """One core's share of a job."""

    items: int  # rows, channels, neurons or elements assigned
    issue_cycles: int
    accesses: int  # L1 loads and stores
    read_bytes: int
    write_bytes: int
    macs: int


IDLE = CoreWork(0, 0, 0, 0, 0, 0)


@functools.lru_cache(maxsize=4096)
def chunks(n: int, n_cores: int) -> tuple[int, ...]:
    """PULP-NN's split of ``n`` items: ``ceil(n / n_cores)`` each, in order, the rest 0
    (remembered: the cost model asks for the same splits again and again)."""
    chunk = -(-n // n_cores)
    return tuple(max(0, min(chunk, n - c * chunk)) for c in range(n_cores))


def split(job: KernelJob, costs: KernelCosts, n_cores: int) -> list[CoreWork]:
    """Every core's work for ``job`` (cores without work get :data:`IDLE`)."""
    op = job.op
    model: Callable[[KernelJob, KernelCosts, int], CoreWork]
    shares: Sequence[int]
    if op in ("conv2d", "pointwise", "maxpool", "avgpool"):
        shares = chunks(job.h_out, n_cores)
        model = _ROW_MODELS[op]
    elif op == "depthwise":
        shares, model = chunks(job.c_out, n_cores), _depthwise
    elif op == "fc":
        shares, model = chunks(job.c_out, n_cores), _fc
    else:  # elementwise, split in 32-bit words
        shares, model = _word_chunks(job.elements, n_cores), _ELEM_MODELS[op]
    works = {0: IDLE}  # most cores get equal shares: each distinct share costed once
    out = []
    for s in shares:
        work = works.get(s)
        if work is None:
            work = works[s] = model(job, costs, s)
        out.append(work)
    return out


def _word_chunks(n: int, n_cores: int) -> list[int]:
    """Elements per core when ``n`` elements are split in whole 32-bit words."""
    out, start = [], 0
    for words in chunks(-(-n // 4), n_cores):
        share = min(4 * words, n - start)
        out.append(share)
        start += share
    return out


def _steps(k: int) -> int:
    """Four-deep steps of a length-``k`` reduction, leftovers counted as steps."""
    return k // 4 + k % 4


def _conv(job: KernelJob, c: KernelCosts, rows: int) -> CoreWork:
    return _matmul_rows(job, c, rows, im2col=True)


def _pointwise(job: KernelJob, c: KernelCosts, rows: int) -> CoreWork:
    return _matmul_rows(job, c, rows, im2col=False)


def _matmul_rows(job: KernelJob, c: KernelCosts, rows: int, im2col: bool) -> CoreWork:
    pixels = rows * job.w_out
    k = job.k_h * job.k_w * job.c_in
    steps, kbytes = _steps(k), k
    blocks, left_ch = divmod(job.c_out, 4)
    pairs, odd = divmod(pixels, 2)
    # one pair of pixels: 4x2 blocks, then 1x2 for the leftover channels
    pair_cyc = (c.mm_call_cycles
                + blocks * (c.mm_block_cycles + steps * c.mm_4x2_step_cycles
                            + 8 * c.requant_cycles)
                + left_ch * (c.mm_block_cycles + steps * c.mm_1x2_step_cycles
                             + 2 * c.requant_cycles))
    pair_acc = blocks * (6 * steps + 4 + 8) + left_ch * (3 * steps + 1 + 2)
    pair_rd = blocks * (6 * kbytes + 4) + left_ch * (3 * kbytes + 1)
    pair_wr = 8 * blocks + 2 * left_ch
    # an odd last pixel: one dot product per output channel
    odd_cyc = job.c_out * (c.mm_block_cycles + steps * c.mm_1x1_step_cycles + c.requant_cycles)
    odd_acc = job.c_out * (2 * steps + 2)
    odd_rd = job.c_out * (2 * kbytes + 1)
    odd_wr = job.c_out
    cycles = c.core_setup_cycles + pairs * pair_cyc + odd * odd_cyc
    acc = pairs * pair_acc + odd * odd_acc
    rd = pairs * pair_rd + odd * odd_rd
    wr = pairs * pair_wr + odd * odd_wr
    if im2col:
        words = job.k_h * -(-(job.k_w * job.c_in) // 4)
        cycles += pixels * job.k_h * c.im2col_row_cycles + pixels * words * c.copy_word_cycles
        acc += pixels * 2 * words
        rd += pixels * 4 * words
        wr += pixels * 4 * words
    return CoreWork(rows, cycles, acc, rd, wr, pixels * job.c_out * k)


def _depthwise(job: KernelJob, c: KernelCosts, channels: int) -> CoreWork:
    taps = job.k_h * job.k_w
    steps = _steps(taps)
    h_in = (job.h_out - 1) * job.stride_h + job.k_h
    col_words = h_in * -(-job.k_w // 4)
    per_pixel = c.dw_pixel_cycles + steps * c.dw_step_cycles + c.requant_cycles
    per_column = c.dw_column_cycles + col_words * c.copy_word_cycles + job.h_out * per_pixel
    columns = channels * job.w_out
    pixels = columns * job.h_out
    return CoreWork(
        channels,
        c.core_setup_cycles + columns * per_column,
        columns * 2 * col_words + pixels * (2 * steps + 1),
        columns * 4 * col_words + pixels * 2 * taps,
        columns * 4 * col_words + pixels,
        pixels * taps)


def _fc(job: KernelJob, c: KernelCosts, neurons: int) -> CoreWork:
    steps = _steps(job.c_in)
    return CoreWork(
        neurons,
        c.core_setup_cycles + neurons * (c.fc_neuron_cycles + steps * c.mm_1x1_step_cycles
                                         + c.requant_cycles),
        neurons * (2 * steps + 2),
        neurons * (2 * job.c_in + 1),
        neurons,
        neurons * job.c_in)


def _pool(job: KernelJob, c: KernelCosts, rows: int, word_cycles: int, out_cycles: int,
          stores: int) -> CoreWork:
    cw = -(-job.c_out // 4)
    taps = job.k_h * job.k_w
    pixels = rows * job.w_out
    return CoreWork(
        rows,
        c.core_setup_cycles + pixels * (c.pool_pixel_cycles + taps * cw * word_cycles
                                        + out_cycles),
        pixels * (taps * cw + stores),
        pixels * taps * 4 * cw,
        pixels * job.c_out,
        0)


def _maxpool(job: KernelJob, c: KernelCosts, rows: int) -> CoreWork:
    cw = -(-job.c_out // 4)  # one sw per word of maxima
    return _pool(job, c, rows, c.maxpool_word_cycles, cw, cw)


def _avgpool(job: KernelJob, c: KernelCosts, rows: int) -> CoreWork:
    return _pool(job, c, rows, c.avgpool_word_cycles, job.c_out * c.requant_cycles, job.c_out)


def _add(job: KernelJob, c: KernelCosts, n: int) -> CoreWork:
    words = -(-n // 4)
    return CoreWork(n, c.core_setup_cycles + n * c.add_elem_cycles, 2 * words + n,
                    2 * n, n, 0)


def _requant(job: KernelJob, c: KernelCosts, n: int) -> CoreWork:
    return CoreWork(n, c.core_setup_cycles + n * (1 + c.requant_cycles), 2 * n, 4 * n, n, 0)


_ROW_MODELS = {"conv2d": _conv, "pointwise": _pointwise, "maxpool": _maxpool,
               "avgpool": _avgpool}
_ELEM_MODELS = {"add": _add, "requant": _requant}
