"""User-facing failures: a platform script that fails is reported in one line naming its
file and line, then only its own frames; a run that fails leaves no folder behind;
count parameters have bounds real designs reach."""

from __future__ import annotations

import pytest

from desim.cli import main
from desim.errors import SpecError
from desim.soc.loader import load_platform

SPEC = "from desim.soc.pulp import PulpSoc, SocSpec\n\n\ndef default_spec():\n" \
       "    return SocSpec()\n\n\n"


def _run(capsys, *argv):
    code = main(["run", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("body, line, what", [
    ("def default_spec():\n    return 1 +\n", 2, "SyntaxError: invalid syntax"),
    ("import nosuchmodule_xyz\n", 1, "ModuleNotFoundError"),
    (SPEC + "def helper():\n    raise ValueError('bad wiring')\n\n\n"
     "def build(sim, spec):\n    helper()\n", 9, "ValueError: bad wiring"),
    ("from desim.soc.pulp import PulpSoc\n\n\ndef default_spec():\n    return {}['x']\n\n\n"
     "def build(sim, spec):\n    return PulpSoc(sim, spec)\n", 5, "KeyError"),
])
def test_a_failing_script_is_reported_by_its_own_file_and_line(tmp_path, capsys, body,
                                                                 line, what):
    script = tmp_path / "my_soc.py"
    script.write_text(body)
    code, err = _run(capsys, str(script), "-o", str(tmp_path / "out"))
    assert code == 2
    first, *frames = err.strip().splitlines()
    assert first.startswith(f"desim: error: platform script {script}, line {line}: {what}")
    assert all(str(script) in ln for ln in frames if ln.startswith("  File"))
    assert "desim/" not in err.replace(str(tmp_path), "")
    assert not (tmp_path / "out").exists()


def test_a_failed_run_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "a" / "b"
    code, err = _run(capsys, "pulp_cluster", "-w", "no_such_network", "-o", str(out))
    assert code == 2 and "unknown workload" in err
    assert not (tmp_path / "a").exists()


def test_a_failed_run_keeps_a_folder_that_was_there(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    code, _ = _run(capsys, "pulp_cluster", "-w", "no_such_network", "-o", str(tmp_path))
    assert code == 2 and (tmp_path / "keep.txt").read_text() == "mine"


def test_core_count_is_bounded(tmp_path, capsys):
    code, err = _run(capsys, "pulp_cluster", "--set", "cluster.n_cores=100000", "-o",
                     str(tmp_path / "o"))
    assert code == 2 and "cluster.n_cores must be <= 1024" in err


def test_crossbar_count_is_bounded(tmp_path, capsys):
    """A billion crossbars would build a billion components: refused at validation."""
    code, err = _run(capsys, "imc_cluster", "--set", "aimc.n_crossbars=1e9", "-o",
                     str(tmp_path / "o"))
    assert code == 2 and "aimc.n_crossbars must be <= 1024" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("key, value, named", [
    ("dram.CL", "1e9", "dram.CL"),
    ("cluster.ops.requant_cycles", "1e9", "cluster.ops.requant_cycles"),
    ("cluster.fp.sgd_elem_cycles", "1e9", "cluster.fp.sgd_elem_cycles"),
    ("cluster.l1_conflict_stall", "1e9", "cluster.l1_conflict_stall"),
    ("l1.latency_cycles", "1e9", "l1.latency_cycles"),
    ("l1.port_bytes_per_cycle", "1e-9", "l1.port_bytes_per_cycle"),
    ("cl_dma.channels", "1e9", "cl_dma.channels"),
])
def test_timing_values_that_would_stretch_a_run_for_hours_are_refused(key, value, named):
    # each made a flat_cluster run take hours (its cost grows with simulated time)
    with pytest.raises(SpecError, match=named.split(".")[-1]):
        load_platform("flat_cluster").default_spec().with_overrides({key: value})
