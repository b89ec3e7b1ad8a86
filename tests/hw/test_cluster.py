"""RISC-V cluster: closed-form kernel cycles, PULP-NN calibration, load imbalance, L1 sharing."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.hw.cluster import Cluster, ClusterSpec, EventUnitSpec
from desim.hw.cluster_ops import KernelCosts, chunks, split
from desim.hw.jobs import JobTiming, KernelJob
from desim.kernel import Clock, Component, Sim
from desim.spec import override

GHZ = 1e9
#: the kernel costs spelled out, so the closed forms below do not follow default changes
COSTS = KernelCosts(core_setup_cycles=30, copy_word_cycles=2, im2col_row_cycles=8,
                    mm_call_cycles=20, mm_block_cycles=16, mm_4x2_step_cycles=14,
                    mm_1x2_step_cycles=5, mm_1x1_step_cycles=3, requant_cycles=5)
EU = EventUnitSpec(fork_cycles=20, wakeup_cycles=8, barrier_cycles=11)
SYNC = 20 + 8 + 11
REF_CONV = KernelJob("conv2d", h_out=16, w_out=16, c_out=64, c_in=32, k_h=3, k_w=3)


class SharedPort:
    """Fake L1: one port of ``bpc`` bytes per cycle shared by all masters, in FIFO order.

    An access of n bytes starts when the port is free and lasts ceil(n / bpc) cycles.
    """

    def __init__(self, sim: Sim, clock: Clock, bpc: int):
        self.sim, self.clock, self.bpc = sim, clock, bpc
        self.free_at = 0
        self.log: list[tuple[str, bool, int, int, int]] = []

    def access(self, addr: int, nbytes: int, write: bool,
               master: str = "") -> Generator[Any, Any, None]:
        env = self.sim.env
        start = max(env.now, self.free_at)
        self.free_at = end = start + self.clock.ps(math.ceil(nbytes / self.bpc))
        self.log.append((master, write, nbytes, start, end))
        yield env.timeout(end - env.now)


def make(n_cores: int = 8, stall: float = 0.0, mem: Any = None, freq: float = GHZ,
         costs: KernelCosts = COSTS) -> tuple[Sim, Cluster]:
    from desim.trace import Recorder

    sim = Sim(tracer=Recorder())
    soc = Component(sim, "soc", Clock("soc", int(freq)))
    spec = ClusterSpec(n_cores=n_cores, freq_hz=freq, l1_conflict_stall=stall,
                       event_unit=EU, ops=costs)
    return sim, Cluster(soc, "cluster", spec, mem)


def run_jobs(sim: Sim, cluster: Cluster, *jobs: KernelJob, at: int = 0) -> list[JobTiming]:
    out: list[JobTiming] = []

    def main():
        if at:
            yield sim.env.timeout(at)
        for ev in [cluster.submit(j) for j in jobs]:
            out.append((yield ev))

    sim.process(main(), "main")
    sim.run()
    return out


def cycles(cluster: Cluster, t: JobTiming) -> int:
    return cluster.clock.edge_index(t.end) - cluster.clock.edge_index(t.start)


# -- closed forms -----------------------------------------------------------------------

CONV = KernelJob("conv2d", h_out=2, w_out=3, c_out=6, c_in=4, k_h=3, k_w=3, layer="conv1",
                 tile=3)
# per core (1 row = 3 pixels = 1 pair + 1 odd pixel; K = 36 -> 9 steps; 1 block + 2 channels)
IM2COL = 3 * (3 * 8 + 3 * 3 * 2)                       # 3 pixels x (3 rows x 8 + 9 words x 2)
PAIR = 20 + 1 * (16 + 9 * 14 + 8 * 5) + 2 * (16 + 9 * 5 + 2 * 5)
ODD = 6 * (16 + 9 * 3 + 5)
CONV_CORE = 30 + IM2COL + PAIR + ODD
CONV_ACCESSES = 3 * 2 * 9 + (6 * 9 + 4 + 8) + 2 * (3 * 9 + 1 + 2) + 6 * (2 * 9 + 2)


def test_conv_job_closed_form():
    """2 cores, one row each: fork 20 + wake 8, both cores busy 788 cycles, barrier 11."""
    assert (IM2COL, PAIR, ODD, CONV_CORE) == (126, 344, 288, 788)
    sim, cl = make(n_cores=2)
    [t] = run_jobs(sim, cl, CONV)
    assert cycles(cl, t) == SYNC + CONV_CORE == cl.spec.job_cycles(CONV) == 827
    cores = [iv for iv in sim.tracer.intervals if iv.lane == "exec"]
    assert sorted(iv.path for iv in cores) == ["soc.cluster.core0", "soc.cluster.core1"]
    assert all((iv.start, iv.end) == (28_000, 816_000) for iv in cores)
    assert cores[0].args == {"op": "conv2d", "layer": "conv1", "tile": 3, "items": 1,
                             "macs": 3 * 6 * 36, "cycles": 788}


def test_energy_by_core_state():
    """After the 827-cycle job (1 GHz): the controller was busy 20 cycles, each worker 788,
    so 3 x 827 - 1596 = 885 core-cycles were idle (clock-gated) at 60 uW."""
    sim, cl = make(n_cores=2)
    run_jobs(sim, cl, CONV)
    assert sim.now == 827_000
    idle_pj = 885_000 * cl.spec.idle_power_uw * 1e-6
    assert cl.static_energy_pj == pytest.approx(idle_pj)
    assert cl.energy_pj == pytest.approx(1596 * cl.spec.energy_pj_per_core_cycle + idle_pj)


def test_a_long_idle_cluster_sleeps_without_changing_timing():
    """With sleep after 100 idle cycles: between a job ending at 827 and the next starting
    at 10,000 the cluster sleeps 10,000 - 827 - 100 cycles, its 3 cores at 5 uW each, idle
    at 60 uW the rest of the time; both jobs still take 827 cycles."""
    sim = Sim()
    soc = Component(sim, "soc", Clock("soc", int(GHZ)))
    spec = ClusterSpec(n_cores=2, freq_hz=GHZ, l1_conflict_stall=0.0, event_unit=EU,
                       ops=COSTS, sleep_after_cycles=100, sleep_power_uw=5.0)
    cl = Cluster(soc, "cluster", spec)
    [first] = run_jobs(sim, cl, CONV)
    [second] = run_jobs(sim, cl, CONV, at=10_000_000 - sim.now)
    assert cycles(cl, first) == cycles(cl, second) == 827 and second.start == 10_000_000
    asleep = 10_000 - 827 - 100
    idle = 3 * 10_827 - 2 * 1596 - 3 * asleep
    assert cl.static_energy_pj == pytest.approx((idle * 60 + 3 * asleep * 5) * 1e-3)
    sim.env.run(until=sim.now + 1_000_000)   # idle 1000 more cycles: 900 of them asleep
    idle += 3 * 100
    asleep += 900
    assert cl.static_energy_pj == pytest.approx((idle * 60 + 3 * asleep * 5) * 1e-3)


def test_conflict_stall_scales_with_other_busy_cores():
    """Each core adds ceil(300 accesses x 0.1 x (busy - 1)) cycles: 30 on 2 cores, 0 alone."""
    assert CONV_ACCESSES == 300
    sim, cl = make(n_cores=2, stall=0.1)
    [t] = run_jobs(sim, cl, CONV)
    assert cycles(cl, t) == SYNC + CONV_CORE + 30
    one_row = KernelJob("conv2d", h_out=1, w_out=3, c_out=6, c_in=4, k_h=3, k_w=3)
    assert make(n_cores=2, stall=0.1)[1].spec.job_cycles(one_row) == SYNC + CONV_CORE


def test_pointwise_skips_im2col_and_fc_splits_neurons():
    """Pointwise = conv without im2col; fc: 10 neurons on 4 cores -> chunks of 3, 3, 3, 1."""
    pw = KernelJob("pointwise", h_out=1, w_out=2, c_out=4, c_in=8)
    step = 8 // 4
    assert make(n_cores=1)[1].spec.job_cycles(pw) == SYNC + 30 + 20 + (16 + step * 14 + 40)
    fc = KernelJob("fc", c_out=10, c_in=64)
    assert chunks(10, 4) == (3, 3, 3, 1)
    neuron = 8 + 16 * 3 + 5
    assert make(n_cores=4)[1].spec.core_cycles(fc) == [30 + 3 * neuron] * 3 + [30 + neuron]


# -- calibration against PULP-NN --------------------------------------------------------

def test_default_conv_reaches_pulp_nn_peak():
    """The default spec gives 15.5 MAC/cycle on 8 cores (PULP-NN, Garofalo et al. 2020)."""
    sim = Sim()
    soc = Component(sim, "soc", Clock("soc", 370_000_000))
    cl = Cluster(soc, "cluster", ClusterSpec())
    [t] = run_jobs(sim, cl, REF_CONV)
    assert REF_CONV.macs / cycles(cl, t) == pytest.approx(15.5, abs=0.1)
    big = KernelJob("conv2d", h_out=32, w_out=32, c_out=128, c_in=128, k_h=3, k_w=3)
    rate = big.macs / ClusterSpec().job_cycles(big)
    assert 15.5 < rate < 8 * 32 / 14  # below the 4x2 inner loop's bound: 18.3 MAC/cycle


def test_small_and_odd_layers_are_less_efficient():
    """Odd shapes (3 input channels, odd pixels, leftover output channels, idle cores) fall
    under half the peak; a small aligned layer loses its fixed costs' share."""
    spec = ClusterSpec()
    rate = lambda job: job.macs / spec.job_cycles(job)  # noqa: E731
    peak = rate(REF_CONV)
    for job in (KernelJob("conv2d", h_out=9, w_out=7, c_out=30, c_in=3, k_h=3, k_w=3),
                KernelJob("conv2d", h_out=5, w_out=5, c_out=6, c_in=16, k_h=3, k_w=3)):
        assert rate(job) < 0.5 * peak
    assert rate(KernelJob("conv2d", h_out=8, w_out=8, c_out=16, c_in=8, k_h=3, k_w=3)) \
        < 0.85 * peak


