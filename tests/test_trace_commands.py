"""``desim trace summary|stalls|plot|export`` end to end: on a stream_soc run, on a run
directory whose summary has per-layer entries (as DNN runs write them), and bad input
(one line, exit code 2)."""

import csv
import gzip
import json
import sys

import pytest

from desim.cli import main
from desim.trace import Recorder, chrome
from desim.trace.units import format_time


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", "stream_soc", "-w", "tiles", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def layered_dir(tmp_path_factory):
    """Two layers on a 1 GHz cluster (1 cycle = 1000 ps):

    conv1 [0, 100 cy): DMA-in [0,20), compute [20,90), DMA-out [90,100)
    fc    [100, 150 cy): DMA-in [100,130) streamed from DRAM [100,128), compute [130,150)
    """
    d = tmp_path_factory.mktemp("layered")
    cy = 1000
    rec = Recorder(meta={"platform": "imc_cluster", "workload": "net", "clock_hz": 10**9,
                         "total_ps": 150 * cy})
    rec.interval("soc.cl_dma", "ch0", "conv1 in", "dma", 0, 20 * cy, {"layer": "conv1"})
    rec.interval("soc.cluster", "jobs", "conv1 t0", "compute", 20 * cy, 90 * cy,
                 {"layer": "conv1", "macs": 7000})
    rec.interval("soc.cl_dma", "ch1", "conv1 out", "dma", 90 * cy, 100 * cy)
    rec.interval("soc.cl_dma", "ch0", "fc in", "dma", 100 * cy, 130 * cy, {"layer": "fc"})
    rec.interval("soc.dram", "bus", "read", "dram", 100 * cy, 128 * cy, {"bytes": 4096})
    rec.interval("soc.aimc", "if0", "fc t0", "aimc", 130 * cy, 150 * cy, {"layer": "fc"})
    rec.flow(1, "w", ("soc.cl_dma", "ch0"), 130 * cy, ("soc.aimc", "if0"), 130 * cy)
    chrome.write(rec, d / "trace.json.gz")
    comps = {p: {"kind": k, "busy_ps": b * cy, "utilization": b / 150, "bytes_read": 0,
                 "bytes_written": 0}
             for p, k, b in [("soc.cluster", "cluster", 70), ("soc.aimc", "aimc", 20),
                             ("soc.cl_dma", "dma", 60)]}
    layers = [
        {"index": 0, "name": "conv1", "kind": "conv2d", "engine": "cluster", "start_ps": 0,
         "end_ps": 100 * cy, "cycles": 100, "macs": 7000, "macs_per_cycle": 70.0,
         "tiles": 1, "bytes": {"l1": 10, "l2": 10, "dram": 0}, "bound": "compute",
         "compute_cycles": 70, "stall_cycles": {"dma": 20, "dram": 0}, "energy_pj": 1.0},
        {"index": 1, "name": "fc", "kind": "fully_connected", "engine": "aimc",
         "start_ps": 100 * cy, "end_ps": 150 * cy, "cycles": 50, "macs": 1000,
         "macs_per_cycle": 20.0, "tiles": 1, "bytes": {"l1": 5, "l2": 0, "dram": 4096},
         "bound": "transfer", "compute_cycles": 20, "stall_cycles": {"dma": 2, "dram": 28},
         "energy_pj": 1.0}]
    doc = {"desim_version": "0", "platform": {"name": "imc_cluster", "params": {}},
           "workload": {"name": "net"}, "seed": 0, "total_ps": 150 * cy, "cycles": 150.0,
           "clock_hz": 10**9, "components": comps, "layers": layers, "macs": 8000,
           "sim": {"events": 1, "wall_s": 0.0, "events_per_s": 0.0}}
    (d / "summary.json").write_text(json.dumps(doc))
    return d


def _out(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_summary_of_a_run(run_dir, capsys):
    """tiles moves 32 x 8 KiB in over l2->l1 and 32 x 2 KiB out over l1->l2."""
    code, out, _ = _out(capsys, ["trace", "summary", str(run_dir)])
    assert code == 0
    doc = json.loads((run_dir / "summary.json").read_text())
    util = doc["components"]["soc.engine"]["utilization"]
    assert f"soc.engine  engine  {100 * util:.1f}%" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("soc.ic.")}
    assert "256.0 KiB" in lines["soc.ic.l2->l1"] and "64.0 KiB" in lines["soc.ic.l1->l2"]
    assert "layers: none" in out and "top stalls" in out


