"""README.md's results table ("## What it answers") holds what the golden baselines in
tests/golden hold, formatted as ``benchmarks/zoo_bench.py --markdown`` prints it — no
simulation: the baselines are checked against the simulator by tests/test_regress.py."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from desim.report import results_table
from desim.workload.zoo import zoo_names

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


def _zoo_bench() -> ModuleType:
    """benchmarks/zoo_bench.py: its platforms (the table's order within a network) and how
    it turns a platform spec and a run's metrics into a table row."""
    spec = importlib.util.spec_from_file_location("zoo_bench", ROOT / "benchmarks" /
                                                  "zoo_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _golden_rows() -> list[dict[str, Any]]:
    """A results-table row per zoo network x zoo_bench platform with a default baseline."""
    bench = _zoo_bench()
    rows = []
    for workload in zoo_names():
        for platform in bench.PLATFORMS:
            path = GOLDEN / f"{platform}__{workload}.json"
            if not path.exists():
                continue
            base = json.loads(path.read_text())
            assert base["case"] == {"platform": platform, "workload": workload, "seed": 0,
                                    "overrides": {}}, path
            rows.append(bench.row(platform, workload, base["platform_spec"], base["metrics"]))
    return rows


def _readme_table() -> list[str]:
    """The lines of the first table in README.md's "## What it answers" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## What it answers\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| network |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")),
               len(lines))
    return lines[start:end]


def test_golden_baselines_cover_every_zoo_network_on_every_platform():
    """All but flat_cluster's MobileNetV2 (a 13 s run, too slow for the test suite)."""
    cases = {(p, w) for w in zoo_names() for p in _zoo_bench().PLATFORMS}
    missing = cases - {(r["platform"], r["workload"]) for r in _golden_rows()}
    assert missing <= {("flat_cluster", "mobilenetv2")}


def test_readme_table_matches_the_golden_baselines():
    """Row by row; on a mismatch, replace the table with
    ``python benchmarks/zoo_bench.py --markdown --skip flat_cluster/mobilenetv2``."""
    expected = results_table(_golden_rows()).splitlines()
    got = _readme_table()
    for i, (line, want) in enumerate(zip(got, expected, strict=False)):
        assert line == want, f"README results table, line {i + 1}"
    assert len(got) == len(expected), "README results table: rows missing or extra"
