"""Ways to spoil a valid file: byte-level (truncate, flip bits, overwrite, splice huge
integers) and structure-level (replace, drop or retype one value of a JSON document)."""

from __future__ import annotations

import copy
import struct
from typing import Any

from hypothesis import strategies as st

#: values that break a field of a JSON document in as many ways as there are
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, 10**12, 10**30, -(10**12), 0.5, -0.0, 1e308,
    float("nan"), float("inf"), float("-inf"), "", "x", "0", "1e9", "nan", [], [0], [-1],
    [10**9], [1, 2, 3], ["a"], [[1]], {}, {"a": 1}, "../../../outside", "/tmp/absolute",
]


def truncated(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` cut short at any point (empty included)."""
    return st.integers(0, max(len(data) - 1, 0)).map(lambda n: data[:n])


def bit_flipped(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with 1 to 8 bits flipped anywhere."""
    def flip(positions: list[int]) -> bytes:
        buf = bytearray(data)
        for p in positions:
            buf[p // 8] ^= 1 << (p % 8)
        return bytes(buf)

    return st.lists(st.integers(0, len(data) * 8 - 1), min_size=1, max_size=8).map(flip)


def overwritten(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with a run of 1 to 64 bytes replaced by random ones."""
    def put(args: tuple[int, bytes]) -> bytes:
        at, chunk = args
        return data[:at] + chunk + data[at + len(chunk):]

    return st.tuples(st.integers(0, max(len(data) - 1, 0)),
                     st.binary(min_size=1, max_size=64)).map(put)


def spliced_ints(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with 1 to 4 aligned 32-bit words set to extreme values: in a flatbuffer
    they land on offsets, lengths and shape entries, reaching checks a random flip rarely
    does."""
    extremes = st.sampled_from([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 10**6, 10**9, 3, 255])

    def put(args: list[tuple[int, int]]) -> bytes:
        buf = bytearray(data)
        for word, value in args:
            at = word * 4
            if at + 4 <= len(buf):
                buf[at:at + 4] = struct.pack("<I", value)
        return bytes(buf)

    return st.lists(st.tuples(st.integers(0, max(len(data) // 4 - 1, 0)), extremes),
                    min_size=1, max_size=4).map(put)


def spoiled_bytes(data: bytes) -> st.SearchStrategy[bytes]:
    """Any byte-level spoiling of ``data``."""
    return st.one_of(truncated(data), bit_flipped(data), overwritten(data), spliced_ints(data))


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path (keys and indices) of every value inside a JSON document."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:8]):  # the first few items of long lists
            out += paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _edit(doc: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    """A copy of ``doc`` with the value at ``path`` replaced by ``value``, or dropped."""
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = _get(doc, path[:-1])
    key = path[-1]
    if how == "drop":
        del parent[key]
    elif how == "copy" and isinstance(parent, list) and parent:
        parent[key] = copy.deepcopy(parent[(key + 1) % len(parent)])
    else:
        parent[key] = value
    return doc


@st.composite
def spoiled_doc(draw: st.DrawFn, doc: Any, max_edits: int = 3) -> Any:
    """``doc`` with 1 to ``max_edits`` values replaced by odd ones, dropped, or swapped for
    a sibling (which breaks references and uniqueness)."""
    for _ in range(draw(st.integers(1, max_edits))):
        where = paths(doc)
        path = draw(st.sampled_from(where))
        how = draw(st.sampled_from(["set", "set", "set", "drop", "copy"]))
        if how == "drop" and not path:
            how = "set"
        value = draw(st.sampled_from(ODD_VALUES)) if how == "set" else None
        doc = _edit(doc, path, how, value)
    return doc
