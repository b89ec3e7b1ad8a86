"""DMA engine: exact bytes of strided descriptors, the pipelined closed form, back-to-back
throughput, setup per descriptor, channel sharing, queue-full blocking, and validation.

Platform of every test (1 GHz): L2 (port 32 B/cycle, latency 1) --link 8 B/cycle,
latency 2-- L1 (port 64 B/cycle, latency 1). A 256 B burst takes 8 cycles to read, 32 to
cross the link and 4 to write, so a descriptor of m bursts alone takes
setup + (1 + 8) + (2 + 32) + (1 + 4) + (m - 1) * 32 cycles.
"""

from __future__ import annotations

import networkx as nx
import pytest

from desim.errors import SpecError
from desim.hw.dma import Copy1D, Copy2D, Copy3D, Dma, DmaSpec, Region, burst_by_burst, runs
from desim.hw.interconnect import Interconnect, LinkSpec, add_link
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Component, Sim

NS = 1000
L1, L2 = 0x10000000, 0x1C000000


class Recording:
    """A memory target that logs every access and forwards it to a real memory."""

    def __init__(self, mem: Sram):
        self.mem, self.log = mem, []
        self.name, self.base, self.size = mem.name, mem.base, mem.size

    def access(self, addr, nbytes, write, master=""):
        self.log.append((addr, nbytes, write))
        return self.mem.access(addr, nbytes, write, master)


def _platform(sim: Sim, clk, spec: DmaSpec, record: bool = False):
    soc = Component(sim, "soc", clk)
    g = nx.DiGraph()
    add_link(g, "l2", "l1", LinkSpec(bandwidth_bytes_per_cycle=8, latency_cycles=2))
    ic = Interconnect(soc, "ic", g)
    l1 = Sram(soc, "l1", SramSpec(bank_conflict_factor=0.0))
    l2 = Sram(soc, "l2", SramSpec(base_addr=L2, capacity_bytes=1 << 20, banks=8,
                                  port_bytes_per_cycle=32, bank_conflict_factor=0.0))
    t1, t2 = (Recording(l1), Recording(l2)) if record else (l1, l2)
    dma = Dma(soc, "dma", ic, [Region.of(t1, "l1"), Region.of(t2, "l2")], spec)
    return dma, ic, t1, t2


def _burst_cycles(m: int, setup: int) -> int:
    return setup + (1 + 8) + (2 + 32) + (1 + 4) + (m - 1) * 32


def test_lone_descriptor_follows_the_pipeline_closed_form(sim, clk):
    """16 bursts of 256 B with setup 10: 10 + 9 + 34 + 5 + 15 * 32 = 538 cycles."""
    dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=10))
    out = []

    def sw():
        out.append((yield from dma.copy(Copy1D(L2, L1, 4096))))

    sim.process(sw(), "sw")
    sim.run()
    (rec,) = out
    assert (rec.start_ps, rec.end_ps) == (0, _burst_cycles(16, 10) * NS) == (0, 538 * NS)
    assert rec.nbytes == 4096 and rec.track == ("soc.dma", "ch0")


def test_2d_copy_moves_exactly_the_described_bytes(sim, clk):
    """5 rows of 100 B, source stride 300, destination stride 128: every row is one burst;
    exactly those bytes are read and written; it takes setup + read + cross + write of one
    100 B burst + 4 more link times of 100 B."""
    dma, ic, t1, t2 = _platform(sim, clk, DmaSpec(setup_cycles=10), record=True)
    desc = Copy2D(L2 + 64, L1 + 32, row_bytes=100, rows=5, src_stride=300, dst_stride=128)
    out = []

    def sw():
        out.append((yield from dma.copy(desc)))

    sim.process(sw(), "sw")
    sim.run()

    def spans(log, write):
        return sorted((a, n) for a, n, w in log if w == write)

    assert spans(t2.log, False) == [(L2 + 64 + 300 * r, 100) for r in range(5)]
    assert spans(t1.log, True) == [(L1 + 32 + 128 * r, 100) for r in range(5)]
    assert spans(t2.log, True) == [] and spans(t1.log, False) == []
    assert t1.mem.counters["bytes_written"] == t2.mem.counters["bytes_read"] == 500
    link_100 = ic.idle_ps("l2", "l1", 100) - 2 * NS
    expected = (10 * NS + t2.mem.idle_ps(100) + ic.idle_ps("l2", "l1", 100)
                + t1.mem.idle_ps(100) + 4 * link_100)
    assert out[0].end_ps == expected


