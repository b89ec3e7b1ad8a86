"""Placing the weight matrices of AIMC layers on crossbars.

A layer's weights form a K x N matrix (K = k_h * k_w * C_in input rows, N = C_out
columns). It is cut into blocks of at most ``rows x cols`` (row blocks accumulate their
partial sums digitally). The blocks of all layers together are 2-D bin-packed on the
crossbars, as Garofalo et al. (JETCAS 2022, "Tile&Pack") pack MobileNetV2 into 34, here
by MaxRects with best-short-side fit (Jylanki, "A thousand ways to pack the bin", 2010):
largest area first, each block goes to the free rectangle, on any crossbar already in
use, that leaves the shortest side over; a new crossbar only when none fits. Blocks are
not rotated (rows are inputs, columns outputs); the blocks of one layer may go to
different crossbars.

When every block of every AIMC layer fits at once, the weights are *pinned*: programmed
once before inference, as AIMC deployments do (a 256 x 256 array takes 8.2 ms to write,
the time of 63,000 MVMs: :mod:`desim.hw.aimc`). Otherwise the layers are cut into
consecutive *groups* that each fit; before the first layer of a group every crossbar is
reprogrammed with that group's weights, and the runtime simulates that programming (time,
energy, write counts). A single layer needing more blocks than the crossbars can hold at
once does not fit any group: the engine rejects it (:mod:`desim.engines.aimc`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """Rows ``[k0, k1)`` x columns ``[n0, n1)`` of a layer's matrix on one crossbar."""

    layer: str
    k0: int
    k1: int
    n0: int
    n1: int
    crossbar: int
    row0: int
    col0: int

    @property
    def tag(self) -> str:
        return f"{self.layer}[{self.k0}:{self.k1},{self.n0}:{self.n1}]"

    @property
    def rows(self) -> int:
        return self.k1 - self.k0

    @property
    def cols(self) -> int:
        return self.n1 - self.n0


def cut(layer: str, k: int, n: int, rows: int, cols: int) -> list[tuple[int, int, int, int]]:
    """The (k0, k1, n0, n1) blocks of a K x N matrix on rows x cols arrays."""
    return [(k0, min(k0 + rows, k), n0, min(n0 + cols, n))
            for n0 in range(0, n, cols) for k0 in range(0, k, rows)]


#: a free rectangle of a crossbar: (row0, col0, rows, cols)
_Rect = tuple[int, int, int, int]


class _Crossbar:
    """The maximal free rectangles of one crossbar (MaxRects)."""

    def __init__(self, rows: int, cols: int):
        self.free: list[_Rect] = [(0, 0, rows, cols)]

    def best(self, r: int, c: int) -> tuple[tuple[int, int, int, int], int, int] | None:
        """The best-short-side-fit spot for ``r x c``: (score, row0, col0), or None."""
        best = None
        for fy, fx, fh, fw in self.free:
            if r <= fh and c <= fw:
                score = (min(fh - r, fw - c), max(fh - r, fw - c), fy, fx)
                if best is None or score < best[0]:
                    best = (score, fy, fx)
        return best

    def place(self, y: int, x: int, r: int, c: int) -> None:
        """Take ``r x c`` at (y, x): split the free rectangles it overlaps into the maximal
        ones around it, then drop those another contains."""
        split: list[_Rect] = []
        for f in self.free:
            fy, fx, fh, fw = f
            if y >= fy + fh or y + r <= fy or x >= fx + fw or x + c <= fx:
                split.append(f)
                continue
            if y > fy:
                split.append((fy, fx, y - fy, fw))
            if y + r < fy + fh:
                split.append((y + r, fx, fy + fh - y - r, fw))
            if x > fx:
                split.append((fy, fx, fh, x - fx))
            if x + c < fx + fw:
                split.append((fy, x + c, fh, fx + fw - x - c))
        unique = list(dict.fromkeys(split))
        self.free = [a for a in unique if not any(b != a and _contains(b, a) for b in unique)]


def _contains(a: _Rect, b: _Rect) -> bool:
    return (a[0] <= b[0] and a[1] <= b[1] and a[0] + a[2] >= b[0] + b[2]
            and a[1] + a[3] >= b[1] + b[3])


