"""Finding platforms: by built-in name, script path, loaded module or spec object.

A platform script (a module in ``platforms/``, shipped as ``desim.platforms``, or any
``.py`` file) defines ``default_spec() -> Spec`` and ``build(sim, spec) -> Soc``. A spec
object whose class has ``build(sim)`` (e.g. :class:`desim.soc.pulp.SocSpec`) is a platform
too. Scripts are loaded under a module name made from their resolved path, so two
scripts of the same file name in different folders are two platforms. A script that
fails (a syntax error, or an exception while it loads, builds its spec or builds the
SoC) is reported in one line naming the file, the line and the error, followed by the
frames of that script only — not desim's.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.util
import pkgutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from desim.errors import DesimError, SimulationStalled, SpecError
from desim.kernel import Sim
from desim.spec import Spec

DEFAULT_PLATFORM = "imc_cluster"


@dataclass(frozen=True)
class Platform:
    """A platform: its name, its default spec and how to build it from a spec."""

    name: str
    default_spec: Callable[[], Spec]
    build: Callable[[Sim, Spec], Any]
    doc: str = ""


def platform_dir() -> Path:
    """Folder of the built-in platform scripts.

    Installed, it is the package ``desim.platforms`` (the repository's ``platforms/``);
    when desim is imported straight from a source checkout, the ``platforms/`` beside it.
    """
    try:
        import desim.platforms as pkg

        return Path(next(iter(pkg.__path__)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "platforms"


def platform_names() -> list[str]:
    """Names of the built-in platforms."""
    return sorted(m.name for m in pkgutil.iter_modules([str(platform_dir())])
                  if not m.name.startswith("_"))


def is_script_path(name: str) -> bool:
    """True when ``name`` reads as a path to a platform script rather than a name."""
    return name.endswith(".py") or "/" in name or "\\" in name


def load_platform(platform: str | Path | ModuleType | Spec | Platform) -> Platform:
    """The platform for a built-in name, a script path, a loaded module or a spec."""
    if isinstance(platform, Platform):
        return platform
    if isinstance(platform, Spec):
        build = getattr(platform, "build", None)
        if not callable(build):
            raise SpecError(f"a {type(platform).__name__} object carries no builder; give "
                            "the platform's name, script or module instead")
        name = getattr(platform, "name", type(platform).__name__)
        return Platform(name, lambda: platform, lambda sim, spec: cast(Any, spec).build(sim))
    if isinstance(platform, ModuleType):
        return _from_module(platform, platform.__name__.rpartition(".")[2])
    name = str(platform)
    if isinstance(platform, Path) or is_script_path(name):
        path = Path(name)
        if not path.is_file():
            raise SpecError(f"platform file {name} does not exist; give a built-in name "
                            f"({', '.join(platform_names())}) or a path to a platform script")
        return _from_module(_load_file(path), path.stem, user=True)
    names = platform_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SpecError(f"unknown platform '{name}': {hint}available: {', '.join(names)} "
                        "(or give a path to a platform script)")
    return _from_module(_load_file(platform_dir() / f"{name}.py", f"desim.platforms.{name}"),
                        name)


def _from_module(module: ModuleType, name: str, user: bool = False) -> Platform:
    path = Path(module.__file__) if user and module.__file__ else None
    label = f"platform script {path}" if path else f"platform {name}"
    for attr in ("default_spec", "build"):
        if not callable(getattr(module, attr, None)):
            raise SpecError(f"{label} defines no {attr}(); a platform script must define "
                            "default_spec() and build(sim, spec)")
    spec, build = _typed(module.default_spec, "spec", label), _typed(module.build, "soc", label)
    if path is not None:
        spec, build = _reported(spec, path), _reported(build, path)
    return Platform(name, spec, build, describe_module(module))


#: what a platform's functions must return, and how to fix one that does not
_RETURNS = {"spec": ("default_spec()", "return the platform's spec object, e.g. SocSpec()"),
            "soc": ("build(sim, spec)", "return the SoC it built, e.g. PulpSoc(sim, spec)")}


def _typed(fn: Callable[..., Any], role: str, label: str) -> Callable[..., Any]:
    """``fn`` checked to return a Spec (``role`` "spec") or a Soc ("soc"), else a
    SpecError naming the function and the fix."""
    what, fix = _RETURNS[role]

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        from desim.soc.base import Soc  # the SoC model: loaded when a platform is built

        value = fn(*args)
        kind = Spec if role == "spec" else Soc
        if not isinstance(value, kind):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise SpecError(f"{label}: {what} returned {type(value).__name__} {shown}, not a "
                            f"{kind.__name__}; {fix}")
        return value
    return call


def _reported(fn: Callable[..., Any], path: Path) -> Callable[..., Any]:
    """``fn`` of a user's script, its failures reported as :func:`script_error` does."""
    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except SimulationStalled:
            raise
        except Exception as exc:
            raise script_error(path, exc) from None
    return call


def script_error(path: Path, exc: BaseException) -> DesimError:
    """The error of a user's script: file, line and error on one line, then the frames of
    that script (innermost last). desim's own errors met while the script ran keep their
    message, prefixed with the script's file and line."""
    where = path.resolve()
    own = [f for f in traceback.extract_tb(exc.__traceback__)
           if Path(f.filename).resolve() == where]
    line = own[-1].lineno if own else None
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        line, what = exc.lineno, f"SyntaxError: {exc.msg}"
    elif isinstance(exc, DesimError):
        what = str(exc).removeprefix(f"platform script {path}: ")
    else:
        what = f"{type(exc).__name__}: {exc}"
    head = f"platform script {path}" + (f", line {line}" if line else "") + f": {what}"
    frames = "".join(traceback.format_list(own)).rstrip()
    return DesimError(head + (f"\n{frames}" if frames else ""))


def _load_file(path: Path, module_name: str | None = None) -> ModuleType:
    """The module of the script at ``path``, loaded once per resolved path."""
    if module_name is None:
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        module_name = f"desim_user_platform_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[module_name]
        if isinstance(exc, Exception):
            raise script_error(path, exc) from None
        raise
    return module


def describe_module(module: ModuleType) -> str:
    """First line of a module's docstring."""
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
