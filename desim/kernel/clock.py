"""Clock domains: convert between cycles of a frequency and integer picoseconds.

Edge k of a clock of frequency f lies at ``round(k * 1e12 / f)`` ps, computed in integer
arithmetic so that long runs do not drift even when the period is not a whole number of
picoseconds (e.g. 370 MHz: 2702.7 ps).
"""

from __future__ import annotations

from dataclasses import dataclass

from desim.errors import SpecError

PS_PER_S = 10**12


@dataclass(frozen=True)
class Clock:
    """A named clock domain of ``freq_hz`` hertz."""

    name: str
    freq_hz: int

    def __post_init__(self) -> None:
        if isinstance(self.freq_hz, bool) or not isinstance(self.freq_hz, int | float):
            raise SpecError(f"clock '{self.name}': freq_hz must be a number, got {self.freq_hz!r}")
        if not self.freq_hz > 0 or self.freq_hz > PS_PER_S:
            raise SpecError(f"clock '{self.name}': freq_hz must be in (0, 1e12] Hz, got "
                            f"{self.freq_hz!r}; set a positive frequency")
        object.__setattr__(self, "freq_hz", int(round(self.freq_hz)))
        #: the last (time, edge index) asked for: models ask for the edge of one moment
        #: several times in a row
        object.__setattr__(self, "_last_edge", (-1, 0))

    @property
    def period_ps(self) -> float:
        """Exact period in picoseconds (may be fractional)."""
        return PS_PER_S / self.freq_hz

    def ps(self, cycles: int | float) -> int:
        """Duration of ``cycles`` cycles in whole picoseconds (nearest)."""
        if isinstance(cycles, int):
            return (cycles * PS_PER_S + self.freq_hz // 2) // self.freq_hz
        return round(cycles * PS_PER_S / self.freq_hz)

    def cycles(self, ps: float) -> float:
        """Time ``ps`` expressed in (possibly fractional) cycles of this clock."""
        return ps * self.freq_hz / PS_PER_S

    def edge_index(self, t_ps: float) -> int:
        """Index of the first edge at or after ``t_ps``."""
        t, k = self._last_edge  # type: ignore[attr-defined]  # set in __post_init__
        if t == t_ps:
            return k
        f = self.freq_hz
        k = int(-(-t_ps * f // PS_PER_S))
        half = f // 2  # edge k is at (k * PS_PER_S + half) // f ps, as ps(k) rounds
        while (k * PS_PER_S + half) // f < t_ps:  # rounded edges may sit just before t_ps
            k += 1
        while k > 0 and ((k - 1) * PS_PER_S + half) // f >= t_ps:
            k -= 1
        object.__setattr__(self, "_last_edge", (t_ps, k))
        return k

    def next_edge(self, t_ps: float) -> int:
        """Time of the first clock edge at or after ``t_ps``."""
        return self.ps(self.edge_index(t_ps))

    def __str__(self) -> str:
        return f"{self.name}@{self.freq_hz / 1e6:g}MHz"
