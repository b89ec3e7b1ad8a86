"""A first-fit address allocator over one address range, as pure data (no simulation).

The mapper lays tensors out in L2 and DRAM with it before anything runs, and the SRAM
model hands out buffers with it at run time; both need the same rule: place at the
lowest aligned address with room, merge holes on free.
"""

from __future__ import annotations

import bisect


class Arena:
    """Free holes of ``[base, base + size)`` as sorted [start, end) pairs."""

    def __init__(self, base: int, size: int):
        self.base, self.size = base, size
        self.holes: list[list[int]] = [[base, base + size]] if size > 0 else []
        self.used = 0
        self.peak = 0
        #: one past the highest byte ever handed out
        self.high = base

    def alloc(self, nbytes: int, align: int = 1) -> int | None:
        """Address of a new block of ``nbytes`` (first fit), or None when none fits."""
        for i, (lo, hi) in enumerate(self.holes):
            start = -(-lo // align) * align
            if start + nbytes <= hi:
                self.holes[i:i + 1] = [p for p in ([lo, start], [start + nbytes, hi])
                                       if p[0] < p[1]]
                self.used += nbytes
                self.peak = max(self.peak, self.used)
                self.high = max(self.high, start + nbytes)
                return start
        return None

    def free(self, addr: int, nbytes: int) -> None:
        """Return the block ``[addr, addr + nbytes)``."""
        lo, hi = addr, addr + nbytes
        holes = self.holes
        i = bisect.bisect_left(holes, [lo, hi])
        if i < len(holes) and holes[i][0] == hi:
            hi = holes.pop(i)[1]
        if i > 0 and holes[i - 1][1] == lo:
            holes[i - 1][1] = hi
        else:
            holes.insert(i, [lo, hi])
        self.used -= nbytes

    def largest(self) -> int:
        """Size of the largest free block."""
        return max((hi - lo for lo, hi in self.holes), default=0)
