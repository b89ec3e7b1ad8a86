"""desim compare: the table, compare.csv, compare.png, per-layer speedups, variants, errors."""

import contextlib
import csv
import io
import json

import pytest

from desim.cli import main
from desim.compare import COLUMNS, FUNCTIONAL_COLUMNS, compare, parse_variant

PLATFORMS = ["pulp_cluster", "imc_cluster"]
WORKLOADS = ["autoencoder", "dscnn"]


@pytest.fixture(scope="module")
def cmp_dir(tmp_path_factory):
    """One functional comparison of two platforms on two small workloads, through the CLI."""
    out = tmp_path_factory.mktemp("cmp") / "cmp"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        argv = ["compare", *PLATFORMS, "-w", WORKLOADS[0], "-w", WORKLOADS[1], "--functional"]
        assert main([*argv, "-o", str(out)]) == 0
    return out, stdout.getvalue()


def _summary(out, label, workload):
    return json.loads((out / "runs" / f"{label}__{workload}.json").read_text())


def _csv(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_table_has_one_line_per_platform_and_workload(cmp_dir):
    _, text = cmp_dir
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["variant", "workload", "latency", "us"]
    for p in PLATFORMS:
        for w in WORKLOADS:
            assert sum(1 for line in lines if line.split()[:2] == [p, w]) == 1
    assert "layers of dscnn (speedup vs pulp_cluster)" in text


def test_csv_rows_match_the_runs(cmp_dir):
    out, _ = cmp_dir
    rows = _csv(out / "compare.csv")
    assert len(rows) == len(PLATFORMS) * len(WORKLOADS)
    assert list(rows[0]) == [*COLUMNS, *FUNCTIONAL_COLUMNS]
    for row in rows:
        s = _summary(out, row["variant"], row["workload"])
        assert float(row["cycles"]) == s["cycles"]
        assert float(row["energy_uj"]) == pytest.approx(s["energy_pj"]["total"] / 1e6)
        static = s["energy_static_pj"]["total"] / 1e6
        assert float(row["static_uj"]) == pytest.approx(static)
        assert float(row["dynamic_uj"]) == pytest.approx(float(row["energy_uj"]) - static)
        assert float(row["tops_per_w"]) == pytest.approx(2 * s["macs"] / s["energy_pj"]["total"])
        assert int(row["l2_peak_bytes"]) == s["memory"]["l2_peak_bytes"]
        assert int(row["dram_traffic_bytes"]) == s["memory"]["dram_traffic_bytes"]
        area = s.get("area_mm2", {}).get("total")
        assert row["area_mm2"] == ("" if area is None else str(area))


def test_functional_agreement_is_shown_where_the_run_has_one(cmp_dir):
    out, text = cmp_dir
    rows = {(r["variant"], r["workload"]): r for r in _csv(out / "compare.csv")}
    for w in WORKLOADS:
        fn = _summary(out, "imc_cluster", w)["functional"]
        assert rows["imc_cluster", w]["top1_agreement"] == str(fn["top1_agreement"])
        assert float(rows["imc_cluster", w]["snr_db"]) == fn["snr_db"]
        assert rows["pulp_cluster", w]["snr_db"] == ""  # the digital reference itself
    assert "top1" in text.splitlines()[0] and "SNR dB" in text.splitlines()[0]


def test_png_is_written(cmp_dir):
    out, _ = cmp_dir
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("workload", WORKLOADS)
def test_per_layer_speedups_match_the_runs(cmp_dir, workload):
    out, text = cmp_dir
    rows = _csv(out / f"layers_{workload}.csv")
    first, other = (_summary(out, p, workload) for p in PLATFORMS)
    assert [r["layer"] for r in rows] == [layer["name"] for layer in first["layers"]]
    for row, a, b in zip(rows, first["layers"], other["layers"], strict=True):
        assert float(row["cycles[pulp_cluster]"]) == a["cycles"]
        assert float(row["cycles[imc_cluster]"]) == b["cycles"]
        if b["cycles"]:
            assert float(row["speedup[imc_cluster]"]) == pytest.approx(a["cycles"] / b["cycles"])
        assert row["fastest"] in (*PLATFORMS, "tie")
    assert f"layers of {workload}" in text


def test_variants_of_one_platform():
    assert parse_variant("imc_cluster").sets == {}
    v = parse_variant("imc_cluster:aimc.n_crossbars=8,dram=lpddr4_2400")
    assert (v.platform, v.sets) == ("imc_cluster", {"aimc.n_crossbars": "8",
                                                    "dram": "lpddr4_2400"})
    cmp = compare(["imc_cluster", "imc_cluster:aimc.n_crossbars=8"], ["autoencoder"],
                  overrides={"aimc.n_crossbars": "2"})
    crossbars = [cmp.summaries[label, "autoencoder"]["platform"]["params"]["aimc"]["n_crossbars"]
                 for label in ("imc_cluster", "imc_cluster:aimc.n_crossbars=8")]
    assert crossbars == [2, 8]  # the shared override, then the variant's own on top
    assert [r["variant"] for r in cmp.rows] == ["imc_cluster", "imc_cluster:aimc.n_crossbars=8"]


@pytest.mark.parametrize("argv, message", [
    (["pulp_cluster"], "at least two"),
    (["pulp_cluster", "pulp_cluster"], "given twice"),
    (["pulp_cluster", "no_such_soc"], "unknown platform 'no_such_soc'"),
    (["pulp_cluster", "imc_cluster", "-w", "no_such_net"], "unknown workload 'no_such_net'"),
    (["pulp_cluster", "imc_cluster:aimc.n_crossbars"], "expected KEY=VALUE"),
    (["pulp_cluster", "imc_cluster:"], "expected KEY=VALUE"),
    (["pulp_cluster", ":aimc.n_crossbars=8"], "expected PLATFORM"),
    (["pulp_cluster", "imc_cluster:aimc.nope=1"], "unknown parameter 'aimc.nope'"),
])
def test_bad_input_is_one_line_and_leaves_no_folder(tmp_path, capsys, argv, message):
    out = tmp_path / "cmp"
    assert main(["compare", *argv, "-o", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("desim: error: ") and message in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and not captured.out
    assert not out.exists()
