"""Floating-point training kernels on the cluster: PULP-TrainLib's instruction counts,
the FPU bound, the work split and the energy of a floating-point cycle."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.hw.cluster import ClusterSpec
from desim.hw.fp_kernels import KERNELS, FpJob, FpKernelCosts, core_works

#: one core, no stalls, no prologue: issue cycles are instruction counts
BARE = FpKernelCosts(fma_latency_cycles=1, setup_cycles=0)


@pytest.mark.parametrize("kernel, per_mac, per_out", [
    ("naive", 3.0, 1), ("fp16_simd", 2.5, 2), ("fp16_simd_t", 1.5, 2)])
def test_vector_matrix_instruction_counts_are_the_tutorials(kernel, per_mac, per_out):
    # PULP-TrainLib tutorial: a K x M vector-matrix product takes 3MK + M (naive FP32),
    # 2.5KM + 2M (FP16 SIMD) and 1.5KM + 2M (FP16 SIMD, W pre-transposed) instructions
    k, m = 64, 32
    job = FpJob("matmul", 1, k, m, kernel=kernel, simd=kernel != "naive")
    (work,) = core_works(job, BARE, 1)
    assert work.issue_cycles == per_mac * k * m + per_out * m
    assert work.macs == k * m


def test_unrolling_reuses_loaded_operands():
    # a 4 x 4 block loads 4 + 4 operands for 16 FMAs: 1.5 instructions per MAC, half the
    # naive kernel's 3, once the K loop dominates
    job = FpJob("matmul", 64, 512, 64, kernel="unroll_4x4")
    naive = dataclasses.replace(job, kernel="naive")
    (u,), (n,) = core_works(job, BARE, 1), core_works(naive, BARE, 1)
    assert u.issue_cycles / job.macs == pytest.approx(1.5, rel=0.01)
    assert n.issue_cycles / job.macs == pytest.approx(3.0, rel=0.01)


def test_a_single_accumulator_stalls_on_the_fma_latency():
    # the naive kernel chains every FMA of an output into one register
    job = FpJob("matmul", 4, 100, 4)
    fast = core_works(job, BARE, 1)[0].issue_cycles
    slow = core_works(job, dataclasses.replace(BARE, fma_latency_cycles=3), 1)[0].issue_cycles
    assert slow - fast == 2 * job.macs  # (latency - 1) per dependent FMA
    # a 2 x 2 block keeps four independent accumulators: no stall at latency 3
    blocked = dataclasses.replace(job, kernel="unroll_2x2")
    assert (core_works(blocked, dataclasses.replace(BARE, fma_latency_cycles=3), 1)
            == core_works(blocked, BARE, 1))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 70), k=st.integers(1, 300), m=st.integers(1, 70),
       kernel=st.sampled_from(KERNELS), cores=st.sampled_from([1, 2, 8, 16]))
def test_no_kernel_beats_one_fma_per_core_per_cycle(n, k, m, kernel, cores):
    simd = kernel.startswith("fp16")
    spec = ClusterSpec(n_cores=cores)
    job = FpJob("matmul", n, k, m, kernel=kernel, simd=simd, elem_bytes=2 if simd else 4)
    cycles = spec.job_cycles(job)
    assert job.macs / cycles <= cores * (2 if simd else 1)


def test_rows_split_in_blocks_of_ceil_n_over_cores():
    spec = ClusterSpec(l1_conflict_stall=0.0)  # 8 cores, no bank conflicts
    job = FpJob("matmul", 9, 64, 16)
    # 9 rows: blocks of 2, the busiest core has 2 rows, as with 16 rows
    assert spec.job_cycles(job) == spec.job_cycles(dataclasses.replace(job, n=16))
    assert spec.job_cycles(dataclasses.replace(job, n=8)) < spec.job_cycles(job)


def test_a_single_row_splits_over_columns():
    # the fully connected input gradient (N = 1) is parallel over M
    spec = ClusterSpec()
    by_n = spec.job_cycles(FpJob("matmul", 1, 64, 512, axis="n"))
    by_m = spec.job_cycles(FpJob("matmul", 1, 64, 512, axis="m"))
    assert by_m < by_n / 6


def test_copies_cost_per_element():
    costs = FpKernelCosts()
    job = FpJob("matmul", 8, 16, 16)
    plain = core_works(job, costs, 8)
    copied = core_works(dataclasses.replace(job, copies=8 * 1000), costs, 8)
    assert [c.issue_cycles - p.issue_cycles for c, p in zip(copied, plain, strict=True)] == [
        1000 * costs.copy_elem_cycles] * 8


def test_elementwise_fp16_simd_halves_the_work():
    costs = FpKernelCosts(setup_cycles=0)
    fp32 = core_works(FpJob("sgd", 8000), costs, 8)
    fp16 = core_works(FpJob("sgd", 8000, simd=True, elem_bytes=2), costs, 8)
    assert sum(w.issue_cycles for w in fp32) == 2 * sum(w.issue_cycles for w in fp16)
    assert sum(w.issue_cycles for w in fp32) == 8000 * costs.sgd_elem_cycles


def test_cores_without_fpu_or_simd_are_refused():
    with pytest.raises(SpecError, match="no FPU"):
        core_works(FpJob("matmul", 4, 4, 4), FpKernelCosts(fpu=False), 8)
    with pytest.raises(SpecError, match="fp16_simd"):
        core_works(FpJob("sgd", 4, simd=True), FpKernelCosts(fp16_simd=False), 8)


def test_bad_jobs_name_the_field():
    with pytest.raises(SpecError, match="kernel"):
        FpJob("matmul", 4, 4, 4, kernel="unroll_3x3")
    with pytest.raises(SpecError, match="FpJob.n"):
        FpJob("matmul", 0, 4, 4)
    with pytest.raises(SpecError, match="kind"):
        FpJob("gemm", 4)


def test_an_fp_cycle_costs_what_vega_measures_relative_to_an_int8_cycle():
    # Vega: 79 GFLOPS/W in FP32 (2 FLOP per core cycle) and 614 GOPS/W in int8 (1.94 MAC
    # per core cycle): an FP32 busy cycle costs about four int8 ones
    costs, spec = FpKernelCosts(), ClusterSpec()
    ratio = (2 / 79e9) / (2 * 1.94 / 614e9)
    assert costs.energy_pj_per_fp_cycle / spec.energy_pj_per_core_cycle == pytest.approx(
        ratio, rel=0.02)
