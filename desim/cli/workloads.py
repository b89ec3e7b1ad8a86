"""``desim workloads``: list the built-in workloads; ``desim workloads show``: one's layers."""

from __future__ import annotations

import argparse
from typing import Any

from desim.cli.train import add_step_options, options_from


def add_parser(sub: Any) -> None:
    """Register ``desim workloads`` (and its ``show`` action) on the top-level subparsers."""
    p = sub.add_parser(
        "workloads", help="list built-in workloads, or show one's layers",
        description="List the zoo networks and synthetic workloads; 'show' prints one "
                    "workload's per-layer table with totals.")
    p.set_defaults(func=cmd_list)
    actions = p.add_subparsers(dest="workloads_action", metavar="ACTION")
    show = actions.add_parser(
        "show", help="print a workload's per-layer table with totals",
        description="Print the per-layer table (shapes, kernel, stride, explicit padding, "
                    "params, MACs, activation bytes) of a zoo network or a .tflite / .onnx / "
                    ".json model file, with totals and peak live activation memory.")
    show.add_argument("workload", metavar="NAME|PATH",
                      help="zoo or synthetic name, or path to a .tflite, .onnx or .json file")
    show.add_argument("--json", metavar="FILE",
                      help="also write the graph as JSON to FILE (without weights unless "
                           "--weights)")
    show.add_argument("--weights", action="store_true",
                      help="include weight and bias values in the --json file")
    show.add_argument("--train", action="store_true",
                      help="list the training step's primitives instead (forward, loss, "
                           "backward, update) with MACs and bytes; shaped by the options below")
    add_step_options(show)
    show.set_defaults(func=cmd_show)


def cmd_list(args: argparse.Namespace) -> int:
    """One line per built-in workload: name, kind, MACs, params, description."""
    from desim.workload import DEFAULT_WORKLOAD, SYNTHETIC
    from desim.workload.zoo import describe, load_zoo, zoo_names

    print(f"{'name':<18}{'kind':<11}{'MACs':>13}{'params':>11}  description")
    for name in zoo_names():
        g = load_zoo(name)
        mark = " (default)" if name == DEFAULT_WORKLOAD else ""
        print(f"{name:<18}{'zoo':<11}{g.macs:>13,}{g.params:>11,}  {describe(name)}{mark}")
    for name, wl in sorted(SYNTHETIC.items()):
        mark = " (default)" if name == DEFAULT_WORKLOAD else ""
        doc = (type(wl).__doc__ or "").strip().splitlines()[0]
        print(f"{name:<18}{'synthetic':<11}{wl.total_macs:>13,}{'':>11}  {doc}{mark}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print the per-layer table of one workload."""
    from desim.errors import SpecError
    from desim.spec import describe
    from desim.workload import load_workload
    from desim.workload.graph import Graph

    wl = load_workload(args.workload)
    if args.train:
        if not isinstance(wl, Graph):
            raise SpecError(f"--train: '{args.workload}' is a synthetic workload; training "
                            "needs a DNN graph (a zoo name or a model file)")
        from desim.training.step import build_step

        print(build_step(wl, options_from(args)).table())
        return 0
    if isinstance(wl, Graph):
        print(wl.table())
        if args.json:
            print(f"\nwrote {wl.save(args.json, weights=args.weights)}")
        return 0
    if args.json:
        raise SpecError(f"--json: '{args.workload}' is a synthetic workload, not a graph")
    print(f"{args.workload}  (synthetic: {(type(wl).__doc__ or '').strip().splitlines()[0]})")
    for row in describe(wl):
        unit = f" {row['unit']}" if row["unit"] else ""
        print(f"  {row['key']:<12} {row['value']!s:>10}{unit:<5} {row['doc']}")
    return 0