def test_depthwise_is_far_less_efficient():
    """A 3x3 depthwise reaches under a quarter of the conv rate (no reuse across channels)."""
    spec = ClusterSpec()
    dw = KernelJob("depthwise", h_out=16, w_out=16, c_out=64, k_h=3, k_w=3)
    conv_rate = REF_CONV.macs / spec.job_cycles(REF_CONV)
    dw_rate = dw.macs / spec.job_cycles(dw)
    assert 1.0 < dw_rate < conv_rate / 4


# -- work split -------------------------------------------------------------------------

def test_nine_rows_on_eight_cores_take_two_row_times():
    """ceil(9/8) = 2 rows per core: cores 0-3 get 2, core 4 gets 1, cores 5-7 idle."""
    job = lambda h: KernelJob("conv2d", h_out=h, w_out=4, c_out=8, c_in=8, k_h=3, k_w=3)  # noqa: E731
    sim, cl = make(n_cores=8)
    [t9, t8, t16] = run_jobs(sim, cl, job(9), job(8), job(16))
    row = cycles(cl, t16) - cycles(cl, t8)
    assert row > 0
    assert cycles(cl, t9) == cycles(cl, t16) == SYNC + 30 + 2 * row
    first = [iv for iv in sim.tracer.intervals if iv.lane == "exec" and iv.start < t9.end]
    assert {iv.path[-1]: iv.args["items"] for iv in first} == {"0": 2, "1": 2, "2": 2, "3": 2,
                                                               "4": 1}


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(["conv2d", "pointwise", "depthwise", "fc", "maxpool", "avgpool",
                           "add", "requant"]),
       h=st.integers(1, 20), w=st.integers(1, 20), c=st.integers(1, 70),
       c_in=st.integers(1, 40), k=st.integers(1, 3), n_cores=st.integers(1, 16))
