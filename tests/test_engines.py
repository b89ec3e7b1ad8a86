"""Engines as plug-ins, platforms as bound component trees, and the Python API.

An engine defined only in a platform script runs the zoo; a platform without L2 runs it;
desim.simulate takes names, paths, modules, spec objects and graphs; same-named scripts
stay apart; engine choice follows overrides, policy and objective; and no code between
the engines and the reports names an engine.
"""

from __future__ import annotations

import importlib.util
import io
import tokenize
from pathlib import Path

import numpy as np
import pytest

import desim
from desim.errors import SpecError
from desim.soc.loader import load_platform, platform_dir
from desim.soc.pulp import SocSpec
from desim.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
SYSTOLIC = ROOT / "examples" / "systolic_cluster.py"
ZOO = ["resnet8", "dscnn", "mobilenetv1_vww", "autoencoder"]


def _engines(summary):
    return {x["name"]: x["engine"] for x in summary["layers"]}


@pytest.fixture(scope="module")
def systolic():
    if not SYSTOLIC.is_file():
        pytest.skip("not a source checkout (examples/ is not installed)")
    return str(SYSTOLIC)


# -- an engine defined inside a platform script ------------------------------------------

@pytest.mark.parametrize("workload", ZOO)
def test_script_engine_runs_the_zoo(systolic, workload):
    """Dense layers of every zoo network go to the script's systolic array under its own
    name; the ops it does not support stay on the cores."""
    s = desim.simulate(systolic, workload).summary
    engines = _engines(s)
    kinds = {x["name"]: x["kind"] for x in s["layers"]}
    assert "systolic" in engines.values()
    assert all(kinds[n] in ("conv2d", "fully_connected") for n, e in engines.items()
               if e == "systolic")
    assert all(e != "systolic" for n, e in engines.items()
               if kinds[n] not in ("conv2d", "fully_connected"))
    assert s["components"]["soc.systolic"]["busy_ps"] > 0
    assert s["energy_pj"]["soc.systolic"] > 0


def test_script_engine_tile_follows_its_closed_form(systolic):
    """A 1x1 conv of 16 -> 16 channels over 8 pixels a row: a tile of h rows is one weight
    block, 20 + (2 * 16 + 16 + 8 h) array cycles (L1 carries its bytes in less)."""
    b = desim.workload.GraphBuilder("pw")
    b.conv2d(b.input((1, 8, 8, 16)), 16, 1)
    r = desim.simulate(systolic, b.build(),
                       overrides={"mapping.engine_overrides": "conv2d=systolic"}, trace=True)
    jobs = [iv for iv in r.tracer.intervals if iv.path == "soc.systolic"]
    tiles = r.schedule.layers[0].tiles
    assert len(jobs) == len(tiles)
    for job, tile in zip(jobs, tiles, strict=True):
        want = 20 + 48 + 8 * (tile.r1 - tile.r0)
        assert r.soc.clock.cycles(job.end - job.start) == pytest.approx(want, abs=1)


def test_script_engine_is_bit_exact_in_functional_runs(systolic):
    """Digital engines compute exactly: the same outputs as the cores alone."""
    a = desim.simulate(systolic, "resnet8", functional=True, seed=2)
    b = desim.simulate("pulp_cluster", "resnet8", functional=True, seed=2)
    assert "systolic" in _engines(a.summary).values()
    np.testing.assert_array_equal(a.outputs[0], b.outputs[0])


def test_objective_energy_moves_small_layers_to_the_cheaper_engine(systolic):
    """By latency the 640-MAC classifier of ResNet-8 stays on the cores (the array's
    weight load, fill and drain outlast it); by energy it goes to the array (0.143 pJ per
    MAC against 3.4 pJ per busy core cycle at under 2 MAC per core cycle)."""
    fast = _engines(desim.simulate(systolic, "resnet8").summary)
    frugal = _engines(desim.simulate(systolic, "resnet8",
                                     overrides={"mapping.objective": "energy"}).summary)
    assert fast["fully_connected_0"] == "cluster"
    assert frugal["fully_connected_0"] == "systolic"


