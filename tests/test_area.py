"""The area model: per-component areas in summary.json from published figures or stated
assumptions, one platform-wide scaling factor, DRAM off chip."""

import pytest

import desim
from desim.hw.aimc import AimcSpec
from desim.hw.cluster import ClusterSpec
from desim.hw.memory import SramSpec

# the figures the defaults come from, written out (docs/models/area.md)
IMA_MM2 = 0.83              # 256 x 256 IMA, Garofalo et al., JETCAS 2022
CLUSTER_WITH_L1_MM2 = 2.5   # 8 cores + event unit + 512 KiB L1, same paper
SRAM_MM2_PER_KIB = 0.0016   # assumed: ~0.2 um^2 per bit x 8192 bits in 22 nm
DMA_MM2 = 0.01              # assumed: ~50 kGE
CORE_MM2 = 0.186            # (2.5 - 512 KiB x per KiB - DMA) / 9 cores, rounded


def _area(platform, workload="resnet8", **overrides):
    return desim.simulate(platform, workload, overrides=overrides).summary["area_mm2"]


def test_core_area_is_the_cluster_figure_less_l1_and_dma():
    rest = CLUSTER_WITH_L1_MM2 - 512 * SRAM_MM2_PER_KIB - DMA_MM2
    assert ClusterSpec().core_area_mm2 == pytest.approx(rest / 9, abs=5e-4)
    assert SramSpec().area_mm2_per_kib == pytest.approx(8192 * 0.2e-6, rel=0.03)


def test_imc_cluster_closed_form():
    area = _area("imc_cluster")
    expect = {
        "soc.cluster": 9 * CORE_MM2,
        "soc.l1": 512 * SRAM_MM2_PER_KIB,
        "soc.l2": 1536 * SRAM_MM2_PER_KIB,
        "soc.dram": 0.0,
        "soc.aimc": 34 * IMA_MM2,
        "soc.cl_dma": DMA_MM2,
        "soc.io_dma": DMA_MM2,
    }
    assert area.keys() == {*expect, "total"}
    for path, mm2 in expect.items():
        assert area[path] == pytest.approx(mm2), path
    assert area["total"] == pytest.approx(sum(expect.values()))


def test_area_follows_the_spec():
    assert AimcSpec(rows=128, cols=256).crossbar_area_mm2 == IMA_MM2
    area = _area("imc_cluster", **{"aimc.rows": "128", "aimc.n_crossbars": "2",
                                   "cluster.n_cores": "16"})
    assert area["soc.aimc"] == pytest.approx(2 * IMA_MM2 / 2)
    assert area["soc.cluster"] == pytest.approx(17 * CORE_MM2)


def test_scaling_factor_scales_every_area():
    base = _area("pulp_cluster")
    half = _area("pulp_cluster", area_scale="0.5")
    assert half.keys() == base.keys()
    for path, mm2 in base.items():
        assert half[path] == pytest.approx(0.5 * mm2, abs=2e-6), path


@pytest.mark.parametrize("platform, workload", [
    ("imc_cluster", "resnet8"), ("hetero_cluster", "resnet8"), ("pulp_cluster", "resnet8"),
    ("gap9", "resnet8"), ("flat_cluster", "resnet8"), ("stream_soc", "tiles"),
    ("examples/systolic_cluster.py", "resnet8")])
def test_every_platform_reports_a_positive_total(platform, workload):
    area = _area(platform, workload)
    assert area["total"] > 0
    assert area["total"] == pytest.approx(sum(v for k, v in area.items() if k != "total"))
    assert all(v >= 0 for v in area.values())


def test_flat_cluster_dram_is_off_chip():
    area = _area("flat_cluster")
    assert area["soc.dram"] == 0.0
    assert area["total"] == pytest.approx(area["soc.cluster"] + area["soc.l1"]
                                          + area["soc.cl_dma"])


def test_area_does_not_change_timing():
    base = desim.simulate("pulp_cluster", "resnet8").summary
    scaled = desim.simulate("pulp_cluster", "resnet8", overrides={"area_scale": "3"}).summary
    assert scaled["total_ps"] == base["total_ps"]
    assert scaled["energy_pj"] == base["energy_pj"]
