"""The pictures tell the truth and stay readable: one colour per category in every plot,
big platforms in a page, bounded legends, bandwidth that never dips below zero, energy
bars that add up, rooflines against the platform's own peaks."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
from matplotlib.colors import to_rgb  # noqa: E402

import desim  # noqa: E402
from desim import schema  # noqa: E402
from desim.cli import main  # noqa: E402
from desim.trace import energy_plot, palette, roofline, timeline  # noqa: E402
from desim.trace.blocks import blocks  # noqa: E402
from desim.trace.recorder import Recorder  # noqa: E402
from desim.trace.rows import ranges, rows  # noqa: E402

NS = 1000
XBARS = [f"soc.aimc.xbar{i}" for i in range(34)]


def mobilenet_like() -> tuple[Recorder, list[tuple[str, int, int]]]:
    """A MobileNetV2-sized trace: 66 layers of 1 us, crossbars 0-31 programmed and run,
    32-33 never, 8 cores computing depthwise layers and partial sums, DMA and a link."""
    rec = Recorder()
    layers = []
    for k in range(66):
        part = ("expand", "depthwise", "project", "add")[(k - 1) % 4]
        name = "conv2d_0" if k == 0 else f"block{(k - 1) // 4}/{part}"
        t0 = k * 1000 * NS
        layers.append((name, t0, t0 + 1000 * NS))
        x = XBARS[k % 32]
        rec.interval(x, "program", "program", "program", t0, t0 + 100 * NS, {"layer": name})
        rec.interval(x, "mvm", name, "aimc", t0 + 100 * NS, t0 + 600 * NS, {"layer": name})
        for c in range(8):
            cat = "depthwise" if k % 4 == 2 else "psum"
            rec.interval(f"soc.cluster.core{c}", "exec", name, cat, t0 + 600 * NS,
                         t0 + 900 * NS, {"layer": name})
        rec.interval("soc.cl_dma", "ch0", f"{name} in", "dma", t0, t0 + 50 * NS)
        rec.interval("soc.ic", "l2->l1", "l2->l1", "transfer", t0, t0 + 50 * NS)
        rec.counter("soc.ic.l2->l1", "bandwidth", t0, 8.0)
        rec.counter("soc.ic.l2->l1", "bandwidth", t0 + 50 * NS, 0.0)
    return rec, layers


def labels(lay: timeline.Layout) -> list[str]:
    return [row.label for row in lay.rows]


def test_crossbars_that_never_ran_and_many_busy_ones_take_one_row_each():
    rec, layers = mobilenet_like()
    lay = timeline.layout(rec, layers=layers, components=XBARS)
    names = labels(lay)
    assert "aimc.xbar0-31/mvm" in names and "aimc.xbar0-31/program" in names
    assert "aimc.xbar32-33 idle" in names
    cores = [n for n in names if "core" in n]
    assert cores == [f"cluster.core{c}/exec" for c in range(8)]
    assert len(names) <= 16
    expanded = labels(timeline.layout(rec, layers=layers, components=XBARS, group_max=None))
    assert "aimc.xbar17/mvm" in expanded and "aimc.xbar32-33 idle" in expanded


def test_a_window_collapses_the_crossbars_idle_in_it():
    rec, layers = mobilenet_like()
    lay = timeline.layout(rec, window=(3000 * NS, 6000 * NS), layers=layers, components=XBARS)
    names = labels(lay)
    mvm = [n for n in names if n.endswith("/mvm")]
    assert mvm == ["aimc.xbar3/mvm", "aimc.xbar4/mvm", "aimc.xbar5/mvm"]
    assert "aimc.xbar0-2,6-33 idle" in names
    assert all(row.idle for row in lay.rows if row.label.endswith("idle"))


def test_range_labels():
    assert ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert ranges([0, 2, 4, 6]) == "* (4)"
    assert [r.label for r in rows([("soc.l1", "port"), ("soc.l2", "port")],
                                  [("soc.l1", "port")])] == ["l1/port", "l2 idle"]


def bar_colours(fig) -> set[tuple[float, float, float]]:
    """The colours of every bar drawn on the figure's timeline."""
    out = set()
    for ax in fig.axes:
        for coll in ax.collections:
            out |= {tuple(np.round(c[:3], 4)) for c in coll.get_facecolors()}
    return out


def rgb(hex_colour: str) -> tuple[float, float, float]:
    return tuple(np.round(to_rgb(hex_colour), 4))  # type: ignore[return-value]


