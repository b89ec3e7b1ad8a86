"""Components: the hierarchical building blocks of a platform model.

A component has a dotted path (``soc.cluster.core3``), a parent and children, a clock
domain (inherited from the parent unless given), a spec, counters, and a random stream
seeded from (root seed, path) so that results do not depend on creation order. Busy time
is accounted as the union of the component's active intervals, at a cost of a few integer
operations per interval whether tracing is on or off.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from desim.errors import SpecError
from desim.kernel.clock import Clock
from desim.kernel.sim import Sim


class Component:
    """Base of every hardware model; subclasses set ``kind`` and start their processes."""

    kind = "component"

    def __init__(self, parent: Component | Sim, name: str, clock: Clock | None = None,
                 spec: Any = None):
        if not name or "." in name:
            raise SpecError(f"component name {name!r} must be non-empty and contain no '.'")
        if isinstance(parent, Sim):
            self.sim, self.parent, self.path = parent, None, name
            parent.roots.append(self)
        else:
            if name in parent.children:
                raise SpecError(f"{parent.path} already has a child named '{name}'")
            self.sim, self.parent, self.path = parent.sim, parent, f"{parent.path}.{name}"
            parent.children[name] = self
        self.name = name
        self.children: dict[str, Component] = {}
        clk = clock or (self.parent.clock if self.parent else None)
        if clk is None:
            raise SpecError(f"{self.path}: a root component needs a clock")
        self.clock: Clock = clk
        self.spec = spec
        self.env: simpy.Environment = self.sim.env
        self._tracer = self.sim.tracer
        #: free-form counters (bytes_read, bytes_written, jobs, ...)
        self.counters: Counter[str] = Counter()
        self.busy_ps = 0
        self._active = 0
        self._busy_since = 0
        self._rng: np.random.Generator | None = None

    # -- randomness --------------------------------------------------------------------

    @property
    def rng(self) -> np.random.Generator:
        """This component's random stream, seeded from (root seed, path)."""
        if self._rng is None:
            digest = hashlib.sha256(self.path.encode()).digest()
            words = np.frombuffer(digest[:16], dtype=np.uint32).tolist()
            self._rng = np.random.default_rng(np.random.SeedSequence([self.sim.seed, *words]))
        return self._rng

    # -- processes ---------------------------------------------------------------------

    def process(self, gen: Generator[Any, Any, Any], name: str = "",
                daemon: bool = False) -> simpy.Process:
        """Start a process owned by this component (named ``path:name`` in stall reports)."""
        return self.sim.process(gen, f"{self.path}:{name}" if name else self.path, daemon)

    # -- busy accounting and tracing ---------------------------------------------------

    def begin(self) -> int:
        """Mark the start of a busy interval; returns the current time for :meth:`end`."""
        now: int = self.env._now  # type: ignore[assignment]  # the property is slower
        if not self._active:
            self._busy_since = now
        self._active += 1
        return now

    def end(self, start: int, lane: str, name: str, cat: str,
            args: dict[str, Any] | None = None) -> None:
        """Close a busy interval opened by :meth:`begin` and record it when tracing."""
        now: int = self.env._now  # type: ignore[assignment]
        self._active -= 1
        if not self._active:
            self.busy_ps += now - self._busy_since
        if self._tracer is not None:
            self._tracer.interval(self.path, lane, name, cat, start, now, args)

    def busy_until_now(self) -> int:
        """Busy picoseconds so far, counting an interval still open."""
        if self._active:
            return self.busy_ps + self.sim.now - self._busy_since
        return self.busy_ps

    # -- tree --------------------------------------------------------------------------

    def walk(self) -> list[Component]:
        """This component and all its descendants, depth first in creation order."""
        out = [self]
        for child in self.children.values():
            out.extend(child.walk())
        return out

    def cycles(self, ps: int) -> float:
        """``ps`` in cycles of this component's clock."""
        return self.clock.cycles(ps)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} @ {self.clock}>"
