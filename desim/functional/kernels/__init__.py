"""Functional tile kernels: int8 operators bit-exact with TFLite, and the AIMC crossbar model.

``quant``, ``geometry``, ``reference`` and ``aimc`` need numpy only. The jitted operators
of :mod:`desim.functional.kernels.int8` are loaded on first access to one of the names below, so a
timing-only run, which never calls them, never imports numba.
"""

from __future__ import annotations

import importlib
from typing import Any

_OPERATORS = ("add", "avg_pool2d", "conv2d", "depthwise_conv2d", "fully_connected",
              "max_pool2d", "requantize")

__all__ = list(_OPERATORS)


def __getattr__(name: str) -> Any:
    if name in _OPERATORS:
        return getattr(importlib.import_module("desim.functional.kernels.int8"), name)
    raise AttributeError(f"module 'desim.functional.kernels' has no attribute '{name}'")
