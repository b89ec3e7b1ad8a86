"""``desim regress record|check``: the project's golden baselines, a changed model parameter
failing with a readable diff, tolerances, per-layer comparison, and bad input (exit 2)."""

import json
import shutil
from pathlib import Path

import pytest

from desim.cli import main
from desim.driver import simulate
from desim.regress.baseline import Case, compare, load_baseline, parse_tolerance
from desim.soc.loader import platform_dir

GOLDEN = Path(__file__).parent / "golden"


def _run(capsys, argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_golden_baselines_match(capsys):
    """Every zoo network on both DNN platforms, and the synthetic streams, as recorded."""
    code, out, _ = _run(capsys, ["regress", "check", GOLDEN])
    assert code == 0, out
    n = len(list(GOLDEN.glob("*.json")))
    assert n >= 12 and f"ok: {n} case(s) within 0%" in out


def test_changed_parameter_fails_with_a_readable_diff(capsys, tmp_path):
    """Raising dma.setup_cycles 12 -> 40 slows both stream_soc cases: each row names the
    case, the figure, the baseline's value, the new one and the change in percent."""
    for path in GOLDEN.glob("stream_soc__*.json"):
        shutil.copy(path, tmp_path)
    code, out, _ = _run(capsys, ["regress", "check", tmp_path, "--set", "dma.setup_cycles=40"])
    assert code == 1
    old = json.loads((GOLDEN / "stream_soc__tiles.json").read_text())["metrics"]["cycles"]
    new = simulate("stream_soc", "tiles", overrides={"dma.setup_cycles": "40"},
                   trace=False).summary["cycles"]
    (row,) = [ln.split() for ln in out.splitlines()
              if ln.startswith("stream_soc/tiles ") and " cycles " in ln]
    assert row == ["stream_soc/tiles", "total", "cycles", f"{old:,.3f}", f"{new:,.3f}",
                   f"{100 * (new - old) / old:+.2f}%", "FAIL"]
    assert "dma.setup_cycles 12 -> 40" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: 2 of 2 case(s) differ beyond 0%")


@pytest.fixture
def baselines(tmp_path, capsys):
    d = tmp_path / "base"
    assert main(["regress", "record", str(d), "--platform", "stream_soc", "--workload",
                 "tiles_membound", "--seed", "3", "--set", "engine.setup_cycles=30"]) == 0
    capsys.readouterr()
    return d


def test_record_names_the_case_and_stores_where_it_came_from(baselines):
    (path,) = baselines.glob("*.json")
    assert path.name.startswith("stream_soc__tiles_membound__seed3__")
    case, doc = load_baseline(path)
    assert case == Case("stream_soc", "tiles_membound", 3, (("engine.setup_cycles", "30"),))
    assert doc["platform_spec"]["engine"]["setup_cycles"] == 30
    assert doc["desim_version"] and doc["metrics"]["bytes"]["soc.l2"]["read"] == 32 * 8192


def test_tolerance(baselines, capsys):
    """A baseline 1% slower than the model: -0.99% passes at 2%, fails at 0.5%."""
    (path,) = baselines.glob("*.json")
    doc = json.loads(path.read_text())
    doc["metrics"]["cycles"] *= 1.01
    path.write_text(json.dumps(doc))
    code, out, _ = _run(capsys, ["regress", "check", baselines, "--tolerance", "2%"])
    assert code == 0 and "-0.99%" in out
    code, out, _ = _run(capsys, ["regress", "check", baselines, "--tolerance", "0.5"])
    assert code == 1 and "FAIL" in out


def test_record_without_cases_re_records_the_folder(baselines, capsys):
    (path,) = baselines.glob("*.json")
    good = path.read_text()
    doc = json.loads(good)
    doc["metrics"]["cycles"] = 1.0
    path.write_text(json.dumps(doc))
    assert _run(capsys, ["regress", "record", baselines])[0] == 0
    assert path.read_text() == good


def test_platform_script_is_stored_relative_to_the_folder(tmp_path, capsys):
    """The folder and the script move together: the stored path is relative."""
    scripts = tmp_path / "proj" / "platforms"
    scripts.mkdir(parents=True)
    shutil.copy(platform_dir() / "stream_soc.py", scripts / "my_soc.py")
    base = tmp_path / "proj" / "baselines"
    assert _run(capsys, ["regress", "record", base, "--platform", scripts / "my_soc.py",
                         "--workload", "tiles"])[0] == 0
    case, _ = load_baseline(base / "my_soc__tiles.json")
    assert case.platform == "../platforms/my_soc.py"
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "proj", moved)
    assert _run(capsys, ["regress", "check", moved / "baselines"])[0] == 0


