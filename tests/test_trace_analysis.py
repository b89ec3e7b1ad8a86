"""Trace analysis on small synthetic traces with closed-form answers: time units, window
and component selection, busy time and bandwidth over time, layer tables, the stall
attribution, compute gaps and the critical path."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.errors import DesimError
from desim.trace import Recorder
from desim.trace.critical import critical_path
from desim.trace.layers import from_summary, from_trace
from desim.trace.select import select
from desim.trace.stalls import attribute, compute_gaps, role_spans
from desim.trace.stats import (
    Series,
    covered,
    cumulative,
    link_stats,
    merge,
    utilisation,
    utilisation_over_time,
)
from desim.trace.units import format_time, parse_time, parse_window

PS_HZ = 1e12  # a clock whose cycle is one picosecond: cycles read as ps


@pytest.fixture
def rec() -> Recorder:
    """Three tiles: DMA-in on ch0, compute, DMA-out on ch1 (times in ps).

    ch0     in0 [0,10)  in1 [10,20)  in2 [20,30)
    engine  c0 [12,25)  c1 [25,40)   c2 [40,55)     (c0 waits 2 ps after its tile lands)
    ch1     out0 [25,28) out1 [40,43) out2 [55,60)
    ic      a link chunk [2,9); l1 port access [56,59)
    """
    r = Recorder(meta={"clock_hz": PS_HZ, "total_ps": 60})
    for i, (s, e) in enumerate([(0, 10), (10, 20), (20, 30)]):
        r.interval("soc.dma", "ch0", f"in{i}", "dma", s, e, {"bytes": 64})
    layer = ["L0", "L0", "L1"]
    for i, (s, e) in enumerate([(12, 25), (25, 40), (40, 55)]):
        r.interval("soc.engine", "compute", f"c{i}", "compute", s, e,
                   {"layer": layer[i], "macs": 100 * (i + 1)})
    for i, (s, e) in enumerate([(25, 28), (40, 43), (55, 60)]):
        r.interval("soc.dma", "ch1", f"out{i}", "dma", s, e)
    r.interval("soc.ic", "l2->l1", "in0", "transfer", 2, 9, {"bytes": 56})
    r.interval("soc.l1", "port", "write", "mem", 56, 59, {"bytes": 24})
    for i, (t_src, t_dst) in enumerate([(10, 12), (20, 25), (30, 40)]):
        r.flow(r.new_flow_id(), f"tile {i}", ("soc.dma", "ch0"), t_src,
               ("soc.engine", "compute"), t_dst)
    r.counter("soc.ic.l2->l1", "bandwidth", 2, 8.0)
    r.counter("soc.ic.l2->l1", "bandwidth", 9, 0.0)
    return r


# -- units ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,ps", [("10us", 10_000_000), ("2500ns", 2_500_000),
                                     ("7ps", 7), ("1.5ms", 1_500_000_000), ("0.002s", 2 * 10**9),
                                     ("150cycles", 1_500_000), ("150", 1_500_000),
                                     ("3cyc", 30_000)])
def test_time_units(text, ps):
    """At 100 MHz a cycle is 10,000 ps; a bare number counts cycles."""
    assert parse_time(text, 100e6) == ps


def test_window_defaults_and_clipping():
    """Open ends run from 0 / to the end; an END past the run is cut to it."""
    assert parse_window(":20us", None, 10**8) == (0, 20_000_000)
    assert parse_window("10us:", None, 10**8) == (10_000_000, 10**8)
    assert parse_window("10us:1s", None, 10**8) == (10_000_000, 10**8)


@pytest.mark.parametrize("text,clock,message", [
    ("5us:2us", None, "START must come before END"),
    ("1ms:2ms", None, "lies outside the run"),
    ("10:", None, "names no clock"),
    ("10parsecs:", 1e9, "unknown unit 'parsecs'"),
    ("abc:", 1e9, "expected a number and a unit"),
    ("10us", 1e9, "expected START:END"),
])
def test_window_errors_are_one_line(text, clock, message):
    with pytest.raises(DesimError, match=message):
        parse_window(text, clock, 100_000_000)


def test_format_time():
    assert format_time(1_500_000, 1e9) == "1.500 us (1,500 cycles)"
    assert format_time(999) == "999 ps"


# -- selection ------------------------------------------------------------------------------

def test_select_window_keeps_overlapping_intervals_and_the_counter_state(rec):
    """[24, 41): in2, c0 c1 c2, out0 out1; the link counter's last value before 24 (0 at 9)."""
    sub = select(rec, window=(24, 41))
    assert sorted(iv.name for iv in sub.intervals) == ["c0", "c1", "c2", "in2", "out0", "out1"]
    assert [(c.t, c.value) for c in sub.counters] == [(9, 0.0)]
    assert [f.name for f in sub.flows] == ["tile 1", "tile 2"]


