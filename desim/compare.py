"""Side-by-side comparison of platforms (or variants of one) on the same workloads.

What ``desim compare`` does, as a library call::

    from desim.compare import compare
    cmp = compare(["pulp_cluster", "imc_cluster:aimc.n_crossbars=8"], ["resnet8"])
    print(cmp.table())      # latency, energy, TOPS/W, area, memory per platform x workload
    cmp.write("cmp")        # compare.csv, compare.png, layers_<workload>.csv, runs/*.json

A variant is ``PLATFORM`` or ``PLATFORM:KEY=VALUE[,KEY=VALUE...]``: the platform with those
overrides on top of the shared ones. Every variant and workload is checked before the first
run, so bad input fails at once.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desim.cli.args import parse_sets
from desim.errors import SpecError

__all__ = ["Comparison", "Variant", "compare", "parse_variant"]

#: the columns of compare.csv, in order (the functional ones only with ``functional``)
COLUMNS = ("variant", "platform", "workload", "latency_us", "cycles", "energy_uj",
           "dynamic_uj", "static_uj", "tops_per_w", "macs", "mac_per_cycle", "area_mm2",
           "tops_per_mm2", "l1_peak_bytes", "l2_peak_bytes", "dram_traffic_bytes")
FUNCTIONAL_COLUMNS = ("top1_agreement", "snr_db")
#: the printed table: (header, column, format); None values print as "-"
_SHOWN = (("latency us", "latency_us", "{:.1f}"), ("cycles", "cycles", "{:,.0f}"),
          ("energy uJ", "energy_uj", "{:.2f}"), ("dyn uJ", "dynamic_uj", "{:.2f}"),
          ("static uJ", "static_uj", "{:.2f}"), ("TOPS/W", "tops_per_w", "{:.3f}"),
          ("MAC/cyc", "mac_per_cycle", "{:.2f}"), ("area mm2", "area_mm2", "{:.2f}"),
          ("TOPS/mm2", "tops_per_mm2", "{:.4f}"), ("L1 KiB", "l1_peak_bytes", "{:.1f}"),
          ("L2 KiB", "l2_peak_bytes", "{:.1f}"), ("DRAM KiB", "dram_traffic_bytes", "{:.1f}"))
_KIB = {"l1_peak_bytes", "l2_peak_bytes", "dram_traffic_bytes"}


@dataclass(frozen=True)
class Variant:
    """One platform with its own overrides; ``label`` is the string it was written as."""

    label: str
    platform: str
    sets: dict[str, str]


def parse_variant(text: str) -> Variant:
    """``PLATFORM[:KEY=VALUE,...]`` as a Variant; a malformed one is a SpecError."""
    platform, sep, rest = text.partition(":")
    if not platform.strip():
        raise SpecError(f"variant {text!r}: expected PLATFORM[:KEY=VALUE,...], "
                        "e.g. imc_cluster:aimc.n_crossbars=8")
    sets = parse_sets(rest.split(","), option="variant",
                      example="imc_cluster:aimc.n_crossbars=8,dram=lpddr4_2400") if sep else {}
    return Variant(text, platform.strip(), sets)


def _row(label: str, platform: str, workload: str, summary: Mapping[str, Any],
         functional: bool) -> dict[str, Any]:
    """One compare.csv row from a run's summary (None where the summary has no value)."""
    energy = summary["energy_pj"]["total"]
    static = (summary.get("energy_static_pj") or {}).get("total", 0.0)
    macs, cycles, ps = summary["macs"], summary["cycles"], summary["total_ps"]
    area = (summary.get("area_mm2") or {}).get("total")
    mem = summary["memory"]
    row: dict[str, Any] = {
        "variant": label, "platform": platform, "workload": workload,
        "latency_us": ps / 1e6, "cycles": cycles, "energy_uj": energy / 1e6,
        "dynamic_uj": (energy - static) / 1e6, "static_uj": static / 1e6,
        "tops_per_w": 2 * macs / energy if energy else None,  # ops per pJ = TOPS/W
        "macs": macs, "mac_per_cycle": macs / cycles if cycles else None, "area_mm2": area,
        "tops_per_mm2": 2 * macs / ps / area if area and ps else None,  # ops per ps = TOPS
        "l1_peak_bytes": mem.get("l1_peak_bytes"), "l2_peak_bytes": mem.get("l2_peak_bytes"),
        "dram_traffic_bytes": mem.get("dram_traffic_bytes"),
    }
    if functional:
        fn = summary.get("functional") or {}
        row.update({k: fn.get(k) for k in FUNCTIONAL_COLUMNS})
    return row