def _met(cycles, layers):
    return {"total_ps": 1000, "cycles": cycles, "macs": 10, "bytes": {}, "energy_pj": {},
            "layers": [{"index": i, "name": n, "engine": "aimc", "cycles": c,
                        "bytes": {"l1": 8, "dram": d}} for i, (n, c, d) in enumerate(layers)]}


def test_compare_per_layer():
    """conv's cycles +10% and fc's DRAM bytes 0 -> 4: both fail at 5%; totals pass."""
    old = _met(100, [("conv", 50, 0), ("fc", 50, 0)])
    new = _met(100, [("conv", 55, 0), ("fc", 50, 4)])
    bad = {(d.item, d.metric): d for d in compare(old, new, 0.05) if not d.ok}
    assert set(bad) == {("layer 0 conv", "cycles"), ("layer 1 fc", "bytes dram")}
    assert bad[("layer 0 conv", "cycles")].rel == pytest.approx(0.10)
    assert all(d.ok for d in compare(old, new, 0.11) if d.metric != "bytes dram")


def test_compare_layer_list_changes_fail():
    old = _met(100, [("conv", 50, 0)])
    new = _met(100, [("conv", 50, 0), ("fc", 50, 0)])
    bad = [(d.item, d.metric, d.old, d.new) for d in compare(old, new, 1.0) if not d.ok]
    assert ("layers", "names", "1 layers", "2 layers") in bad
    assert ("layer 1 fc", "cycles", None, 50) in bad


@pytest.mark.parametrize("text,fraction", [("0", 0.0), ("2%", 0.02), ("0.5", 0.005),
                                           (" 1.5 % ", 0.015)])
def test_parse_tolerance(text, fraction):
    assert parse_tolerance(text) == pytest.approx(fraction)


@pytest.fixture
def bad_dirs(tmp_path):
    (tmp_path / "empty").mkdir()
    for name, content in [("corrupt", "{\"format\": 1, "),
                          ("wrongformat", json.dumps({"format": 99})),
                          ("nocase", json.dumps({"format": 1, "metrics": {}})),
                          ("unknown", json.dumps({
                              "format": 1, "case": {"platform": "nosuch_soc", "workload": "tiles",
                                                    "seed": 0, "overrides": {}},
                              "metrics": {"total_ps": 1, "cycles": 1.0, "layers": []}}))]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "case.json").write_text(content)
    return tmp_path


@pytest.mark.parametrize("argv,message", [
    (["check", "{t}/missing"], "does not exist"),
    (["check", "{t}/empty"], "holds no baseline"),
    (["check", "{t}/corrupt"], "is not readable JSON"),
    (["check", "{t}/wrongformat"], "format 99 is not 1"),
    (["check", "{t}/nocase"], "'case' or 'metrics' is missing"),
    (["check", "{t}/unknown"], "unknown platform 'nosuch_soc'"),
    (["check", str(GOLDEN), "--tolerance", "abc"], "give a percentage"),
    (["check", str(GOLDEN), "--tolerance=-1%"], "give a percentage"),
    (["check", str(GOLDEN), "--set", "dma.nosuch=1"], "unknown parameter 'dma.nosuch'"),
    (["record", "{t}/new", "--platform", "stream_soc", "--workload", "nosuch"],
     "unknown workload 'nosuch'"),
    (["record", "{t}/empty"], "holds no baseline"),
])
def test_bad_input_is_one_line_exit_2(argv, message, bad_dirs, capsys):
    code, _, err = _run(capsys, ["regress", *[a.format(t=bad_dirs) for a in argv]])
    assert code == 2, err
    assert err.startswith("desim: error:") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not list(bad_dirs.glob("new/*.json"))  # a failed record writes nothing


def test_dnn_case_compares_per_layer(tmp_path, capsys):
    """ResNet-8 on imc_cluster: a slower cluster DMA moves the total and named layers."""
    assert main(["regress", "record", str(tmp_path), "--platform", "imc_cluster",
                 "--workload", "resnet8"]) == 0
    case, doc = load_baseline(tmp_path / "imc_cluster__resnet8.json")
    assert [e["name"] for e in doc["metrics"]["layers"]][:2] == ["conv2d_0", "conv2d_1"]
    capsys.readouterr()
    code, out, _ = _run(capsys, ["regress", "check", tmp_path, "--set",
                                 "cl_dma.setup_cycles=400"])
    assert code == 1
    failing = [ln.split()[1:4] for ln in out.splitlines() if ln.endswith("FAIL")]
    assert ["layer", "0", "conv2d_0"] in failing
    assert "cl_dma.setup_cycles" in out
