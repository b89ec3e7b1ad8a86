"""Model files, inputs, traces, summaries and baselines are data: nothing in them is
unpickled, evaluated or run, and no name in them decides where desim writes. Platform
scripts and sweep files are code (docs/reliability.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from desim.cli import main

ROOT = Path(__file__).resolve().parents[1]

#: where desim runs code on purpose: platform scripts, and the zoo's network definitions
CODE_LOADERS = {"desim/soc/loader.py", "desim/workload/zoo.py"}


def test_no_source_of_desim_unpickles_or_evaluates():
    """No pickle, marshal, eval or exec in desim's sources, and numpy never loads with
    allow_pickle=True; modules are executed only by the two loaders of code."""
    pattern = re.compile(r"\bimport pickle|\bpickle\.|\bmarshal\.|\beval\(|\bexec\(|"
                         r"allow_pickle=True|yaml\.load\(|exec_module\(")
    hits = []
    for path in sorted((ROOT / "desim").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and not (rel in CODE_LOADERS and "exec_module(" in line):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert hits == []


class _Marker:
    """Unpickling it would create the file it names: the proof that it was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_an_object_array_is_refused_without_being_unpickled(tmp_path, capsys):
    marker = tmp_path / "unpickled"
    array = np.empty((1, 640), dtype=object)
    array[0, 0] = _Marker(marker)
    np.save(tmp_path / "in.npy", array, allow_pickle=True)
    code = main(["run", "hetero_cluster", "-w", "autoencoder", "--input",
                 str(tmp_path / "in.npy"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Object arrays cannot be loaded" in err
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore:No artists with labels")  # no peaks to draw: no legend
def test_a_platform_named_in_a_summary_is_never_run(tmp_path, capsys):
    """A run folder's summary.json naming a script: `trace plot --kind roofline` rebuilds
    built-in platforms only (to draw their peaks), so the script does not run."""
    run = tmp_path / "run"
    assert main(["run", "pulp_cluster", "-w", "autoencoder", "--no-trace", "-o", str(run)]) == 0
    marker = tmp_path / "ran"
    script = tmp_path / "evil.py"
    script.write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
                      "from platforms.pulp_cluster import default_spec, build\n")
    doc = json.loads((run / "summary.json").read_text())
    doc["platform"]["name"] = str(script)
    (run / "summary.json").write_text(json.dumps(doc))
    capsys.readouterr()
    code = main(["trace", "plot", str(run), "--kind", "roofline", "-o",
                 str(tmp_path / "r.png")])
    assert code == 0, capsys.readouterr().err
    assert not marker.exists()


def test_names_in_data_files_do_not_choose_where_desim_writes(tmp_path, capsys):
    """A baseline whose case names a model file up and across folders re-records into the
    baseline folder, under a name made of the file's stem only."""
    models = tmp_path / "models"
    models.mkdir()
    assert main(["workloads", "show", "autoencoder", "--json",
                 str(models / "net.json")]) == 0
    base = tmp_path / "base"
    assert main(["regress", "record", str(base), "--platform", "pulp_cluster", "--workload",
                 str(models / "net.json")]) == 0
    (path,) = base.glob("*.json")
    doc = json.loads(path.read_text())
    doc["case"]["workload"] = "../models/../models/net.json"
    path.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["regress", "record", str(base)]) == 0
    assert sorted(p.name for p in base.iterdir()) == ["pulp_cluster__net.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "models"]
    assert sorted(p.name for p in models.iterdir()) == ["net.json"]
