"""The desim command end to end: outputs, schema, and one-line errors with exit code 2."""

import gzip
import json
import subprocess
import sys
from collections import defaultdict

import pytest

from desim import __version__
from desim.cli import main
from desim.cli.args import parse_sets
from desim.errors import SpecError

SUMMARY_KEYS = {"desim_version", "platform", "workload", "seed", "total_ps", "cycles",
                "clock_hz", "components", "layers", "sim"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", "-o", str(out)]) == 0
    return out


def test_run_writes_the_three_files(run_dir):
    for name in ("summary.json", "trace.json.gz", "timeline.png"):
        assert (run_dir / name).stat().st_size > 0
    assert (run_dir / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]


def test_summary_schema(run_dir):
    doc = json.loads((run_dir / "summary.json").read_text())
    assert doc.keys() >= SUMMARY_KEYS
    assert doc["desim_version"] == __version__
    assert doc["platform"]["name"] == "imc_cluster" and doc["workload"]["name"] == "resnet8"
    assert doc["total_ps"] > 0
    assert doc["cycles"] == pytest.approx(doc["total_ps"] * doc["clock_hz"] / 1e12, abs=1e-3)
    for path, comp in doc["components"].items():
        assert {"kind", "busy_ps", "utilization", "bytes_read", "bytes_written"} <= comp.keys()
        assert 0 <= comp["utilization"] <= 1, path
    assert {"events", "wall_s", "events_per_s"} <= doc["sim"].keys()
    assert doc["sim"]["events"] > 0


def test_trace_has_two_components_and_lanes_never_overlap(run_dir):
    doc = json.loads(gzip.decompress((run_dir / "trace.json.gz").read_bytes()))
    events = doc["traceEvents"]
    procs = {e["pid"] for e in events if e.get("name") == "process_name"}
    assert len(procs) >= 2
    by_lane = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            by_lane[(e["pid"], e["tid"])].append((round(e["ts"] * 1e6),
                                                  round((e["ts"] + e["dur"]) * 1e6)))
    assert len(by_lane) >= 3
    for lane, spans in by_lane.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end - 1, f"overlapping slices on {lane}"


def test_same_seed_same_summary(tmp_path):
    docs = []
    for name in ("a", "b"):
        assert main(["run", "-o", str(tmp_path / name), "--no-trace"]) == 0
        doc = json.loads((tmp_path / name / "summary.json").read_text())
        doc.pop("sim")
        docs.append(doc)
    assert docs[0] == docs[1]
    assert not (tmp_path / "a" / "trace.json.gz").exists()


def test_override_changes_the_result(tmp_path):
    base, slow = tmp_path / "base", tmp_path / "slow"
    main(["run", "stream_soc", "-w", "tiles", "-o", str(base), "--no-trace"])
    main(["run", "stream_soc", "-w", "tiles", "-o", str(slow), "--no-trace", "--set",
          "engine.macs_per_cycle=16"])
    t0 = json.loads((base / "summary.json").read_text())
    t1 = json.loads((slow / "summary.json").read_text())
    assert t1["platform"]["params"]["engine"]["macs_per_cycle"] == 16.0
    assert t1["total_ps"] > t0["total_ps"]


@pytest.mark.parametrize("argv,message", [
    (["run", "nosuch"], "unknown platform 'nosuch'"),
    (["run", "-w", "nosuch"], "unknown workload 'nosuch'"),
    (["run", "--set", "aimc.n_crossbar=3"], "did you mean 'aimc.n_crossbars'"),
    (["run", "--set", "aimc.mvm_ns=-3"], "aimc.mvm_ns must be > 0"),
    (["run", "--set", "aimc.mvm_ns=fast"], "not a valid float"),
    (["run", "stream_soc", "--set", "clock_hz=0"], "clock_hz must be > 0"),
    (["run", "--set", "novalue"], "expected KEY=VALUE"),
])
def test_bad_input_exits_2_with_one_line(argv, message, capsys, tmp_path):
    assert main([*argv, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert err.startswith("desim: error:") and "Traceback" not in err


def test_parse_sets_strips_keeps_the_last_and_names_the_option():
    assert parse_sets([" a.b = 1 ", "c=x=y", "a.b=2", "d="]) == {"a.b": "2", "c": "x=y", "d": ""}
    with pytest.raises(SpecError, match=r"^--opt '=1': expected KEY=VALUE, e\.g\. --opt k=v$"):
        parse_sets(["=1"], option="--opt", example="k=v")


def test_unwritable_outdir(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", "-o", str(blocker / "sub")]) == 2
    assert "cannot create output directory" in capsys.readouterr().err


def test_listing_and_version():
    out = subprocess.run([sys.executable, "-m", "desim", "platforms"], capture_output=True,
                         text=True, check=True).stdout
    assert {"stream_soc", "pulp_cluster", "imc_cluster"} <= set(out.split())
    out = subprocess.run([sys.executable, "-m", "desim", "workloads"], capture_output=True,
                         text=True, check=True).stdout
    assert {"tiles", "resnet8", "mobilenetv2"} <= set(out.split())
    out = subprocess.run([sys.executable, "-m", "desim", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == f"desim {__version__}"


def test_save_schedule(tmp_path):
    """--save-schedule writes the mapped schedule with one entry per layer."""
    assert main(["run", "pulp_cluster", "-w", "dscnn", "-o", str(tmp_path), "--no-trace",
                 "--save-schedule"]) == 0
    sched = json.loads((tmp_path / "schedule.json").read_text())
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(sched["layers"]) == len(summary["layers"])
    assert sched["macs"] == summary["macs"]
    assert all(t["loads"] or layer["engine"] == "none"
               for layer in sched["layers"] for t in layer["tiles"])
