"""A picture of a built platform: its component tree and its memory fabric.

Both are read from the built component tree, never from documentation, so the picture is
the platform that runs:

- the **component tree** (left): every component with its kind, memories with their size,
  DMA engines with their channels and the levels they join, bound engines marked; numbered
  siblings of one kind (``core0`` ... ``core7``, ``xbar0`` ... ``xbar33``) on one line;
- the **fabric** (right, :func:`fabric`): the interconnect's nodes with the memory each
  serves (size, port bandwidth), its links with bandwidth and latency (a pair of opposite
  links with one spec as one double arrow), the DMA engines that move data over them, and
  the engines computing out of a memory. Columns follow the distance from the engines'
  memory: engines, L1, then what lies behind it.

Colours are the trace palette's (:mod:`desim.trace.palette`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import networkx as nx

from desim.hw.dma import Dma
from desim.soc.base import LEVELS
from desim.trace import figfile, palette

_NUMBERED = re.compile(r"^(.*\D)(\d+)$")


def fabric(soc: Any) -> nx.DiGraph:
    """The memory fabric as a graph.

    Nodes: the interconnect's nodes (``kind`` ``memory`` with ``component``, ``level``,
    ``size`` when a memory is attached, else ``node``) and the engines (``kind`` ``engine``,
    named ``engine NAME``). Edges: every interconnect link (``kind`` ``link``:
    ``bandwidth`` B/cycle, ``latency`` cycles, ``dmas``: the DMA engines whose regions it
    joins) and an engine's access to its memory (``kind`` ``compute``).
    """
    g = nx.DiGraph()
    levels = {soc.memory(lv).path: lv for lv in LEVELS if soc.has_memory(lv)}
    dmas = [c for c in soc.walk() if isinstance(c, Dma)]
    ic = getattr(soc, "ic", None)
    nodes = list(ic.graph.nodes) if ic is not None else []
    at: dict[str, Any] = {r.node: r.target for d in dmas for r in d.regions}
    for path, lv in levels.items():  # bound memories no DMA region names: by level name
        if path not in {m.path for m in at.values()}:
            at[lv] = soc.memory(lv)
    for node in [*nodes, *(n for n in at if n not in nodes)]:
        mem = at.get(node)
        if mem is None:
            g.add_node(node, kind="node")
        else:
            g.add_node(node, kind="memory", component=mem.path,
                       level=levels.get(mem.path, ""), size=mem.size)
    if ic is not None:
        for a, b, data in ic.graph.edges(data=True):
            users = sorted(d.path for d in dmas if {a, b} <= {r.node for r in d.regions})
            g.add_edge(a, b, kind="link", bandwidth=data["bandwidth"], latency=data["latency"],
                       dmas=users)
    node_of = {m.path: n for n, m in at.items()}
    l1 = soc.memory("l1").path if soc.has_memory("l1") else ""
    for name, comp in _engines(soc).items():
        g.add_node(f"engine {name}", kind="engine", component=comp.path)
        target = node_of.get(getattr(getattr(comp, "mem", None), "path", l1)) or node_of.get(l1)
        if target is not None:
            g.add_edge(f"engine {name}", target, kind="compute")
    return g


def _engines(soc: Any) -> dict[str, Any]:
    """Engine name -> component: the bound engines, else components of kind ``engine``."""
    bound = {name: e.component for name, e in soc.engines.items()}
    return bound or {c.name: c for c in soc.walk() if c.kind == "engine"}


def tree_lines(soc: Any) -> list[tuple[str, str, str]]:
    """The component tree as lines (prefix, name, description) in depth-first order;
    numbered siblings of one kind share a line (``core0-7``, ``x8``)."""
    engines = {comp.path: name for name, comp in _engines(soc).items()}
    dma_levels: dict[str, set[str]] = {}
    for (src, dst), dma in soc.dma_paths().items():
        dma_levels.setdefault(dma.path, set()).add(" <-> ".join(sorted((src, dst))))
    out: list[tuple[str, str, str]] = []

    def visit(comp: Any, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        out.append((prefix + branch, comp.name, _describe(comp, engines, dma_levels)))
        below = prefix + ("" if root else ("   " if last else "│  "))
        items = _grouped(list(comp.children.values()))
        for k, item in enumerate(items):
            end = k == len(items) - 1
            if isinstance(item, list):
                m0, m1 = _NUMBERED.match(item[0].name), _NUMBERED.match(item[-1].name)
                assert m0 and m1
                out.append((below + ("└─ " if end else "├─ "), f"{m0[1]}{m0[2]}-{m1[2]}",
                            f"{item[0].kind} x{len(item)}"))
            else:
                visit(item, below, end, False)

    visit(soc, "", True, True)
    return out


def _grouped(children: list[Any]) -> list[Any]:
    """Children with runs of numbered leaf siblings of one kind (3 or more) as lists."""
    out: list[Any] = []
    for c in children:
        m = _NUMBERED.match(c.name)
        prev = out[-1] if out else None
        if m and not c.children and isinstance(prev, list) and prev[0].kind == c.kind \
                and _NUMBERED.match(prev[0].name)[1] == m[1]:  # type: ignore[index]
            prev.append(c)
        elif m and not c.children:
            out.append([c])
        else:
            out.append(c)
    return [y for x in out for y in (x if isinstance(x, list) and len(x) < 3 else [x])]


def _describe(comp: Any, engines: dict[str, str], dma_levels: dict[str, set[str]]) -> str:
    parts = [comp.kind]
    if hasattr(comp, "size") and hasattr(comp, "base"):
        parts.append(size_text(comp.size))
    spec = comp.spec
    if comp.kind == "dram" and getattr(spec, "name", ""):
        parts.append(spec.name)
    if isinstance(comp, Dma):
        parts.append(f"{len(comp.channels)} ch")
        parts += sorted(dma_levels.get(comp.path, ()))
    if comp.kind == "interconnect":
        parts.append(f"{comp.graph.number_of_edges()} links")
    if comp.path in engines:
        parts.append(f"[engine {engines[comp.path]}]")
    if comp.parent is None or comp.clock is not comp.parent.clock:
        parts.append(f"{comp.clock.freq_hz / 1e6:g} MHz")
    return ", ".join(parts)


def size_text(nbytes: int) -> str:
    """``524288`` as ``512 KiB``."""
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= div:
            return f"{nbytes / div:g} {unit}"
    return f"{nbytes} B"


def draw(soc: Any, path: str | os.PathLike[str], title: str = "") -> Path:
    """Save the platform picture of ``soc`` as PNG, SVG or PDF (by extension)."""
    return figfile.save(lambda: figure(soc, title), path, "diagram")


def figure(soc: Any, title: str = "") -> Any:
    """The figure: the component tree on the left, the fabric on the right."""
    import matplotlib.pyplot as plt

    lines = tree_lines(soc)
    g = fabric(soc)
    cols = _columns(g)
    depth = max((len(v) for v in cols.values()), default=1)
    height = max(3.6, 0.24 * len(lines) + 1.2, 1.5 * depth + 1.2)
    fig = plt.figure(figsize=(14.0, height))
    left = fig.add_axes((0.01, 0.02, 0.36, 0.86))
    right = fig.add_axes((0.38, 0.02, 0.61, 0.86))
    _draw_tree(left, lines, height)
    _draw_fabric(right, soc, g, cols)
    if title:
        fig.suptitle(title, fontsize=11, y=0.98)
    return fig


def _draw_tree(ax: Any, lines: list[tuple[str, str, str]], height: float) -> None:
    """The tree as text, one line per component, a square of its kind's colour before it."""
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("component tree", fontsize=9, loc="left")
    step = min(0.24 / (0.88 * height), 1 / max(len(lines), 1))
    char = 0.0185  # width of a monospace character at 8.5 pt, in axes fractions
    for k, (prefix, name, desc) in enumerate(lines):
        y = 1 - (k + 0.5) * step
        kind = desc.split(",", 1)[0].split(" ", 1)[0]
        x = char * len(prefix)
        ax.text(0.0, y, prefix, family="monospace", fontsize=8.5, va="center", color="#909090")
        ax.scatter([x + 0.008], [y], marker="s", s=28, color=palette.colour(kind))
        ax.text(x + 0.022, y, name, family="monospace", fontsize=8.5, va="center",
                fontweight="bold")
        ax.text(x + 0.022 + char * (len(name) + 1), y, desc, fontsize=8, va="center",
                color="#303030")


