"""Interconnect: idle-path timing, bandwidth sharing, arbitration, routing and validation,
and (hypothesis) the bandwidth and byte-conservation invariants read back from the trace."""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.hw.interconnect import Interconnect, InterconnectSpec, LinkSpec, add_link, chunk_by_chunk
from desim.kernel import Clock, Component, Sim
from desim.trace import Recorder

NS = 1000  # ps per cycle of the 1 GHz test clock


def _ic(sim: Sim, clk: Clock, edges, spec: InterconnectSpec | None = None, clocks=()):
    g = nx.DiGraph()
    for a, b, link in edges:
        add_link(g, a, b, link)
    soc = Component(sim, "soc", clk)
    return Interconnect(soc, "ic", g, spec, clocks=clocks)


def _go(sim, ic, log, tag, src, dst, nbytes, master="", delay=0, name=""):
    def proc():
        if delay:
            yield sim.env.timeout(delay * NS)
        yield from ic.transfer(src, dst, nbytes, master, name or tag)
        log[tag] = sim.now / NS
    sim.process(proc(), tag)


FAST = LinkSpec(bandwidth_bytes_per_cycle=8, latency_cycles=2)
SLOW = LinkSpec(bandwidth_bytes_per_cycle=4, latency_cycles=3)


def test_idle_path_takes_latency_plus_bytes_over_bottleneck(sim, clk):
    """a->b (8 B/c, 2 cyc) then b->c (4 B/c, 3 cyc): 4096 B arrive at 5 + 4096/4 = 1029,
    and 1000 B (not a chunk multiple) at 5 + 1000/4 = 255."""
    ic = _ic(sim, clk, [("a", "b", FAST), ("b", "c", SLOW)])
    log = {}
    _go(sim, ic, log, "big", "a", "c", 4096)
    _go(sim, ic, log, "odd", "c", "a", 1000)  # reverse direction: disjoint links
    sim.run()
    assert log == {"big": 1029, "odd": 255}
    assert ic.idle_ps("a", "c", 4096) == 1029 * NS
    assert ic.link_stats()["b->c"]["bytes"] == 4096


def test_link_clock_domain_sets_cycle_length(sim, clk):
    """A 500 MHz link of 8 B/cycle and 2 cycles: 4096 B take 2 * (2 + 512) = 1028 ns."""
    slow_clk = Clock("periph", 500_000_000)
    ic = _ic(sim, clk, [("a", "b", LinkSpec(bandwidth_bytes_per_cycle=8, latency_cycles=2,
                                             clock="periph"))], clocks=[slow_clk])
    log = {}
    _go(sim, ic, log, "t", "a", "b", 4096)
    sim.run()
    assert log["t"] == 1028


def _two_masters_on_one_link(sim, clk):
    """Two masters x 4096 B on one 8 B/c link: their end cycles and the link's intervals."""
    ic = _ic(sim, clk, [("a", "b", FAST)])
    log = {}
    _go(sim, ic, log, "m1", "a", "b", 4096, master="m1")
    _go(sim, ic, log, "m2", "a", "b", 4096, master="m2")
    sim.run()
    ivs = sorted((iv for iv in sim.tracer.intervals if iv.lane == "a->b"), key=lambda i: i.start)
    return log, ivs


def test_two_equal_transfers_share_a_link_and_finish_together(sim, clk):
    """Two masters x 4096 B on one 8 B/c link alternate 256 B chunks (32 cycles): each gets
    4 B/c; the first ends at 2*512 - 32 + 2 = 994, the second one chunk later at 1026."""
    log, ivs = _two_masters_on_one_link(sim, clk)
    assert log == {"m1": 994, "m2": 1026}
    # m1 alone books everything, cut back to its first chunk as m2 arrives; then the two
    # are booked together, m2's last chunk included: one interval for the rest
    assert [(iv.name, iv.start, iv.end, iv.args["bytes"]) for iv in ivs] == [
        ("m1", 0, 32 * NS, 256), ("shared", 32 * NS, 1024 * NS, 7936)]
    assert sorted(ivs[1].args["masters"].split(" + ")) == ["m1", "m2"]


