"""What a run's platform could do at best: its links' and engines' peaks.

The platform is rebuilt from ``summary.json`` (its name and fully resolved ``params``);
nothing runs on it. Peaks:

link (and memory port)  the ``bandwidth`` of every :class:`~desim.hw.interconnect.Link`
                        in the component tree, in bytes per cycle of the link's clock
                        (what its ``bandwidth`` counter records), by counter path
                        (``soc.ic.l2->l1``, ``soc.l1.port``)
cluster engine          ``n_cores x 32 / ops.mm_4x2_step_cycles`` MAC per cluster cycle:
                        PULP-NN's 4x2 matmul inner loop (32 MAC per step) on every core,
                        without call, im2col or requantisation overhead
AIMC engine             ``n_interfaces x rows x cols`` MAC per MVM time: a whole crossbar
                        per MVM, the MVMs of one interface pipelined one after another
                        (``max(evaluation, stream in + stream out)`` cycles each)

Engine peaks are in MAC per cycle of the main clock. A platform that cannot be rebuilt (a
script no longer found) has no peaks; callers then draw none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from desim.errors import DesimError
from desim.hw.interconnect import Link


def rebuild(summary: Mapping[str, Any]) -> Any:
    """The platform's :class:`~desim.soc.base.Soc` as the summary describes it, or None.

    Only a built-in platform is rebuilt: a summary is data, and the script a name in it
    could point to is never run."""
    from desim.kernel import Sim
    from desim.soc.loader import load_platform, platform_names

    entry = summary.get("platform") or {}
    name = str(entry.get("name", ""))
    if name not in platform_names():
        return None
    try:
        plat = load_platform(name)
        spec = type(plat.default_spec()).from_dict(entry.get("params") or {})
        return plat.build(Sim(), spec)
    except (DesimError, OSError, TypeError, ValueError, MemoryError):
        return None


def links(soc: Any) -> dict[str, Link]:
    """Every link of the component tree (interconnect edges and memory ports) by the
    path of its bandwidth counter."""
    out: dict[str, Link] = {}
    for comp in soc.walk():
        for value in vars(comp).values():
            found = value.values() if isinstance(value, dict) else (value,)
            for item in found:
                if isinstance(item, Link):
                    out[item.counter_path] = item
    return out


def link_peaks(soc: Any) -> dict[str, float]:
    """Counter path -> bandwidth, bytes per cycle of the link's clock."""
    return {path: link.bandwidth for path, link in links(soc).items()}


def engine_peaks(soc: Any) -> dict[str, float]:
    """Engine name -> peak MAC per main-clock cycle, for the engines whose peak is known."""
    from desim.hw.aimc import AimcSpec
    from desim.hw.cluster import ClusterSpec

    out = {}
    main_hz = soc.clock.freq_hz
    for name, engine in soc.engines.items():
        comp = engine.component
        spec, clock = comp.spec, comp.clock
        if isinstance(spec, ClusterSpec):
            per_cycle = spec.n_cores * 32 / spec.ops.mm_4x2_step_cycles
        elif isinstance(spec, AimcSpec):
            s_io = spec.stream_in_cycles(spec.rows) + spec.stream_out_cycles(spec.cols)
            mvm = spec.compute_cycles(clock)
            cycles = max(mvm, s_io) if spec.pipelined else mvm + s_io
            per_cycle = spec.n_interfaces * spec.rows * spec.cols / cycles
        else:
            continue
        out[name] = per_cycle * clock.freq_hz / main_hz
    return out
