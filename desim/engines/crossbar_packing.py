"""Placing the weight matrices of AIMC layers on crossbars.

A layer's weights form a K x N matrix (K = k_h * k_w * C_in input rows, N = C_out
columns). It is cut into blocks of at most ``rows x cols`` (row blocks accumulate their
partial sums digitally). Blocks are packed on crossbars by first-fit shelf packing: each
crossbar holds horizontal shelves as tall as their first block, filled left to right.

When every block of every AIMC layer fits at once, the weights are *pinned*: programmed
once before inference, as AIMC deployments do (programming is 20-30x slower than an MVM,
Garofalo et al.). Otherwise the layers are cut into consecutive *groups* that each fit;
before the first layer of a group every crossbar is reprogrammed with that group's
weights, and the runtime simulates that programming (time, energy, write counts).
A single layer needing more blocks than the crossbars can hold at once does not fit any
group: the mapper runs it on the cluster instead.
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


class _Packer:
    """First-fit shelf packing of blocks on ``count`` crossbars of ``rows x cols``."""

    def __init__(self, count: int, rows: int, cols: int):
        self.rows, self.cols = rows, cols
        # per crossbar: shelves [y, height, x_used]
        self.shelves: list[list[list[int]]] = [[] for _ in range(count)]

    def place(self, r: int, c: int) -> tuple[int, int, int] | None:
        for x, shelves in enumerate(self.shelves):
            for shelf in shelves:
                if r <= shelf[1] and shelf[2] + c <= self.cols:
                    shelf[2] += c
                    return x, shelf[0], shelf[2] - c
            top = sum(s[1] for s in shelves)
            if top + r <= self.rows:
                shelves.append([top, r, c])
                return x, top, 0
        return None


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
    packer = _Packer(count, rows, cols)
    out: dict[str, tuple[Block, ...]] = {}
    for name, k, n in layers:
        placed = []
        for k0, k1, n0, n1 in cut(name, k, n, rows, cols):
            spot = packer.place(k1 - k0, n1 - n0)
            if spot is None:
                return None
            placed.append(Block(name, k0, k1, n0, n1, *spot))
        out[name] = tuple(placed)
    return out
