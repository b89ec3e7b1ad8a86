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


def _texts(rec: Recorder) -> tuple[list[str], list[str], np.ndarray]:
    """What :func:`to_events` lists, as JSON texts: the metadata, then the other events in
    record order with the order that sorts them by time. Built from the raw records with
    the strings that repeat (names, tracks, shared args) encoded once."""
    meta, ids, pids = _layout(rec)
    enc = _ENC.encode
    fl = float.__repr__  # what json writes for a finite float
    strs: dict[str, str] = {}
    shared: dict[int, str] = {}  # id of a transfer's args -> its JSON without the brace

    def q(text: str) -> str:
        out = strs.get(text)
        if out is None:
            out = strs[text] = enc(text)
        return out

    keyed: dict[tuple[str, ...], list[str]] = {}  # '"key":' texts by the keys of args

    def obj(args: dict[str, Any]) -> str:
        """``enc(args)`` for the usual flat args of strings and integers, from cached
        pieces; anything else through the encoder."""
        names = keyed.get(tuple(args))
        if names is None:
            names = keyed[tuple(args)] = [q(k) + ":" for k in args]
        parts = []
        for name, v in zip(names, args.values(), strict=True):
            kind = type(v)
            if kind is str:
                parts.append(name + q(v))
            elif kind is int:
                parts.append(name + int.__repr__(v))
            else:
                return enc(args)
        return "{" + ",".join(parts) + "}"

    times: dict[int, str] = {}  # times repeat: durations of one size, samples at starts

    def us(ps: int) -> str:
        out = times.get(ps)
        if out is None:
            out = times[ps] = _us_text(ps)
        return out

    texts: list[str] = []
    keys: list[int] = []
    add, key = texts.append, keys.append
    heads: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    for t in rec.raw_intervals():
        path, lane, name, cat, start, end, args = t[:7]
        head = heads.get((path, lane, name, cat))
        if head is None:
            pid, tid = ids[(path, lane)]
            head = heads[(path, lane, name, cat)] = (
                f'{{"ph":"X","name":{q(name)},"cat":{q(cat)},"ts":', f',"pid":{pid},"tid":{tid}')
        ts, dur = us(start), us(end - start)
        if len(t) == 8:
            nbytes = t[7]
            base = shared.get(id(args)) if args else "{"
            if base is None:
                base = shared[id(args)] = obj(args)[:-1] + ","
            add(f'{head[0]}{ts},"dur":{dur}{head[1]},"args":{base}"bytes":{nbytes}}}}}')
        elif args:
            add(f'{head[0]}{ts},"dur":{dur}{head[1]},"args":{obj(args)}}}')
        else:
            add(f'{head[0]}{ts},"dur":{dur}{head[1]}}}')
        key(start * 4 + 1)
    for ins in rec.instants:
        pid, tid = ids[(ins.path, ins.lane)]
        ev: dict[str, Any] = {"ph": "i", "s": "t", "name": ins.name, "ts": _us(ins.t),
                              "pid": pid, "tid": tid}
        if ins.args:
            ev["args"] = ins.args
        add(enc(ev))
        key(ins.t * 4 + 2)
    cheads: dict[tuple[str, str], tuple[str, str]] = {}
    for path, cname, t_ps, value in rec.raw_counters():
        chead = cheads.get((path, cname))
        if chead is None:
            short, pid = _counter_name(path, cname, pids)
            chead = cheads[(path, cname)] = (f'{{"ph":"C","name":{q(short)},"ts":',
                                             f',"pid":{pid},"tid":0,"args":{{"value":')
        kind = type(value)
        val = (fl(value) if kind is float and math.isfinite(value)
               else int.__repr__(value) if kind is int else enc(value))
        add(f'{chead[0]}{us(t_ps)}{chead[1]}{val}}}}}')
        key(t_ps * 4)
    for f in rec.flows:
        pid, tid = ids[f.src]
        add(enc({"ph": "s", "id": f.id, "name": f.name, "cat": "flow", "ts": _us(f.t_src),
                 "pid": pid, "tid": tid}))
        key(f.t_src * 4 + 3)
        pid, tid = ids[f.dst]
        add(enc({"ph": "f", "bp": "e", "id": f.id, "name": f.name, "cat": "flow",
                 "ts": _us(f.t_dst), "pid": pid, "tid": tid}))
        key(f.t_dst * 4 + 3)
    order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
    return [enc(m) for m in meta], texts, order


def write(rec: Recorder, path: str | os.PathLike[str]) -> Path:
    """Write ``rec`` as trace-event JSON (gzipped when the name ends in .gz), atomically.

    The document is :func:`to_events` in a ``traceEvents`` list; it is encoded record by
    record and streamed into the file in blocks, never built as one object."""
    target = Path(path)
    with gc_paused(), atomic_open(target, "wb") as fh:
        meta, texts, order = _texts(rec)
        other = _ENC.encode({"generator": "desim", **rec.meta})
        if target.suffix == ".gz":
            # mtime=0 keeps the file byte-identical across runs
            with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="",
                               compresslevel=GZIP_LEVEL) as gz:
                _write_doc(gz, meta, texts, order, other)
        else:
            _write_doc(fh, meta, texts, order, other)
    return target


#: zlib level of trace.json.gz: level 1 writes several times faster than the default 6,
#: for a file about a third larger (measured on traced MobileNetV2 runs)
GZIP_LEVEL = 1
_BLOCK = 65536  # events encoded into one write


def _write_doc(fh: Any, meta: list[str], texts: list[str], order: np.ndarray,
               other: str) -> None:
    fh.write(b'{"traceEvents":[')
    fh.write(",".join(meta).encode())
    idx = order.tolist()
    for lo in range(0, len(idx), _BLOCK):
        part = ",".join([texts[i] for i in idx[lo:lo + _BLOCK]])
        fh.write(((',' if meta or lo else '') + part).encode())
    fh.write(f'],"displayTimeUnit":"ns","otherData":{other}}}'.encode())


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