# -- engine choice on the built-in platforms ---------------------------------------------

def test_policy_gives_dense_layers_to_the_crossbars():
    """imc_cluster's policy puts every dense layer on the crossbars; without it the cost
    model moves the first layers of MobileNetV1 (3 and 8 input channels, a few crossbar
    rows per 49-cycle MVM) to the cores, and the network gets faster."""
    policy = desim.simulate("imc_cluster", "mobilenetv1_vww").summary
    free = desim.simulate("imc_cluster", "mobilenetv1_vww",
                          overrides={"mapping.policy": ""}).summary
    dense = [x["name"] for x in policy["layers"] if x["kind"] == "conv2d"]
    assert all(_engines(policy)[n] == "aimc" for n in dense)
    assert _engines(free)["conv2d_0"] == "cluster"
    assert free["cycles"] < policy["cycles"]


def test_overrides_name_the_layer_and_the_engines_that_can():
    with pytest.raises(SpecError, match=r"depthwise_conv2d_0 .*cannot run on aimc: .*"
                                        r"engines that can: cluster"):
        desim.simulate("imc_cluster", "dscnn",
                       overrides={"mapping.engine_overrides": "depthwise_conv2d=aimc"})
    with pytest.raises(SpecError, match=r"no engine 'aimc' \(engines: cluster\)"):
        desim.simulate("pulp_cluster", "dscnn",
                       overrides={"mapping.engine_overrides": "conv2d=aimc"})


def test_a_layer_too_large_for_the_crossbars_falls_back_with_a_note():
    """On one crossbar, a 512 x 512 layer (four 256 x 256 blocks) cannot be held and runs on
    the cores; the AIMC entry and the schedule say so."""
    b = desim.workload.GraphBuilder("big")
    b.conv2d(b.conv2d(b.input((1, 2, 2, 64)), 512, 1), 512, 1)
    r = desim.simulate("imc_cluster", b.build(), overrides={"aimc.n_crossbars": "1"})
    fallback = r.summary["aimc"]["fallback"]
    assert fallback and all(_engines(r.summary)[n] == "cluster" for n in fallback)
    notes = {x.name: x.note for x in r.schedule.layers}
    assert all(notes[n] == "too large for the crossbars: on cluster" for n in fallback)


# -- a platform that is not a PulpSoc -------------------------------------------------------

@pytest.mark.parametrize("workload", ZOO)
def test_flat_cluster_runs_the_zoo_from_dram(workload):
    """No L2: every tensor lives in DRAM and every tile moves between DRAM and L1."""
    s = desim.simulate("flat_cluster", workload).summary
    assert "soc.l2" not in s["components"]
    assert s["memory"]["l2_peak_bytes"] == 0 and s["memory"]["dram_bytes"] > 0
    assert s["memory"]["dram_traffic_bytes"] > 0
    assert all(x["bytes"]["l2"] == 0 for x in s["layers"])
    assert s["components"]["soc.cl_dma"]["bytes_read"] > 0


def test_flat_cluster_computes_the_same_tensors():
    a = desim.simulate("flat_cluster", "dscnn", functional=True)
    b = desim.simulate("pulp_cluster", "dscnn", functional=True)
    np.testing.assert_array_equal(a.outputs[0], b.outputs[0])


# -- the Python API ---------------------------------------------------------------------------