def _layer_cycles(summary: Mapping[str, Any]) -> dict[str, float]:
    """Cycles per layer name, in execution order (a name run twice adds up)."""
    out: dict[str, float] = {}
    for layer in summary["layers"]:
        out[layer["name"]] = out.get(layer["name"], 0.0) + layer["cycles"]
    return out


@dataclass
class LayerTable:
    """Per-layer cycles of one workload on every variant, matched by layer name."""

    workload: str
    labels: list[str]
    #: layer name -> cycles per variant label (None where the variant has no such layer)
    cycles: dict[str, dict[str, float | None]]

    def speedup(self, layer: str, label: str) -> float | None:
        """cycles on the first variant / cycles on ``label`` (> 1: ``label`` is faster)."""
        first, other = self.cycles[layer][self.labels[0]], self.cycles[layer][label]
        return first / other if first is not None and other else None

    def fastest(self, layer: str) -> str:
        """The label of the variant that runs ``layer`` in the fewest cycles, or "tie" when
        all are within 1 % of each other."""
        known = {k: v for k, v in self.cycles[layer].items() if v is not None}
        best = min(known, key=lambda k: known[k])
        return "tie" if max(known.values()) - known[best] <= 0.01 * known[best] else best

    def rows(self) -> list[dict[str, Any]]:
        """layers_<workload>.csv rows: layer, cycles and speedup per variant, fastest."""
        out = []
        for name, per in self.cycles.items():
            row: dict[str, Any] = {"layer": name}
            row.update({f"cycles[{label}]": per[label] for label in self.labels})
            row.update({f"speedup[{label}]": self.speedup(name, label)
                        for label in self.labels[1:]})
            row["fastest"] = self.fastest(name)
            out.append(row)
        return out

    def table(self) -> str:
        """The table as text: which layers win where (long labels numbered, with a key)."""
        long = any(len(lb) > 20 for lb in self.labels)
        short = {lb: f"#{i + 1}" if long else lb for i, lb in enumerate(self.labels)}
        short["tie"] = "tie"
        headers = ["layer", *(f"cycles {short[lb]}" for lb in self.labels),
                   *(f"x {short[lb]}" for lb in self.labels[1:]), "fastest"]
        body = []
        for name, per in self.cycles.items():
            body.append([name, *(_fmt(per[lb], "{:,.0f}") for lb in self.labels),
                         *(_fmt(self.speedup(name, lb), "{:.2f}x") for lb in self.labels[1:]),
                         short[self.fastest(name)]])
        key = ("\n" + "\n".join(f"#{i + 1} = {lb}" for i, lb in enumerate(self.labels))
               if long else "")
        return (f"layers of {self.workload} (speedup vs {self.labels[0]}){key}\n"
                + _grid(headers, body))


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return spec.format(value)


def _grid(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Aligned text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in (headers, *body)) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in (headers, *body)]
    return "\n".join(line.rstrip() for line in lines)


def _safe(label: str) -> str:
    """``label`` as a file-name part (no path separators, colons or spaces)."""
    return re.sub(r"[^\w.=,+-]", "_", label)


