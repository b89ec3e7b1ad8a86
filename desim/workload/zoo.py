"""The model zoo: network definitions in ``workloads/``, each a module with ``build()``.

Installed, the folder is the package ``desim.zoo``; run from a source checkout without
installing, it is the ``workloads/`` folder beside the ``desim`` package.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from desim.errors import SpecError
from desim.workload.graph import Graph


def zoo_dir() -> Path:
    """Folder of the zoo definitions."""
    try:
        import desim.zoo as pkg

        return Path(next(iter(pkg.__path__)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "workloads"


def zoo_names() -> list[str]:
    """Names of the zoo networks."""
    return sorted(m.name for m in pkgutil.iter_modules([str(zoo_dir())])
                  if not m.name.startswith("_"))


def zoo_module(name: str) -> ModuleType:
    """The definition module of zoo network ``name``."""
    names = zoo_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SpecError(f"unknown zoo network '{name}': {hint}available: {', '.join(names)}")
    module_name = f"desim.zoo.{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, zoo_dir() / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@functools.cache
def load_zoo(name: str) -> Graph:
    """The graph of zoo network ``name`` (built once; graphs are immutable)."""
    graph = zoo_module(name).build()
    if not isinstance(graph, Graph):
        raise SpecError(f"zoo definition {name}.py: build() returned "
                        f"{type(graph).__name__}, not a Graph")
    return graph


def describe(name: str) -> str:
    """First line of the network's docstring."""
    doc = zoo_module(name).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
