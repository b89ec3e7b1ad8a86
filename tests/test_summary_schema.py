"""The summary.json schema (desim/schema.py): real runs validate, a malformed summary fails
naming the key at fault, and docs/summary.md holds the tables the schema renders."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from desim.driver import simulate
from desim.errors import DesimError
from desim.schema import MARKER, validate, with_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "summary.md"

#: (platform, workload, functional): a run of every summary shape the built-ins produce
RUNS = {
    "imc_resnet8": ("imc_cluster", "resnet8", False),
    "pulp_dscnn": ("pulp_cluster", "dscnn", False),
    "stream_tiles": ("stream_soc", "tiles", False),
    "imc_dscnn_functional": ("imc_cluster", "dscnn", True),
    "pulp_dscnn_functional": ("pulp_cluster", "dscnn", True),
}


@pytest.fixture(scope="module")
def summaries() -> dict[str, dict[str, Any]]:
    return {name: simulate(p, w, functional=fn).summary for name, (p, w, fn) in RUNS.items()}


@pytest.fixture
def doc(summaries) -> dict[str, Any]:
    """A copy of a summary with every optional entry but ``functional`` (free to break)."""
    return copy.deepcopy(summaries["imc_resnet8"])


@pytest.mark.parametrize("name", RUNS)
def test_real_summaries_validate(summaries, name):
    """Each run's summary, in memory and as written to summary.json, fits the schema."""
    validate(summaries[name])
    validate(json.loads(json.dumps(summaries[name])))


def test_the_runs_cover_the_optional_entries(summaries):
    """The runs above exercise memory, the aimc entry and both kinds of functional entry."""
    assert "memory" not in summaries["stream_tiles"] and "memory" in summaries["pulp_dscnn"]
    assert "aimc" in summaries["imc_resnet8"] and "aimc" not in summaries["pulp_dscnn"]
    assert "snr_db" in summaries["imc_dscnn_functional"]["functional"]
    assert "snr_db" not in summaries["pulp_dscnn_functional"]["functional"]


def _fails(doc: dict[str, Any], *words: str, **kwargs: Any) -> None:
    with pytest.raises(DesimError) as err:
        validate(doc, **kwargs)
    for word in words:
        assert word in str(err.value), str(err.value)


def test_missing_key_is_named(doc):
    broken = copy.deepcopy(doc)
    del broken["sim"]
    _fails(broken, "summary.json: sim: required key is missing; expected object")
    del doc["layers"][2]["macs"]
    _fails(doc, "layers[2].macs: required key is missing; expected int")


def test_wrong_type_is_named(doc):
    doc["components"]["soc.l1"]["busy_ps"] = "12"
    _fails(doc, "components.soc.l1.busy_ps", "expected int", "got str")


def test_bool_is_not_a_number_and_number_takes_int(doc):
    doc["cycles"] = 276080  # a number may be written as an integer
    validate(doc)
    doc["seed"] = True
    _fails(doc, "seed", "expected int", "got bool")


def test_unknown_top_level_key_is_named(doc):
    doc["latency_ms"] = 0.75
    _fails(doc, "latency_ms", "unknown top-level key")


def test_unknown_key_in_a_closed_record_is_named(doc):
    doc["memory"]["l3_peak_bytes"] = 0
    _fails(doc, "memory.l3_peak_bytes", "unknown key")


def test_open_mappings_take_new_keys_of_their_type(doc):
    """Components and energy by path are open, each new entry still typed."""
    doc["energy_pj"]["soc.npu"] = 12.5
    doc["components"]["soc.npu"] = dict(doc["components"]["soc.l1"])
    validate(doc)
    doc["energy_pj"]["soc.npu"] = "12.5"
    _fails(doc, "energy_pj.soc.npu", "expected number")


def test_engine_entries_are_open_when_they_name_an_engine(doc):
    """A platform script's engine may add its own top-level entry: accepted when the engine
    ran a layer or is named by the caller, and it must be an object."""
    doc["systolic"] = {"arrays": 4}
    _fails(doc, "systolic", "unknown top-level key")
    validate(doc, engines=["systolic"])
    doc["layers"][0]["engine"] = "systolic"
    validate(doc)
    doc["systolic"] = 4
    _fails(doc, "systolic", "expected object")


def test_docs_summary_md_is_generated_from_the_schema():
    text = DOC.read_text()
    assert MARKER in text
    assert text == with_reference(text), ("docs/summary.md is stale: run "
                                          "`python -m desim.schema docs/summary.md`")
