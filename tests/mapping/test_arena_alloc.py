"""The pure allocators: first-fit arena, AIMC block cutting and crossbar packing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from desim.arena import Arena
from desim.engines.crossbar_packing import allocate, cut


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


def test_pinned_when_everything_fits():
    """Two small layers share one crossbar; nothing is reprogrammed during inference."""
    alloc = allocate([("a", 27, 16), ("b", 144, 16)], count=1, rows=256, cols=256)
    assert alloc.pinned and alloc.programs == {} and alloc.crossbars_used == 1
    (a,), (b,) = alloc.blocks["a"], alloc.blocks["b"]
    assert (a.row0, a.col0) != (b.row0, b.col0)
    # disjoint rectangles on the same crossbar
    assert a.row0 + a.rows <= b.row0 or b.col0 >= a.col0 + a.cols or a.col0 >= b.col0 + b.cols


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