@dataclass
class Comparison:
    """The runs of every variant x workload: rows, per-layer tables and the summaries."""

    variants: list[Variant]
    workloads: list[str]
    functional: bool
    #: (variant label, workload) -> the run's summary, in run order
    summaries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One compare.csv row per variant x workload, grouped by workload."""
        return [_row(v.label, v.platform, w, self.summaries[v.label, w], self.functional)
                for w in self.workloads for v in self.variants]

    @property
    def layers(self) -> dict[str, LayerTable]:
        """The per-layer table of each workload."""
        labels = [v.label for v in self.variants]
        out = {}
        for w in self.workloads:
            per = {lb: _layer_cycles(self.summaries[lb, w]) for lb in labels}
            names = list(dict.fromkeys(n for lb in labels for n in per[lb]))
            out[w] = LayerTable(w, labels, {n: {lb: per[lb].get(n) for lb in labels}
                                            for n in names})
        return out

    def table(self) -> str:
        """The comparison as text: one line per variant x workload."""
        shown = [*_SHOWN, *((("top1", "top1_agreement", "{}"), ("SNR dB", "snr_db", "{:.1f}"))
                            if self.functional else ())]
        headers = ["variant", "workload", *(h for h, _, _ in shown)]
        body = [[r["variant"], r["workload"],
                 *(_fmt(r[c] / 1024 if c in _KIB and r[c] is not None else r[c], f)
                   for _, c, f in shown)] for r in self.rows]
        return _grid(headers, body)

    def write(self, outdir: str | Path) -> dict[str, Path]:
        """Write compare.csv, compare.png, layers_<workload>.csv and runs/*.json."""
        out = Path(outdir)
        paths = {"csv": _write_csv(out / "compare.csv", self.rows)}
        paths["png"] = self.plot(out / "compare.png")
        for w, table in self.layers.items():
            paths[f"layers_{w}"] = _write_csv(out / f"layers_{_safe(w)}.csv", table.rows())
        (out / "runs").mkdir(exist_ok=True)
        for (label, w), summary in self.summaries.items():
            path = out / "runs" / f"{_safe(label)}__{_safe(w)}.json"
            path.write_text(json.dumps(summary, indent=2))
        paths["runs"] = out / "runs"
        return paths

    def plot(self, path: Path) -> Path:
        """Grouped bars: latency and energy, one group per workload, one bar per variant."""
        from desim.trace import figfile

        return figfile.save(self._figure, path, "comparison plot")

    def _figure(self) -> Any:
        import matplotlib.pyplot as plt

        rows = self.rows
        labels = [v.label for v in self.variants]
        fig, axes = plt.subplots(1, 2, figsize=(max(7.0, 2.2 * len(self.workloads) + 5), 4.2))
        width = 0.8 / len(labels)
        cmap = plt.get_cmap("tab10")
        for ax, (col, what) in zip(axes, (("latency_us", "latency"), ("energy_uj", "energy")),
                                   strict=True):
            values = [r[col] for r in rows]
            unit, scale = ("ms", 1e3) if what == "latency" else ("mJ", 1e3)
            if max(values) < scale:
                unit, scale = ("µs", 1.0) if what == "latency" else ("µJ", 1.0)
            for i, label in enumerate(labels):
                ys = [r[col] / scale for r in rows if r["variant"] == label]
                xs = [j + (i - (len(labels) - 1) / 2) * width for j in range(len(ys))]
                bars = ax.bar(xs, ys, width, label=label, color=cmap(i % 10))
                ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=1)
            if max(values) / max(min(values), 1e-12) >= 10:
                ax.set_yscale("log")
            ax.margins(y=0.15)
            ax.set_xticks(range(len(self.workloads)), self.workloads)
            ax.set_xlabel("workload")
            ax.set_ylabel(f"{what} ({unit})" + (", log scale" if ax.get_yscale() == "log"
                                                 else ""))
            ax.set_title(f"{what} per inference (lower is better)")
            ax.grid(axis="y", alpha=0.3)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=min(len(labels), 3), frameon=False)
        fig.tight_layout(rect=(0, 0.06 + 0.04 * ((len(labels) - 1) // 3), 1, 1))
        return fig


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def check(variants: Sequence[Variant], workloads: Sequence[str],
          overrides: Mapping[str, Any]) -> None:
    """Fail with a SpecError on anything that would fail later: fewer than two variants, a
    label given twice, an unknown platform, parameter or workload."""
    from desim.soc.loader import load_platform
    from desim.workload import load_workload

    if len(variants) < 2:
        raise SpecError("compare needs at least two platforms or variants, e.g. desim compare "
                        "pulp_cluster imc_cluster (or imc_cluster imc_cluster:aimc.n_crossbars=8)")
    labels = [v.label for v in variants]
    twice = sorted({lb for lb in labels if labels.count(lb) > 1})
    if twice:
        raise SpecError(f"variant {twice[0]!r} given twice: give each once")
    if not workloads:
        raise SpecError("no workload: give one or more with -w, e.g. -w resnet8")
    for v in variants:
        load_platform(v.platform).default_spec().with_overrides({**overrides, **v.sets})
    for w in workloads:
        load_workload(w)


def compare(variants: list[str], workloads: list[str], *,
            overrides: Mapping[str, Any] | None = None, functional: bool = False,
            seed: int = 0) -> Comparison:
    """Run every workload on every variant (``PLATFORM[:KEY=VALUE,...]``, its own overrides
    on top of ``overrides``) and collect the results; bad input fails before the first run."""
    from desim.driver import simulate

    parsed = [parse_variant(v) for v in variants]
    shared = dict(overrides or {})
    workloads = list(dict.fromkeys(workloads))
    check(parsed, workloads, shared)
    result = Comparison(parsed, workloads, functional)
    for w in workloads:
        for v in parsed:
            run = simulate(v.platform, w, seed=seed, overrides={**shared, **v.sets},
                           functional=functional)
            result.summaries[v.label, w] = run.summary
    return result