def test_a_category_has_one_colour_in_the_whole_run_a_window_and_by_layer():
    import matplotlib.pyplot as plt

    rec, layers = mobilenet_like()
    full = timeline.layout(rec, layers=layers, components=XBARS)
    window = timeline.layout(rec, window=(3000 * NS, 6000 * NS), layers=layers,
                             components=XBARS)
    for cat in ("dma", "psum", "program", "aimc", "transfer"):
        assert full.colours[cat] == window.colours[cat] == palette.colour(cat)
    assert palette.colour("psum") != palette.colour("add")
    drawn = []
    for kw in ({}, {"window": (3000 * NS, 6000 * NS)}, {"by": "layer"}):
        fig = timeline.figure(rec, layers=layers, components=XBARS, **kw)
        drawn.append(bar_colours(fig))
        plt.close(fig)
    assert rgb(palette.colour("psum")) in drawn[0] and rgb(palette.colour("psum")) in drawn[1]
    assert all(rgb(palette.colour("idle")) in d for d in drawn)  # the idle crossbars' row
    by_layer = {rgb(c) for c in (*palette.LAYER, palette.NO_LAYER, palette.colour("idle"))}
    assert drawn[2] <= by_layer  # by layer: the blocks' colours


def test_layers_group_into_a_bounded_legend_and_are_marked_on_the_time_axis():
    import matplotlib.pyplot as plt

    rec, layers = mobilenet_like()
    parts = blocks(layers)
    assert 1 < len(parts) <= 12
    assert [p.first for p in parts] == [0] + [p.last + 1 for p in parts[:-1]]
    assert parts[-1].last == 65 and sum(len(p.layers) for p in parts) == 66
    lay = timeline.layout(rec, by="layer", layers=layers)
    assert list(lay.colours) == [p.legend for p in parts]
    fig = timeline.figure(rec, by="layer", layers=layers, title="t")
    strip, main_ax = fig.axes[0], fig.axes[1]
    assert strip.get_ylabel() == "layers" and strip.texts
    assert len(main_ax.collections[-1].get_segments()) == 65  # a line per layer start
    plt.close(fig)


def test_bars_narrower_than_two_pixels_become_pixel_columns_of_their_busy_union():
    """At 100 ps per pixel: a 300 ps bar is drawn exactly; overlapping and touching narrow
    ones count once (0-50 ps: half of column 0), and 10 ps busy in column 1 shows as a
    quarter (busy fractions round up to quarters)."""
    spans = np.array([(0, 30), (10, 40), (40, 50), (150, 160), (300, 600), (700, 700)])
    exact, columns = timeline.thin_bars(spans, 0, 1000, 100.0)
    assert exact.tolist() == [[300, 300]]
    assert columns.tolist() == [[0.0, 100.0, 0.5], [100.0, 100.0, 0.25]]


def test_moved_records_are_laid_out_like_intervals():
    """Bookings recorded with ``moved`` (shared args, a byte count) land on their lane and
    take the layer their args name (b, though they lie in a's window), as named intervals
    do."""
    rec = Recorder()
    layers = [("a", 0, 1000), ("b", 1000, 2000)]
    rec.interval("soc.cluster.core0", "exec", "a", "conv2d", 0, 900, {"layer": "a"})
    rec.interval("soc.cluster.core0", "exec", "b", "conv2d", 1000, 1900, {"layer": "b"})
    shared = {"layer": "b", "master": "soc.dma.ch0"}
    rec.moved("soc.ic", "l2->l1", "w", "transfer", 100, 400, shared, 256)
    rec.moved("soc.ic", "l2->l1", "w", "transfer", 400, 700, shared, 256)
    lay = timeline.layout(rec, by="layer", layers=layers)
    link = labels(lay).index("ic/l2->l1")
    legend = {p.layers[0]: p.legend for p in blocks(layers)}
    assert lay.bars[(link, legend["b"])].tolist() == [[100, 400], [400, 700]]
    assert timeline.layout(rec).bars[(link, "transfer")].tolist() == [[100, 400], [400, 700]]


def test_figure_height_is_bounded_for_hundreds_of_lanes():
    import matplotlib.pyplot as plt

    rec = Recorder()
    for i in range(300):
        rec.interval(f"soc.pe{i}", "exec", "x", "compute", i, i + 10)
        rec.interval(f"soc.unit_{i}a", "busy", "x", "compute", i, i + 10)
    fig = timeline.figure(rec, panels=timeline.PANELS, group_max=None)
    assert fig.get_figheight() <= timeline.MAX_HEIGHT_IN
    plt.close(fig)