@dataclass(frozen=True)
class Allocation:
    """Where every AIMC layer's blocks live, and which layers start a programming group."""

    blocks: dict[str, tuple[Block, ...]]
    #: layer -> the blocks to program before it (empty when pinned)
    programs: dict[str, tuple[Block, ...]]
    pinned: bool
    groups: int
    #: layers that cannot fit the crossbars even alone (run on the cluster instead)
    too_large: tuple[str, ...]

    @property
    def crossbars_used(self) -> int:
        return len({b.crossbar for bs in self.blocks.values() for b in bs})

    def packing_efficiency(self, rows: int, cols: int) -> float:
        """Cells holding weights / cells of the crossbars in use, over every programming
        (the pinned set, or each group with the crossbars it uses)."""
        sets = list(self.programs.values()) if self.programs else [
            tuple(b for bs in self.blocks.values() for b in bs)]
        used = sum(b.rows * b.cols for blocks in sets for b in blocks)
        held = sum(len({b.crossbar for b in blocks}) for blocks in sets) * rows * cols
        return used / held if held else 0.0


def allocate(layers: list[tuple[str, int, int]], count: int, rows: int,
             cols: int) -> Allocation:
    """Allocate ``[(layer, K, N), ...]`` (in execution order) on ``count`` crossbars."""
    too_large = []
    fitting = []
    for name, k, n in layers:
        if _pack([(name, k, n)], count, rows, cols) is None:
            too_large.append(name)
        else:
            fitting.append((name, k, n))
    whole = _pack(fitting, count, rows, cols)
    if whole is not None:
        return Allocation(whole, {}, True, 1 if fitting else 0, tuple(too_large))
    blocks: dict[str, tuple[Block, ...]] = {}
    programs: dict[str, tuple[Block, ...]] = {}
    groups = 0
    i = 0
    while i < len(fitting):
        j = i + 1  # grow the group while it still packs
        packed = _pack(fitting[i:j], count, rows, cols)
        while j < len(fitting):
            more = _pack(fitting[i:j + 1], count, rows, cols)
            if more is None:
                break
            packed, j = more, j + 1
        assert packed is not None
        blocks.update(packed)
        programs[fitting[i][0]] = tuple(b for name, *_ in fitting[i:j] for b in packed[name])
        groups += 1
        i = j
    return Allocation(blocks, programs, False, groups, tuple(too_large))


def _pack(layers: list[tuple[str, int, int]], count: int, rows: int,
          cols: int) -> dict[str, tuple[Block, ...]] | None:
    """Every block of ``layers`` on at most ``count`` crossbars, or None when they do not
    fit. Ties in the block order go to execution order, so the result is deterministic."""
    pieces = [(name, *b) for name, k, n in layers for b in cut(name, k, n, rows, cols)]
    order = sorted(range(len(pieces)), key=lambda i: (
        -(pieces[i][2] - pieces[i][1]) * (pieces[i][4] - pieces[i][3]),
        -max(pieces[i][2] - pieces[i][1], pieces[i][4] - pieces[i][3]), i))
    used: list[_Crossbar] = []
    spots: dict[int, tuple[int, int, int]] = {}
    for i in order:
        _, k0, k1, n0, n1 = pieces[i]
        r, c = k1 - k0, n1 - n0
        fits = [(s[0], x, s[1], s[2]) for x, xbar in enumerate(used)
                if (s := xbar.best(r, c)) is not None]
        if fits:
            _, x, y, col0 = min(fits)
        elif len(used) < count:
            used.append(_Crossbar(rows, cols))
            x, y, col0 = len(used) - 1, 0, 0
        else:
            return None
        used[x].place(y, col0, r, c)
        spots[i] = (x, y, col0)
    out: dict[str, list[Block]] = {name: [] for name, *_ in layers}
    for i, (name, k0, k1, n0, n1) in enumerate(pieces):
        out[name].append(Block(name, k0, k1, n0, n1, *spots[i]))
    return {name: tuple(blocks) for name, blocks in out.items()}