def test_simulate_takes_names_paths_modules_specs_and_graphs():
    """The same run five ways gives the same cycles."""
    by_name = desim.simulate("pulp_cluster", "dscnn").summary["cycles"]
    path = platform_dir() / "pulp_cluster.py"
    spec = importlib.util.spec_from_file_location("my_platform_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = load_workload("dscnn")
    soc_spec = load_platform("pulp_cluster").default_spec()
    assert isinstance(soc_spec, SocSpec)
    for platform, workload in ((str(path), "dscnn"), (module, "dscnn"),
                               (soc_spec, "dscnn"), ("pulp_cluster", graph)):
        assert desim.simulate(platform, workload).summary["cycles"] == by_name


def test_a_spec_object_with_overrides_is_a_platform():
    spec = SocSpec(name="mine")
    r = desim.simulate(spec, "autoencoder", overrides={"cluster.n_cores": "4"})
    assert r.summary["platform"]["name"] == "mine"
    assert r.summary["platform"]["params"]["cluster"]["n_cores"] == 4


def test_two_scripts_with_one_file_name_are_two_platforms(tmp_path):
    for folder, cores in (("a", 8), ("b", 2)):
        (tmp_path / folder).mkdir()
        text = (platform_dir() / "pulp_cluster.py").read_text()
        text = text.replace('SocSpec(name="pulp_cluster",',
                            f'SocSpec(name="pulp_cluster", cluster=ClusterSpec(n_cores={cores}),')
        text = text.replace("from desim.kernel import Sim", "from desim.hw.cluster import "
                            "ClusterSpec\nfrom desim.kernel import Sim")
        (tmp_path / folder / "my_soc.py").write_text(text)
    a = desim.simulate(str(tmp_path / "a" / "my_soc.py"), "autoencoder").summary
    b = desim.simulate(str(tmp_path / "b" / "my_soc.py"), "autoencoder").summary
    assert a["platform"]["params"]["cluster"]["n_cores"] == 8
    assert b["platform"]["params"]["cluster"]["n_cores"] == 2
    assert a["cycles"] != b["cycles"]


def test_run_result_summary_is_the_file_and_layers_frame(tmp_path):
    import json

    pd = pytest.importorskip("pandas")
    r = desim.simulate("imc_cluster", "dscnn")
    path = r.write(tmp_path)["summary"]
    assert json.loads(path.read_text()) == json.loads(json.dumps(r.summary))
    frame = r.layers_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(r.summary["layers"])
    assert {"name", "engine", "cycles", "bytes.dram"} <= set(frame.columns)


# -- nothing between the engines and the reports names an engine ----------------------------

GENERIC = ["desim/mapping", "desim/runtime", "desim/functional/mode.py", "desim/report.py",
           "desim/driver.py", "desim/result.py", "desim/soc/base.py"]
ENGINE_WORDS = ("aimc", "cluster", "crossbar", "xbar", "mvm", "kerneljob")


def _code_tokens(path: Path):
    """Names and string literals of a module, docstrings and comments left out."""
    toks = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    prev = tokenize.NEWLINE
    for tok in toks:
        if tok.type == tokenize.STRING and prev in (tokenize.NEWLINE, tokenize.INDENT,
                                                    tokenize.DEDENT, tokenize.NL):
            prev = tok.type  # a docstring (a string statement)
            continue
        if tok.type in (tokenize.NAME, tokenize.STRING):
            yield tok.start[0], tok.string
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            prev = tok.type


def test_no_engine_is_named_outside_the_engines():
    if not (ROOT / "desim").is_dir():
        pytest.skip("not a source checkout")
    found = []
    for entry in GENERIC:
        for path in sorted((ROOT / entry).rglob("*.py") if (ROOT / entry).is_dir()
                           else [ROOT / entry]):
            for line, text in _code_tokens(path):
                if any(w in text.lower() for w in ENGINE_WORDS):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert not found, "\n".join(found)


def test_the_grep_sees_an_engine_name(tmp_path):
    """The check above fails on code that branches on an engine."""
    bad = tmp_path / "m.py"
    bad.write_text('"""Doc: aimc is fine here."""\nif layer.engine == "aimc":\n    pass\n')
    assert [t for _, t in _code_tokens(bad) if "aimc" in t] == ['"aimc"']