def test_split_conserves_work(op, h, w, c, c_in, k, n_cores):
    """Whatever the shape, the cores' shares add up to the job's MACs and items."""
    spatial = op not in ("fc", "add", "requant", "pointwise")
    kwargs = {"h_out": 1 if op == "fc" else h, "w_out": 1 if op == "fc" else w, "c_out": c,
              "k_h": k if spatial else 1, "k_w": k if spatial else 1}
    if op in ("conv2d", "pointwise", "fc"):
        kwargs["c_in"] = c_in
    job = KernelJob(op, **kwargs)
    works = split(job, COSTS, n_cores)
    assert len(works) == n_cores
    assert sum(wk.macs for wk in works) == job.macs
    expected = {"depthwise": c, "fc": c, "add": job.elements, "requant": job.elements}
    assert sum(wk.items for wk in works) == expected.get(op, kwargs["h_out"])
    shares = [wk.items for wk in works]
    assert shares == sorted(shares, reverse=True)  # PULP-NN: contiguous chunks, rest last


# -- L1 contention ----------------------------------------------------------------------

ADD = KernelJob("add", h_out=16, w_out=16, c_out=64, in_addr=0x1000, out_addr=0x9000)


def test_memory_heavy_job_is_bound_by_l1_port():
    """8 cores read 4096 B and write 2048 B each; the cluster's 49152 B take 24576 cycles of
    a 2 B/cycle port from cycle 28 on, longer than the 30 + 2048 x 6 = 12318 compute cycles."""
    sim, cl = make()
    mem = cl.mem = SharedPort(sim, cl.clock, bpc=2)
    [t] = run_jobs(sim, cl, ADD)
    assert cl.spec.core_cycles(ADD) == [30 + 2048 * 6] * 8
    assert cycles(cl, t) == 28 + 8 * (4096 + 2048) // 2 + 11
    assert (cl.counters["bytes_read"], cl.counters["bytes_written"]) == (8 * 4096, 8 * 2048)
    assert [(m, w, n, s) for m, w, n, s, _ in mem.log] == [
        ("soc.cluster", False, 8 * 4096, 28_000), ("soc.cluster", True, 8 * 2048, 16_412_000)]
    ends = {iv.end for iv in sim.tracer.intervals if iv.lane == "exec"}
    assert ends == {t.end - 11_000}  # equal shares: every core waits for the port
    assert make()[1].spec.job_cycles(ADD) == SYNC + 12318  # without the port: compute-bound


