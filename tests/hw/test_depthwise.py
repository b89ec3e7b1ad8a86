"""The depthwise engine: its closed-form job time (compute against its L1 port), stride 2,
lanes, an L1 port narrower than the engine's, a DMA stream contending on L1, counters,
ordering and events; then the engine's view of an op (supports, tile cycles).

Every case runs at 1 GHz (one cycle is 1000 ps) with a conflict-free L1 of 64 B/cycle
unless it says otherwise; the default engine has 16 lanes, a 32 B/cycle port and a
40-cycle job overhead. A job of 4 x 16 outputs of 16 channels from 6 x 18 input pixels
(a stride-1 tile with its halo) moves 1728 B of input, 16 x 13 = 208 B of weights and
bias, and 1024 B of output: 2960 B.
"""

from __future__ import annotations

import pytest

from desim.engines.depthwise import DepthwiseEngine
from desim.errors import SpecError
from desim.hw.depthwise import DepthwiseSpec, DepthwiseUnit, DwJob
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Component, Sim
from desim.mapping.tiler import geometry
from desim.workload import GraphBuilder

NS = 1000
BASE = 0x10000000
STRIDE1 = DwJob(4, 16, 16, 6, 18, in_addr=BASE, w_addr=BASE + 0x1000, out_addr=BASE + 0x2000)


def make(spec: DepthwiseSpec | None = None, port: float = 64.0
         ) -> tuple[Sim, DepthwiseUnit, Sram]:
    sim = Sim()
    soc = Component(sim, "soc", Clock("main", 1_000_000_000))
    l1 = Sram(soc, "l1", SramSpec(port_bytes_per_cycle=port, bank_conflict_factor=0.0))
    return sim, DepthwiseUnit(soc, "dw", spec or DepthwiseSpec(), l1), l1


def run_jobs(sim: Sim, unit: DepthwiseUnit, *jobs: DwJob) -> list[tuple[float, float]]:
    """Submit ``jobs`` together at t = 0; their (start, end) in cycles."""
    done: list[tuple[float, float]] = []

    def proc():
        events = [unit.submit(j) for j in jobs]
        for ev in events:
            t = yield ev
            done.append((t.start / NS, t.end / NS))

    sim.process(proc(), "submit")
    sim.run()
    return done


def duration(sim: Sim, unit: DepthwiseUnit, job: DwJob) -> float:
    [(start, end)] = run_jobs(sim, unit, job)
    return end - start


# -- the closed form ------------------------------------------------------------------------

def test_a_stride_1_tile_is_port_bound_at_16_lanes():
    """compute = ceil(16 / 16) * 4 * 16 = 64 cycles; port = ceil(2960 / 32) = 93; the job
    lasts 40 + max(64, 93) = 133 (the 64 B/cycle L1 carries its bytes by cycle 90)."""
    sim, unit, _ = make()
    assert unit.spec.job_cycles(STRIDE1) == 133
    assert duration(sim, unit, STRIDE1) == 133


def test_a_wider_port_makes_it_compute_bound():
    """At 64 B/cycle the port needs ceil(2960 / 64) = 47 cycles, below the 64 of compute:
    40 + 64 = 104."""
    sim, unit, _ = make(DepthwiseSpec(port_bytes_per_cycle=64.0))
    assert duration(sim, unit, STRIDE1) == 104


@pytest.mark.parametrize("lanes,cycles", [(32, 40 + 93), (16, 40 + 93), (8, 40 + 2 * 64),
                                          (4, 40 + 4 * 64), (5, 40 + 4 * 64)])
def test_lanes_set_the_compute_time(lanes, cycles):
    """16 channels take ceil(16 / lanes) passes of 64 output pixels: 1 pass at 16 or 32
    lanes (port-bound, 93), 2 at 8 (128), 4 at 4 or 5 lanes (256)."""
    sim, unit, _ = make(DepthwiseSpec(lanes=lanes))
    assert duration(sim, unit, STRIDE1) == cycles


def test_stride_2_reads_four_times_the_input_and_turns_port_bound():
    """4 x 8 outputs of 16 channels at 8 lanes: compute = 2 * 32 = 64 cycles. Stride 1
    reads 6 x 10 input pixels: 960 + 208 + 512 = 1680 B, 53 port cycles, compute-bound at
    40 + 64 = 104. Stride 2 reads 9 x 17: 2448 + 208 + 512 = 3168 B, 99 port cycles:
    40 + 99 = 139."""
    spec = DepthwiseSpec(lanes=8)
    s1 = DwJob(4, 8, 16, 6, 10, in_addr=BASE, w_addr=BASE + 0x2000, out_addr=BASE + 0x3000)
    s2 = DwJob(4, 8, 16, 9, 17, in_addr=BASE, w_addr=BASE + 0x2000, out_addr=BASE + 0x3000)
    assert (s1.nbytes, s2.nbytes) == (1680, 3168)
    sim, unit, _ = make(spec)
    assert run_jobs(sim, unit, s1, s2) == [(0, 104), (104, 104 + 139)]


# -- contention on L1 -------------------------------------------------------------------------

def test_an_l1_port_narrower_than_the_engine_bounds_the_job():
    """At 8 B/cycle the L1 carries the 2960 B from cycle 40 in 1728 / 8 + 208 / 8 + 1024 / 8
    = 370 cycles plus one cycle of latency per access: the job ends at 40 + 370 + 3 = 413,
    after the closed form's 133."""
    sim, unit, l1 = make(port=8.0)
    assert duration(sim, unit, STRIDE1) == 413
    assert (l1.counters["bytes_read"], l1.counters["bytes_written"]) == (1936, 1024)


