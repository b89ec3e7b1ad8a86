"""L1 tiling: footprints by the DORY constraint, tiles that cover the output exactly."""

import pytest

from desim.engines.base import L1Needs
from desim.errors import SpecError
from desim.mapping.tiler import choose, geometry, regions, shape_for
from desim.workload.builder import GraphBuilder


def _conv(h=32, c_in=16, c_out=32, k=3, stride=1, padding="same"):
    b = GraphBuilder("t")
    x = b.input((1, h, h, c_in))
    b.conv2d(x, c_out, k, stride=stride, padding=padding)
    return b.build().ops[0]


#: what the 8-core cluster needs for a 3x3 conv over 16 input channels: weights in L1, an
#: im2col buffer of 2 * 8 * 9 * 16 B, rows in multiples of 8
CLUSTER = L1Needs(weights=True, scratch_bytes=2 * 8 * 9 * 16, row_quantum=8)


def test_untiled_layer_footprint_is_exact():
    """in 32x32x16 + out 32x32x32 + w 32*(9*16)+4*32, single buffered, + im2col + 40 B."""
    op = _conv()
    t = choose(op, 1 << 20, CLUSTER)
    assert (t.n_tiles, t.double_buffered) == (1, False)
    w = 32 * 9 * 16 + 4 * 32
    assert t.footprint == 16384 + 32768 + w + 2 * 8 * 9 * 16 + 40


def test_tiled_layer_fits_and_covers_the_output_once():
    """In 32 KiB the layer is cut; tiles partition the 32 x 32 outputs of every channel."""
    op = _conv()
    t = choose(op, 32768, CLUSTER)
    assert t.n_tiles > 1 and t.double_buffered and t.footprint <= 32768
    seen = set()
    for r in regions(op, t):
        for row in range(r.r0, r.r1):
            for ch in range(r.c0, r.c1):
                assert (row, ch) not in seen
                seen.add((row, ch))
    assert len(seen) == 32 * 32


def test_input_window_of_a_strided_padded_conv():
    """3x3 stride 2 SAME on 32 rows: pad top 0; output rows 4..8 read input rows 8..17."""
    op = _conv(stride=2)
    g = geometry(op)
    assert (g.h_out, g.pad_top) == (16, 0)
    assert g.in_rows(4, 8) == (8, 17)
    assert g.in_rows(15, 16) == (30, 32)  # clipped at the bottom edge


def test_channel_tile_of_depthwise_reads_only_its_channels():
    b = GraphBuilder("t")
    x = b.input((1, 16, 16, 64))
    b.depthwise_conv2d(x, 3)
    op = b.build().ops[0]
    g = geometry(op)
    needs = L1Needs(row_quantum=8)
    full, half = shape_for(op, g, 4, 64, needs, 40), shape_for(op, g, 4, 32, needs, 40)
    assert half.in_bytes * 2 == full.in_bytes
    assert half.w_bytes == 32 * (9 + 4)


def test_layer_that_cannot_fit_names_layer_footprint_and_l1():
    op = _conv(h=8, c_in=512, c_out=8)
    with pytest.raises(SpecError, match=r"conv2d_0 .*needs \d+ B of L1, more than the 2048 B"):
        choose(op, 2048, L1Needs(scratch_bytes=2 * 8 * 9 * 512, row_quantum=8))


def test_an_engine_that_keeps_its_weights_moves_none():
    """Crossbars hold the weights: a tile's L1 footprint and the layer's traffic carry none."""
    op = _conv()
    g = geometry(op)
    held = shape_for(op, g, 8, 32, L1Needs(weights=False), 40)
    loaded = shape_for(op, g, 8, 32, L1Needs(weights=True), 40)
    assert (held.w_bytes, held.moved.w_bytes, held.moved.w_rows) == (0, 0, 0)
    assert loaded.w_bytes == loaded.moved.w_bytes == 32 * 9 * 16 + 4 * 32
