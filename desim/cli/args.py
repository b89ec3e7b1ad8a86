"""Argument parsing shared by the commands: the one KEY=VALUE parser behind every ``--set``."""

from __future__ import annotations

from collections.abc import Sequence

from desim.errors import SpecError


def parse_sets(items: Sequence[str], option: str = "--set",
               example: str = "cluster.n_cores=16") -> dict[str, str]:
    """``KEY=VALUE`` items as a dict (a later key wins); a malformed item is a SpecError
    naming ``option``, the item and an example fix."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} {example}")
        out[key.strip()] = value.strip()
    return out
