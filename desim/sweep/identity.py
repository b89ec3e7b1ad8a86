"""What makes two points the same run: the hash that names a point's result file.

A point's id hashes the resolved platform spec (every parameter, overrides applied), the
workload's content (its name for a built-in, the file's bytes for a path), the seed and
the desim version; a finished point is never run again, and anything that could change
its figures gives it a new id.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import desim
from desim.errors import SpecError
from desim.soc.loader import Platform, load_platform
from desim.sweep.points import Point


def check(points: list[Point]) -> None:
    """Raise a SpecError for an unknown platform, workload or parameter key, before
    anything runs; a value the spec refuses is left to fail its own point."""
    from desim.workload import is_model_path, workload_names

    names = set(workload_names())
    for point in points:
        if point.workload not in names and not (is_model_path(point.workload)
                                                and Path(point.workload).is_file()):
            raise SpecError(f"unknown workload '{point.workload}': available: "
                            f"{', '.join(sorted(names))} (or a path to a model file)")
        spec = _platform(point.platform).default_spec()
        for key, value in point.overrides.items():
            try:
                spec.with_overrides({key: value})
            except SpecError as exc:
                if str(exc).startswith("unknown "):  # a key or preset name, not a value
                    raise SpecError(f"platform {point.platform}: {exc}") from None


def point_id(point: Point) -> str:
    """The point's identity: 16 hex digits of a hash of everything its result depends on."""
    try:
        spec: Any = _platform(point.platform).default_spec().with_overrides(
            point.overrides).to_dict()
    except SpecError:  # a refused value: the point fails; name it by what was asked
        spec = {"platform": point.platform, "overrides": point.overrides}
    doc = {"spec": spec, "workload": _workload_identity(point.workload), "seed": point.seed,
           "desim_version": desim.__version__}
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def _platform(name: str) -> Platform:
    return load_platform(name)


def _workload_identity(workload: str) -> str:
    from desim.workload import is_model_path

    if is_model_path(workload):
        return "sha256:" + hashlib.sha256(Path(workload).read_bytes()).hexdigest()
    return workload
