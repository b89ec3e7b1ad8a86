"""Finding platforms and workloads by name or by file path.

A platform is a Python module (a script in ``platforms/``, shipped as
``desim.platforms``, or any ``.py`` file a user points at) that defines
``default_spec() -> Spec`` and ``build(sim, spec) -> Component``; the built root
component runs a workload with ``execute(workload)``, a SimPy process generator.
"""

from __future__ import annotations

import difflib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from desim.errors import SpecError

DEFAULT_PLATFORM = "imc_cluster"


def platform_dir() -> Path:
    """Folder of the built-in platform scripts.

    Installed, it is the package ``desim.platforms`` (the repository's ``platforms/``);
    when desim is imported straight from a source checkout, the ``platforms/`` beside it.
    """
    try:
        import desim.platforms as pkg

        return Path(next(iter(pkg.__path__)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "platforms"


def platform_names() -> list[str]:
    """Names of the built-in platforms."""
    return sorted(m.name for m in pkgutil.iter_modules([str(platform_dir())])
                  if not m.name.startswith("_"))


def load_platform(name: str) -> ModuleType:
    """The platform module for a built-in name or a path to a ``.py`` file."""
    if name.endswith(".py") or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise SpecError(f"platform file {name} does not exist; give a built-in name "
                            f"({', '.join(platform_names())}) or a path to a platform script")
        module = _load_file(path, f"desim_user_platform_{path.stem}")
    else:
        names = platform_names()
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SpecError(f"unknown platform '{name}': {hint}available: {', '.join(names)} "
                            "(or give a path to a platform script)")
        module = _load_file(platform_dir() / f"{name}.py", f"desim.platforms.{name}")
    for attr in ("default_spec", "build"):
        if not callable(getattr(module, attr, None)):
            raise SpecError(f"platform {name} defines no {attr}(); a platform script must "
                            "define default_spec() and build(sim, spec)")
    return module


def _load_file(path: Path, module_name: str) -> ModuleType:
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def describe_module(module: ModuleType) -> str:
    """First line of a module's docstring."""
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