def test_dma_stealing_the_port_slows_the_job_by_its_transfer():
    """A DMA write of 8192 B at t = 0 holds the 2 B/cycle port for 4096 cycles; the
    memory-bound add then ends 4096 cycles later than alone."""
    sim, cl = make()
    mem = cl.mem = SharedPort(sim, cl.clock, bpc=2)

    def dma():
        yield from mem.access(0x20000, 8192, True, "soc.dma")

    sim.process(dma(), "dma")
    [t] = run_jobs(sim, cl, ADD)
    assert cycles(cl, t) == 4096 + 8 * (4096 + 2048) // 2 + 11


# -- sequencing, tracing, hooks, events -------------------------------------------------

def test_jobs_run_in_submission_order_and_align_to_clock_edges():
    """At 370 MHz a job submitted at t = 1 ps starts on edge 1; the next starts at its end."""
    sim, cl = make(n_cores=2, freq=370e6)
    t1, t2 = run_jobs(sim, cl, CONV, CONV, at=1)
    assert t1.start == cl.clock.ps(1) and t2.start == t1.end
    assert cycles(cl, t1) == cycles(cl, t2) == SYNC + CONV_CORE
    assert cl.counters["jobs"] == 2 and cl.counters["macs"] == 2 * CONV.macs


def test_functional_hook_runs_once_at_completion():
    """``compute`` is called with the cluster when the job's time has elapsed."""
    sim, cl = make(n_cores=2)
    seen = []
    job = KernelJob("requant", h_out=1, w_out=1, c_out=64,
                    compute=lambda engine: seen.append((engine.path, sim.now)))
    [t] = run_jobs(sim, cl, job)
    assert seen == [("soc.cluster", t.end)]


def test_events_do_not_grow_with_cycles():
    """A layer 64x larger costs the same SimPy events: a handful per job, not per core."""
    def events(h: int, c: int) -> int:
        sim, cl = make()
        run_jobs(sim, cl, KernelJob("conv2d", h_out=h, w_out=16, c_out=c, c_in=c, k_h=3,
                                    k_w=3))
        return sim.stats.events

    small, large = events(8, 8), events(32, 128)
    assert small == large
    assert small <= 12


def test_ctrl_core_traces_the_fork():
    sim, cl = make(n_cores=2)
    run_jobs(sim, cl, CONV)
    ctrl = [iv for iv in sim.tracer.intervals if iv.path == "soc.cluster.ctrl"]
    assert [(iv.start, iv.end, iv.name) for iv in ctrl] == [(0, 20_000, "fork conv2d")]
    [job] = [iv for iv in sim.tracer.intervals if iv.path == "soc.cluster"]
    assert (job.start, job.end, job.args["macs"]) == (0, 827_000, CONV.macs)


# -- errors -----------------------------------------------------------------------------

def test_bad_specs_and_jobs_raise_spec_errors():
    with pytest.raises(SpecError, match="n_cores must be >= 1"):
        ClusterSpec(n_cores=0)
    with pytest.raises(SpecError, match="unknown parameter 'ops.mm_4x4_step_cycles'"):
        override(ClusterSpec(), "ops.mm_4x4_step_cycles", "12")
    assert override(ClusterSpec(), "event_unit.barrier_cycles", "20").event_unit.barrier_cycles \
        == 20
    with pytest.raises(SpecError, match="KernelJob.op must be one of"):
        KernelJob("conv3d")
    with pytest.raises(SpecError, match="KernelJob.h_out must be a positive int"):
        KernelJob("conv2d", h_out=0)
    with pytest.raises(SpecError, match="c_in .* must equal c_out"):
        KernelJob("depthwise", c_out=8, c_in=4)
    with pytest.raises(SpecError, match="use op='conv2d'"):
        KernelJob("pointwise", k_h=3, k_w=3)
    with pytest.raises(SpecError, match="submit\\(\\) takes a KernelJob"):
        make()[1].submit("conv")  # type: ignore[arg-type]


