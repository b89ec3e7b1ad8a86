"""Specs: typed, bounded, documented parameters with dotted overrides."""

from dataclasses import dataclass

import pytest

from desim.errors import SpecError
from desim.spec import Spec, describe, flat_keys, override, param, subspec


@dataclass(frozen=True)
class Dma(Spec):
    """A DMA."""

    channels: int = param(2, doc="channels", ge=1)
    bandwidth: float = param(8.0, unit="B/cycle", doc="bandwidth", gt=0, source="mchan")
    policy: str = param("rr", doc="arbitration", choices=("rr", "fixed"))
    enabled: bool = param(True, doc="on")


@dataclass(frozen=True)
class Soc(Spec):
    name: str = param("soc", doc="name")
    dma: Dma = subspec(Dma)


def test_defaults_and_int_widening():
    s = Soc()
    assert s.dma.bandwidth == 8.0
    assert Dma(bandwidth=4).bandwidth == 4.0 and isinstance(Dma(bandwidth=4).bandwidth, float)


def test_dotted_override_parses_text():
    s = Soc().with_overrides({"dma.channels": "4", "dma.bandwidth": "2.5",
                              "dma.enabled": "false", "dma.policy": "fixed"})
    assert (s.dma.channels, s.dma.bandwidth, s.dma.enabled, s.dma.policy) == (4, 2.5, False,
                                                                              "fixed")
    assert Soc().dma.channels == 2  # the original is untouched


@pytest.mark.parametrize("key,value,msg", [
    ("dma.chanels", "4", r"unknown parameter 'dma.chanels': did you mean 'dma.channels'"),
    ("dma.bandwidth", "-1", r"dma.bandwidth must be > 0 B/cycle"),
    ("dma.bandwidth", "fast", r"dma.bandwidth: 'fast' is not a valid float"),
    ("dma.channels", "2.5", r"dma.channels: '2.5' is not a valid int"),
    ("dma.policy", "lottery", r"dma.policy must be one of rr, fixed"),
    ("dma", "3", r"dma is a group of parameters"),
    ("name.x", "3", r"'name' is a parameter, not a group"),
])
def test_bad_overrides_name_the_field(key, value, msg):
    with pytest.raises(SpecError, match=msg):
        override(Soc(), key, value)


def test_constructor_rejects_wrong_types():
    with pytest.raises(SpecError, match="channels: expected int"):
        Dma(channels="2")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="channels: expected int"):
        Dma(channels=True)


def test_round_trip_and_unknown_keys():
    s = Soc().with_overrides({"dma.channels": "3"})
    assert Soc.from_dict(s.to_dict()) == s
    with pytest.raises(SpecError, match="unknown parameter 'dma.speed'"):
        Soc.from_dict({"dma": {"speed": 1}})


def test_flat_keys_and_describe():
    assert list(flat_keys(Soc())) == ["name", "dma.channels", "dma.bandwidth", "dma.policy",
                                      "dma.enabled"]
    row = next(r for r in describe(Soc()) if r["key"] == "dma.bandwidth")
    assert row == {"key": "dma.bandwidth", "value": 8.0, "unit": "B/cycle", "doc": "bandwidth",
                   "source": "mchan"}
