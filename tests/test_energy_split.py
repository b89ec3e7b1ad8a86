"""The summary splits energy into a static part (DRAM background and refresh, idle cores)
per component, beside the total."""

from __future__ import annotations

import pytest

import desim


def test_static_energy_is_each_components_static_part():
    r = desim.simulate("imc_cluster", "resnet8", overrides={"dram": "lpddr4_2400"})
    total, static = r.summary["energy_pj"], r.summary["energy_static_pj"]
    assert set(static) == set(total)
    dram, cluster = r.soc.memory("dram"), r.soc.cluster
    assert static["soc.dram"] == pytest.approx(dram.static_energy_pj, abs=1e-3)
    assert static["soc.cluster"] == pytest.approx(cluster.static_energy_pj, abs=1e-3)
    assert static["soc.l1"] == 0.0  # no sourced SRAM leakage figure: none modelled
    assert all(0 <= static[k] <= total[k] for k in total)
    # no DRAM traffic: the DRAM's energy is all static
    assert r.summary["memory"]["dram_traffic_bytes"] == 0
    assert static["soc.dram"] == pytest.approx(total["soc.dram"], abs=1e-3)
    assert static["total"] == pytest.approx(sum(v for k, v in static.items() if k != "total"))


def test_the_text_summary_prints_the_split(tmp_path, capsys):
    from desim.cli import main

    assert main(["run", "pulp_cluster", "-w", "autoencoder", "--no-trace", "-o",
                 str(tmp_path)]) == 0
    assert "static" in capsys.readouterr().out