def test_3d_copy_and_row_merging(sim, clk):
    """A 3D copy of 2 planes x 3 rows x 64 B writes 384 B at the described places; rows
    that continue each other at both ends merge into one run."""
    dma, _ic, t1, _t2 = _platform(sim, clk, DmaSpec(), record=True)
    desc = Copy3D(L2, L1, row_bytes=64, rows=3, planes=2, src_stride=64, dst_stride=256,
                  src_plane_stride=4096, dst_plane_stride=1024)
    sim.process(dma.copy(desc), "sw")
    sim.run()
    written = sorted(a for a, _n, w in t1.log if w)
    assert written == [L1 + p * 1024 + r * 256 for p in range(2) for r in range(3)]
    assert t1.mem.counters["bytes_written"] == 384 == desc.total_bytes
    flat = Copy2D(L2, L1, row_bytes=64, rows=8, src_stride=64, dst_stride=64)
    assert list(runs(flat)) == [(L2, L1, 512)]


def test_back_to_back_throughput_approaches_link_bandwidth_less_setup(sim, clk):
    """4 descriptors queued back to back each take 538 cycles (the channel never idles):
    4096 / 538 = 7.61 B/cycle; with 64 KiB descriptors the same formula gives
    65536 / (10 + 48 + 255 * 32) = 7.97 B/cycle, near the link's 8."""
    dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=10))
    records = []

    def sw():
        dones = []
        for k in range(4):
            dones.append((yield from dma.submit(Copy1D(L2 + k * 4096, L1, 4096))))
        for done in dones:
            records.append((yield done))

    sim.process(sw(), "sw")
    sim.run()
    assert [r.end_ps // NS for r in records] == [538, 1076, 1614, 2152]
    assert 4 * 4096 / (sim.now / NS) == pytest.approx(4096 / _burst_cycles(16, 10))
    assert 65536 / _burst_cycles(256, 10) == pytest.approx(7.975, abs=1e-3)


def test_setup_cycles_are_paid_per_descriptor(clk):
    """3 descriptors with setup 25 end exactly 3 * 25 cycles later than with setup 0."""
    def makespan(setup):
        sim = Sim()
        dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=setup, queue_depth=4))

        def sw():
            dones = []
            for k in range(3):
                dones.append((yield from dma.submit(Copy1D(L2, L1 + 1024 * k, 1024))))
            yield sim.env.all_of(dones)

        sim.process(sw(), "sw")
        sim.run()
        return sim.now // NS

    assert makespan(25) - makespan(0) == 3 * 25
    assert makespan(0) == 3 * _burst_cycles(4, 0)


def test_two_channels_share_the_link(sim, clk):
    """Two channels each copy 4096 B at once: their 256 B chunks alternate on the link from
    cycle 10 (after setup), which stays busy for 32 chunks of 32 cycles until 1034; ch1's
    last chunk lands after the latencies (4) and the pipeline fill (8 + 4) at 1050, ch0's
    one chunk earlier at 1018. Each channel got half of the link."""
    dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=10, channels=2))
    ends = {}

    def sw(ch):
        rec = yield from dma.copy(Copy1D(L2 + ch * 8192, L1 + ch * 8192, 4096), channel=ch)
        ends[ch] = rec.end_ps // NS

    for ch in (0, 1):
        sim.process(sw(ch), f"sw{ch}")
    sim.run()
    assert ends == {0: 1018, 1: 1050}
    link = sorted((iv for iv in sim.tracer.intervals if iv.lane == "l2->l1"),
                  key=lambda iv: iv.start)
    # ch0 alone for its first chunk, then both booked together: one shared interval
    assert [(iv.name, iv.args.get("masters")) for iv in link] == [
        ("dma", None), ("shared", "soc.dma.ch1 + soc.dma.ch0")]
    assert (link[0].start, link[0].end, link[1].start, link[-1].end) == (
        10 * NS, 42 * NS, 42 * NS, 1034 * NS)
    assert sum(iv.args["bytes"] for iv in link) == 8192


