"""Typed, documented, validated parameter specs (gem5-style params on frozen dataclasses).

A spec is a frozen dataclass deriving from :class:`Spec`. Every field is declared with
:func:`param` (a default, a unit, a one-line description and the default's source) or
:func:`subspec` (a nested spec). Values are checked when the spec is built, so a bad value
fails at validation with the field's name and the fix, never deep inside a simulation.
One dotted namespace (``cluster.n_cores``) serves the CLI's ``--set``, platform scripts
and sweeps through :func:`override`.

A value other than the class default cites its own source with :meth:`Spec.cite` (or
``subspec(cite=...)``); :func:`describe` shows the source of the value in force.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, InitVar, dataclass, field
from typing import Any, TypeVar

from desim.errors import SpecError

S = TypeVar("S", bound="Spec")

_SCALARS = (bool, int, float, str)

#: the source :func:`describe` gives a value set by :func:`override` (``--set``)
OVERRIDDEN = "set by override"


def param(
    default: Any,
    *,
    doc: str,
    unit: str = "",
    source: str = "",
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """Declare a spec field with its default, unit, description, source and bounds."""
    meta = {"doc": doc, "unit": unit, "source": source, "ge": ge, "gt": gt, "le": le,
            "choices": choices}
    if isinstance(default, list | dict):
        raise TypeError("spec defaults must be immutable: use a tuple")
    return field(default=default, metadata=meta)


def subspec(cls: type[Spec], *, doc: str | None = None, cite: Mapping[str, str] | None = None,
            **defaults: Any) -> Any:
    """Declare a nested spec field defaulting to ``cls(**defaults)``, citing ``cite``
    (field name -> source) for those fields' values."""
    def default() -> Spec:
        spec = cls(**defaults)
        return spec.cite(**cite) if cite else spec

    return field(default_factory=default, metadata={"doc": doc or (cls.__doc__ or "").strip()})


@dataclass(frozen=True)
class Spec:
    """Base of all specs: validates every field's type and bounds on construction."""

    # Per-field sources, name -> (cited value, source): not a parameter, so outside
    # equality, hash and to_dict(). An init-only field so that dataclasses.replace carries
    # it (it reads the instance attribute of that name); __post_init__ keeps the entries
    # whose value is still in force. Set it with cite().
    _cites: InitVar[Mapping[str, tuple[Any, str]] | None] = field(default=None, kw_only=True)

    def __post_init__(self, _cites: Mapping[str, tuple[Any, str]] | None) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            coerced = _check(f, hints[f.name], value)
            if coerced is not value:
                object.__setattr__(self, f.name, coerced)
        object.__setattr__(self, "_cites", {
            name: cited for name, cited in (_cites or {}).items()
            if getattr(self, name) == cited[0]})
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; subclasses raise :class:`SpecError` naming the fields."""

    def cite(self: S, **sources: str) -> S:
        """An equal copy whose :func:`describe` rows give ``sources`` (field name -> source)
        for those fields, as long as their values stay the ones in force now."""
        names = [f.name for f in dataclasses.fields(self)]
        for name in sources:
            if name not in names:
                raise _unknown(name, names, "", self)
            if isinstance(getattr(self, name), Spec):
                raise SpecError(f"{name} is a group of parameters; cite its keys on its spec")
        cited = {name: (getattr(self, name), source) for name, source in sources.items()}
        return dataclasses.replace(self, _cites={**self._sources(), **cited})

    def _sources(self) -> dict[str, tuple[Any, str]]:
        """The cites in force, name -> (value, source)."""
        return self._cites  # type: ignore[attr-defined]  # an InitVar to mypy

    def to_dict(self) -> dict[str, Any]:
        """Nested plain-data form, suitable for JSON."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any], _prefix: str = "") -> S:
        """Build a spec from nested plain data; unknown keys are errors."""
        if not isinstance(data, Mapping):
            raise SpecError(f"{_prefix.rstrip('.') or cls.__name__}: expected a mapping, "
                            f"got {type(data).__name__}")
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in fields:
                raise _unknown(_prefix + key, list(fields), _prefix, cls)
            sub = _spec_type(hints[key])
            if sub is not None and value is not None:
                kwargs[key] = sub.from_dict(value, f"{_prefix}{key}.")
            else:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
        try:
            return cls(**kwargs)
        except SpecError as exc:
            raise SpecError(f"{_prefix}{exc}") from None

    def with_overrides(self: S, overrides: Mapping[str, Any]) -> S:
        """Return a copy with dotted keys set, e.g. ``{"cluster.n_cores": "16"}``."""
        spec = self
        for key, value in overrides.items():
            spec = override(spec, key, value)
        return spec


