"""NE16: subtile job cycles against the phase costs of ne16.md (GVSoC's and DORY's, written
out here), weight bits 2/4/8, 1x1 against 3x3, stride 2 and depthwise, the L1 port shared
with a DMA stream, the two-context job queue, the engine's view of an op and its tiles,
and the normquant unit's arithmetic.

Every case runs at 1 GHz (one cycle is 1000 ps) on a conflict-free L1 of 64 B/cycle
unless it says otherwise. GVSoC's phase costs (ne16.md), in cycles: job start 1; per
16-channel input slice a stream-in setup of 6, a load of 1 per input pixel (25 at 3x3 and
depthwise, 9 at 1x1), load -> matrix-vector 6 (3x3), 10 (1x1) or 22 (depthwise), the
matrix-vector products (k x qw at 3x3, k at 1x1, 16 x qw depthwise) and an exit of 6 (not
depthwise); normquant: shift 1 (per-channel), multiply k / 4, bias k / 8; stream-out 1 per
stored pixel of 32 B; job end 1.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from desim.engines.ne16 import Ne16Engine, Ne16Layer, subtiles
from desim.errors import SpecError
from desim.functional.kernels.quant import quantize_multiplier
from desim.functional.kernels.reference import multiply_by_quantized_multiplier
from desim.hw.memory import Sram, SramSpec
from desim.hw.ne16 import Ne16, Ne16Job, Ne16Spec, Subtile, normquant, phases, scales
from desim.kernel import Clock, Component, Sim
from desim.mapping.schedule import Layer, Tile
from desim.mapping.tiler import geometry
from desim.workload import GraphBuilder

NS = 1000
BASE = 0x10000000
PATCH_3X3 = Subtile("3x3", 32, 1, 9)  # one 16-channel slice, 32 channels, 9 pixels


def make(spec: Ne16Spec | None = None, port: float = 64.0
         ) -> tuple[Sim, Ne16, Sram, Component]:
    sim = Sim()
    soc = Component(sim, "soc", Clock("main", 1_000_000_000))
    l1 = Sram(soc, "l1", SramSpec(port_bytes_per_cycle=port, bank_conflict_factor=0.0))
    core = Component(soc, "core")
    return sim, Ne16(soc, "ne16", spec or Ne16Spec(), l1, core), l1, core


def job(shape: Subtile, macs: int = 0) -> Ne16Job:
    return Ne16Job(shape, macs, BASE, BASE + 0x4000, BASE + 0x8000)


def run_jobs(sim: Sim, ne16: Ne16, *jobs: Ne16Job) -> list[tuple[float, float]]:
    """Submit ``jobs`` together at t = 0; their (start, end) in cycles."""
    done: list[tuple[float, float]] = []

    def proc():
        events = [ne16.submit(j) for j in jobs]
        for ev in events:
            t = yield ev
            done.append((t.start / NS, t.end / NS))

    sim.process(proc(), "submit")
    sim.run()
    return done


def duration(shape: Subtile, spec: Ne16Spec | None = None) -> float:
    sim, ne16, _, _ = make(spec)
    [(start, end)] = run_jobs(sim, ne16, job(shape))
    return end - start


# -- phase costs ------------------------------------------------------------------------------

@pytest.mark.parametrize("qw,cycles", [(8, 323), (4, 195), (2, 131)])
def test_a_3x3_subtile_is_bit_serial(qw, cycles):
    """1 + (6 + 25 + 6 + 32 * qw + 6) + (1 + 8 + 4) + 9 + 1: 323 at 8 bits, 195 at 4, 131 at
    2; the job runs exactly that long, its traffic (at most 17 B/cycle) never binding."""
    spec = Ne16Spec(weight_bits=qw)
    assert phases(spec, PATCH_3X3).cycles == cycles
    assert duration(PATCH_3X3, spec) == cycles


@pytest.mark.parametrize("qw", [2, 4, 8])
def test_a_1x1_subtile_takes_one_cycle_per_channel_at_any_width(qw):
    """Two slices of 32 input channels: 1 + 2 * (6 + 9 + 10 + 32 + 6) + 13 + 9 + 1 = 150,
    whatever the weight bits."""
    spec = Ne16Spec(weight_bits=qw)
    shape = Subtile("1x1", 32, 2, 9)
    assert phases(spec, shape).cycles == 150
    assert duration(shape, spec) == 150


def test_stride_2_stores_4_of_the_9_outputs():
    """The stride-1 patch is computed as at stride 1; 4 stores instead of 9: 323 - 5 = 318."""
    assert duration(Subtile("3x3", 32, 1, 4)) == 318


@pytest.mark.parametrize("qw,cycles", [(8, 199), (4, 135)])
def test_depthwise_runs_one_lane_at_a_time(qw, cycles):
    """16 channels: 1 + (6 + 25 + 22 + 16 * qw) + (1 + 4 + 2) + 9 + 1: 199 at 8 bits, 135 at
    4 (no matrix-vector exit)."""
    spec = Ne16Spec(weight_bits=qw)
    assert duration(Subtile("dw", 16), spec) == cycles


def test_more_slices_repeat_the_stream_in():
    """Three slices of a 3x3 patch of 8 channels: 1 + 3 * (6 + 25 + 6 + 64 + 6) + (1 + 2 + 1)
    + 9 + 1 = 336."""
    assert duration(Subtile("3x3", 8, 3, 9)) == 336


def test_dorys_model_is_a_choice():
    """DORY: load 6 + 25, weight offset 6, matrix-vector 6 + 256, update 2; shift 8, scale
    9 + 8, bias 8 + 4; stream-out 3 + 9 + 1: 301 + 37 + 13 = 351."""
    assert duration(PATCH_3X3, Ne16Spec(timing="dory")) == 351


def test_without_bias_or_per_channel_shift_normquant_is_shorter():
    """No bias (4) and one shift per layer (1): 323 - 5 = 318 cycles."""
    spec = Ne16Spec(per_channel_shift=False)
    assert duration(Subtile("3x3", 32, 1, 9, bias=False), spec) == 318


def test_a_job_moves_its_bytes_through_l1_and_counts_its_energy():
    """Reads 25 x 16 = 400 B of input, 32 x 8 x 18 = 4608 B of bit-plane weights and
    32 x (1 + 4 + 1) = 192 B of scales, biases and shifts; writes 9 x 32 = 288 B. 9216
    MACs at 0.143 pJ = 1317.888 pJ."""
    sim, ne16, l1, _ = make()
    run_jobs(sim, ne16, job(PATCH_3X3, 9216))
    assert (l1.counters["bytes_read"], l1.counters["bytes_written"]) == (5200, 288)
    assert ne16.counters["jobs"] == 1 and ne16.counters["macs"] == 9216
    assert (ne16.counters["bytes_read"], ne16.counters["bytes_written"]) == (5200, 288)
    assert ne16.energy_pj == pytest.approx(1317.888)


def test_weight_bits_are_checked():
    with pytest.raises(SpecError, match="weight_bits"):
        Ne16Spec(weight_bits=9)
    with pytest.raises(SpecError, match="Subtile.k"):
        Subtile("dw", 32)


# -- the L1 port ----------------------------------------------------------------------------

def test_a_dma_stream_on_l1_delays_the_stream_out():
    """A 2-bit 3x3 job (131 cycles) reads from 0 and stores from cycle 121. A 4096 B DMA write
    into L1 from cycle 120 holds the port for its first 256 B chunk until 124; the job's
    288 B go in a chunk from 124 to 128, the DMA's next from 128 to 132, the last 32 B from
    132 to 132.5, plus the port's cycle of latency: the job ends at 134, not 131."""
    sim, ne16, l1, _ = make(Ne16Spec(weight_bits=2, program_cycles=0))

    def dma():
        yield sim.env.timeout(120 * NS)
        yield from l1.access(BASE + 0xC000, 4096, True, "soc.cl_dma")

    sim.process(dma(), "dma")
    [(start, end)] = run_jobs(sim, ne16, job(Subtile("3x3", 32, 1, 9)))
    assert (start, end) == (0, 134)


