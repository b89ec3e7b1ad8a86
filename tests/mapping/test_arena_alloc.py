"""The pure allocators: first-fit arena, AIMC block cutting and crossbar packing (MaxRects)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from desim.arena import Arena
from desim.engines.crossbar_packing import Allocation, allocate, cut


def test_arena_first_fit_alignment_and_merge():
    """Blocks land at the lowest aligned address; freed neighbours merge back."""
    a = Arena(0x100, 1000)
    x = a.alloc(10)
    y = a.alloc(100, 64)
    assert (x, y) == (0x100, 0x140)
    assert a.alloc(2000) is None
    a.free(x, 10)
    a.free(y, 100)
    assert a.holes == [[0x100, 0x100 + 1000]]
    assert a.peak == 110 and a.high == 0x140 + 100


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.booleans()), min_size=1, max_size=40))
def test_arena_blocks_never_overlap(ops):
    """Whatever the alloc/free sequence, live blocks are disjoint and inside the range."""
    a = Arena(0, 2048)
    live: list[tuple[int, int]] = []
    for size, free in ops:
        if free and live:
            a.free(*live.pop(0))
            continue
        addr = a.alloc(size, 4)
        if addr is not None:
            live.append((addr, size))
    spans = sorted(live)
    for (s0, n0), (s1, _) in zip(spans, spans[1:], strict=False):
        assert s0 + n0 <= s1
    assert all(s >= 0 and s + n <= 2048 for s, n in spans)
    assert a.used == sum(n for _, n in live)


def test_cut_covers_the_matrix_once():
    """A 600 x 300 matrix on 256 x 256 arrays: 3 row blocks x 2 column blocks."""
    blocks = cut("l", 600, 300, 256, 256)
    assert len(blocks) == 6
    cells = sum((k1 - k0) * (n1 - n0) for k0, k1, n0, n1 in blocks)
    assert cells == 600 * 300
    assert (512, 600, 256, 300) in blocks


def _disjoint(alloc: Allocation, rows: int = 256, cols: int = 256) -> bool:
    """Every pinned block inside its crossbar, no two overlapping."""
    blocks = [b for bs in alloc.blocks.values() for b in bs]
    inside = all(b.row0 + b.rows <= rows and b.col0 + b.cols <= cols for b in blocks)
    return inside and not any(
        a.crossbar == b.crossbar and a.row0 < b.row0 + b.rows and b.row0 < a.row0 + a.rows
        and a.col0 < b.col0 + b.cols and b.col0 < a.col0 + a.cols
        for i, a in enumerate(blocks) for b in blocks[i + 1:])


def test_pinned_when_everything_fits():
    """Two small layers share one crossbar; nothing is reprogrammed during inference."""
    alloc = allocate([("a", 27, 16), ("b", 144, 16)], count=1, rows=256, cols=256)
    assert alloc.pinned and alloc.programs == {} and alloc.crossbars_used == 1
    assert _disjoint(alloc)


def test_maxrects_uses_the_space_beside_and_below():
    """256 x 128 on the left half, then two 128 x 128 stacked on the right: one crossbar,
    full (a shelf as tall as the first block would leave the lower right empty)."""
    alloc = allocate([("a", 256, 128), ("b", 128, 128), ("c", 128, 128)], 1, 256, 256)
    assert alloc.pinned and alloc.crossbars_used == 1 and _disjoint(alloc)
    assert alloc.packing_efficiency(256, 256) == 1.0
    corners = {(b.row0, b.col0) for bs in alloc.blocks.values() for b in bs}
    assert corners == {(0, 0), (0, 128), (128, 128)}


def test_complementary_blocks_share_crossbars():
    """Largest area first, best short side: 160- and 96-column blocks pair up to fill
    256 columns; two layers of 256 x (160 + 96) fill two crossbars exactly."""
    alloc = allocate([("a", 256, 160), ("b", 256, 96), ("c", 256, 160), ("d", 256, 96)],
                     2, 256, 256)
    assert alloc.pinned and alloc.crossbars_used == 2 and _disjoint(alloc)
    assert alloc.packing_efficiency(256, 256) == 1.0


def test_mobilenetv2_pointwise_layers_pin_on_34_crossbars():
    """Every convolution of MobileNetV2 but the classifier: 2,124,672 pointwise weights plus
    the first layer's 864 = 32.43 crossbars' worth, in 86 blocks, on the 34 crossbars of
    Garofalo et al.: 2,125,536 / (34 x 65,536) = 95.4 % of the cells; a layer's blocks may
    go to different crossbars."""
    from desim.engines.aimc import matrix_of
    from desim.workload.op import OpKind
    from desim.workload.zoo import load_zoo

    dense = [(op.name, *matrix_of(op)) for op in load_zoo("mobilenetv2").topological_order()
             if op.kind is OpKind.CONV2D]
    assert sum(k * n for name, k, n in dense if name != "conv2d_0") == 2_124_672
    alloc = allocate(dense, 34, 256, 256)
    assert alloc.pinned and alloc.crossbars_used == 34 and _disjoint(alloc)
    assert sum(len(bs) for bs in alloc.blocks.values()) == 86
    assert alloc.packing_efficiency(256, 256) == 2_125_536 / (34 * 65_536)
    assert any(len({b.crossbar for b in bs}) > 1 for bs in alloc.blocks.values())
    assert not allocate(dense, 33, 256, 256).pinned


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 600), st.integers(1, 600)), min_size=1,
                max_size=12), st.integers(1, 6))
def test_packed_blocks_cover_each_matrix_once_and_never_overlap(shapes, count):
    """Whatever the layers, a pinned allocation holds every cell of every matrix once, in
    disjoint rectangles inside at most ``count`` crossbars."""
    layers = [(f"l{i}", k, n) for i, (k, n) in enumerate(shapes)]
    alloc = allocate(layers, count, 256, 256)
    if not alloc.pinned:
        return
    assert _disjoint(alloc) and alloc.crossbars_used <= count
    for name, k, n in layers:
        if name not in alloc.too_large:
            assert sum(b.rows * b.cols for b in alloc.blocks[name]) == k * n


def test_groups_when_weights_exceed_the_crossbars():
    """Three full-array layers on two crossbars: groups {a, b} then {c}, each programmed."""
    alloc = allocate([("a", 256, 256), ("b", 256, 256), ("c", 256, 256)], 2, 256, 256)
    assert not alloc.pinned and alloc.groups == 2
    assert [b.layer for b in alloc.programs["a"]] == ["a", "b"]
    assert [b.layer for b in alloc.programs["c"]] == ["c"]


def test_layer_larger_than_all_crossbars_falls_back():
    alloc = allocate([("big", 1024, 512), ("small", 64, 64)], 4, 256, 256)
    assert alloc.too_large == ("big",)
    assert "big" not in alloc.blocks and alloc.pinned