def override(spec: S, key: str, value: Any, _prefix: str = "") -> S:
    """Return a copy of ``spec`` with the dotted ``key`` set to ``value`` (parsed if str)."""
    head, _, rest = key.partition(".")
    names = [f.name for f in dataclasses.fields(spec)]
    if head not in names:
        raise _unknown(_prefix + key, names, _prefix, spec)
    tp = _hints(type(spec))[head]
    full = _prefix + head
    sub = _spec_type(tp)
    current = getattr(spec, head)
    if sub is not None:
        presets = getattr(sub, "from_preset", None)
        if not rest and isinstance(value, str) and presets is not None:
            new = presets(value)
        elif current is None:
            raise SpecError(f"{full} is not part of this platform; set it in the platform "
                            "script to use its parameters")
        elif not rest:
            raise SpecError(f"{full} is a group of parameters; set one of its keys: "
                            + ", ".join(f"{full}.{k}" for k in flat_keys(current)))
        else:
            new = override(current, rest, value, full + ".")
    elif rest:
        raise SpecError(f"unknown parameter '{_prefix}{key}': '{full}' is a parameter, "
                        f"not a group; set it as {full}=VALUE")
    else:
        new = _parse(full, tp, value)
    try:
        spec = dataclasses.replace(spec, **{head: new})
    except SpecError as exc:
        msg = str(exc)
        raise SpecError(_prefix + msg if msg.startswith(head) else msg) from None
    return spec if sub is not None else spec.cite(**{head: OVERRIDDEN})


def flat_keys(spec: Spec) -> Iterator[str]:
    """Every dotted parameter key of ``spec``."""
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, Spec):
            yield from (f"{f.name}.{k}" for k in flat_keys(value))
        else:
            yield f.name


def describe(spec: Spec, prefix: str = "") -> list[dict[str, Any]]:
    """One row per parameter: key, value, unit, doc and the source of the value in force
    (for docs and listings)."""
    rows: list[dict[str, Any]] = []
    cites = spec._sources()
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, Spec):
            rows.extend(describe(value, f"{prefix}{f.name}."))
            continue
        source = f.metadata.get("source", "")
        if f.name in cites:
            source = cites[f.name][1]
        elif f.default is not MISSING and value != f.default:
            source = "platform value" + (f"; default's source: {source}" if source else "")
        rows.append({"key": prefix + f.name, "value": value, "unit": f.metadata.get("unit", ""),
                     "doc": f.metadata.get("doc", ""), "source": source})
    return rows


# -- helpers ---------------------------------------------------------------------------

_hint_cache: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _hint_cache.get(cls)
    if hints is None:
        hints = _hint_cache[cls] = typing.get_type_hints(cls)
    return hints


def _spec_type(tp: Any) -> type[Spec] | None:
    """The Spec class of a field typed ``S`` or ``S | None``, else None."""
    if isinstance(tp, type) and issubclass(tp, Spec):
        return tp
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], Spec):
        return args[0]
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, Spec):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _unknown(key: str, valid: list[str], prefix: str,
             spec: Spec | type[Spec] | None = None) -> SpecError:
    """The error for an unknown dotted ``key`` met at the group ``prefix`` (whose keys are
    ``valid``), suggesting the closest full dotted keys of ``spec``, that group's spec:
    ``dma.channels`` finds ``cl_dma.channels`` and ``io_dma.channels``, ``n_cores``
    finds ``cluster.n_cores``, ``aimc.n_crossbar`` finds ``aimc.n_crossbars``."""
    close = _closest_keys(key, [prefix + k for k in _dotted_keys(spec)]) if spec else []
    if not close:
        leaf = key.split(".")[len(prefix.split(".")) - 1] if prefix else key.split(".")[0]
        close = [prefix + c for c in difflib.get_close_matches(leaf, valid, n=1)]
    quoted = [f"'{c}'" for c in close]
    hint = (f"did you mean {', '.join(quoted[:-1])} or {quoted[-1]}? " if len(quoted) > 1
            else f"did you mean {quoted[0]}? " if quoted else "")
    return SpecError(f"unknown parameter '{key}': {hint}valid keys here: "
                     + ", ".join(prefix + v for v in valid))


