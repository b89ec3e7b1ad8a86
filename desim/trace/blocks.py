"""Layer blocks: consecutive layers grouped so that a legend of a whole network stays short.

Up to ``most`` layers: a block per layer. More: layers sharing the first part of their name
(``block3/expand``, ``block3/depthwise``, ... form ``block3``) are one stage; up to ``most``
stages, a block per stage; more, the stages are cut into ``most`` runs of consecutive
stages, splitting the longest run (in time) in two until there are enough, so that blocks
have room on a timeline (``block2-3``, ``conv2d_1 .. softmax_0``). A block spans its
layers' first start to last end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: (name, start_ps, end_ps) of each layer, in execution order
Layers = Sequence[tuple[str, int, int]]

#: the most blocks of a legend
MOST = 12

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class Block:
    """Consecutive layers ``first`` to ``last`` (positions in the list given) as one."""

    label: str
    first: int
    last: int
    start_ps: int
    end_ps: int
    layers: tuple[str, ...]

    @property
    def legend(self) -> str:
        """The label with the layer positions when it groups several layers."""
        return self.label if self.first == self.last else (
            f"{self.label} (#{self.first}-{self.last})")


def blocks(layers: Layers, most: int = MOST) -> list[Block]:
    """``layers`` grouped into at most ``most`` blocks of consecutive layers."""
    if not layers:
        return []
    if len(layers) <= most:
        return [Block(n, k, k, s, e, (n,)) for k, (n, s, e) in enumerate(layers)]
    stages: list[tuple[str, list[int]]] = []
    for k, (name, _, _) in enumerate(layers):
        stage = name.split("/", 1)[0]
        if stages and stages[-1][0] == stage:
            stages[-1][1].append(k)
        else:
            stages.append((stage, [k]))
    spans = [(min(layers[k][1] for k in ks), max(layers[k][2] for k in ks)) for _, ks in stages]
    runs = ([(k, k + 1) for k in range(len(stages))] if len(stages) <= most
            else _balanced([e - s for s, e in spans], most))
    out = []
    for a, b in runs:
        first, last = stages[a][1][0], stages[b - 1][1][-1]
        out.append(Block(_join(stages[a][0], stages[b - 1][0]), first, last,
                         min(s for s, _ in spans[a:b]), max(e for _, e in spans[a:b]),
                         tuple(name for name, _, _ in layers[first:last + 1])))
    return out


def _balanced(lengths: list[int], most: int) -> list[tuple[int, int]]:
    """``lengths`` cut into ``most`` runs ``[a, b)``: from one run, the longest run that
    can be split is cut where its two halves are closest, until there are ``most``."""
    runs = [(0, len(lengths))]
    while len(runs) < most:
        long = [r for r in runs if r[1] - r[0] > 1]
        if not long:
            break
        a, b = max(long, key=lambda r: sum(lengths[r[0]:r[1]]))
        total = sum(lengths[a:b])
        k = min(range(a + 1, b), key=lambda k: abs(2 * sum(lengths[a:k]) - total))
        runs[runs.index((a, b)):runs.index((a, b)) + 1] = [(a, k), (k, b)]
    return runs


def _join(a: str, b: str) -> str:
    """``block2-5`` for stages ``block2`` to ``block5``, ``a .. b`` otherwise."""
    if a == b:
        return a
    ma, mb = _NUMBERED.match(a), _NUMBERED.match(b)
    if ma and mb and ma[1] == mb[1]:
        return f"{a}-{mb[2]}"
    return f"{a} .. {b}"
