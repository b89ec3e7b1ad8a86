"""Packaging: every sub-package ships, and the built-in platforms are found."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    """The [tool.setuptools] table of pyproject.toml (skips outside a source checkout)."""
    if not (ROOT / "desim").is_dir():
        pytest.skip("not a source checkout")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folder(package: str, package_dir: dict[str, str]) -> Path:
    """Where setuptools looks for ``package``: under the longest prefix in package-dir."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return ROOT / package_dir[prefix] / Path(*parts[i:])
    return ROOT / package_dir.get("", ".") / Path(*parts)


def test_every_package_is_listed_in_pyproject():
    """pyproject lists packages explicitly; a forgotten one would be missing when installed."""
    listed = set(_setuptools()["packages"])
    inits = (ROOT / "desim").rglob("__init__.py")
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in inits}
    assert found <= listed, f"add to pyproject.toml packages: {sorted(found - listed)}"


def test_no_package_is_listed_twice():
    """A duplicate entry hides a typo or a merge leftover."""
    packages = _setuptools()["packages"]
    twice = sorted({p for p in packages if packages.count(p) > 1})
    assert not twice, f"listed more than once in pyproject.toml packages: {twice}"


def test_every_listed_package_has_a_folder():
    """A package moved or deleted must leave the list too, or the build fails."""
    conf = _setuptools()
    package_dir = conf.get("package-dir", {})
    stale = {p: str(_folder(p, package_dir).relative_to(ROOT)) for p in conf["packages"]
             if not _folder(p, package_dir).is_dir()}
    assert not stale, f"remove from pyproject.toml packages (no such folder): {stale}"


def test_builtin_platforms_are_found():
    from desim.soc.loader import DEFAULT_PLATFORM, load_platform, platform_names

    assert DEFAULT_PLATFORM in platform_names()
    for name in platform_names():
        module = load_platform(name)
        assert module.default_spec() is not None


def test_docs_list_every_platform_parameter():
    """docs/platforms.md tables every parameter of every built-in platform with its default
    (regenerate with `desim platforms show NAME --markdown`)."""
    from desim.report import format_params
    from desim.soc.loader import load_platform, platform_names

    docs = ROOT / "docs" / "platforms.md"
    if not docs.is_file():
        pytest.skip("not a source checkout")
    text = docs.read_text()
    for name in platform_names():
        table = format_params(load_platform(name).default_spec(), markdown=True)
        assert table in text, f"docs/platforms.md is stale for {name}"
