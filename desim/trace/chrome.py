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


def _group(path: str) -> str:
    """The top-level component a path belongs to (its process in the trace)."""
    parts = path.split(".")
    return ".".join(parts[:2])


def _thread_name(path: str, lane: str) -> str:
    group = _group(path)
    rel = path[len(group) + 1:] if path != group else ""
    return "/".join(p for p in (rel, lane) if p) or path.rsplit(".", 1)[-1]


def to_events(rec: Recorder) -> list[dict[str, Any]]:
    """The trace-event list for ``rec`` (metadata first, then events in time order)."""
    tracks = {(iv.path, iv.lane) for iv in rec.intervals}
    tracks |= {(i.path, i.lane) for i in rec.instants}
    tracks |= {f.src for f in rec.flows} | {f.dst for f in rec.flows}
    groups = {_group(p) for p, _ in tracks} | {_group(c.path) for c in rec.counters}
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
            group = _group(path)
            short = path if group == path else path[len(group) + 1:]
            named = names[(path, cname)] = (f"{short}.{cname}", pids[group])
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


def write(rec: Recorder, path: str | os.PathLike[str]) -> Path:
    """Write ``rec`` as trace-event JSON (gzipped when the name ends in .gz), atomically."""
    with gc_paused():
        doc = {"traceEvents": to_events(rec), "displayTimeUnit": "ns",
               "otherData": {"generator": "desim", **rec.meta}}
        data = json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()
        del doc
    target = Path(path)
    with atomic_open(target, "wb") as fh:
        if target.suffix == ".gz":
            # mtime=0 keeps the file byte-identical across runs
            with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="",
                               compresslevel=6) as gz:
                gz.write(data)
        else:
            fh.write(data)
    return target


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