def test_summary_of_a_trace_file_alone(run_dir, capsys):
    code, out, _ = _out(capsys, ["trace", "summary", str(run_dir / "trace.json.gz")])
    assert code == 0 and "util (trace)" in out


def test_stalls_of_a_run_end_on_the_last_dma_out(run_dir, capsys):
    """The path ends when the run ends, with the write-back of the last tile."""
    code, out, _ = _out(capsys, ["trace", "stalls", str(run_dir)])
    assert code == 0
    total = json.loads((run_dir / "summary.json").read_text())["total_ps"]
    assert f"to {format_time(total, 1e8)}" in out
    assert out.rstrip().splitlines()[-1].split()[:3] == ["soc.dma/ch1", "out", "t31"]
    assert "(whole run)" in out


def test_layer_tables_from_the_summary(layered_dir, capsys):
    """conv1: 100 cycles, 70 computing, 20 on DMA, 10 other; fc: 20 + 2 + 28 = 50."""
    code, out, _ = _out(capsys, ["trace", "summary", str(layered_dir)])
    assert code == 0
    assert "layers (summary.json)" in out
    assert any(ln.split() == ["1", "fc", "fully_connected", "aimc", "50", "20.00", "transfer"]
               for ln in out.splitlines())
    code, out, _ = _out(capsys, ["trace", "stalls", str(layered_dir)])
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines()
            if ln[:5] in ("conv1", "fc   ") and "%" not in ln}
    assert rows["conv1"][:9] == ["conv1", "cluster", "100", "70", "0", "20", "0", "10",
                                 "compute"]
    assert rows["fc"][:9] == ["fc", "aimc", "50", "20", "0", "2", "28", "0", "transfer"]


def test_trace_attribution_per_layer_window(layered_dir, capsys):
    """fc's window [100,150): DRAM busy [100,128) = 28, DMA alone [128,130) = 2, compute 20."""
    _, out, _ = _out(capsys, ["trace", "stalls", str(layered_dir)])
    (fc,) = [ln.split() for ln in out.splitlines() if ln.startswith("fc  ") and "%" in ln]
    assert fc[:10] == ["fc", "50", "20", "40.0%", "0", "0.0%", "28", "56.0%", "0", "0.0%"]
    assert fc[12:14] == ["2", "4.0%"]


def test_summary_of_a_no_trace_run(tmp_path, capsys):
    assert main(["run", "stream_soc", "-w", "tiles", "-o", str(tmp_path), "--no-trace"]) == 0
    capsys.readouterr()
    code, out, _ = _out(capsys, ["trace", "summary", str(tmp_path)])
    assert code == 0 and "soc.engine" in out and "top stalls" not in out
    code, out, _ = _out(capsys, ["trace", "stalls", str(tmp_path)])
    assert code == 0 and "no trace" in out