def test_select_components_by_glob_and_ancestor(rec):
    """'soc.ic' selects the link's intervals and its counter (soc.ic.l2->l1)."""
    sub = select(rec, components=["soc.ic"])
    assert {iv.path for iv in sub.intervals} == {"soc.ic"}
    assert {c.path for c in sub.counters} == {"soc.ic.l2->l1"}
    assert {iv.path for iv in select(rec, components=["soc.e*"]).intervals} == {"soc.engine"}
    with pytest.raises(DesimError, match="'soc.nope' matches no component"):
        select(rec, components=["soc.nope"])


# -- statistics -----------------------------------------------------------------------------

def test_merge_and_covered():
    assert merge([(5, 8), (0, 2), (1, 3), (8, 9), (4, 4)]) == [(0, 3), (5, 9)]
    assert covered([(0, 3), (5, 9)], 2, 7) == 1 + 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 40)), max_size=25),
       st.lists(st.integers(0, 260), min_size=1, max_size=10))
def test_cumulative_busy_matches_a_direct_count(raw, ts):
    """Busy time in [0, t) equals the number of covered integer instants below t."""
    spans = merge((s, s + d) for s, d in raw)
    grid = np.zeros(300, dtype=bool)
    for s, e in spans:
        grid[s:e] = True
    got = cumulative(spans, np.asarray(ts, dtype=np.float64))
    assert list(got) == [grid[:t].sum() for t in ts]


def test_utilisation_and_over_time(rec):
    """The engine computes in [12, 55): 43 of 60 ps; in bins of 20 ps: 8, 20, 15."""
    assert utilisation(rec, 60)["soc.engine"] == pytest.approx(43 / 60)
    bins = utilisation_over_time(rec, np.asarray([0.0, 20.0, 40.0, 60.0]))["soc.engine"]
    assert list(bins) == pytest.approx([8 / 20, 20 / 20, 15 / 20])


def test_step_series_mean():
    """8 B/cycle from 2 to 9, then 0: the mean over [0, 10) is 8 * 7 / 10."""
    s = Series(np.asarray([2.0, 9.0]), np.asarray([8.0, 0.0]))
    assert s.mean(np.asarray([0.0, 10.0, 20.0])) == pytest.approx([5.6, 0.0])


def test_link_stats(rec):
    """The link carried 56 B; 8 B/cycle for 7 of 60 ps."""
    (link,) = link_stats(rec, 60)
    assert (link.path, link.bytes, link.peak) == ("soc.ic.l2->l1", 56, 8.0)
    assert link.mean == pytest.approx(8 * 7 / 60)
    assert link.active == pytest.approx(7 / 60)


# -- layers, stalls, critical path ----------------------------------------------------------

def test_layers_derived_from_trace(rec):
    """L0 runs c0..c1 = [12, 40): 28 cycles, all computing, 300 MACs; L1 is c2 = [40, 55)."""
    l0, l1 = from_trace(rec, PS_HZ)
    assert (l0.name, l0.start_ps, l0.end_ps, l0.cycles, l0.macs) == ("L0", 12, 40, 28, 300)
    assert (l0.engine, l0.bound, l0.compute_cycles) == ("engine", "compute", 28)
    assert (l1.name, l1.cycles, l1.macs_per_cycle) == ("L1", 15, 300 / 15)


