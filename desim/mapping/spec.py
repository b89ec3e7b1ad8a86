"""Mapping options a platform carries (and a user overrides with ``--set mapping.*``)."""

from __future__ import annotations

from dataclasses import dataclass

from desim.errors import SpecError
from desim.spec import Spec, param


def _pairs(field: str, items: tuple[str, ...], key: str) -> dict[str, str]:
    """``NAME=ENGINE`` items as a dict; a malformed item is a :class:`SpecError`."""
    out = {}
    for item in items:
        name, sep, engine = item.partition("=")
        if not sep or not name.strip() or not engine.strip():
            raise SpecError(f"{field} entry {item!r}: write {key}=ENGINE with ENGINE "
                        "one of the platform's engines")
        out[name.strip()] = engine.strip()
    return out


@dataclass(frozen=True)
class MappingSpec(Spec):
    """How a workload is mapped: engine choice and L1 budget."""

    objective: str = param(
        "latency", choices=("latency", "energy"),
        doc="what engine choice minimises: a layer's estimated cycles, or its engine's "
            "estimated energy (ties go to the lower latency, then the platform's first engine)",
        source="user choice")
    policy: tuple[str, ...] = param(
        (), doc="op kinds the platform gives to an engine whenever that engine supports "
        "them, as KIND=ENGINE; other ops go to the cheapest engine",
        source="platform design choice (none: every op by cost)")
    engine_overrides: tuple[str, ...] = param(
        (), doc="per-layer or per-kind engine choices as NAME=ENGINE, NAME a layer or an "
        "op kind (e.g. fully_connected)", source="user choice")
    l1_overhead_bytes: int = param(
        40, unit="B", ge=0, doc="L1 bytes reserved per layer beyond its tiles",
        source="DORY tiler_conv2d.py L1 constraint: + 40 B")

    def validate(self) -> None:
        _pairs("policy", self.policy, "KIND")
        _pairs("engine_overrides", self.engine_overrides, "NAME")

    def override_for(self, name: str, kind: str) -> str | None:
        """The engine forced for a layer (by name first, then by kind), if any."""
        table = _pairs("engine_overrides", self.engine_overrides, "NAME")
        return table.get(name) or table.get(kind)

    def policy_for(self, kind: str) -> str | None:
        """The engine the platform's policy gives op kind ``kind``, if any."""
        return _pairs("policy", self.policy, "KIND").get(kind)