def test_a_dma_stream_takes_every_other_chunk_of_a_narrow_l1():
    """On an L1 of 16 B/cycle (16 cycles per 256 B chunk) a 16 KiB DMA write starts with a
    2-bit 3x3 job at 0 and they alternate chunks: the job's 1744 B of reads take six
    chunks from 16 to 192 and 208 B in 208-221, arriving at 222, after its 121 cycles of
    stream-in and normquant; its 288 B of output go in 237-253 and 269-271, arriving at
    272. Alone: 121 + 1 + 288 / 16 = 140."""
    spec = Ne16Spec(weight_bits=2, program_cycles=0)
    sim, ne16, _, _ = make(spec, port=16.0)
    assert run_jobs(sim, ne16, job(PATCH_3X3)) == [(0, 140)]
    sim, ne16, l1, _ = make(spec, port=16.0)
    sim.process(l1.access(BASE + 0xC000, 16384, True, "soc.cl_dma"), "dma")
    assert run_jobs(sim, ne16, job(PATCH_3X3)) == [(0, 272)]


# -- the job queue ----------------------------------------------------------------------------

def test_the_next_job_is_programmed_while_one_runs():
    """Programming takes 45 core cycles; 2-bit 3x3 jobs run 131. Job 0 is programmed 0-45
    and runs 45-176; job 1 is programmed 45-90, in the second context, and runs 176-307;
    job 2 is programmed once job 0 frees its context, 176-221, and runs 307-438: three
    jobs in 45 + 3 x 131 cycles, and 135 cycles of the core."""
    sim, ne16, _, core = make(Ne16Spec(weight_bits=2))
    spans = run_jobs(sim, ne16, *(job(PATCH_3X3) for _ in range(3)))
    assert spans == [(45, 176), (176, 307), (307, 438)]
    assert core.busy_ps == 135 * NS