def test_layers_from_summary_entries():
    entry = {"index": 3, "name": "conv", "kind": "conv2d", "engine": "aimc", "start_ps": 0,
             "end_ps": 5000, "cycles": 5, "macs": 40, "bound": "transfer",
             "compute_cycles": 2, "stall_cycles": {"dma": 1, "dram": 2}}
    (row,) = from_summary([entry], 1e9)
    assert (row.index, row.engine, row.macs_per_cycle, row.stall_cycles["dram"]) == \
        (3, "aimc", 8.0, 2)


def test_attribution_adds_up_to_the_window(rec):
    """[0, 60): compute [12,55) = 43; then the link [2,9) = 7, the port [56,59) = 3,
    the DMA channels the rest of [0,12) and [55,60) = 7; nothing idle."""
    got = attribute(role_spans(rec), 0, 60)
    assert got == {"compute": 43, "setup": 0, "dram": 0, "interconnect": 7, "memory": 3,
                   "dma": 7, "idle": 0}


def test_compute_gaps(rec):
    """Gaps: [0,12) before c0 (link 7, DMA 5) and [55,60) after c2."""
    first, second = compute_gaps(rec, 60, top=5)
    assert (first.start, first.end, first.after.name, first.before) == (0, 12, "c0", None)
    assert first.waits == {"setup": 0, "dram": 0, "interconnect": 7, "memory": 0, "dma": 5,
                           "idle": 0}
    assert first.cause == "interconnect"
    assert (second.start, second.end, second.before.name) == (55, 60, "c2")


def test_critical_path_walks_flows_tracks_and_handoffs(rec):
    """in0 -flow-> c0 (waits 2) -track-> c1 -track-> c2 -handoff-> out2; 15 + 43 + 2 = 60."""
    cp = critical_path(rec)
    assert [(s.interval.name, s.via, s.wait) for s in cp.steps] == [
        ("in0", "start", 0), ("c0", "flow", 2), ("c1", "track", 0), ("c2", "track", 0),
        ("out2", "handoff", 0)]
    assert cp.by_role() == {"dma": 15, "compute": 43, "wait": 2}
    assert (cp.start, cp.end) == (0, 60)
    assert [len(r) for r in cp.runs()] == [1, 3, 1]


def test_critical_path_prefers_the_later_finisher():
    """b starts at 12: its own track's a ended at 10, its producer p at 12, so b follows p."""
    rec = Recorder()
    rec.interval("e", "x", "a", "compute", 0, 10)
    rec.interval("d", "y", "p", "dma", 0, 12)
    rec.interval("e", "x", "b", "compute", 12, 20)
    rec.flow(1, "p", ("d", "y"), 12, ("e", "x"), 12)
    assert [(s.interval.name, s.via) for s in critical_path(rec).steps] == [
        ("p", "start"), ("b", "flow")]


def test_critical_path_skips_transfer_parts_and_handles_an_empty_trace():
    """Link chunks and port accesses are never steps; a trace of only those has no path."""
    rec = Recorder()
    rec.interval("soc.ic", "l", "x", "transfer", 0, 10)
    rec.interval("soc.l1", "port", "w", "mem", 5, 12)
    assert critical_path(rec).steps == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["compute", "dma", "transfer", "mem", "dram", "x"]),
                          st.integers(0, 100), st.integers(1, 30)), max_size=20),
       st.integers(0, 60), st.integers(1, 80))
def test_attribution_splits_every_window_exactly(raw, lo, width):
    """The roles' shares of a window add up to its length, and compute gets exactly the
    time some compute-role interval covers."""
    r = Recorder()
    for k, (cat, s, d) in enumerate(raw):
        r.interval("soc.a", f"l{k}", "i", cat, s, s + d)
    hi = lo + width
    got = attribute(role_spans(r), lo, hi)
    assert sum(got.values()) == width
    busy = merge((s, s + d) for cat, s, d in raw if cat not in ("dma", "transfer", "mem", "dram"))
    assert got["compute"] == covered(busy, lo, hi)