def test_bandwidth_never_dips_below_zero_and_marks_each_peak():
    import matplotlib.pyplot as plt

    rec = Recorder()
    rec.interval("soc.dma", "ch0", "x", "dma", 0, 10_000)
    for t, v in ((0, 3.0), (1_000, 0.1), (2_000, 1e-13), (3_000, 0.0), (9_000, 7.5)):
        rec.counter("soc.ic.a->b", "bandwidth", t, v)
    rec.counter("soc.l1.port", "bandwidth", 0, 64.0)
    rec.counter("soc.l1.port", "bandwidth", 5_000, 0.0)
    fig = timeline.figure(rec, panels=("timeline", "bandwidth"), bins=97,
                          peaks={"soc.ic.a->b": 8.0, "soc.l1.port": 128.0})
    links = [ax for ax in fig.axes if ax.get_ylabel() in ("ic.a->b", "l1.port")]
    assert len(links) == 2
    for ax, peak in zip(links, (8.0, 128.0), strict=True):
        assert ax.get_ylim()[0] == 0
        heights = np.concatenate([p.get_path().vertices[:, 1] for p in ax.patches])
        assert heights.min() >= 0
        dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
        assert [ln.get_ydata()[0] for ln in dashed] == [peak]
    plt.close(fig)


def test_bandwidth_panel_says_when_a_selection_filtered_the_counters_out():
    import matplotlib.pyplot as plt

    rec = Recorder()
    rec.interval("soc.cluster.core0", "exec", "x", "conv2d", 0, 100)
    for filtered, words in ((True, "filtered out"), (False, "no bandwidth counters")):
        fig = timeline.figure(rec, panels=("timeline", "bandwidth"),
                              counters_filtered=filtered)
        assert any(words in t.get_text() for t in fig.axes[-1].texts)
        plt.close(fig)


@pytest.fixture(scope="module")
def dnn_run(tmp_path_factory):
    """resnet8 on imc_cluster, traced, written to a run directory (about a second)."""
    out = tmp_path_factory.mktemp("r8")
    result = desim.simulate("imc_cluster", "resnet8", trace=True)
    result.write(out, timeline=False)
    return result, out


def test_partial_sums_are_their_own_category(dnn_run):
    result, _ = dnn_run
    sums = {iv.cat for iv in result.tracer.intervals if iv.name.endswith("partial sums")
            and ".core" in iv.path}
    assert sums == {"psum"}


def test_layer_energy_split_by_component_adds_up(dnn_run):
    result, _ = dnn_run
    summary = result.summary
    schema.validate(summary, engines=result.soc.engines)
    for layer in summary["layers"]:
        parts = layer["energy_by_component_pj"]
        assert set(parts) <= set(summary["energy_pj"]) - {"total"}
        assert sum(parts.values()) == pytest.approx(layer["energy_pj"], abs=0.01)


def test_energy_bars_sum_to_the_layer_energies(dnn_run, tmp_path):
    import matplotlib.pyplot as plt

    result, _ = dnn_run
    layers = result.summary["layers"]
    fig = energy_plot.figure(result.summary, "t")
    ax = fig.axes[0]
    tops = {}
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), bar.get_y() + bar.get_height())
    scale = 1e6 if max(e["energy_pj"] for e in layers) >= 1e6 else 1e3
    for k, e in enumerate(layers):
        assert tops.get(k, 0.0) * scale == pytest.approx(e["energy_pj"], rel=1e-6, abs=0.01)
    plt.close(fig)
    unsplit = {"layers": [{"name": "a", "energy_pj": 5.0}, {"name": "b", "energy_pj": 7.0}]}
    names, comps, table = energy_plot.table(unsplit["layers"])
    assert comps == [energy_plot.UNSPLIT] and table == [[5.0], [7.0]]


def test_roofline_against_the_platforms_own_peaks(dnn_run):
    import matplotlib.pyplot as plt

    result, _ = dnn_run
    peaks, bands = roofline.ceilings(result.summary)
    assert set(peaks) == {"cluster", "aimc"}
    assert peaks["cluster"] == pytest.approx(8 * 32 / 14)
    assert sorted(bands.values()) == [4.0, 8.0]
    pts = roofline.points(result.summary["layers"])
    assert set(pts) == {"aimc"} and all(x > 0 and y > 0 for _, _, x, y, _ in pts["aimc"])
    fig = roofline.figure(result.summary, "t")
    assert any(ln.get_ydata()[0] == pytest.approx(peaks["aimc"]) for ln in fig.axes[0].lines)
    plt.close(fig)


def test_plot_kinds_from_the_command_line(dnn_run, capsys):
    _, out = dnn_run
    for kind in ("energy", "roofline"):
        assert main(["trace", "plot", str(out), "--kind", kind]) == 0
        assert (out / f"trace_{kind}.png").read_bytes()[:4] == b"\x89PNG"
    # the cluster is idle there: an empty selection still plots the run's window
    assert main(["trace", "plot", str(out), "--components", "soc.cluster", "--window",
                 "120us:180us", "-o", str(out / "w.png")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "energy_by_component_pj" in summary["layers"][0]
