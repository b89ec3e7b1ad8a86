"""Packaging: every sub-package ships, and the built-in platforms are found."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    """pyproject lists packages explicitly; a forgotten one would be missing when installed."""
    pyproject = ROOT / "pyproject.toml"
    if not (ROOT / "desim").is_dir():
        pytest.skip("not a source checkout")
    listed = set(tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"])
    inits = (ROOT / "desim").rglob("__init__.py")
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in inits}
    assert found <= listed, f"add to pyproject.toml packages: {sorted(found - listed)}"


def test_builtin_platforms_are_found():
    from desim.registry import DEFAULT_PLATFORM, load_platform, platform_names

    assert DEFAULT_PLATFORM in platform_names()
    for name in platform_names():
        module = load_platform(name)
        assert module.default_spec() is not None


def test_docs_list_every_platform_parameter():
    """docs/platforms.md tables every parameter of every built-in platform with its default
    (regenerate with `desim platforms show NAME --markdown`)."""
    from desim.registry import load_platform, platform_names
    from desim.report import format_params

    docs = ROOT / "docs" / "platforms.md"
    if not docs.is_file():
        pytest.skip("not a source checkout")
    text = docs.read_text()
    for name in platform_names():
        table = format_params(load_platform(name).default_spec(), markdown=True)
        assert table in text, f"docs/platforms.md is stale for {name}"