def test_chunk_by_chunk_alternates_the_masters(sim, clk):
    """The event-level model of the same two transfers: 32 chunks of 32 cycles, m1 and m2
    in turn, ending as the group booking does."""
    with chunk_by_chunk():
        log, ivs = _two_masters_on_one_link(sim, clk)
    assert log == {"m1": 994, "m2": 1026}
    assert [iv.args["master"] for iv in ivs] == ["m1", "m2"] * 16
    assert all(iv.end - iv.start == 32 * NS for iv in ivs)


def test_disjoint_paths_do_not_slow_each_other(sim, clk):
    """a->b and c->d at the same time each take their idle time: 2 + 4096/8 = 514."""
    ic = _ic(sim, clk, [("a", "b", FAST), ("c", "d", FAST), ("b", "c", FAST)])
    log = {}
    _go(sim, ic, log, "ab", "a", "b", 4096, master="x")
    _go(sim, ic, log, "cd", "c", "d", 4096, master="y")
    sim.run()
    assert log == {"ab": 514, "cd": 514}


def test_spare_bandwidth_of_a_shared_link_goes_to_others(sim, clk):
    """x crosses a->b (8 B/c) then b->c (4 B/c), so it uses half of a->b; y (a->b only)
    gets the other half: x still ends at its idle 1029, y at 2*512 + 2 = 1026."""
    ic = _ic(sim, clk, [("a", "b", FAST), ("b", "c", SLOW)])
    log = {}
    _go(sim, ic, log, "x", "a", "c", 4096, master="x")
    _go(sim, ic, log, "y", "a", "b", 4096, master="y")
    sim.run()
    assert log == {"x": 1029, "y": 1026}


def test_fixed_priority_serves_the_high_priority_master_first(sim, clk):
    """lo starts alone at 0; hi arrives at 10 and waits only for lo's chunk in progress
    (ends 32): hi owns the link from 32 and ends at 32 + 512 + 2 = 546; lo resumes and
    ends at 2 * 512 + 2 = 1026."""
    link = LinkSpec(bandwidth_bytes_per_cycle=8, latency_cycles=2, arbitration="fixed_priority")
    ic = _ic(sim, clk, [("a", "b", link)], InterconnectSpec(priority=("hi",)))
    log = {}
    _go(sim, ic, log, "lo", "a", "b", 4096, master="lo")
    _go(sim, ic, log, "hi", "a", "b", 4096, master="hi", delay=10)
    sim.run()
    assert log == {"hi": 546, "lo": 1026}


def test_round_robin_ignores_priority(sim, clk):
    """On a round-robin link the same arrivals alternate 32-cycle chunks from 32 on: lo
    (first) ends at 31 * 32 + 2 = 994, hi one chunk later at 1026."""
    ic = _ic(sim, clk, [("a", "b", FAST)], InterconnectSpec(priority=("hi",)))
    log = {}
    _go(sim, ic, log, "lo", "a", "b", 4096, master="lo")
    _go(sim, ic, log, "hi", "a", "b", 4096, master="hi", delay=10)
    sim.run()
    assert log == {"lo": 994, "hi": 1026}


def test_priority_entries_cover_sub_paths():
    """'soc.dma' ranks every channel below it; unlisted masters rank 0."""
    sim = Sim()
    ic = _ic(sim, Clock("c", 10**9), [("a", "b", FAST)],
             InterconnectSpec(priority=("soc.core0", "soc.dma")))
    assert (ic.rank("soc.core0"), ic.rank("soc.dma.ch1"), ic.rank("soc.dmax"), ic.rank("")) \
        == (2, 1, 0, 0)


def test_one_master_is_served_in_issue_order(sim, clk):
    """Two transfers of master m issued together do not interleave: 514, then 512 later."""
    ic = _ic(sim, clk, [("a", "b", FAST)])
    log = {}
    _go(sim, ic, log, "first", "a", "b", 4096, master="m")
    _go(sim, ic, log, "second", "a", "b", 4096, master="m")
    sim.run()
    assert log == {"first": 514, "second": 1026}


