"""Transfers booked together (desim.hw.sharing): skipping whole periods of their
alternation gives exactly what stepping every chunk gives, stopped anywhere; and a group
booked through the interconnect costs a few events however long it shares."""

from __future__ import annotations

import math
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desim.hw import sharing
from desim.hw.sharing import Group


class _Link:
    """A link of ``ps_per_byte``, slowed by ``stretch`` per extra sharer."""

    def __init__(self, ps_per_byte: int, stretch: float):
        self.ps_per_byte, self.stretch = ps_per_byte, stretch

    def dur(self, n: int, sharers: int = 1) -> int:
        return math.ceil(n * self.ps_per_byte * (1 + self.stretch * (sharers - 1)))


link_st = st.builds(_Link, st.integers(1, 40), st.sampled_from([0.0, 0.25, 1.0]))
member_st = st.tuples(st.sets(st.integers(0, 3), min_size=1, max_size=3),
                      st.sampled_from([16, 64, 256]), st.integers(1, 20_000),
                      st.integers(0, 5_000))


def _group(links, members):
    paths = [tuple(sorted(p)) for p, *_ in members]
    sharers = [sum(k in p for p in paths) for k in range(len(links))]
    return Group(links, paths, [c for _, c, *_ in members], sharers)


def _start(members, free):
    rem = [n for *_, n, _ in members]
    nxt = [0] + [t for *_, t in members[1:]]
    return rem, nxt, [-1] + list(range(1, len(members))), list(free)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(links=st.lists(link_st, min_size=4, max_size=4),
       members=st.lists(member_st, min_size=2, max_size=4),
       free=st.lists(st.integers(0, 3_000), min_size=4, max_size=4),
       stop=st.one_of(st.none(), st.integers(0, 2_000_000)), traced=st.booleans())
def test_skipping_periods_equals_stepping_every_chunk(links, members, free, stop, traced):
    """Same bytes left, next requests, ends of booking, bytes and busy time per link, the
    same finisher, and the same stretches."""
    group = _group(links, members)
    start = _start(members, free)
    fast_stretches, slow_stretches = ([], []) if traced else (None, None)
    fast = group.run(*start, stop=stop, stretches=fast_stretches)
    with mock.patch.object(sharing, "_WORTH", math.inf):  # never look for a period
        slow = group.run(*start, stop=stop, stretches=slow_stretches)
    assert fast == slow
    assert fast_stretches == slow_stretches


def test_two_transfers_on_one_link_alternate_to_the_closed_form():
    """Two 64 KiB transfers of 256 B chunks on a 1 ps/B link: the first (asking first) ends
    one chunk before the second, at 2 * 64 Ki - 256 ps; the link carried 128 KiB of which
    the first's last chunk and the second's are booked."""
    link = _Link(1, 0.0)
    group = Group([link], [(0,), (0,)], [256, 256], [2, 2])
    state = group.run([1 << 16, 1 << 16], [0, 0], [-1, 0], [0])
    assert state.finisher == 0
    assert state.nxt[0] == 2 * (1 << 16) - 256
    assert state.rem == [0, 0]  # the second's last chunk was booked before the first ended
    assert state.nxt[1] == 2 * (1 << 16)
    assert state.nbytes == [1 << 17] and state.busy == [1 << 17]


def test_stop_keeps_what_was_asked_for_by_then():
    """Stopped at 1000 ps, the same pair has made the requests of [0, 1000]: the first at
    0, 256, 768 (booked at 0, 512, 1024), the second at 0, 512 (booked at 256, 768)."""
    group = Group([_Link(1, 0.0)], [(0,), (0,)], [256, 256], [2, 2])
    state = group.run([1 << 16, 1 << 16], [0, 0], [-1, 0], [0], stop=1000)
    assert state.finisher is None
    assert state.rem == [(1 << 16) - 3 * 256, (1 << 16) - 2 * 256]
    assert state.nxt == [1280, 1024]
    assert state.free == [1280]


def _requests_stepped(nbytes: int) -> int:
    """Requests the loop steps through for two transfers of ``nbytes`` on one link."""
    group = Group([_Link(1, 0.5)], [(0,), (0,)], [256, 256], [2, 2])
    return group.run([nbytes, nbytes], [0, 0], [-1, 0], [0]).steps


def test_a_long_alternation_costs_a_few_requests():
    """Skipping periods: the requests stepped do not grow with the bytes shared (stepping
    every chunk, 2 x 64 KiB of 256 B chunks are 512 requests)."""
    assert _requests_stepped(1 << 16) <= 12
    assert _requests_stepped(1 << 22) <= 12
    with mock.patch.object(sharing, "_WORTH", math.inf):
        assert _requests_stepped(1 << 16) == 512


@pytest.mark.parametrize("platform", ["pulp_cluster", "imc_cluster"])
def test_a_traced_platform_run_books_each_link_one_interval_at_a_time(platform):
    """ResNet-8, traced: on every interconnect link and memory port, the intervals (lone
    bookings, group stretches, single chunks) never overlap, and their bytes add up to
    what the link carried."""
    from desim.driver import simulate
    from desim.hw.interconnect import Interconnect
    from desim.hw.memory import Sram

    res = simulate(platform, "resnet8", trace=True)
    links = {}
    for comp in res.sim.roots[0].walk():
        if isinstance(comp, Interconnect):
            links.update({(comp.path, name): link for name, link in comp.links.items()})
        elif isinstance(comp, Sram):
            links[(comp.path, "port")] = comp.port
    lanes: dict[tuple[str, str], list] = {key: [] for key in links}
    for iv in res.tracer.intervals:
        if (iv.path, iv.lane) in lanes:
            lanes[(iv.path, iv.lane)].append(iv)
    shared = 0
    for key, ivs in lanes.items():
        ivs.sort(key=lambda iv: iv.start)
        assert all(b.start >= a.end for a, b in zip(ivs, ivs[1:], strict=False)), key
        assert sum(iv.args["bytes"] for iv in ivs) == links[key].bytes, key
        shared += sum(iv.name == "shared" for iv in ivs)
    assert shared  # the cores and the DMA shared L1's port at least once
