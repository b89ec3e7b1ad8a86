"""Clock domains: cycles <-> picoseconds, edges, and no drift over long runs."""

import pytest

from desim.errors import SpecError
from desim.kernel import Clock


def test_whole_period_conversions():
    """At 1 GHz one cycle is 1000 ps; 2500 ps is 2.5 cycles."""
    clk = Clock("c", 1_000_000_000)
    assert clk.ps(1) == 1000
    assert clk.ps(7) == 7000
    assert clk.cycles(2500) == 2.5


def test_fractional_period_does_not_drift():
    """370 MHz: 2702.7 ps per cycle; 10^9 cycles take exactly 10^9 / 370e6 s."""
    clk = Clock("c", 370_000_000)
    assert clk.ps(1) == 2703
    assert clk.ps(10**9) == round(10**21 / 370_000_000)
    assert clk.period_ps == pytest.approx(2702.7027, rel=1e-6)


def test_next_edge():
    """Edges of a 400 MHz clock lie at 0, 2500, 5000 ps; t on an edge stays there."""
    clk = Clock("c", 400_000_000)
    assert clk.next_edge(0) == 0
    assert clk.next_edge(1) == 2500
    assert clk.next_edge(2500) == 2500
    assert clk.next_edge(2501) == 5000


def test_next_edge_fractional_period_is_an_edge():
    """Every next_edge of a 370 MHz clock is some clk.ps(k) at or after t."""
    clk = Clock("c", 370_000_000)
    for t in range(0, 20000, 97):
        e = clk.next_edge(t)
        k = clk.edge_index(t)
        assert e == clk.ps(k) >= t
        assert k == 0 or clk.ps(k - 1) < t


@pytest.mark.parametrize("freq", [0, -5, float("nan"), "fast"])
def test_bad_frequency_is_refused(freq):
    with pytest.raises(SpecError, match="freq_hz"):
        Clock("c", freq)
