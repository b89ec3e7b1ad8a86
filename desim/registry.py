"""Finding platforms and workloads by name or by file path.

A platform is a Python module (a script in ``platforms/``, shipped as
``desim.platforms``, or any ``.py`` file a user points at) that defines
``default_spec() -> Spec`` and ``build(sim, spec) -> Component``; the built root
component runs a workload with ``execute(workload)``, a SimPy process generator.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
from pathlib import Path
from types import ModuleType

from desim.errors import SpecError

DEFAULT_PLATFORM = "stream_soc"


def platform_names() -> list[str]:
    """Names of the built-in platforms."""
    import desim.platforms as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def load_platform(name: str) -> ModuleType:
    """The platform module for a built-in name or a path to a ``.py`` file."""
    if name.endswith(".py") or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise SpecError(f"platform file {name} does not exist; give a built-in name "
                            f"({', '.join(platform_names())}) or a path to a platform script")
        spec = importlib.util.spec_from_file_location(f"desim_user_platform_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        names = platform_names()
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SpecError(f"unknown platform '{name}': {hint}available: {', '.join(names)} "
                            "(or give a path to a platform script)")
        module = importlib.import_module(f"desim.platforms.{name}")
    for attr in ("default_spec", "build"):
        if not callable(getattr(module, attr, None)):
            raise SpecError(f"platform {name} defines no {attr}(); a platform script must "
                            "define default_spec() and build(sim, spec)")
    return module


def describe_module(module: ModuleType) -> str:
    """First line of a module's docstring."""
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
