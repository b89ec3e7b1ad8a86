"""Platforms: the SoC interface the stack sees, the PULP-style builder, and finding
platforms by name, script path, module or spec."""

from desim.soc.base import Soc

__all__ = ["Soc"]