def _dotted_keys(spec: Spec | type[Spec]) -> list[str]:
    """Every dotted parameter key of a spec, or of a spec class (optional groups included)."""
    if isinstance(spec, Spec):
        return list(flat_keys(spec))
    hints = _hints(spec)
    keys: list[str] = []
    for f in dataclasses.fields(spec):
        sub = _spec_type(hints[f.name])
        keys += [f"{f.name}.{k}" for k in _dotted_keys(sub)] if sub else [f.name]
    return keys


def _part_score(typed: str, known: str) -> float:
    """How well one dotted part matches: 1 when equal, 0.9 when it is one of the
    ``_``-separated words of the known part (``dma`` in ``cl_dma``), else difflib's ratio."""
    if typed == known:
        return 1.0
    if typed in known.split("_"):
        return 0.9
    return difflib.SequenceMatcher(None, typed, known).ratio()


def _closest_keys(key: str, keys: list[str], cutoff: float = 0.75, n: int = 3) -> list[str]:
    """The keys closest to ``key``: each scored by the whole text and by its last parts,
    as many as ``key`` has, part against part (a partial key such as ``dma.channels``
    matches the end of ``cl_dma.channels``), ignoring case; those within 0.02 of the best,
    best first."""
    parts = key.lower().split(".")
    scored = []
    for cand in keys:
        cparts = cand.lower().split(".")
        score = difflib.SequenceMatcher(None, key.lower(), cand.lower()).ratio()
        if len(cparts) >= len(parts):
            tail = cparts[len(cparts) - len(parts):]
            score = max(score, sum(map(_part_score, parts, tail)) / len(parts))
        scored.append((score, cand))
    best = max((sc for sc, _ in scored), default=0.0)
    if best < cutoff:
        return []
    return [c for sc, c in sorted(scored, key=lambda t: -t[0]) if sc >= best - 0.02][:n]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _article(word: str) -> str:
    """``word`` after its indefinite article: an int, a float."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _check(f: dataclasses.Field, tp: Any, value: Any) -> Any:
    """Type- and bound-check one field value; return it (ints widened to float)."""
    name = f.name
    sub = _spec_type(tp)
    if sub is not None:
        if not isinstance(value, sub) and not (value is None and sub is not tp):
            raise SpecError(f"{name}: expected a {sub.__name__}, got {type(value).__name__}")
        return value
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, tuple):
            raise SpecError(f"{name}: expected a tuple, got {value!r}")
        return value
    if origin is typing.Union or origin is type(int | None):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return value
        tp = next(a for a in args if a is not type(None))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp in _SCALARS and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        raise SpecError(f"{name}: expected {_type_name(tp)}, got {value!r} "
                        f"({type(value).__name__}); set {_article(_type_name(tp))} value")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{name}: must be a finite number, got {value!r}")
    m = f.metadata
    unit = f" {m['unit']}" if m.get("unit") else ""
    if m.get("gt") is not None and not value > m["gt"]:
        raise SpecError(f"{name} must be > {m['gt']}{unit}, got {value!r}; set a larger value")
    if m.get("ge") is not None and not value >= m["ge"]:
        raise SpecError(f"{name} must be >= {m['ge']}{unit}, got {value!r}; set a larger value")
    if m.get("le") is not None and not value <= m["le"]:
        raise SpecError(f"{name} must be <= {m['le']}{unit}, got {value!r}; set a smaller value")
    if m.get("choices") is not None and value not in m["choices"]:
        raise SpecError(f"{name} must be one of {', '.join(map(str, m['choices']))}, "
                        f"got {value!r}")
    return value


def _parse(name: str, tp: Any, value: Any) -> Any:
    """Parse an override value given as text (from the CLI) into the field's type."""
    if not isinstance(value, str):
        return value
    args = typing.get_args(tp)
    if args and type(None) in args:
        if value.lower() in ("none", "null"):
            return None
        tp = next(a for a in args if a is not type(None))
    text = value.strip()
    try:
        if tp is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            number = float(text) if any(c in text for c in ".eE") else int(text, 0)
            if number != int(number):
                raise ValueError
            return int(number)
        if tp is float:
            return float(text)
        if typing.get_origin(tp) is tuple:
            inner = (typing.get_args(tp) or (str,))[0]
            return tuple(_parse(name, inner, part) for part in text.split(",") if part)
    except (ValueError, OverflowError):  # OverflowError: an int written as 1e309
        raise SpecError(f"{name}: '{value}' is not a valid {_type_name(tp)}; "
                        f"give {_article(_type_name(tp))} value") from None
    return text
