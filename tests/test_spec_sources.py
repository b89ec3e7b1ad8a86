"""Sources follow values: cites, overrides and presets in the describe() rows."""

import dataclasses
from dataclasses import dataclass

import pytest

from desim.errors import SpecError
from desim.hw.dram.spec import DramSpec, preset
from desim.hw.memory import SramSpec
from desim.spec import OVERRIDDEN, Spec, describe, param, subspec

L1 = "Garofalo et al., JETCAS 2022: 512 kB L1"


@dataclass(frozen=True)
class Mem(Spec):
    """A memory."""

    size: int = param(64, unit="B", doc="capacity", gt=0, source="64 B datasheet")
    banks: int = param(4, doc="banks", gt=0, source="4-bank datasheet")
    name: str = param("m", doc="name")


@dataclass(frozen=True)
class Soc(Spec):
    l1: Mem = subspec(Mem)
    l2: Mem = subspec(Mem, size=1024, cite={"size": "1 KiB L2 paper"})
    dram: DramSpec = subspec(DramSpec)


def sources(spec: Spec) -> dict[str, str]:
    return {r["key"]: r["source"] for r in describe(spec)}


def test_cite_shows_in_describe_and_is_not_a_parameter():
    plain = SramSpec(capacity_bytes=524288, banks=32)
    cited = plain.cite(capacity_bytes=L1)
    assert sources(cited)["capacity_bytes"] == L1
    assert sources(cited)["base_addr"] == sources(SramSpec())["base_addr"]
    assert cited == plain and hash(cited) == hash(plain) and repr(cited) == repr(plain)
    assert cited.to_dict() == plain.to_dict()
    assert SramSpec.from_dict(cited.to_dict()) == cited


def test_a_changed_value_without_cite_says_so():
    row = sources(Mem(size=128))
    assert row["size"] == "platform value; default's source: 64 B datasheet"
    assert row["banks"] == "4-bank datasheet"
    assert sources(Mem(name="x"))["name"] == "platform value"


def test_cites_survive_replace_for_unchanged_fields_only():
    spec = Mem(size=128, banks=8).cite(size="paper A", banks="paper B")
    changed = dataclasses.replace(spec, banks=16)
    assert sources(changed)["size"] == "paper A"
    assert sources(changed)["banks"] == "platform value; default's source: 4-bank datasheet"
    assert sources(dataclasses.replace(spec, banks=4))["banks"] == "4-bank datasheet"


def test_override_replaces_the_cite():
    soc = Soc()
    assert sources(soc)["l2.size"] == "1 KiB L2 paper"
    assert sources(soc)["l1.size"] == "64 B datasheet"
    set_ = soc.with_overrides({"l2.size": "2048", "l1.banks": "4"})
    assert sources(set_)["l2.size"] == OVERRIDDEN
    assert sources(set_)["l1.banks"] == OVERRIDDEN  # even when set to the default
    assert sources(set_)["l1.size"] == "64 B datasheet"
    assert set_ == Soc(l2=Mem(size=2048)) and Soc.from_dict(set_.to_dict()) == set_


def test_cite_rejects_unknown_fields_and_groups():
    with pytest.raises(SpecError, match="did you mean 'size'"):
        Mem().cite(sise="x")
    with pytest.raises(SpecError, match="l2 is a group of parameters"):
        Soc().cite(l2="x")


@pytest.mark.parametrize("name,part", [("lpddr4_2400", "LPDDR4_8Gb_x16_2400"),
                                       ("hyperram", "S27KS0641")])
def test_presets_cite_their_own_sources(name, part):
    """Every field a preset changes from DDR4-3200 cites the preset's part or estimate."""
    ddr4 = DramSpec()
    spec = preset(name)
    changed = [r for r in describe(spec) if r["value"] != getattr(ddr4, r["key"])]
    assert len(changed) > 20
    for row in changed:
        assert part in row["source"] or row["source"].startswith("estimate"), row
    assert spec == preset(name) and DramSpec.from_dict(spec.to_dict()) == spec


def test_hyperram_cites_its_datasheet_through_a_preset_override():
    soc = Soc().with_overrides({"dram": "hyperram"})
    rows = sources(soc)
    assert "S27KS0641" in rows["dram.tCK_ns"] and "S27KS0641" in rows["dram.bus_width"]
    assert "S27KS0641" in rows["dram.energy_read_pj"]
    assert "LPDDR4_8Gb_x16_2400" in sources(preset("lpddr4_2400"))["tCCD_L"]
    assert sources(soc.with_overrides({"dram.CL": "14"}))["dram.CL"] == OVERRIDDEN
