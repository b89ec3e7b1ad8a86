"""Chrome/Perfetto trace-event JSON: export a Recorder, and load one back.

Layout: one process (pid) per top-level component (``soc.cluster`` under root ``soc``),
one thread (tid) per lane of a component, busy intervals as complete (``X``) events,
counters as ``C`` events, flows as ``s``/``f`` pairs bound to the enclosing slices, and
instants as ``i`` events. Timestamps are microseconds with picosecond resolution (six
decimals), so a loaded trace recovers the exact integer picoseconds.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Callable
from itertools import repeat, zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from desim.errors import DesimError
from desim.fileio import atomic_open
from desim.kernel.sim import gc_paused
from desim.trace.recorder import Recorder, natural_key


def _us(ps: int) -> float:
    return round(ps / 1e6, 6)


def _us_text(ps: int) -> str:
    """``json.dumps(_us(ps))`` without the float: the exact decimal of ``ps`` in
    microseconds, as Python prints the rounded float (shortest form)."""
    if ps < 100:  # below 1e-4 the float prints in exponent form
        return float.__repr__(_us(ps))
    q, r = divmod(ps, 1_000_000)
    return f"{q}.{r:06d}".rstrip("0") if r else f"{q}.0"


def _group(path: str) -> str:
    """The top-level component a path belongs to (its process in the trace)."""
    parts = path.split(".")
    return ".".join(parts[:2])


def _thread_name(path: str, lane: str) -> str:
    group = _group(path)
    rel = path[len(group) + 1:] if path != group else ""
    return "/".join(p for p in (rel, lane) if p) or path.rsplit(".", 1)[-1]


def _layout(rec: Recorder) -> tuple[list[dict[str, Any]], dict[tuple[str, str], tuple[int, int]],
                                    dict[str, int]]:
    """The metadata events, the (pid, tid) of every track and the pid of every group."""
    tracks = {(t[0], t[1]) for t in rec.raw_intervals()}
    tracks |= {(i.path, i.lane) for i in rec.instants}
    tracks |= {f.src for f in rec.flows} | {f.dst for f in rec.flows}
    groups = {_group(p) for p in {p for p, _ in tracks} | {c[0] for c in rec.raw_counters()}}
    pids = {g: i + 1 for i, g in enumerate(sorted(groups, key=natural_key))}
    tids: dict[tuple[str, str], int] = {}
    for path, lane in sorted(tracks, key=lambda t: (natural_key(t[0]), natural_key(t[1]))):
        tids[(path, lane)] = len(tids) + 1

    meta: list[dict[str, Any]] = []
    for group, pid in pids.items():
        meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                     "args": {"name": group}})
        meta.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                     "args": {"sort_index": pid}})
    for (path, lane), tid in tids.items():
        pid = pids[_group(path)]
        meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                     "args": {"name": _thread_name(path, lane), "path": path, "lane": lane}})
        meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                     "args": {"sort_index": tid}})
    ids = {track: (pids[_group(track[0])], tid) for track, tid in tids.items()}
    return meta, ids, pids


def _counter_name(path: str, name: str, pids: dict[str, int]) -> tuple[str, int]:
    """The trace name of counter ``name`` of ``path`` (relative to its group), and its pid."""
    group = _group(path)
    short = path if group == path else path[len(group) + 1:]
    return f"{short}.{name}", pids[group]


def to_events(rec: Recorder) -> list[dict[str, Any]]:
    """The trace-event list for ``rec`` (metadata first, then events in time order)."""
    meta, ids, pids = _layout(rec)
    events: list[dict[str, Any]] = []
    keys: list[int] = []  # time * 4 + kind: counters, slices, instants, flows at one time
    add, key = events.append, keys.append
    for path, lane, name, cat, start, end, args in rec.intervals:
        pid, tid = ids[(path, lane)]
        ev = {"ph": "X", "name": name, "cat": cat, "ts": round(start / 1e6, 6),
              "dur": round((end - start) / 1e6, 6), "pid": pid, "tid": tid}
        if args:
            ev["args"] = args
        add(ev)
        key(start * 4 + 1)
    for ins in rec.instants:
        pid, tid = ids[(ins.path, ins.lane)]
        ev = {"ph": "i", "s": "t", "name": ins.name, "ts": _us(ins.t), "pid": pid, "tid": tid}
        if ins.args:
            ev["args"] = ins.args
        add(ev)
        key(ins.t * 4 + 2)
    names: dict[tuple[str, str], tuple[str, int]] = {}
    for path, cname, t, value in rec.counters:
        named = names.get((path, cname))
        if named is None:
            named = names[(path, cname)] = _counter_name(path, cname, pids)
        add({"ph": "C", "name": named[0], "ts": round(t / 1e6, 6), "pid": named[1], "tid": 0,
             "args": {"value": value}})
        key(t * 4)
    for f in rec.flows:
        pid, tid = ids[f.src]
        add({"ph": "s", "id": f.id, "name": f.name, "cat": "flow", "ts": _us(f.t_src),
             "pid": pid, "tid": tid})
        key(f.t_src * 4 + 3)
        pid, tid = ids[f.dst]
        add({"ph": "f", "bp": "e", "id": f.id, "name": f.name, "cat": "flow",
             "ts": _us(f.t_dst), "pid": pid, "tid": tid})
        key(f.t_dst * 4 + 3)
    order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
    return meta + [events[i] for i in order.tolist()]


_ENC = json.JSONEncoder(separators=(",", ":"))


def _rows(rec: Recorder) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """What :func:`to_events` lists, for :mod:`desim.trace.chrome_jit` to write: the
    metadata texts; the pool of pieces (texts that repeat, encoded once); a row per other
    event in record order (see ``chrome_jit``); the order that sorts the rows by time."""
    from desim.trace import chrome_jit as cj

    meta, ids, pids = _layout(rec)
    enc = _ENC.encode
    fl = float.__repr__  # what json writes for a finite float
    pieces: list[str] = list(cj.FIRST_PIECES)
    index = {text: i for i, text in enumerate(pieces)}

    def piece(text: str) -> int:
        i = index.get(text)
        if i is None:
            i = index[text] = len(pieces)
            pieces.append(text)
        return i

    strs: dict[str, str] = {}

    def q(text: str) -> str:
        out = strs.get(text)
        if out is None:
            out = strs[text] = enc(text)
        return out

    # slices: heads by track and name, arguments pieced (a transfer's shared once)
    raw = rec.raw_intervals()
    n_iv = len(raw)
    R_iv = np.zeros((n_iv, cj.NR), np.int64)
    if n_iv:
        # columns; the eighth and ninth, a moved record's bytes and address (0: none)
        cols = list(zip_longest(*raw, fillvalue=0))
        paths, lanes, names, cats, starts, ends, argss = cols[:7]
        nbytes = cols[7] if len(cols) > 7 else 0
        addrs = cols[8] if len(cols) > 8 else 0
        tracks = list(zip(paths, lanes, names, cats, strict=True))
        heads = {key: i for i, key in enumerate(dict.fromkeys(tracks))}
        head0: list[int] = []
        head1: list[int] = []
        for path, lane, name, cat in heads:
            pid, tid = ids[(path, lane)]
            head0.append(piece(f'{{"ph":"X","name":{q(name)},"cat":{q(cat)},"ts":'))
            head1.append(piece(f',"pid":{pid},"tid":{tid}'))
        h = np.fromiter(map(heads.__getitem__, tracks), np.int64, n_iv)
        # each args object once, first seen first (a transfer's records share one)
        dicts: list[dict[str, Any]] = [a for a in dict(zip(map(id, argss), argss,
                                                            strict=True)).values() if a]
        seen = {id(a): i for i, a in enumerate(dicts)}
        w = np.fromiter(map(seen.get, map(id, argss), repeat(-1)), np.int64, n_iv)
        size = np.fromiter(map(len, raw), np.int64, n_iv)
        k = np.where(size == 9, cj.MOVED_AT, np.where(
            size == 8, cj.MOVED, np.where(w < 0, cj.NO_ARGS, cj.ARGS)))
        full = _objs(dicts, enc, q)
        first = len(pieces)  # args object i: piece first + i; its head (moved): + len
        pieces += full
        pieces += [text[:-1] + "," for text in full]
        apieces = np.where(w < 0, cj.BRACE, first + w + np.where(k >= cj.MOVED, len(full), 0))
        start = np.asarray(starts, np.int64)
        R_iv[:, cj.R_KIND] = cj.SLICE
        R_iv[:, cj.R_HEAD] = np.asarray(head0, np.int64)[h]
        R_iv[:, cj.R_TS] = _times(start, piece)
        R_iv[:, cj.R_DUR] = _times(np.asarray(ends, np.int64) - start, piece)
        R_iv[:, cj.R_TAIL] = np.asarray(head1, np.int64)[h]
        R_iv[:, cj.R_ARGS] = k
        R_iv[:, cj.R_APIECE] = apieces
        R_iv[:, cj.R_BYTES] = nbytes
        R_iv[:, cj.R_ADDR] = addrs
        iv_keys = start * 4 + 1
    else:
        iv_keys = np.zeros(0, np.int64)
    # instants and flows: whole texts
    others: list[tuple[int, int]] = []  # (key, piece)
    for ins in rec.instants:
        pid, tid = ids[(ins.path, ins.lane)]
        ev: dict[str, Any] = {"ph": "i", "s": "t", "name": ins.name, "ts": _us(ins.t),
                              "pid": pid, "tid": tid}
        if ins.args:
            ev["args"] = ins.args
        others.append((ins.t * 4 + 2, piece(enc(ev))))
    flows: list[tuple[int, int]] = []
    for f in rec.flows:
        pid, tid = ids[f.src]
        flows.append((f.t_src * 4 + 3, piece(enc(
            {"ph": "s", "id": f.id, "name": f.name, "cat": "flow", "ts": _us(f.t_src),
             "pid": pid, "tid": tid}))))
        pid, tid = ids[f.dst]
        flows.append((f.t_dst * 4 + 3, piece(enc(
            {"ph": "f", "bp": "e", "id": f.id, "name": f.name, "cat": "flow",
             "ts": _us(f.t_dst), "pid": pid, "tid": tid}))))
    # counter samples: heads by series, values by type and value
    samples = rec.raw_counters()
    n_c = len(samples)
    R_c = np.zeros((n_c, cj.NR), np.int64)
    if n_c:
        cpaths, cnames, cts, cvals = zip(*samples, strict=True)
        named = list(zip(cpaths, cnames, strict=True))
        series = {key: i for i, key in enumerate(dict.fromkeys(named))}
        chead0: list[int] = []
        chead1: list[int] = []
        for path, cname in series:
            short, pid = _counter_name(path, cname, pids)
            chead0.append(piece(f'{{"ph":"C","name":{q(short)},"ts":'))
            chead1.append(piece(f',"pid":{pid},"tid":0,"args":{{"value":'))
        c = np.fromiter(map(series.__getitem__, named), np.int64, n_c)
        vkeys = list(zip(map(type, cvals), cvals, strict=True))
        texts: dict[tuple[type, Any], int] = {}
        for kind, value in dict.fromkeys(vkeys):
            texts[(kind, value)] = piece(
                fl(value) if kind is float and math.isfinite(value)
                else int.__repr__(value) if kind is int else enc(value))
        vals = np.fromiter(map(texts.__getitem__, vkeys), np.int64, n_c)
        _minus_zero(cvals, vals, piece)
        ct = np.asarray(cts, np.int64)
        R_c[:, cj.R_KIND] = cj.COUNTER
        R_c[:, cj.R_HEAD] = np.asarray(chead0, np.int64)[c]
        R_c[:, cj.R_TS] = _times(ct, piece)
        R_c[:, cj.R_TAIL] = np.asarray(chead1, np.int64)[c]
        R_c[:, cj.R_APIECE] = vals
        c_keys = ct * 4
    else:
        c_keys = np.zeros(0, np.int64)
    R_o = np.zeros((len(others) + len(flows), cj.NR), np.int64)
    R_o[:, cj.R_KIND] = cj.OTHER
    R_o[:, cj.R_HEAD] = [i for _, i in others + flows]
    # record order as to_events lists them: slices, instants, counters, flows
    R = np.concatenate((R_iv, R_o[:len(others)], R_c, R_o[len(others):]))
    keys = np.concatenate((iv_keys, np.asarray([k for k, _ in others], np.int64), c_keys,
                           np.asarray([k for k, _ in flows], np.int64)))
    order = np.argsort(keys, kind="stable")
    return [enc(m) for m in meta], pieces, R, order


def _objs(dicts: list[dict[str, Any]], enc: Callable[[Any], str],
          q: Callable[[str], str]) -> list[str]:
    """The JSON texts of ``dicts`` (``enc`` of each): those of one set of keys a column of
    values at a time where a column is all strings or all integers (a template of the
    keys, each distinct string encoded once by ``q``), the others through ``enc``."""
    out: list[str] = [""] * len(dicts)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, d in enumerate(dicts):
        groups.setdefault(tuple(d), []).append(i)
    for keys, idx in groups.items():
        cols: list[list[str]] | None = []
        for col in zip(*[dicts[i].values() for i in idx], strict=True):
            kinds = set(map(type, col))
            if kinds == {str}:
                texts = {v: q(v) for v in set(col)}
                cols.append(list(map(texts.__getitem__, col)))  # type: ignore[union-attr]
            elif kinds == {int}:
                cols.append(list(map(int.__repr__, col)))  # type: ignore[union-attr]
            else:
                cols = None
                break
        if cols is None:
            for i in idx:
                out[i] = enc(dicts[i])
            continue
        tmpl = "{" + ",".join(q(k).replace("%", "%%") + ":%s" for k in keys) + "}"
        for i, text in zip(idx, map(tmpl.__mod__, zip(*cols, strict=True)), strict=True):
            out[i] = text
    return out


def _times(ps: np.ndarray, piece: Callable[[str], int]) -> np.ndarray:
    """``ps`` for the compiled writer: as they are, or -1 - the piece of their text where
    the writer's decimal form is not :func:`_us_text`'s (below 100 ps, from 1e14 ps)."""
    odd = np.flatnonzero(((ps > 0) & (ps < 100)) | (ps >= 10**14) | (ps < 0))
    if len(odd):
        ps = ps.copy()
        for i in odd.tolist():
            ps[i] = -1 - piece(_us_text(int(ps[i])))
    return ps


def _minus_zero(values: tuple[Any, ...], vals: np.ndarray, piece: Callable[[str], int]
                ) -> None:
    """Give samples of -0.0 (equal to 0.0 as a key) their own text."""
    try:
        arr = np.asarray(values, np.float64)
    except (OverflowError, TypeError, ValueError):  # huge integers, other objects
        zeros = [i for i, v in enumerate(values) if type(v) is float and v == 0.0]
    else:
        zeros = np.flatnonzero((arr == 0.0) & np.signbit(arr)).tolist()
    for i in zeros:
        if type(values[i]) is float and math.copysign(1.0, values[i]) < 0:
            vals[i] = piece("-0.0")


def write(rec: Recorder, path: str | os.PathLike[str]) -> Path:
    """Write ``rec`` as trace-event JSON (gzipped when the name ends in .gz), atomically.

    The document is :func:`to_events` in a ``traceEvents`` list; it is encoded record by
    record and streamed into the file in blocks, never built as one object."""
    target = Path(path)
    with gc_paused(), atomic_open(target, "wb") as fh:
        meta, pieces, R, order = _rows(rec)
        other = _ENC.encode({"generator": "desim", **rec.meta})
        if target.suffix == ".gz":
            # mtime=0 keeps the file byte-identical across runs
            with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="",
                               compresslevel=GZIP_LEVEL) as gz:
                _write_doc(gz, meta, pieces, R, order, other)
        else:
            _write_doc(fh, meta, pieces, R, order, other)
    return target


#: zlib level of trace.json.gz: level 1 writes several times faster than the default 6,
#: for a file about a third larger (measured on traced MobileNetV2 runs)
GZIP_LEVEL = 1
_BLOCK = 65536  # events encoded into one write


def _write_doc(fh: Any, meta: list[str], pieces: list[str], R: np.ndarray,
               order: np.ndarray, other: str) -> None:
    from desim.trace import chrome_jit as cj

    fh.write(b'{"traceEvents":[')
    fh.write(",".join(meta).encode())
    pool = [p.encode() for p in pieces]
    pl = np.fromiter(map(len, pool), np.int64, len(pool))
    po = np.zeros(len(pool), np.int64)
    np.cumsum(pl[:-1], out=po[1:])
    P = np.frombuffer(b"".join(pool), np.uint8)
    most = _room(pl, R)
    out = np.empty(0, np.uint8)  # one buffer for every block (fresh pages cost time)
    for lo in range(0, len(order), _BLOCK):
        hi = min(lo + _BLOCK, len(order))
        size = int(most[order[lo:hi]].sum())
        if size > len(out):
            out = np.empty(size, np.uint8)
        n = cj.format_block(P, po, pl, R, order, lo, hi, out)
        fh.write(out[0 if meta or lo else 1:n].tobytes())
    fh.write(f'],"displayTimeUnit":"ns","otherData":{other}}}'.encode())


#: the most bytes a record writes besides its head, tail and arguments pieces: a comma,
#: two times (at most 21 characters: -9223372036854.775808), ',"dur":', ',"args":',
#: '"addr":' and an address, ',"bytes":' and a byte count (at most 20 characters each),
#: and two closing braces
_MARKS = 1 + 2 * 21 + 7 + 8 + 7 + 20 + 9 + 20 + 2


def _room(pl: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The most bytes :func:`~desim.trace.chrome_jit.format_block` writes for each row of
    ``R`` (``pl``: the pieces' lengths): its output buffer is sized by them."""
    from desim.trace import chrome_jit as cj

    return pl[R[:, cj.R_HEAD]] + pl[R[:, cj.R_TAIL]] + pl[R[:, cj.R_APIECE]] + _MARKS