def test_streamed_and_burst_by_burst_agree(clk):
    """The same copies through Srams (streamed: one cut-through transfer per descriptor)
    and through access()-only targets (burst by burst) end at the same picosecond; the
    streamed descriptor costs a few events whatever its size, the other a few per burst."""
    def run(record, desc):
        sim = Sim()
        dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=10), record=record)
        sim.process(dma.copy(desc), "sw")
        stats = sim.run()
        return sim.now, stats.events

    for desc in (Copy1D(L2, L1, 4096),
                 Copy2D(L2 + 64, L1 + 32, row_bytes=100, rows=5, src_stride=300, dst_stride=128),
                 Copy2D(L2, L1, row_bytes=96, rows=32, src_stride=384, dst_stride=96)):
        assert run(False, desc)[0] == run(True, desc)[0]
    assert run(False, Copy1D(L2, L1, 4096))[0] == 538 * NS
    small, big = run(False, Copy1D(L2, L1, 4096))[1], run(False, Copy1D(L2, L1, 65536))[1]
    assert small == big <= 12
    assert run(True, Copy1D(L2, L1, 4096))[1] >= 16 * 4



def test_burst_slots_wait_alike_on_request_and_on_access_only_targets(clk):
    """Burst by burst, a slot waits on a target's request() event or advances its access()
    generator as a process would: two channels copying both ways through the Srams
    themselves and through access()-only wrappers of them end every descriptor at the
    same picosecond, with the same events."""
    def run(record):
        sim = Sim()
        dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=3, channels=2, outstanding=3),
                            record=record)
        ends = []

        def sw(channel, src, dst):
            for k in range(4):
                rec = yield from dma.copy(Copy2D(src + 512 * k, dst + 512 * k, 96, 5, 128, 96),
                                          channel)
                ends.append((channel, rec.end_ps))

        sim.process(sw(0, L2, L1), "in")
        sim.process(sw(1, L1 + 8192, L2 + 8192), "out")
        with burst_by_burst():
            stats = sim.run()
        return ends, stats.events

    assert run(False) == run(True)

def test_a_small_window_serialises_the_bursts(sim, clk):
    """With one burst in flight the window (32 cycles of link per 48-cycle round trip)
    limits: each of the 16 bursts does its whole round trip 1 + 8 + 2 + 32 + 1 + 4 = 48
    cycles alone, so the descriptor takes 10 + 16 * 48 = 778 cycles."""
    dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=10, outstanding=1))
    sim.process(dma.copy(Copy1D(L2, L1, 4096)), "sw")
    sim.run()
    assert sim.now == 778 * NS


def _alone(clk, spec: DmaSpec, desc, reference: bool = False):
    """End (ps) and events of ``desc`` alone on the platform, the lanes its trace drew
    on, and each memory port's (bytes, busy ps); burst by burst when ``reference``."""
    from desim.trace.recorder import Recorder

    sim = Sim(tracer=Recorder())
    dma, ic, l1, l2 = _platform(sim, clk, spec)
    sim.process(dma.copy(desc), "sw")
    if reference:
        with burst_by_burst():
            stats = sim.run()
    else:
        stats = sim.run()
    ports = [(m.port.bytes, m.port.busy_ps) for m in (l1, l2)]
    return sim.now, stats.events, {iv.lane for iv in sim.tracer.intervals}, ports


def test_a_window_short_of_the_round_trip_paces_the_stream(clk):
    """Rows of 16 B: a burst takes 0.5 cycles to read, 2 to cross the link and 0.25 to
    write, so its round trip is 1 + 0.5 + 2 + 2 + 1 + 0.25 = 6.75 cycles, and 3 bursts in
    flight cover only 6 cycles of link. The slots leave the link 2 cycles apart and each
    comes back one round trip after it left: 10 rows end 3 * 6.75 + 6.75 = 27 cycles after
    the setup (10), 11 rows 2 cycles later, and with one slot 10 rows take 10 * 6.75.
    The paced stream ends at the picosecond where burst by burst does, for every row
    count and window, with the same bytes and busy time on both ports, a few events
    however many rows, and no trace of its window."""
    def desc(rows):
        return Copy2D(L2, L1, row_bytes=16, rows=rows, src_stride=64, dst_stride=32)

    def end(window, rows):
        return _alone(clk, DmaSpec(setup_cycles=10, outstanding=window), desc(rows))[0]

    assert (end(3, 10), end(3, 11), end(1, 10)) == (37 * NS, 39 * NS, 77_500)
    for window in (1, 2, 3):
        spec = DmaSpec(setup_cycles=10, outstanding=window)
        for rows in (1, 2, 3, 4, 5, 7, 10, 11, 64):
            paced = _alone(clk, spec, desc(rows))
            ref = _alone(clk, spec, desc(rows), reference=True)
            assert (paced[0], paced[3]) == (ref[0], ref[3]), (window, rows)
            assert "window" not in paced[2] and paced[2] <= ref[2]
    spec = DmaSpec(setup_cycles=10, outstanding=3)
    assert _alone(clk, spec, desc(1000))[1] == _alone(clk, spec, desc(10))[1] <= 12
    assert _alone(clk, spec, desc(1000), reference=True)[1] >= 3 * 1000


