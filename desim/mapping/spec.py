"""Mapping options a platform carries (and a user overrides with ``--set mapping.*``)."""

from __future__ import annotations

from dataclasses import dataclass

from desim.errors import SpecError
from desim.spec import Spec, param

ENGINES = ("cluster", "aimc")


@dataclass(frozen=True)
class MappingSpec(Spec):
    """How a workload is mapped: engine choice and L1 budget."""

    aimc_kinds: tuple[str, ...] = param(
        ("conv2d", "fully_connected"), doc="op kinds that run on AIMC when the platform has "
        "crossbars (depthwise, pooling and elementwise ops always run on the cores)",
        source="Garofalo et al., JETCAS 2022: depthwise layers map poorly on a crossbar")
    engine_overrides: tuple[str, ...] = param(
        (), doc="per-layer or per-kind engine choices as NAME=ENGINE, e.g. "
        "'conv2d_0=cluster,fully_connected=cluster'", source="user choice")
    l1_overhead_bytes: int = param(
        40, unit="B", ge=0, doc="L1 bytes reserved per layer beyond its tiles",
        source="DORY tiler_conv2d.py L1 constraint: + 40 B")

    def validate(self) -> None:
        for item in self.engine_overrides:
            name, sep, engine = item.partition("=")
            if not sep or not name or engine not in ENGINES:
                raise SpecError(f"engine_overrides entry {item!r}: write NAME=ENGINE with "
                                f"ENGINE one of {', '.join(ENGINES)}")

    def override_for(self, name: str, kind: str) -> str | None:
        """The engine forced for a layer (by name first, then by kind), if any."""
        table = dict(item.split("=", 1) for item in self.engine_overrides)
        return table.get(name) or table.get(kind)