def test_plot_whole_run_and_window(run_dir, tmp_path, capsys):
    out = tmp_path / "w.svg"
    assert main(["trace", "plot", str(run_dir), "--window", "100us:130us", "--components",
                 "soc.dma,soc.engine", "--by", "name", "-o", str(out)]) == 0
    svg = out.read_text()
    assert "engine/compute" in svg and "l1/port" not in svg and "out t9" in svg
    assert main(["trace", "plot", str(run_dir)]) == 0
    assert (run_dir / "trace_plot.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_by_layer(layered_dir, tmp_path):
    out = tmp_path / "l.svg"
    assert main(["trace", "plot", str(layered_dir), "--by", "layer", "--panels",
                 "timeline,util", "-o", str(out)]) == 0
    svg = out.read_text()
    assert "conv1" in svg and "fc" in svg and "link bandwidth" not in svg


def test_export_formats(run_dir, tmp_path):
    """CSV and Parquet hold one row per interval; JSON and VCD parse back."""
    n = len(chrome.load(run_dir).intervals)
    assert main(["trace", "export", str(run_dir), "--format", "csv", "-o",
                 str(tmp_path / "t.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert len(rows) == n
    pq = pytest.importorskip("pyarrow.parquet")
    assert main(["trace", "export", str(run_dir), "--format", "parquet", "-o",
                 str(tmp_path / "t.parquet")]) == 0
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.num_rows == n
    assert table.column("start_ps").to_pylist() == [int(r["start_ps"]) for r in rows]
    assert main(["trace", "export", str(run_dir), "--format", "json", "--components",
                 "soc.engine", "-o", str(tmp_path / "e.json.gz")]) == 0
    assert {iv.path for iv in chrome.load(tmp_path / "e.json.gz").intervals} == {"soc.engine"}
    assert main(["trace", "export", str(run_dir), "--format", "vcd", "-o",
                 str(tmp_path / "t.vcd")]) == 0
    assert "$timescale 1 ps $end" in (tmp_path / "t.vcd").read_text()


def test_parquet_without_pyarrow_names_the_extra(run_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    code, _, err = _out(capsys, ["trace", "export", str(run_dir), "--format", "parquet",
                                 "-o", str(tmp_path / "t.parquet")])
    assert code == 2 and "pip install desim[parquet]" in err


@pytest.fixture
def bad_files(tmp_path, run_dir):
    (tmp_path / "garbage.json.gz").write_bytes(b"\x1f\x8b not really gzip")
    (tmp_path / "events.json").write_text(json.dumps({"traceEvents": [{"ph": "X", "ts": 0}]}))
    broken = tmp_path / "broken_summary"
    broken.mkdir()
    (broken / "summary.json").write_text("{\"total_ps\": ")
    (broken / "trace.json.gz").write_bytes((run_dir / "trace.json.gz").read_bytes())
    notrace = tmp_path / "notrace"
    notrace.mkdir()
    (notrace / "summary.json").write_text((run_dir / "summary.json").read_text())
    return tmp_path


@pytest.mark.parametrize("argv,message", [
    (["trace", "summary", "{t}/missing"], "does not exist"),
    (["trace", "summary", "{t}/garbage.json.gz"], "not a readable trace-event JSON"),
    (["trace", "plot", "{t}/events.json"], "is not a trace written by desim"),
    (["trace", "stalls", "{t}/broken_summary"], "is not a readable summary.json"),
    (["trace", "plot", "{t}/notrace"], "holds no trace.json.gz"),
    (["trace", "plot", "{run}", "--window", "1s:2s"], "lies outside the run"),
    (["trace", "plot", "{run}", "--window", "30us:10us"], "START must come before END"),
    (["trace", "plot", "{run}", "--components", "soc.gpu*"], "matches no component"),
    (["trace", "export", "{run}", "--format", "csv", "--components", "x"],
     "matches no component"),
    (["trace", "export", "{run}", "--format", "json", "-o", "{run}/trace.json.gz"],
     "is the trace being read"),
    (["trace", "plot", "{run}", "-o", "{t}/nodir/p.png"], "does not exist"),
    (["trace", "plot", "{run}", "-o", "{t}/p.gif"], "use a .png, .svg or .pdf name"),
    (["trace", "plot", "{run}", "--panels", "timeline,heat"], "choose from"),
])
def test_bad_input_is_one_line_exit_2(argv, message, bad_files, run_dir, capsys):
    argv = [a.format(t=bad_files, run=run_dir) for a in argv]
    code, _, err = _out(capsys, argv)
    assert code == 2, err
    assert err.startswith("desim: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_trace_file_is_untouched_by_plotting(run_dir):
    before = gzip.decompress((run_dir / "trace.json.gz").read_bytes())
    main(["trace", "plot", str(run_dir), "--window", ":50us", "-o",
          str(run_dir / "z.png")])
    assert gzip.decompress((run_dir / "trace.json.gz").read_bytes()) == before


def test_critical_path_per_layer(layered_dir, capsys):
    """Path: conv1 in (20) -> conv1 t0 (70) -> conv1 out (10) -> fc in (30) -> fc t0 (20),
    each inside its layer's window; no waits, so no wait column."""
    _, out, _ = _out(capsys, ["trace", "stalls", str(layered_dir)])
    table = out[out.index("time on the path per layer"):].splitlines()[1:4]
    assert [ln.split() for ln in table] == [["layer", "compute", "dma"],
                                            ["conv1", "70", "30"],
                                            ["fc", "20", "30"]]
