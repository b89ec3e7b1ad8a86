"""desim sweep: points, results rows, resume, failures, interruption, plots and dask."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import desim
import desim.sweep as sweep
from desim.cli import main
from desim.errors import SpecError
from desim.sweep.points import Point, Study, build_points, parse_grid, parse_range

#: two small workloads on two core counts, and one L1 too small to tile dscnn
GRID = {"platform": ["imc_cluster"], "workload": ["autoencoder", "dscnn"],
        "cluster.n_cores": ["4", "8"], "l1.capacity_bytes": ["1024", "524288"]}


def _frame(outdir: Path) -> pd.DataFrame:
    """The results without the one column that measures the host (wall time)."""
    return sweep.load(outdir).drop(columns="sim_wall_s")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The GRID study run once on a pool of two processes."""
    out = tmp_path_factory.mktemp("sweep") / "base"
    sweep.run(Study(GRID), out, jobs=2)
    return out


def test_grid_points_are_the_cartesian_product():
    points = build_points(parse_grid(["platform=imc_cluster,flat_cluster", "workload=dscnn",
                                      "cluster.n_cores=4,8", "dram=ddr4_3200", "seed=1,2"]))
    assert len(points) == 8
    assert points[0] == Point("imc_cluster", "dscnn", 1,
                              {"cluster.n_cores": "4", "dram": "ddr4_3200"})
    assert {p.platform for p in points} == {"imc_cluster", "flat_cluster"}


def test_random_points_are_seeded_and_in_range():
    ranges = dict([parse_range("cluster.n_cores=2:16"),
                   parse_range("l1.capacity_bytes=4096:1048576:log")])
    grid = {"platform": ["imc_cluster"], "workload": ["dscnn"]}
    points = build_points(grid, ranges, 20, random_seed=3)
    assert points == build_points(grid, ranges, 20, random_seed=3)
    assert len(points) == 20
    cores = [p.overrides["cluster.n_cores"] for p in points]
    assert all(isinstance(c, int) and 2 <= c <= 16 for c in cores)
    l1 = [p.overrides["l1.capacity_bytes"] for p in points]
    assert all(4096 <= v <= 1048576 for v in l1) and min(l1) < 32768 < max(l1)


@pytest.mark.parametrize("bad", ["cluster.n_cores=1:x", "cluster.n_cores=4:2", "k=0:8:log",
                                 "k=1:2:lin", "nokey"])
def test_bad_range_is_an_error(bad):
    with pytest.raises(SpecError, match="--range"):
        parse_range(bad)


def test_toml_sweep_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('platform = "imc_cluster"\nworkload = ["autoencoder", "dscnn"]\n'
                    '[grid]\n"cluster.n_cores" = [4, 8]\n'
                    '[random]\nn = 3\nseed = 7\n'
                    '[random.range]\n"l1.capacity_bytes" = "4096:65536"\n')
    points = sweep.load_toml(path).points()
    assert len(points) == 2 * 2 * 3
    assert points[0].overrides["cluster.n_cores"] == 4


@pytest.mark.parametrize("args, message", [
    (["--grid", "cluster.n_core=4,8"], "unknown parameter 'cluster.n_core'"),
    (["--grid", "cluster.n_cores"], "expected KEY=V1,V2"),
    (["--grid", "dram=nosuch"], "unknown DRAM preset"),
    (["--grid", "workload=nosuch"], "unknown workload"),
    (["--random", "2"], "go together"),
])
def test_bad_input_is_one_line_before_anything_runs(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["sweep", "imc_cluster", "-w", "dscnn", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("desim: error:") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_toml_is_an_error(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("platform = [\n")
    assert main(["sweep", str(path), "-o", str(tmp_path / "o")]) == 2
    assert "desim: error: sweep file" in capsys.readouterr().err


def test_rows_equal_direct_simulation(base):
    frame = sweep.load(base)
    assert len(frame) == 8
    assert list(frame.columns[:2]) == ["cluster.n_cores", "l1.capacity_bytes"]
    row = frame[(frame.workload == "dscnn") & (frame["cluster.n_cores"] == 8)
                & (frame["l1.capacity_bytes"] == 524288)].iloc[0]
    summary = desim.simulate("imc_cluster", "dscnn", overrides={
        "cluster.n_cores": "8", "l1.capacity_bytes": "524288"}).summary
    assert row.status == "ok"
    assert row.cycles == summary["cycles"] and row.macs == summary["macs"]
    assert row.latency_s == summary["total_ps"] * 1e-12
    assert row.energy_j == summary["energy_pj"]["total"] * 1e-12
    assert row.l2_peak_bytes == summary["memory"]["l2_peak_bytes"]
    assert row.area_mm2 == summary.get("area_mm2", {}).get("total")
    assert len(list((base / "points").glob("*.json"))) == 8


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(base):
    frame = sweep.load(base)
    failed = frame[frame.status == "error"]
    assert set(failed.workload) == {"dscnn"} and set(failed["l1.capacity_bytes"]) == {1024}
    assert failed.error.str.contains("enlarge l1.capacity_bytes").all()
    assert (frame[frame.status == "ok"].error.isna()).all()


def test_resume_runs_nothing_and_gives_the_same_table(base, monkeypatch):
    before = {p: p.stat().st_mtime_ns for p in (base / "points").glob("*.json")}
    table = _frame(base)
    runner = importlib.import_module("desim.sweep.run")  # the module, not desim.sweep.run()
    monkeypatch.setattr(runner, "_pool", lambda *a: pytest.fail("ran a point"))
    sweep.run(Study(GRID), base, jobs=2)
    assert {p: p.stat().st_mtime_ns for p in (base / "points").glob("*.json")} == before
    pd.testing.assert_frame_equal(_frame(base), table)


def test_interrupted_sweep_resumes_to_the_same_table(base, tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "desim", "sweep", "imc_cluster", "-w", "autoencoder",
            "-w", "dscnn", "--grid", "cluster.n_cores=4,8",
            "--grid", "l1.capacity_bytes=1024,524288", "-o", str(out), "--jobs", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((out / "points").glob("*.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no point written"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and "desim: interrupted" in err
    assert len(list((out / "points").glob("*.json"))) < 8
    assert (out / "results.parquet").is_file()  # what was done is in the table
    subprocess.run(argv, check=True, capture_output=True)
    pd.testing.assert_frame_equal(_frame(out), _frame(base))


def test_pyarrow_is_required(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(SpecError, match=r"desim\[parquet\]"):
        sweep.run(Study(GRID), tmp_path)


def test_plots(base, tmp_path, capsys):
    front = tmp_path / "front.png"
    assert main(["sweep", "plot", str(base), "--x", "latency_s", "--y", "energy_j",
                 "--color", "workload", "--pareto", "--output", str(front)]) == 0
    assert main(["sweep", "plot", str(base), "--x", "cluster.n_cores", "--y", "cycles",
                 "--by", "workload"]) == 0
    assert front.stat().st_size > 10_000
    assert (base / "cycles_vs_cluster.n_cores_by_workload.png").is_file()
    assert main(["sweep", "plot", str(base), "--x", "nosuch", "--y", "cycles"]) == 2
    assert "no column 'nosuch'" in capsys.readouterr().err


def test_dask_rows_equal_the_process_pool(base, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        sweep.run(Study(GRID), tmp_path / "dask", scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(_frame(tmp_path / "dask"), _frame(base))
