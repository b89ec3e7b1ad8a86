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


@dataclass(frozen=True)
class Cores(Spec):
    n_cores: int = param(8, doc="cores", ge=1)


@dataclass(frozen=True)
class TwoDmaSoc(Spec):
    """Two DMAs, as the DNN platforms have (cl_dma, io_dma): no key is plain ``dma.*``."""

    cluster: Cores = subspec(Cores)
    cl_dma: Dma = subspec(Dma)
    io_dma: Dma = subspec(Dma)
    dram: Dma | None = subspec(Dma)


@pytest.mark.parametrize("key,hint", [
    ("dma.channels", "did you mean 'cl_dma.channels' or 'io_dma.channels'?"),  # partial
    ("channels", "did you mean 'cl_dma.channels', 'io_dma.channels' or 'dram.channels'?"),
    ("n_cores", "did you mean 'cluster.n_cores'?"),
    ("cl_dma.chanels", "did you mean 'cl_dma.channels'?"),                    # misspelt leaf
    ("cl_dm.bandwidth", "did you mean 'cl_dma.bandwidth'?"),                  # misspelt group
    ("cluster.ncores", "did you mean 'cluster.n_cores'?"),
    ("CL_DMA.Policy", "did you mean 'cl_dma.policy'?"),                       # case
    ("cl_dam", "did you mean 'cl_dma'?"),            # a group alone: its name
])
def test_unknown_keys_suggest_the_closest_full_dotted_keys(key, hint):
    with pytest.raises(SpecError) as err:
        override(TwoDmaSoc(), key, "2")
    assert str(err.value).startswith(f"unknown parameter '{key}': {hint} valid keys here: ")


def test_unknown_key_far_from_every_key_suggests_nothing():
    with pytest.raises(SpecError) as err:
        override(TwoDmaSoc(), "frobnicate", "2")
    assert str(err.value) == ("unknown parameter 'frobnicate': valid keys here: cluster, "
                              "cl_dma, io_dma, dram")


def test_from_dict_and_cite_suggest_full_keys():
    with pytest.raises(SpecError, match=r"did you mean 'io_dma\.channels'\?"):
        TwoDmaSoc.from_dict({"io_dma": {"chanels": 1}})
    with pytest.raises(SpecError, match=r"did you mean 'cluster\.n_cores'\?"):
        TwoDmaSoc.from_dict({"n_cores": 1})
    with pytest.raises(SpecError, match=r"did you mean 'channels'\?"):
        Dma().cite(chanels="a datasheet")


@pytest.mark.parametrize("platform", ["pulp_cluster", "imc_cluster"])
def test_dma_channels_on_a_dnn_platform_points_at_its_dmas(platform):
    """`--set dma.channels=2` (the key of stream_soc and flat_cluster) on a platform whose
    DMAs are cl_dma and io_dma."""
    from desim.soc.loader import load_platform

    with pytest.raises(SpecError, match=r"did you mean 'cl_dma\.channels' or "
                                        r"'io_dma\.channels'\?"):
        override(load_platform(platform).default_spec(), "dma.channels", "2")