def test_a_third_job_waits_for_a_context():
    """At cycle 100 the core has programmed jobs 0 and 1 (90 cycles) and waits: both
    contexts are held until job 0 ends at 176."""
    sim, ne16, _, core = make(Ne16Spec(weight_bits=2))
    seen = []

    def probe():
        yield sim.env.timeout(100 * NS)
        seen.append(core.busy_until_now())

    sim.process(probe(), "probe")
    run_jobs(sim, ne16, *(job(PATCH_3X3) for _ in range(3)))
    assert seen == [90 * NS]


def test_jobs_shorter_than_programming_wait_for_the_core():
    """1x1 jobs of one channel and pixel take 1 + (6 + 9 + 10 + 1 + 6) + 3 + 1 + 1 = 38
    cycles, less than the 45 of programming: they start 45 apart, at 45, 90 and 135."""
    sim, ne16, _, _ = make()
    spans = run_jobs(sim, ne16, *(job(Subtile("1x1", 1, 1, 1)) for _ in range(3)))
    assert spans == [(45, 83), (90, 128), (135, 173)]


def test_a_job_costs_a_handful_of_events():
    """Programming, two phases with their traffic and the job's end: at most 12 events a
    job, whatever its cycles."""
    sim, ne16, _, _ = make()
    run_jobs(sim, ne16, *(job(PATCH_3X3) for _ in range(100)))
    assert sim.events_so_far() <= 12 * 100


# -- the engine -------------------------------------------------------------------------------

def _op(kind: str = "conv", shape=(1, 10, 10, 20), **kw):
    b = GraphBuilder("g")
    x = b.input(shape)
    if kind == "conv":
        b.conv2d(x, kw.pop("filters", 40), kw.pop("kernel", 3), **kw)
    elif kind == "dw":
        b.depthwise_conv2d(x, kw.pop("kernel", 3), **kw)
    else:
        b.fully_connected(b.flatten(x), 10)
    return b.build().topological_order()[-1]


@pytest.mark.parametrize("kind,kw,why", [
    ("conv", {"kernel": 5}, "NE16's datapath runs 3x3 and 1x1 filters only, not 5x5"),
    ("conv", {"stride": 3}, "NE16 runs stride 1, and stride 2 by masked stores, not stride 3x3"),
    ("conv", {"dilation": 2}, "NE16 runs undilated filters, not dilation 2x2"),
    ("dw", {"kernel": 5}, "NE16's depthwise mode runs 3x3 filters only, not 5x5"),
    ("dw", {"depth_multiplier": 2}, "NE16 runs a depth multiplier of 1, not 2"),
    ("fc", {}, "NE16's linear mode is not modelled"),
])
def test_what_the_engine_does_not_run(kind, kw, why):
    _, ne16, _, _ = make()
    assert why in Ne16Engine(ne16).supports(_op(kind, **kw))


@pytest.mark.parametrize("kind,kw", [("conv", {}), ("conv", {"kernel": 1, "stride": 2}),
                                     ("dw", {"stride": 2})])
def test_what_the_engine_runs(kind, kw):
    _, ne16, _, _ = make()
    assert Ne16Engine(ne16).supports(_op(kind, **kw)) is None


def test_a_tile_becomes_subtiles_by_patch_and_channel_block():
    """5 rows x 10 columns x 40 channels at stride 1: patches of rows 3 + 2 and columns
    3 + 3 + 3 + 1, in channel blocks of 32 and 8: 2 x 4 x 2 = 16 jobs; the last runs a
    2 x 1 patch of 8 channels."""
    lay = Ne16Layer("3x3", 3, 2, 10, 180, True, 184)
    jobs = subtiles(lay, 5, 40)
    assert sum(n for _, n in jobs) == 16
    assert jobs[0] == (Subtile("3x3", 32, 2, 9), 3)
    assert jobs[-1] == (Subtile("3x3", 8, 2, 2), 1)


