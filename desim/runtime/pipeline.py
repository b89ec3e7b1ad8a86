"""Double-buffered tile pipelines: load tile i+1 and store tile i-1 while computing tile i.

With two buffers for inputs and two for outputs, the three stages of tile i obey::

    load(i)    starts when compute(i-2) has finished   (its input buffer is free)
    compute(i) starts when load(i) and store(i-2) have finished
    store(i)   starts when compute(i) has finished

so that in steady state a layer takes max(load, compute, store) per tile. The loader and
the storer are processes of their own; the caller's process runs the computations and
learns how long each computation waited for its data.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from desim.kernel import Component

Stage = Callable[[int], Generator[simpy.Event, Any, Any]]


def double_buffered(owner: Component, n: int, load: Stage, compute: Stage, store: Stage,
                    label: str = "tile") -> Generator[simpy.Event, Any, list[int]]:
    """Run ``n`` tiles through load -> compute -> store; return, per tile, the picoseconds
    its computation waited for its load (``yield from`` it)."""
    sim = owner.sim
    loaded = [sim.event(f"load of {label} {i}") for i in range(n)]
    computed = [sim.event(f"compute of {label} {i}") for i in range(n)]
    stored = [sim.event(f"store of {label} {i}") for i in range(n)]

    def loader() -> Generator[simpy.Event, Any, None]:
        for i in range(n):
            if i >= 2:
                yield computed[i - 2]
            value = yield from load(i)
            loaded[i].succeed(value)

    def storer() -> Generator[simpy.Event, Any, None]:
        for i in range(n):
            yield computed[i]
            yield from store(i)
            stored[i].succeed()

    owner.process(loader(), f"{label} loader")
    owner.process(storer(), f"{label} storer")
    waits = []
    for i in range(n):
        if i >= 2 and not stored[i - 2].processed:
            yield stored[i - 2]
        t = sim.now
        if not loaded[i].processed:
            yield loaded[i]
        waits.append(sim.now - t)
        yield from compute(i)
        computed[i].succeed()
    if n:
        yield stored[n - 1]
    return waits