def test_a_dma_stream_on_l1_delays_the_job_by_its_bytes():
    """A 2048 B DMA write starts at cycle 40 with the engine's input reads: they alternate
    256 B chunks of the 8 B/cycle port until both are through at 40 + 3776 / 8 = 512 (the
    DMA's last chunk hides the input read's latency); weights follow from 512 to 538, the
    outputs from 539 to 667, and the job ends at 668: 255 cycles after the 413 alone."""
    sim, unit, l1 = make(port=8.0)

    def dma():
        yield sim.env.timeout(40 * NS)
        yield from l1.access(BASE + 0x8000, 2048, True, "soc.cl_dma")

    sim.process(dma(), "dma")
    assert duration(sim, unit, STRIDE1) == 668


# -- counters, energy, order, events ----------------------------------------------------------

def test_counters_and_energy():
    """9 taps x 4 x 16 x 16 = 9216 MACs at 0.143 pJ each; the compute callable runs once,
    with the unit, when the job's time is up."""
    sim, unit, _ = make()
    seen = []
    job = DwJob(4, 16, 16, 6, 18, in_addr=BASE, w_addr=BASE + 0x1000, out_addr=BASE + 0x2000,
                compute=lambda u: seen.append((u, sim.now / NS)))
    run_jobs(sim, unit, job)
    assert (unit.counters["jobs"], unit.counters["macs"]) == (1, 9216)
    assert unit.energy_pj == pytest.approx(9216 * 0.143)
    assert unit.busy_ps == 133 * NS
    assert seen == [(unit, 133)]


def test_jobs_run_in_order_aligned_to_clock_edges():
    """At 370 MHz a job submitted at t = 1 ps starts on edge 1; the next at its end."""
    sim = Sim()
    soc = Component(sim, "soc", Clock("main", 370_000_000))
    unit = DepthwiseUnit(soc, "dw", DepthwiseSpec(), Sram(soc, "l1"))
    timings = []

    def proc():
        yield sim.env.timeout(1)
        first, second = unit.submit(STRIDE1), unit.submit(STRIDE1)
        timings.extend([(yield first), (yield second)])

    sim.process(proc(), "submit")
    sim.run()
    clock = unit.clock
    assert timings[0].start == clock.ps(1) and timings[1].start == timings[0].end
    assert timings[1].end == clock.ps(1 + 2 * 133)


def test_a_job_costs_at_most_ten_events():
    """Queue, overhead, three L1 accesses and the end: at most 10 events a job, whatever
    its size."""
    sim, unit, _ = make()
    run_jobs(sim, unit, *[STRIDE1] * 10)
    assert sim.stats.events <= 10 * 10


def test_bad_job_shapes_are_refused():
    with pytest.raises(SpecError, match=r"DwJob\.c must be a positive int, got 0"):
        DwJob(4, 16, 0, 6, 18)


# -- the engine's view of an op -----------------------------------------------------------------

def _op(kernel=3, stride=1, dilation=1, multiplier=1, shape=(1, 16, 16, 32)):
    b = GraphBuilder("dw")
    b.depthwise_conv2d(b.input(shape), kernel, stride, dilation=dilation,
                       depth_multiplier=multiplier)
    return b.build().topological_order()[0]


@pytest.fixture
def engine() -> DepthwiseEngine:
    sim = Sim()
    soc = Component(sim, "soc", Clock("main", 1_000_000_000))
    return DepthwiseEngine(DepthwiseUnit(soc, "dw", DepthwiseSpec(), Sram(soc, "l1")))


@pytest.mark.parametrize("kwargs,why", [
    ({"kernel": 5}, "the depthwise engine runs 3x3 kernels, not 5x5"),
    ({"stride": 3}, "the depthwise engine runs strides 1x1 and 2x2, not 3x3"),
    ({"stride": (1, 2)}, "the depthwise engine runs strides 1x1 and 2x2, not 1x2"),
    ({"dilation": 2}, "the depthwise engine runs undilated kernels, not dilation 2x2"),
    ({"multiplier": 2}, "the depthwise engine runs a depth multiplier of 1, not 2"),
])
def test_supports_says_why_not(engine, kwargs, why):
    assert engine.supports(_op()) is None
    assert engine.supports(_op(**kwargs)) == why


def test_supports_only_depthwise(engine):
    b = GraphBuilder("c")
    b.conv2d(b.input((1, 8, 8, 8)), 8, 3)
    op = b.build().topological_order()[0]
    assert engine.supports(op) == "the depthwise engine runs depthwise_conv2d, not conv2d"


def test_tile_cycles_and_energy_of_an_interior_stride_2_tile(engine):
    """16 x 16 x 32 in, stride 2, same padding: 8 x 8 out. A tile of 4 rows x 16 channels
    reads 3 * 2 + 3 = 9 input rows of 16 pixels: 2304 + 208 + 4 * 8 * 16 = 3024 B, 95 port
    cycles against 32 of compute: 40 + 95 = 135. Energy: 9 * 512 MACs x 0.143 pJ."""
    op = _op(stride=2)
    g = geometry(op)
    assert engine.tile_cycles(op, g, 4, 16) == 135
    assert engine.tile_energy_pj(op, g, 4, 16) == pytest.approx(9 * 512 * 0.143)
    assert engine.l1_needs(op).weights and engine.l1_needs(op).scratch_bytes == 0
