"""The text summary of ``desim train``: the run's summary, then the training step."""

from __future__ import annotations

from typing import Any

from desim.report import format_summary


def format_training(doc: dict[str, Any]) -> str:
    """The summary printed by ``desim train``: the run's summary, then the step per phase,
    its footprint per level and, with crossbars, their writes and wear."""
    t = doc["training"]
    o = t["options"]
    clock = doc["clock_hz"]
    lines = [format_summary(doc), "",
             f"training  {o['dtype']}, {o['optimizer']}, {o['loss']} loss, batch {o['batch']}, "
             f"{len(t['trained_layers'])} trained layers"
             + (f", crossbars {o['aimc_training']}" if o.get("aimc_training") else ""),
             f"step      {t['cycles']:,.0f} cycles = {t['latency_s'] * 1e3:.3f} ms, "
             f"{t['energy_pj'] / 1e6:.2f} uJ; MACs {t['macs']['executed']:,} executed, "
             f"{t['macs']['algorithmic']:,} algorithmic",
             "", f"{'phase':<16} {'cycles':>14} {'share':>7} {'energy uJ':>11} {'MACs':>14}"]
    for name, ph in t["phases"].items():
        share = ph["cycles"] / t["cycles"] if t["cycles"] else 0.0
        lines.append(f"{name:<16} {ph['cycles']:>14,.0f} {share * 100:6.1f}% "
                     f"{ph['energy_pj'] / 1e6:>11.3f} {ph['macs']:>14,}")
    fp = t["footprint"]
    lines += ["", f"footprint {fp['total_bytes']:,} B of tensors: "
              + ", ".join(f"{k} {v:,}" for k, v in fp["by_kind"].items())]
    lines.append(f"  l1    peak {fp['peak_bytes']['l1']:,} B (the largest layer's tiles with "
                 "their im2col and transpose blocks)")
    for level in ("l2", "dram"):
        placed = fp["by_level"][level]
        if placed:
            lines.append(f"  {level:<5} peak {fp['peak_bytes'][level]:,} B: "
                         + ", ".join(f"{k} {v:,}" for k, v in placed.items()))
    aimc = t.get("aimc")
    if aimc:
        lines += ["", f"crossbars {aimc['mode']}: writes {aimc['write_cycles']:,.0f} cycles "
                  f"({aimc['write_cycles'] / clock * 1e3:.3f} ms), "
                  f"{aimc['write_energy_pj'] / 1e6:.3f} uJ per step; pulses per cell per step "
                  f"max {aimc['pulses_per_cell']['max']:.3g}, mean "
                  f"{aimc['pulses_per_cell']['mean']:.3g}; wear-out after "
                  f"{aimc['steps_to_wear_out']['max'] or float('inf'):.3g} steps (busiest "
                  "device)"]
    fn = t.get("functional")
    if fn:
        line = (f"functional {fn['steps']} steps on {fn['task']}: training loss "
                f"{fn['loss_first']:.4g} -> {fn['loss_last']:.4g}; held-out {fn['metric']} "
                f"{fn['metric_value']:.4g}")
        if fn.get("digital_metric") is not None:
            line += f" (digital {fn['digital_metric']:.4g}, gap {fn['gap']:.4g})"
        lines += ["", line]
    return "\n".join(lines)