def _columns(g: nx.DiGraph) -> dict[int, list[str]]:
    """Column -> nodes: engines first, then by hops from the engines' memory."""
    engines = [n for n, d in g.nodes(data=True) if d["kind"] == "engine"]
    fed = [b for e in engines for b in g.successors(e)]
    start = fed[0] if fed else next((n for n, d in g.nodes(data=True) if d["kind"] != "engine"),
                                    None)
    links = g.edge_subgraph([(a, b) for a, b, d in g.edges(data=True) if d["kind"] == "link"])
    hops = dict(nx.single_source_shortest_path_length(links.to_undirected(), start)) if (
        start is not None and start in links) else {}
    cols: dict[int, list[str]] = {0: engines} if engines else {}
    far = max(hops.values(), default=0) + 1
    base = 1 if engines else 0
    for n, d in g.nodes(data=True):
        if d["kind"] != "engine":
            k = hops.get(n, far if n != start else 0)
            cols.setdefault(base + k, []).append(n)
    return dict(sorted(cols.items()))


def _draw_fabric(ax: Any, soc: Any, g: nx.DiGraph, cols: dict[int, list[str]]) -> None:
    ax.set_axis_off()
    ax.set_title("memory fabric", fontsize=9, loc="left")
    ax.text(0.0, 0.0, "solid arrow: a link (bandwidth per cycle of its clock, latency), with the "
            "DMA engines moving data over it;\ndashed arrow: an engine computing out of a "
            "memory", fontsize=7.5, color="#505050", transform=ax.transAxes, va="bottom")
    n_cols = max(cols, default=0) + 1
    pos = {}
    for c, nodes in cols.items():
        for r, n in enumerate(nodes):
            pos[n] = ((c + 0.5) / n_cols, 1 - (r + 0.5) / max(len(v) for v in cols.values()))
    boxes = {}
    for n, (x, y) in pos.items():
        d = g.nodes[n]
        text, colour = _node_text(soc, n, d)
        boxes[n] = ax.text(x, y, text, ha="center", va="center", fontsize=8.5,
                           transform=ax.transAxes, zorder=3,
                           bbox={"boxstyle": "round,pad=0.5", "facecolor": _light(colour),
                                 "edgecolor": colour, "linewidth": 1.4})
    done = set()
    for a, b, d in g.edges(data=True):
        if (b, a) in done or (a, b) in done:
            continue
        back = g.edges[b, a] if g.has_edge(b, a) else None
        same = back is not None and back.get("bandwidth") == d.get("bandwidth") \
            and back.get("latency") == d.get("latency")
        done.add((a, b))
        if same:
            done.add((b, a))
        style = "<|-|>" if same else "-|>"
        dashed = d["kind"] == "compute"
        ax.annotate("", xy=pos[b], xytext=pos[a], xycoords="axes fraction",
                    arrowprops={"arrowstyle": style, "color": "#404040", "linewidth": 1.3,
                                "linestyle": "--" if dashed else "-", "shrinkA": 0,
                                "shrinkB": 0, "patchA": boxes[a].get_bbox_patch(),
                                "patchB": boxes[b].get_bbox_patch(), "mutation_scale": 12})
        if d["kind"] == "link":
            lines = [f"{d['bandwidth']:g} B/cycle", f"{d['latency']} cycles"]
            if back is not None and not same:
                lines = [f"{a}->{b}: {lines[0]}, {lines[1]}", f"{b}->{a}: "
                         f"{back['bandwidth']:g} B/cycle, {back['latency']} cycles"]
            lines += [f"{p.rsplit('.', 1)[-1]} (DMA)" for p in d["dmas"]]
            (xa, ya), (xb, yb) = pos[a], pos[b]
            ax.text((xa + xb) / 2, (ya + yb) / 2 - 0.05, "\n".join(lines), ha="center",
                    va="top", fontsize=7.5, transform=ax.transAxes, zorder=4,
                    bbox={"boxstyle": "round,pad=0.25", "facecolor": "white",
                          "edgecolor": palette.colour("dma") if d["dmas"] else "#c0c0c0"})


