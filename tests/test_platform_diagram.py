"""``desim platforms show NAME --diagram``: the picture is drawn from the built platform, so
its memories, links, DMA engines and engines are the platform's own."""

from __future__ import annotations

import pytest

from desim.cli import main
from desim.driver import elaborate
from desim.soc.base import LEVELS
from desim.soc.diagram import fabric, figure, tree_lines


@pytest.mark.parametrize("name", ["imc_cluster", "pulp_cluster", "flat_cluster", "stream_soc"])
def test_fabric_nodes_and_edges_are_the_platforms_memories_and_links(name):
    _, _, _, soc = elaborate(name)
    g = fabric(soc)
    memories = {d["component"] for _, d in g.nodes(data=True) if d["kind"] == "memory"}
    bound = {soc.memory(lv).path for lv in LEVELS if soc.has_memory(lv)}
    regions = {r.target.path for d in soc.walk() if hasattr(d, "regions") for r in d.regions}
    assert memories == bound | regions
    links = {(a, b): d for a, b, d in g.edges(data=True) if d["kind"] == "link"}
    assert set(links) == set(soc.ic.graph.edges)
    for (a, b), d in links.items():
        assert d["bandwidth"] == soc.ic.graph.edges[a, b]["bandwidth"]
    for (src, dst), dma in soc.dma_paths().items():
        assert dma.path in links[(src, dst)]["dmas"]
    engines = {n for n, d in g.nodes(data=True) if d["kind"] == "engine"}
    assert engines == {f"engine {e}" for e in soc.engines} or (
        not soc.engines and engines == {"engine engine"})
    for (_, d) in g.nodes(data=True):
        if d["kind"] == "memory":
            assert d["size"] > 0


def test_tree_groups_numbered_siblings_and_keeps_the_rest():
    _, _, _, soc = elaborate("imc_cluster")
    lines = {name: desc for _, name, desc in tree_lines(soc)}
    assert lines["xbar0-33"] == "crossbar x34" and lines["core0-7"] == "core x8"
    assert {"l1", "l2", "dram", "ctrl", "cl_dma", "io_dma", "ic"} <= set(lines)
    assert "512 KiB" in lines["l1"] and "[engine aimc]" in lines["aimc"]
    assert "l1 <-> l2" in lines["cl_dma"]


def test_dma_paths_are_read_only():
    _, _, _, soc = elaborate("pulp_cluster")
    with pytest.raises(TypeError):
        soc.dma_paths()["l1", "dram"] = soc.cl_dma  # type: ignore[index]


def test_command_writes_the_picture(tmp_path, capsys):
    import matplotlib.pyplot as plt

    out = tmp_path / "p.png"
    assert main(["platforms", "show", "flat_cluster", "--diagram", "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and str(out) in capsys.readouterr().out
    _, _, _, soc = elaborate("flat_cluster")
    fig = figure(soc, "t")
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "256 KiB" in texts and "8 B/cycle" in texts and "cl_dma (DMA)" in texts
    plt.close(fig)