def test_anonymous_transfers_share_like_distinct_masters(sim, clk):
    """Without a master name each transfer is a master of its own: they alternate."""
    ic = _ic(sim, clk, [("a", "b", FAST)])
    log = {}
    _go(sim, ic, log, "p", "a", "b", 4096)
    _go(sim, ic, log, "q", "a", "b", 4096)
    sim.run()
    assert log == {"p": 994, "q": 1026}


def test_route_prefers_lowest_latency_then_fewest_hops(sim, clk):
    """a->c directly costs 10 cycles, via b 2 + 2: the transfer goes via b."""
    slow_direct = LinkSpec(bandwidth_bytes_per_cycle=8, latency_cycles=10)
    ic = _ic(sim, clk, [("a", "c", slow_direct), ("a", "b", FAST), ("b", "c", FAST)])
    assert [link.name for link in ic.route("a", "c").links] == ["a->b", "b->c"]
    log = {}
    _go(sim, ic, log, "t", "a", "c", 256)
    sim.run()
    assert log["t"] == 4 + 32


def test_events_do_not_grow_with_bytes_alone_or_shared():
    """A transfer alone costs the same few events at 1 MiB as at 16 MiB, and so do two
    transfers sharing the link (booked together; chunk by chunk: one event per chunk)."""
    clk = Clock("c", 10**9)

    def events(nbytes, masters):
        sim = Sim()
        ic = _ic(sim, clk, [("a", "b", FAST)])
        for m in masters:
            sim.process(ic.transfer("a", "b", nbytes, m), m)
        return sim.run().events

    assert events(1 << 20, ["x"]) == events(16 << 20, ["x"]) <= 5
    assert events(1 << 20, ["x", "y"]) == events(16 << 20, ["x", "y"]) <= 10
    with chunk_by_chunk():
        chunks = 2 * (64 * 1024 // 256)
        assert chunks <= events(64 * 1024, ["x", "y"]) <= chunks + 10


def test_trace_has_link_intervals_and_bandwidth_counter(sim, clk):
    """Each reservation is an interval on the link's lane with bytes/src/dst; the bandwidth
    counter steps to 8 B/c while the link carries data and back to 0 at its end."""
    ic = _ic(sim, clk, [("a", "b", FAST)])
    sim.process(ic.transfer("a", "b", 4096, "m", "load"), "t")
    sim.run()
    (iv,) = [iv for iv in sim.tracer.intervals if iv.path == "soc.ic"]
    assert (iv.lane, iv.name, iv.start, iv.end) == ("a->b", "load", 0, 512 * NS)
    assert iv.args == {"src": "a", "dst": "b", "master": "m", "bytes": 4096}
    samples = [(c.t, c.value) for c in sim.tracer.counters if c.name == "bandwidth"]
    assert samples == [(0, 8.0), (512 * NS, 0.0)]


# -- validation -------------------------------------------------------------------------

def test_no_path_is_a_spec_error_naming_both_ends(clk):
    g = nx.DiGraph()
    add_link(g, "l2", "l1", FAST, bidirectional=False)
    g.add_node("dram")
    ic = Interconnect(Component(Sim(), "soc", clk), "ic", g)
    with pytest.raises(SpecError, match=r"no path from 'l1' to 'l2'"):
        ic.check_routes([("l2", "l1"), ("l1", "l2")])
    with pytest.raises(SpecError, match=r"no path from 'l2' to 'dram'"):
        ic.transfer("l2", "dram", 64)
    with pytest.raises(SpecError, match=r"unknown node 'l3'"):
        ic.transfer("l3", "l1", 64)


def test_bad_graphs_and_arguments_fail_at_validation(clk):
    soc = Component(Sim(), "soc", clk)
    g = nx.DiGraph()
    add_link(g, "a", "b", LinkSpec(clock="fabric"))
    with pytest.raises(SpecError, match=r"link a->b uses clock 'fabric'"):
        Interconnect(soc, "ic1", g)
    g = nx.DiGraph()
    g.add_edge("a", "b", bandwith=8)
    with pytest.raises(SpecError, match=r"link a->b needs a 'spec'.*unknown attributes: bandwith"):
        Interconnect(soc, "ic2", g)
    g = nx.DiGraph()
    g.add_edge("a", "b", bandwidth=-1)
    with pytest.raises(SpecError, match=r"link a->b: bandwidth_bytes_per_cycle must be > 0"):
        Interconnect(soc, "ic3", g)
    with pytest.raises(SpecError, match=r"arbitration must be one of"):
        LinkSpec(arbitration="lottery")
    g = nx.DiGraph()
    g.add_edge("a", "b", bandwidth=4, latency=1)  # plain attributes are accepted
    ic = Interconnect(soc, "ic4", g)
    assert ic.idle_ps("a", "b", 64) == (1 + 16) * NS
    with pytest.raises(SpecError, match=r"give a non-negative integer byte count"):
        ic.transfer("a", "b", -4)


# -- invariants under random traffic -----------------------------------------------------

CLOCKS = [Clock("main", 1_000_000_000), Clock("slow", 400_000_000)]
TOPOLOGY = [("a", "b"), ("b", "c"), ("c", "d"), ("b", "d")]
link_st = st.builds(
    LinkSpec,
    bandwidth_bytes_per_cycle=st.sampled_from([1.0, 2.0, 3.0, 4.0, 8.0]),
    latency_cycles=st.integers(0, 3),
    arbitration=st.sampled_from(["round_robin", "fixed_priority"]),
    clock=st.sampled_from(["", "slow"]),
    chunk_bytes=st.sampled_from([16, 64, 256]),
)
transfer_st = st.tuples(
    st.sampled_from("abcd"), st.sampled_from("abcd"), st.integers(1, 3000),
    st.integers(0, 400), st.sampled_from(["m0", "m1", "m2", ""]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(links=st.lists(link_st, min_size=len(TOPOLOGY), max_size=len(TOPOLOGY)),
       transfers=st.lists(transfer_st, min_size=1, max_size=10))
def test_random_traffic_never_exceeds_bandwidth_and_delivers_every_byte(links, transfers):
    """From the trace: per link, reservations never overlap and none carries more than the
    link's bandwidth; every transfer's bytes cross every link of its route; each transfer
    takes at least its idle-path time."""
    sim = Sim(tracer=Recorder())
    ic = _ic(sim, CLOCKS[0], [(a, b, spec) for (a, b), spec in zip(TOPOLOGY, links, strict=True)],
             InterconnectSpec(priority=("m1", "m0")), clocks=CLOCKS)
    ends = {}

    def proc(i, src, dst, nbytes, delay, master):
        yield sim.env.timeout(delay * NS)
        t0 = sim.now
        yield from ic.transfer(src, dst, nbytes, master, f"t{i}")
        ends[i] = (t0, sim.now)

    for i, (src, dst, nbytes, delay, master) in enumerate(transfers):
        sim.process(proc(i, src, dst, nbytes, delay, master), f"t{i}")
    sim.run()
    assert len(ends) == len(transfers)

    per_lane = defaultdict(list)
    carried = defaultdict(int)
    for iv in sim.tracer.intervals:
        per_lane[iv.lane].append(iv)
        carried[(iv.name, iv.lane)] += iv.args["bytes"]
    for lane, ivs in per_lane.items():
        link = ic.links[lane]
        ivs.sort(key=lambda iv: iv.start)
        for prev, cur in zip(ivs, ivs[1:], strict=False):
            assert cur.start >= prev.end, f"{lane}: overlapping reservations"
        for iv in ivs:
            cycles = link.clock.cycles(iv.end - iv.start)
            assert iv.args["bytes"] <= link.bandwidth * cycles * (1 + 1e-9), lane
        assert sum(iv.args["bytes"] for iv in ivs) == link.bytes
    # every byte crosses every link of its path: on its own intervals, or on those of the
    # transfers booked together ("shared")
    expected: dict[str, int] = defaultdict(int)
    for i, (src, dst, nbytes, _delay, _m) in enumerate(transfers):
        for link in ic.route(src, dst).links:
            assert carried[(f"t{i}", link.name)] <= nbytes
            expected[link.name] += nbytes
        t0, t1 = ends[i]
        assert t1 - t0 >= ic.idle_ps(src, dst, nbytes)
    for lane, nbytes in expected.items():
        assert sum(b for (_, ln), b in carried.items() if ln == lane) == nbytes