def _node_text(soc: Any, node: str, d: dict[str, Any]) -> tuple[str, str]:
    """A fabric node's label and colour."""
    if d["kind"] == "engine":
        comp = _find(soc, d["component"])
        inner = ", ".join(f"{len(x)} {x[0].kind}s" if isinstance(x, list) else x.name
                          for x in _grouped(list(comp.children.values())))
        name = node.split(" ", 1)[1]
        return (f"engine {name}\n{comp.path}" + (f"\n{inner}" if inner else "")
                + f"\n{comp.clock.freq_hz / 1e6:g} MHz", palette.colour(name))
    if d["kind"] == "node":
        return node, "#808080"
    mem = _find(soc, d["component"])
    lines = [f"{(d['level'] or node).upper()}: {mem.path}", size_text(d["size"])]
    spec = mem.spec
    if mem.kind == "sram" and getattr(spec, "banks", 1) > 1:
        lines[-1] += f", {spec.banks} banks"
    port = getattr(mem, "port", None)
    if port is not None:
        lines.append(f"port {port.bandwidth:g} B/cycle")
    if mem.kind == "dram" and getattr(spec, "name", ""):
        lines.append(spec.name)
    return "\n".join(lines), palette.colour(d["level"] or (node if node in LEVELS else
                                                           mem.kind))


def _find(soc: Any, path: str) -> Any:
    return next(c for c in soc.walk() if c.path == path)


def _light(colour: str) -> tuple[float, float, float]:
    """``colour`` mixed 80 % with white (a box's fill)."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(colour)
    return (0.8 + 0.2 * r, 0.8 + 0.2 * g, 0.8 + 0.2 * b)