# -- with the real L1 SRAM --------------------------------------------------------------

def with_sram(port: float = 64.0, conflict: float = 1.0) -> tuple[Sim, Cluster, Any]:
    from desim.hw.memory import Sram, SramSpec

    sim, cl = make()
    cl.mem = Sram(cl, "l1", SramSpec(port_bytes_per_cycle=port, bank_conflict_factor=conflict),
                  clock=cl.clock)
    return sim, cl, cl.mem


def test_sram_carries_the_traffic_of_a_compute_bound_conv():
    """3.6 MB of core L1 traffic (over 55 times the 64 KiB L1) at 64 B/cycle: 56 K port
    cycles, hidden under the 304 K compute cycles; the SRAM counts every byte."""
    sim, cl, l1 = with_sram()
    job = KernelJob("conv2d", h_out=16, w_out=16, c_out=64, c_in=32, k_h=3, k_w=3,
                    in_addr=l1.base, out_addr=l1.base + 0x8000)
    [t] = run_jobs(sim, cl, job)
    assert cycles(cl, t) == cl.spec.job_cycles(job)
    reads = sum(w.read_bytes for w in split(job, COSTS, 8))
    assert l1.counters["bytes_read"] == cl.counters["bytes_read"] == reads > 55 * 65536
    assert sim.stats.events < 250


REQUANT = KernelJob("requant", h_out=16, w_out=16, c_out=64)


def test_sram_port_bounds_a_memory_heavy_job():
    """65536 B read + 16384 B written at 4 B/cycle from cycle 28: 20480 cycles, plus one
    cycle of SRAM latency per access and the barrier; the cores alone need 12318."""
    sim, cl, l1 = with_sram(port=4.0, conflict=0.0)
    [t] = run_jobs(sim, cl, KernelJob("requant", h_out=16, w_out=16, c_out=64,
                                      in_addr=l1.base, out_addr=l1.base))
    assert cl.spec.core_cycles(REQUANT) == [30 + 2048 * 6] * 8
    assert cycles(cl, t) == 28 + (65536 + 16384) // 4 + 2 + 11


def test_dma_into_sram_slows_the_memory_heavy_job():
    """A 32 KiB DMA write from t = 0 shares the 4 B/cycle port round robin: the port stays
    busy until all 114688 B are through, 8192 cycles later than the job alone."""
    sim, cl, l1 = with_sram(port=4.0, conflict=0.0)

    def dma():
        yield from l1.access(l1.base + 0x8000, 32768, True, "soc.dma")

    sim.process(dma(), "dma")
    [t] = run_jobs(sim, cl, KernelJob("requant", h_out=16, w_out=16, c_out=64,
                                      in_addr=l1.base, out_addr=l1.base))
    assert cycles(cl, t) == (65536 + 16384 + 32768) // 4 + 2 + 11


def test_a_job_queue_serves_handed_and_put_jobs_in_order():
    """hand() queues work whose result nobody waits for: it runs in its turn like put()
    work, and no completion event is made for it."""
    from desim.hw.jobs import JobQueue

    sim = Sim()
    owner = Component(sim, "q", Clock("main", 1_000_000_000))
    served = []

    def serve(job):
        yield sim.env.timeout(10)
        served.append((sim.now, job.label))
        return job.label.upper()

    class Job:
        def __init__(self, label):
            self.label = label

    queue = JobQueue(owner, "jobs", serve)
    queue.hand(Job("a"))
    done = queue.put(Job("b"))
    queue.hand(Job("c"))
    sim.run()
    assert served == [(10, "a"), (20, "b"), (30, "c")]
    assert done.value == "B"
    handed = Sim()
    q2 = JobQueue(Component(handed, "q", Clock("main", 1_000_000_000)), "jobs",
                  lambda job: (yield handed.env.timeout(10)))
    q2.hand(Job("a"))
    handed.run()
    put = Sim()
    q3 = JobQueue(Component(put, "q", Clock("main", 1_000_000_000)), "jobs",
                  lambda job: (yield put.env.timeout(10)))
    q3.put(Job("a"))
    put.run()
    assert handed.stats.events == put.stats.events - 1  # no completion event
