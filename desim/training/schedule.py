"""A training step as a schedule the runtime executes: tensors placed, primitives tiled.

Placement: the model's state (weights, optimizer state, replay buffer) lives for the
whole step; every other tensor (activations kept for backward, their gradients, weight
gradients) from the first primitive that touches it to the last, so tensors whose
lifetimes do not overlap share addresses (PULP-TrainLib's deployer allocates every
tensor for the whole step; this is the peak a lifetime-aware allocator reaches).
Tensors go to L2 first-fit while it has room, in order of traffic per byte (weights and
gradients first, the replay buffer last), and the rest to DRAM when the platform has
one. The im2col and transpose buffers are built in L1, per tile.

Tiling: a matrix multiply ``C[N x M] = A[N x K] B[K x M]`` is cut into ``n x m`` output
tiles that fit L1 (double-buffered when there is more than one), looping over column
blocks of B outside and row blocks of A inside, so B moves once and A once per column
block; when not even one row and column of the whole reduction fit, K is cut too, the
partial sums staying in L1 until the reduction's last block. Among the tile shapes that
fit, the one moving the fewest bytes (plus 1 KiB per tile for its fixed costs, as the
inference tiler) wins. A direct kernel is cut by
channels, an elementwise pass by elements. Operands copied into L1 as im2col (the raw
input, its share per column block) or transposed (the weights) count their source
bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from desim.errors import SpecError
from desim.hw.fp_kernels import FpJob
from desim.mapping.mapper import Target
from desim.mapping.schedule import Copy, Layer, Schedule, Tile
from desim.training.step import Primitive, TrainingStep

#: fixed cost of one tile, in bytes of transfer (as the inference tiler's TILE_COST)
TILE_COST = 1024
#: placement priority in L2 (lower first): most traffic per byte first
_PRIORITY = {"weight": 0, "weight_grad": 1, "act_grad": 2, "activation": 3, "label": 3,
             "chi": 4, "optimizer_state": 5, "replay": 6}
#: tensors that live in L1 (per-tile scratch), not in L2 or DRAM
L1_KINDS = frozenset({"im2col", "transpose"})


@dataclass(frozen=True)
class Placement:
    """Where each step tensor lives; bytes placed per (level, kind) and each level's peak
    of live bytes over the step."""

    where: dict[str, tuple[str, int]]
    by_level: dict[str, dict[str, int]]
    peak: dict[str, int]
    staging_addr: int | None
    staging_bytes: int


#: tensors that live across steps (the model's state), not only while the step uses them
PERSISTENT = frozenset({"weight", "optimizer_state", "replay", "chi"})


def lifetimes(step: TrainingStep) -> dict[str, tuple[int, int]]:
    """Tensor -> (first, last) primitive index using it; whole-step for persistent ones
    and for tensors the step never touches (the label, the graph input)."""
    n = len(step.primitives)
    span: dict[str, list[int]] = {}
    for i, p in enumerate(step.primitives):
        for name in (*p.reads, *p.writes):
            if name in step.tensors:
                s = span.setdefault(name, [i, i])
                s[1] = i
    out = {}
    for name, t in step.tensors.items():
        if t.kind in PERSISTENT or name not in span:
            out[name] = (0, n)
        else:
            first, last = span[name]
            # the first forward input is there from the start; gradients of weights stay
            # until the update reads them
            out[name] = (0 if t.kind in ("activation", "label") and first == 0 else first, last)
    return out


class _Arena:
    """First-fit placement of tensors with lifetimes: two tensors may share addresses when
    their lifetimes do not overlap. Unlike :class:`desim.arena.Arena`, which allocates and
    frees in time order, it places tensors in any order (here by priority)."""

    def __init__(self, base: int, capacity: int):
        self.base, self.end = base, base + capacity
        self.placed: list[tuple[int, int, int, int]] = []  # (addr, size, first, last)

    def alloc(self, size: int, first: int, last: int) -> int | None:
        busy = sorted((a, a + s) for a, s, f, la in self.placed if f <= last and first <= la)
        addr = self.base
        for lo, hi in busy:
            if addr + size <= lo:
                break
            addr = max(addr, hi)
        if addr + size > self.end:
            return None
        self.placed.append((addr, size, first, last))
        return addr

    def peak(self, n: int) -> int:
        """Most bytes live at once."""
        events = sorted([(f, s) for _, s, f, _ in self.placed]
                        + [(la + 1, -s) for _, s, _, la in self.placed])
        live = best = 0
        for _, d in events:
            live += d
            best = max(best, live)
        return best


def place(step: TrainingStep, target: Target, replay_level: str = "auto") -> Placement:
    """Place every tensor of ``step`` in L2 or DRAM (see the module docstring)."""
    l2, dram = target.l2, target.dram
    life = lifetimes(step)
    tensors = sorted((t for t in step.tensors.values() if t.kind not in L1_KINDS),
                     key=lambda t: (_PRIORITY.get(t.kind, 9), t.nbytes))
    n = len(step.primitives)
    # a trial placement without staging: does everything fit L2?
    fits = l2 is not None
    if l2 is not None:
        trial = _Arena(l2.base, l2.capacity)
        fits = all(trial.alloc(_round(t.nbytes), *life[t.name]) is not None for t in tensors
                   if not (t.kind == "replay" and replay_level == "dram"))
        fits = fits and not any(t.kind == "replay" and replay_level == "dram" for t in tensors)
    # staging for DRAM operands: four regions of up to 1/32 of L2 each, as for inference
    staging = 0 if fits or l2 is None else 4 * max(min(target.l1.capacity // 2,
                                                       l2.capacity // 32), 256)
    l2_arena = _Arena(l2.base + staging, l2.capacity - staging) if l2 else None
    unbounded = _Arena(0, 1 << 62)
    for t in tensors:
        unbounded.alloc(_round(t.nbytes), *life[t.name])
    need = f"{unbounded.peak(n):,} B at its peak ({_kinds(step)})"
    fix = ("train fewer layers (--trainable last:N)"
           + (", use --dtype fp16" if step.options.dtype == "fp32" else ""))
    dram_arena = _Arena(dram.base, dram.capacity) if dram else None
    where: dict[str, tuple[str, int]] = {}
    by_level: dict[str, dict[str, int]] = {"l2": {}, "dram": {}}
    for t in tensors:
        size, (first, last) = _round(t.nbytes), life[t.name]
        level, addr = "l2", None
        if l2_arena is not None and not (t.kind == "replay" and replay_level == "dram"):
            addr = l2_arena.alloc(size, first, last)
        if addr is None:
            if t.kind == "replay" and replay_level == "l2":
                raise SpecError(f"the replay buffer ({t.nbytes:,} B) does not fit L2 of "
                                f"{target.name}; use --replay-level dram or a smaller --replay")
            if dram_arena is None:
                raise SpecError(
                    f"the training step needs {need}, more than the "
                    f"{l2.capacity if l2 else 0:,} B of L2 of {target.name}, which has no "
                    f"DRAM; {fix} or enlarge l2.capacity_bytes")
            level, addr = "dram", dram_arena.alloc(size, first, last)
            if addr is None:
                raise SpecError(
                    f"the training step needs {need}, more than L2 and DRAM of "
                    f"{target.name} hold; {fix} or choose a larger DRAM "
                    "(--set dram=lpddr4_2400)")
        where[t.name] = (level, addr)
        by_level[level][t.kind] = by_level[level].get(t.kind, 0) + t.nbytes
    peak = {"l2": (l2_arena.peak(n) + staging) if l2_arena else 0,
            "dram": dram_arena.peak(n) if dram_arena else 0}
    return Placement(where, by_level, peak, l2.base if staging and l2 else None, staging)


def _round(nbytes: int) -> int:
    return -(-nbytes // 64) * 64


def _kinds(step: TrainingStep) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in step.footprint().items())


@dataclass(frozen=True)
class _Operand:
    """An operand of a tiled primitive: its tensor and bytes per tile unit."""

    tensor: str
    nbytes: int


def _fits(l1: int, need: int, tiles: int) -> bool:
    return (2 if tiles > 1 else 1) * need <= l1


def _halvings(n: int) -> list[int]:
    out, v = [], n
    while True:
        out.append(v)
        if v == 1:
            return out
        v = -(-v // 2)


class Planner:
    """Builds the training schedule of ``step`` on ``target``."""

    def __init__(self, step: TrainingStep, target: Target, placement: Placement,
                 kernels: dict[str, str]):
        self.step, self.t, self.p = step, target, placement
        self.e = step.options.elem_bytes
        self.kernels = kernels
        self.l1 = target.l1.capacity - target.mapping.l1_overhead_bytes
        self.l1_peak = 0

    def addr(self, tensor: str) -> tuple[str, int]:
        return self.p.where.get(tensor, ("l2", 0) if self.t.l2 else ("dram", 0))

    def copy(self, tensor: str, offset: int, nbytes: int, l1_addr: int) -> Copy:
        level, base = self.addr(tensor)
        return Copy(tensor, level, base + offset, 1, max(nbytes, 1), max(nbytes, 1), l1_addr)

    def layer(self, index: int, prim: Primitive, payload: Any, tiles: tuple[Tile, ...],
              l1_bytes: int) -> Layer:
        self.l1_peak = max(self.l1_peak, l1_bytes)
        return Layer(index, prim.name, prim.job, prim.engine, prim.macs, payload, tiles,
                     l1_bytes, note=prim.phase)

    # -- matrix multiplies -------------------------------------------------------------

    def matmul(self, index: int, prim: Primitive, kernel: str) -> Layer:
        e, N, K, M = self.e, prim.n, prim.k, prim.m
        a_src, b_src = prim.reads[0], prim.reads[-1]
        a_bytes = self.tensor_bytes(a_src, N * K * e)
        b_bytes = self.tensor_bytes(b_src, K * M * e)
        best = None
        for kt in _halvings(K):
            for m in _halvings(M):
                for n in _halvings(N):
                    count = -(-N // n) * -(-M // m) * -(-K // kt)
                    need = (n * kt + kt * m + n * m) * e
                    if not _fits(self.l1, need, count):
                        continue
                    # B stays in L1 across row blocks unless K is cut (then both reload)
                    b_moves = b_bytes if kt == K else b_bytes * -(-N // n)
                    moved = a_bytes * -(-M // m) + b_moves + N * M * e + TILE_COST * count
                    if best is None or moved < best[0]:
                        best = (moved, n, m, kt, count, need)
                    break  # a larger n for this m moves fewer bytes
            if best is not None:
                break  # cut K only when no tile of the whole reduction fits
        if best is None:
            raise SpecError(f"{prim.name}: one element of each operand of its {N} x {K} x "
                            f"{M} matrix multiply does not fit L1 ({self.l1:,} B); enlarge "
                            "l1.capacity_bytes")
        _, n, m, kt, n_tiles, need = best
        tiles: list[Tile] = []
        idx = 0
        buf = self.t.l1.base
        out = prim.writes[0]
        for c0 in range(0, M, m):
            c1 = min(M, c0 + m)
            for r0 in range(0, N, n):
                r1 = min(N, r0 + n)
                for k0 in range(0, K, kt):
                    k1 = min(K, k0 + kt)
                    slot = buf + (idx % 2) * need if n_tiles > 1 else buf
                    a_l1, b_l1 = slot, slot + n * kt * e
                    c_l1 = b_l1 + kt * m * e
                    # a source larger than its L1 area (a strided input read in part) moves
                    # only what the area holds
                    share = (k1 - k0) / K
                    loads = [self.copy(a_src, r0 * a_bytes // N, min(
                        int((r1 - r0) * a_bytes * share) // N, (r1 - r0) * (k1 - k0) * e),
                        a_l1)]
                    if r0 == 0 or kt < K:  # a new block of B
                        loads.append(self.copy(b_src, c0 * b_bytes // M, min(
                            int((c1 - c0) * b_bytes * share) // M, (k1 - k0) * (c1 - c0) * e),
                            b_l1))
                    # partial sums stay in L1 until the last block of the reduction
                    stores = (self.copy(out, (r0 * M + c0) * e, (r1 - r0) * (c1 - c0) * e,
                                        c_l1),) if k1 == K else ()
                    macs = (r1 - r0) * (k1 - k0) * (c1 - c0)
                    tiles.append(Tile(idx, r0, r1, c0, c1, macs, tuple(loads), stores, b_l1,
                                      a_l1, c_l1))
                    idx += 1
        copies_per_col = prim.copies / M if M else 0
        payload = FpJob("matmul", N, K, M, kernel=kernel, axis=prim.axis,
                        copies=math.ceil(copies_per_col), simd=self.simd, elem_bytes=e,
                        category=prim.phase)
        return self.layer(index, prim, payload, tuple(tiles), (2 if n_tiles > 1 else 1) * need)

    @property
    def simd(self) -> bool:
        return self.step.options.dtype != "fp32"

    def tensor_bytes(self, name: str, default: int) -> int:
        t = self.step.tensors.get(name)
        return t.nbytes if t is not None else default

    # -- direct kernels and elementwise passes -----------------------------------------

    def direct(self, index: int, prim: Primitive) -> Layer:
        """Cut by the channel axis (n): each channel's inputs, taps and outputs; a channel
        too large for two L1 buffers is cut into as many parts (of its outputs) as needed."""
        e, N = self.e, prim.n
        src = [(r, self.tensor_bytes(r, 0)) for r in prim.reads if r]
        dst = [(w, self.tensor_bytes(w, 0)) for w in prim.writes]
        per = sum(b for _, b in src + dst) / N
        parts = min(prim.m, max(1, math.ceil(2 * per / self.l1)))
        return self.chunked(index, prim, N * parts, per / parts, src, dst,
                            FpJob("direct", N * parts, prim.k, -(-prim.m // parts),
                                  simd=self.simd, elem_bytes=e, category=prim.phase))

    def elementwise(self, index: int, prim: Primitive) -> Layer:
        e, N = self.e, prim.n
        src = [(r, min(self.tensor_bytes(r, N * e), N * e)) for r in prim.reads if r]
        dst = [(w, min(self.tensor_bytes(w, N * e), N * e)) for w in prim.writes]
        per = sum(b for _, b in src + dst) / N
        return self.chunked(index, prim, N, per, src, dst,
                            FpJob(prim.job, N, simd=self.simd, elem_bytes=e,
                                  category=prim.phase))

    def chunked(self, index: int, prim: Primitive, total: int, per_unit: float,
                src: list[tuple[str, int]], dst: list[tuple[str, int]], job: FpJob) -> Layer:
        """Tiles of ``u`` units (channels or elements) each, as many as fit L1."""
        whole = per_unit * total
        u = total if whole <= self.l1 else max(1, int(self.l1 // (2 * max(per_unit, 1e-9))))
        if u < 1 or 2 * per_unit > self.l1 and u < total:
            raise SpecError(f"{prim.name}: one unit of it ({per_unit:,.0f} B) does not fit L1 "
                            f"({self.l1:,} B); enlarge l1.capacity_bytes")
        n_tiles = -(-total // u)
        need = math.ceil(u * per_unit)
        tiles = []
        buf = self.t.l1.base
        for i, a in enumerate(range(0, total, u)):
            b = min(total, a + u)
            slot = buf + (i % 2) * need if n_tiles > 1 else buf
            off, loads = slot, []
            for name, nbytes in src:
                share = (b - a) * nbytes // total
                loads.append(self.copy(name, a * nbytes // total, share, off))
                off += share
            out_l1, stores = off, []
            for name, nbytes in dst:
                share = (b - a) * nbytes // total
                stores.append(self.copy(name, a * nbytes // total, share, off))
                off += share
            tiles.append(Tile(i, a, b, 0, 1, 0, tuple(loads), tuple(stores), slot, slot,
                              out_l1))
        return self.layer(index, prim, job, tuple(tiles), (2 if n_tiles > 1 else 1) * need)


def plan(step: TrainingStep, target: Target, kernels: dict[str, str],
         extra: dict[str, Layer] | None = None, replay_level: str = "auto"
         ) -> tuple[Schedule, Placement]:
    """The schedule of ``step``: one layer per primitive; ``kernels`` maps a matmul
    primitive to its kernel; ``extra`` gives the layers of primitives on other engines
    (crossbar MVMs and writes), by primitive name."""
    placement = place(step, target, replay_level)
    planner = Planner(step, target, placement, kernels)
    layers = []
    for i, prim in enumerate(step.primitives):
        if extra and prim.name in extra:
            layer = replace(extra[prim.name], index=i, note=prim.phase)
        elif prim.job == "matmul":
            layer = planner.matmul(i, prim, kernels.get(prim.name, "naive"))
        elif prim.job == "direct":
            layer = planner.direct(i, prim)
        else:
            layer = planner.elementwise(i, prim)
        layers.append(layer)
    memory = {"l1_bytes": target.l1.capacity, "l1_peak_bytes": planner.l1_peak,
              "l2_bytes": target.l2.capacity if target.l2 else 0,
              "l2_peak_bytes": placement.peak["l2"], "dram_bytes": placement.peak["dram"],
              "staging_bytes": placement.staging_bytes, "staging_addr": placement.staging_addr}
    return (Schedule(target.name, f"{step.graph.name} (training step)", tuple(layers),
                     placement.where, memory), placement)
