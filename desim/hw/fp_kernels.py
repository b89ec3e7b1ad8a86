"""Per-core cycle models of the cluster's floating-point training kernels, after
PULP-TrainLib's structure ("everything as a matrix multiply").

A training primitive is a matrix multiply ``C[N x M] = A[N x K] B[K x M]`` (operands
prepared by im2col / im2row or a transpose, counted per element copied), a direct
kernel without matrix multiply (depthwise), or an elementwise pass (activations, pool
gradients, losses, optimizers). Work is split over cores in blocks of ``ceil(n / cores)``
along one axis (N, or M when N is 1), so the last cores may idle. Per core, a
single-issue core with hardware loops and post-increment loads issues (``lat`` is the
FMA latency; a dependent FMA waits ``lat - 1`` cycles)::

    naive          per output: 3 K + 1 instructions (2 loads + 1 FMA per MAC, a store)
                   + K (lat - 1) stall cycles (one accumulator)
    unroll a x b   per a x b block of outputs: K (a + b + a b) + a b instructions,
                   stalls K max(0, lat - a b); rows and columns left over run naive
    fp16 SIMD      per output: 2.5 K + 2 (two MACs per vfdotp)
    fp16 SIMD, B pre-transposed: 1.5 K + 2, plus the transpose of B
    direct         per output of a K-tap reduction: 3 K + 2, stalls K (lat - 1)
    copies         im2col / transposes: copy_elem_cycles per element (split over cores)
    elementwise    elem_cycles[kind] per element (halved with FP16 SIMD)

The PULP-TrainLib tutorial gives the naive and FP16 counts (3MK + M, 2.5KM + 2M,
1.5KM + 2M for a K x M vector-matrix product); the unrolled count follows from loading
``a + b`` operands for ``a b`` FMAs. The cluster adds its fork, wake-up and barrier, TCDM
conflict stalls per access and the L1 port time (:mod:`desim.hw.cluster`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desim.errors import SpecError
from desim.hw.cluster_ops import IDLE, CoreWork, chunks
from desim.spec import Spec, param

_TUT = "PULP-TrainLib tutorial (dnadalini/PULP-TrainLib-Tutorial 9d9394f)"
_VEGA = "Rossi et al., Vega, JSSC 2022"

#: matrix-multiply kernels: name -> (rows, columns) of the unrolled output block
UNROLLED = {"naive": (1, 1), "unroll_1x2": (1, 2), "unroll_2x1": (2, 1),
            "unroll_2x2": (2, 2), "unroll_2x4": (2, 4), "unroll_4x2": (4, 2),
            "unroll_4x4": (4, 4), "unroll_8x1": (8, 1)}
SIMD = ("fp16_simd", "fp16_simd_t")
KERNELS = (*UNROLLED, *SIMD)
#: elementwise passes with a per-element cost parameter
ELEMENTWISE = ("act", "act_grad", "add", "pool", "pool_grad", "loss", "copy", "convert",
               "sgd", "momentum", "adam", "accumulate")


#: the largest cycle cost a kernel parameter takes: kernel costs are a few to a few hundred
#: cycles, and a run's length grows with them
MAX_COST_CYCLES = 100_000


@dataclass(frozen=True)
class FpKernelCosts(Spec):
    """Cycle and energy costs of floating-point training kernels on one core."""

    fpu: bool = param(True, doc="the cores have a floating-point unit (FP32 FMA one per "
                      "cycle)", source=f"{_VEGA}: FP32 / FP16 / bfloat16 FPUs in the cluster")
    fp16_simd: bool = param(
        True, doc="two-way FP16 / bfloat16 SIMD (vfdotp); False: fp16 runs are refused",
        source=f"{_VEGA}: smallFloat SIMD extensions; PULP-TrainLib's FP16 kernels")
    fma_latency_cycles: int = param(
        2, unit="cycles", ge=1, le=64, doc="from an FMA's issue to its result: a dependent "
        "FMA waits latency - 1 cycles",
        source="assumed: FPnew FMA with one pipeline register, as PULP clusters configure it")
    setup_cycles: int = param(
        40, unit="cycles", ge=0, doc="kernel prologue per core per job (arguments, block "
        "bounds, pointers)", source="assumed: a few tens of instructions, as the int8 kernels")
    copy_elem_cycles: float = param(
        3.0, unit="cycles/element", ge=0, doc="im2col / im2row / transpose: one element "
        "copied (load, store, index or padding check)",
        source="assumed: 2 memory instructions + 1 address update per element")
    act_elem_cycles: float = param(3.0, unit="cycles/element", ge=0,
                                   doc="activation forward (load, fmax, store)",
                                   source="derived: 3 instructions per element")
    act_grad_elem_cycles: float = param(
        5.0, unit="cycles/element", ge=0, doc="activation backward (load x and dy, compare, "
        "select, store)", source="derived: 5 instructions per element")
    add_elem_cycles: float = param(4.0, unit="cycles/element", ge=0,
                                   doc="elementwise add (2 loads, fadd, store)",
                                   source="derived: 4 instructions per element")
    pool_elem_cycles: float = param(
        4.0, unit="cycles/element", ge=0, doc="pooling forward, per input element read "
        "(load, fadd or fmax, loop)", source="derived: 3-4 instructions per tap")
    pool_grad_elem_cycles: float = param(
        4.0, unit="cycles/element", ge=0, doc="pooling backward, per input element written "
        "(load dy, scale or mask, store)", source="derived: 4 instructions per element")
    loss_elem_cycles: float = param(
        12.0, unit="cycles/element", ge=0, doc="loss and its gradient per output element "
        "(softmax exp or squared error)",
        source="assumed: a software expf of about 10 instructions per element")
    copy_cycles: float = param(2.0, unit="cycles/element", ge=0,
                               doc="plain copy or gradient pass-through (load, store)",
                               source="derived: 2 instructions per element")
    convert_elem_cycles: float = param(
        3.0, unit="cycles/element", ge=0, doc="int8 <-> float conversion (AIMC inputs and "
        "outputs)", source="derived: load, fcvt with scale, store")
    accumulate_elem_cycles: float = param(
        4.0, unit="cycles/element", ge=0, doc="gradient accumulation into a buffer (2 loads, "
        "fadd, store)", source="derived: 4 instructions per element")
    sgd_elem_cycles: float = param(4.0, unit="cycles/element", ge=0,
                                   doc="SGD update w -= lr g (2 loads, FMA, store)",
                                   source="PULP-TrainLib pulp_optimizers_fp32.c structure")
    momentum_elem_cycles: float = param(
        7.0, unit="cycles/element", ge=0, doc="SGD with momentum (velocity load, 2 FMA, 2 "
        "stores)", source="derived: 7 instructions per element")
    adam_elem_cycles: float = param(
        30.0, unit="cycles/element", ge=0, doc="Adam (two moments, a square root and a "
        "division per weight)",
        source="assumed: 12 instructions + the shared divide / square-root unit's latency "
        "(about 9 cycles each in FPnew's DIVSQRT)")
    energy_pj_per_fp_cycle: float = param(
        13.6, unit="pJ", ge=0, doc="energy of one busy core cycle in an FP32 kernel",
        source=f"derived: {_VEGA} gives 79 GFLOPS/W in FP32 (2 FLOP per core cycle, 25.3 pJ) "
        "and 614 GOPS/W in int8 (PULP-NN's 1.94 MAC per core cycle, 6.3 pJ): an FP32 cycle "
        "costs 4.0x an int8 one; times the 3.4 pJ int8 core cycle (cluster."
        "energy_pj_per_core_cycle)")
    energy_pj_per_fp16_cycle: float = param(
        16.7, unit="pJ", ge=0, doc="energy of one busy core cycle in an FP16 SIMD kernel",
        source=f"derived: {_VEGA} gives 129 GFLOPS/W in FP16 (4 FLOP per core cycle, 31.0 "
        "pJ), 4.9x an int8 cycle; times the 3.4 pJ int8 core cycle")

    def elem_cycles(self, kind: str) -> float:
        """Cycles per element of an elementwise pass ``kind``."""
        return float(getattr(self, "copy_cycles" if kind == "copy" else f"{kind}_elem_cycles"))

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("unit", "").startswith("cycles") and value > MAX_COST_CYCLES:
                raise SpecError(f"{f.name} = {value} cycles is beyond any kernel's cost (a few "
                                f"to a few hundred cycles); give at most {MAX_COST_CYCLES:,}")


@dataclass(frozen=True)
class FpJob:
    """One floating-point kernel on the cluster: a matrix multiply (``kind="matmul"``,
    C[n x m] = A[n x k] B[k x m] with ``kernel`` and ``copies`` elements of im2col /
    transposes before it), a direct reduction (``kind="direct"``: ``n * m`` outputs of
    ``k`` taps each) or an elementwise pass (``kind`` in :data:`ELEMENTWISE`, ``n``
    elements). ``simd``: FP16 / bfloat16 data (two per 32-bit word)."""

    kind: str
    n: int
    k: int = 1
    m: int = 1
    kernel: str = "naive"
    #: split over cores along "n" (rows of C) or "m" (its columns, when n is 1)
    axis: str = "n"
    copies: int = 0
    simd: bool = False
    elem_bytes: int = 4
    in_addr: int = 0
    w_addr: int = 0
    out_addr: int = 0
    name: str = ""
    layer: str = ""
    tile: int | None = None
    category: str = ""
    compute: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("matmul", "direct", *ELEMENTWISE):
            raise SpecError(f"FpJob.kind must be matmul, direct or one of "
                            f"{', '.join(ELEMENTWISE)}, got {self.kind!r}")
        if self.kind == "matmul" and self.kernel not in KERNELS:
            raise SpecError(f"FpJob.kernel must be one of {', '.join(KERNELS)}, got "
                            f"{self.kernel!r}")
        for name in ("n", "k", "m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"FpJob.{name} must be a positive int, got {value!r}")

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def op(self) -> str:
        return self.kind

    @property
    def macs(self) -> int:
        """Multiply-accumulates executed (0 for elementwise passes)."""
        return self.n * self.k * self.m if self.kind in ("matmul", "direct") else 0


def _matmul_core(job: FpJob, costs: FpKernelCosts, rows: int, cols: int) -> CoreWork:
    """One core's share: ``rows x cols`` outputs of a K-deep matmul (no copies)."""
    k, lat = job.k, costs.fma_latency_cycles
    if job.kernel in SIMD:
        per = (1.5 if job.kernel == "fp16_simd_t" else 2.5) * k + 2
        outs = rows * cols
        issue = outs * per + outs * math.ceil(k / 2) * (lat - 1)
        accesses = outs * (k + 1)
    else:
        a, b = UNROLLED[job.kernel]
        blocks = (rows // a) * (cols // b)
        naive = rows * cols - blocks * a * b
        issue = (blocks * (k * (a + b + a * b) + a * b + k * max(0, lat - a * b))
                 + naive * (3 * k + 1 + k * (lat - 1)))
        accesses = blocks * (k * (a + b) + a * b) + naive * (2 * k + 1)
    return CoreWork(rows if job.axis == "n" else cols, math.ceil(issue), int(accesses),
                    int(accesses - rows * cols) * job.elem_bytes,
                    rows * cols * job.elem_bytes, rows * cols * k)


def core_works(job: FpJob, costs: FpKernelCosts, n_cores: int) -> list[CoreWork]:
    """Every core's work for ``job`` (cores without work get an idle share)."""
    if not costs.fpu:
        raise SpecError("the cluster's cores have no FPU (cluster.fp.fpu = false): "
                        "floating-point training cannot run on them")
    if job.simd and not costs.fp16_simd:
        raise SpecError("fp16 / bf16 training needs two-way FP16 SIMD, which these cores "
                        "lack (cluster.fp.fp16_simd = false); train in fp32")
    simd = 2 if job.simd else 1
    eb = job.elem_bytes
    works: list[CoreWork] = []
    if job.kind in ("matmul", "direct"):
        along = job.n if job.axis == "n" else job.m
        for share, copied in zip(chunks(along, n_cores), chunks(job.copies, n_cores),
                                 strict=True):
            # im2col / transposes: every core copies its block of elements first
            copy = CoreWork(copied, math.ceil(copied * costs.copy_elem_cycles), 2 * copied,
                            copied * eb, copied * eb, 0)
            if not share:
                works.append(copy if copied else IDLE)
                continue
            rows, cols = (share, job.m) if job.axis == "n" else (job.n, share)
            if job.kind == "direct":
                outs = rows * cols
                w = CoreWork(share, outs * (3 * job.k + 2 + job.k * (
                    costs.fma_latency_cycles - 1)), outs * (2 * job.k + 1),
                    outs * 2 * job.k * eb, outs * eb, outs * job.k)
            else:
                w = _matmul_core(job, costs, rows, cols)
            works.append(CoreWork(w.items, w.issue_cycles + costs.setup_cycles
                                  + copy.issue_cycles, w.accesses + copy.accesses,
                                  w.read_bytes + copy.read_bytes,
                                  w.write_bytes + copy.write_bytes, w.macs))
        return works
    per = costs.elem_cycles(job.kind) / simd
    for share in chunks(job.n, n_cores):
        if not share:
            works.append(IDLE)
            continue
        works.append(CoreWork(share, costs.setup_cycles + math.ceil(share * per),
                              2 * math.ceil(share / simd), share * eb, share * eb, 0))
    return works