def test_l1_needs_pads_the_first_layers_input_channels():
    """3 input channels become one 16-channel slice: 8-bit bit planes of 40 x 144 B, against
    the 40 x 27 B of the int8 tensor, plus a scale and a shift per channel, for both weight
    buffers: 2 x (4680 + 80) B of scratch; rows by 3, channels by 32."""
    _, ne16, _, _ = make()
    needs = Ne16Engine(ne16).l1_needs(_op(shape=(1, 10, 10, 3)))
    assert (needs.scratch_bytes, needs.row_quantum, needs.channel_quantum) == (9520, 3, 32)


@pytest.mark.parametrize("kind,kw,h,c", [("conv", {}, 5, 40), ("conv", {"stride": 2}, 3, 40),
                                         ("conv", {"kernel": 1}, 4, 24),
                                         ("dw", {}, 7, 20)])
def test_a_tile_takes_the_cycles_the_mapper_estimates(kind, kw, h, c):
    """The engine's tile_cycles (programming, then the jobs back to back) is the time its
    run_tile takes on the component when nothing else uses L1."""
    sim, ne16, _, _ = make()
    engine = Ne16Engine(ne16)
    op = _op(kind, **kw)
    layer = Layer(0, op.name, op.kind.value, "ne16", op.macs, engine.payload(op), (), 0)
    tile = Tile(0, 0, h, 0, c, 0, (), (), BASE, BASE + 0x4000, BASE + 0x8000)
    sim.process(engine.run_tile(SimpleNamespace(fn=None), layer, tile), "tile")
    sim.run()
    assert sim.now / NS == engine.tile_cycles(op, geometry(op), h, c)


# -- normquant arithmetic ---------------------------------------------------------------------

def test_scales_keep_8_bits_per_channel_or_per_layer():
    """M = 0.003: 0.003 x 2^16 = 196.6, so m = 197, n = 16. M = 0.0005: 0.0005 x 2^18 = 131.1
    (2^19 would give 262): m = 131, n = 18; with one shift per layer, n = 16 and
    m = round(32.8) = 33."""
    q, s = (np.array(v) for v in zip(*(quantize_multiplier(m) for m in (0.003, 0.0005)),
                                     strict=True))
    m, n = scales(q, s, None, -128, per_channel=True)
    assert (m.tolist(), n.tolist()) == ([197, 131], [16, 18])
    m, n = scales(q, s, None, -128, per_channel=False)
    assert (m.tolist(), n.tolist()) == ([197, 33], [16, 16])


def test_the_folded_bias_must_fit_32_bits():
    """A channel of bias 2^30 and M = 2^-28: n = 29 would fold 2^30 x 2 + 2^28 >= 2^31 into
    the bias, so n = 28 and m = 1; acc 2^30 gives (2^30 + 2^27) >> 28 = 4, -124 as int8,
    as TFLite's -128 + 2^30 x 2^-28."""
    q, shift = quantize_multiplier(2.0**-28)
    m, n = scales(np.array([q]), np.array([shift]), np.array([2**30]), -128, True)
    assert (m.tolist(), n.tolist()) == ([1], [28])
    assert normquant(np.array([2**30]), m, n, -128, -128, 127).tolist() == [-124]


def test_normquant_rounds_once_half_up():
    """acc 1000, m 197, n 16, zero point -5: (197000 + 123 x 2^16 + 2^15) >> 16 = 126, -2 as
    int8; the clamp applies after; and the int32 sum saturates before the shift."""
    assert normquant(np.array([1000]), 197, 16, -5, -128, 127).tolist() == [-2]
    assert normquant(np.array([1000]), 197, 16, -5, 0, 127).tolist() == [0]
    assert normquant(np.array([2**30]), 255, 8, 0, -128, 127).tolist() == [127]


def test_where_normquant_differs_from_tflite():
    """M = 1/4 (q = 2^30, shift -1), acc 1: TFLite rounds twice, 1/2 up to 1 and then 1/2
    away from zero to 1; NE16 (m = 128, n = 9) rounds 1/4 once, to 0."""
    q, shift = quantize_multiplier(0.25)
    assert int(multiply_by_quantized_multiplier(1, q, shift)) == 1
    m, n = scales(np.array([q]), np.array([shift]), None, 0, per_channel=True)
    assert (m.tolist(), n.tolist()) == ([128], [9])
    assert normquant(np.array([1]), m, n, 0, -128, 127).tolist() == [0]