def test_a_limited_window_over_bursts_of_mixed_sizes_goes_burst_by_burst(clk):
    """40 B in bursts of at most 16 B are 16 + 16 + 8: not one size, so a window of 2
    (short of the 6.75-cycle round trip) sends them burst by burst, as the reference."""
    spec = DmaSpec(setup_cycles=10, outstanding=2, max_burst_bytes=16)
    for desc in (Copy1D(L2, L1, 40), Copy2D(L2, L1, row_bytes=40, rows=3, src_stride=64,
                                            dst_stride=48)):
        run, ref = _alone(clk, spec, desc), _alone(clk, spec, desc, reference=True)
        assert run[0] == ref[0] and run[1] == ref[1] > 3 * 3


def test_submit_blocks_while_the_queue_is_full(sim, clk):
    """Queue depth 2: descriptor 1 enters service at once, 2 and 3 fill the queue (3 as
    soon as 1 leaves it), so submits 1-3 return at 0; submit 4 waits until descriptor 1
    completes at 538 and descriptor 2 leaves the queue."""
    dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=10, queue_depth=2))
    returned = []

    def sw():
        for k in range(4):
            yield from dma.submit(Copy1D(L2 + k * 4096, L1, 4096))
            returned.append(sim.now // NS)

    sim.process(sw(), "sw")
    sim.run()
    assert returned == [0, 0, 0, 538]
    assert sim.now // NS == 4 * 538


def test_each_descriptor_is_traced_on_its_channel_lane(sim, clk):
    dma, *_ = _platform(sim, clk, DmaSpec(setup_cycles=10))
    flow = sim.tracer.new_flow_id()
    sim.process(dma.copy(Copy1D(L2 + 0x40, L1, 4096), name="w.conv1", flow=flow), "sw")
    sim.run()
    (iv,) = [iv for iv in sim.tracer.intervals if iv.path == "soc.dma"]
    assert (iv.lane, iv.name, iv.cat, iv.start, iv.end) == ("ch0", "w.conv1", "dma", 0, 538 * NS)
    assert iv.args == {"bytes": 4096, "src": "l2@0x1c000040", "dst": "l1@0x10000000",
                       "flow": flow}
    assert dma.counters["bytes"] == 4096 and dma.counters["descriptors"] == 1
    assert dma.busy_ps == 538 * NS


# -- validation -------------------------------------------------------------------------

def test_bad_addresses_channels_and_descriptors_are_spec_errors(sim, clk):
    dma, *_ = _platform(sim, clk, DmaSpec())
    with pytest.raises(SpecError, match=r"no region holds \[0x2000, 0x2100\)"):
        next(dma.submit(Copy1D(0x2000, L1, 256)))
    with pytest.raises(SpecError, match=r"no region holds \[0x1000ff00, 0x10010100\)"):
        next(dma.submit(Copy1D(L2, L1 + 65536 - 256, 512)))
    with pytest.raises(SpecError, match=r"channel 3 does not exist; this DMA has 1"):
        next(dma.submit(Copy1D(L2, L1, 256), channel=3))
    with pytest.raises(SpecError, match=r"Copy2D.rows = 0: give an integer >= 1"):
        Copy2D(L2, L1, row_bytes=8, rows=0, src_stride=8, dst_stride=8)


def test_bad_address_maps_fail_at_construction(clk):
    sim = Sim()
    soc = Component(sim, "soc", clk)
    g = nx.DiGraph()
    add_link(g, "l2", "l1")
    g.add_node("dram")
    ic = Interconnect(soc, "ic", g)
    l1 = Sram(soc, "l1")
    l2 = Sram(soc, "l2", SramSpec(base_addr=L2))
    with pytest.raises(SpecError, match=r"regions 'l1' and 'l1b' overlap at 0x10008000"):
        Dma(soc, "dma1", ic, [Region.of(l1, "l1"), Region("l1b", L1 + 0x8000, 64, l1, "l1")])
    with pytest.raises(SpecError, match=r"no path from 'l1' to 'dram'"):
        Dma(soc, "dma2", ic, [Region.of(l1, "l1"), Region.of(l2, "dram")])
    with pytest.raises(SpecError, match=r"attached at node 'l3'"):
        Dma(soc, "dma3", ic, [Region.of(l1, "l3")])