def load(path: str | os.PathLike[str]) -> Recorder:
    """Read a trace written by :func:`write` back into a Recorder."""
    p = Path(path)
    if p.is_dir():
        p = p / "trace.json.gz"
    with gc_paused():
        return _load(p)


def _load(p: Path) -> Recorder:
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        doc = json.loads(raw)
        events = doc["traceEvents"] if isinstance(doc, dict) else doc
    except FileNotFoundError:
        raise DesimError(f"trace file {p} does not exist; give a run directory or a "
                         "trace.json(.gz) written by 'desim run'") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise DesimError(f"{p} is not a readable trace-event JSON file ({exc})") from None
    try:
        rec = _from_events(events, doc.get("otherData", {}) if isinstance(doc, dict) else {})
        rec.intervals  # noqa: B018  (named here, while the collector is off)
        return rec
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DesimError(f"{p} is not a trace written by desim (an event lacks or mangles "
                         f"{exc}); give a trace.json(.gz) written by 'desim run'") from None


def _from_events(events: list[dict[str, Any]], meta: dict[str, Any]) -> Recorder:
    rec = Recorder(meta={k: v for k, v in meta.items() if k != "generator"})
    groups: dict[int, str] = {}
    threads: dict[tuple[int, int], tuple[str, str]] = {}
    for ev in events:
        if ev.get("ph") == "M" and ev.get("name") == "process_name":
            groups[ev["pid"]] = ev["args"]["name"]
        elif ev.get("ph") == "M" and ev.get("name") == "thread_name":
            args = ev["args"]
            threads[(ev["pid"], ev["tid"])] = (args.get("path", args["name"]),
                                               args.get("lane", ""))
    flows: dict[int, tuple[str, tuple[str, str], int]] = {}
    for ev in events:
        ph = ev.get("ph")
        if ph == "X":
            path, lane = threads[(ev["pid"], ev["tid"])]
            start = round(ev["ts"] * 1e6)
            rec.interval(path, lane, ev["name"], ev.get("cat", ""), start,
                         start + round(ev["dur"] * 1e6), ev.get("args"))
        elif ph == "i":
            path, lane = threads[(ev["pid"], ev["tid"])]
            rec.instant(path, lane, ev["name"], round(ev["ts"] * 1e6), ev.get("args"))
        elif ph == "C":
            group = groups.get(ev["pid"], "")
            name, _, counter = ev["name"].rpartition(".")
            path = group if name == group else f"{group}.{name}"
            rec.counter(path, counter, round(ev["ts"] * 1e6), ev["args"]["value"])
        elif ph == "s":
            flows[ev["id"]] = (ev["name"], threads[(ev["pid"], ev["tid"])],
                               round(ev["ts"] * 1e6))
        elif ph == "f" and ev["id"] in flows:
            name, src, t_src = flows.pop(ev["id"])
            rec.flow(ev["id"], name, src, t_src, threads[(ev["pid"], ev["tid"])],
                     round(ev["ts"] * 1e6))
    return rec
