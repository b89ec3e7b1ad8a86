"""``desim compare``: the same workloads on two or more platforms (or variants), side by side."""

from __future__ import annotations

import argparse
from typing import Any

from desim.cli.args import parse_sets


def cmd_compare(args: argparse.Namespace) -> int:
    """Run each workload on each platform variant and print and write one comparison: latency,
    energy, TOPS/W, area, memory, and per-layer speedups."""
    from desim.compare import compare
    from desim.result import output_dir, staged, unstaged

    overrides = parse_sets(args.set)
    # the folder is checked (and locked) before simulating, and removed again if a run
    # fails; the outputs appear in it together, or not at all
    with output_dir(args.outdir, "desim compare") as out:
        cmp = compare(args.variants, args.workload or ["resnet8"], overrides=overrides,
                      functional=args.functional, seed=args.seed)
        with staged(out) as stage:
            paths = cmp.write(stage)
        paths = unstaged(paths, stage, out)
    print(cmp.table())
    for table in cmp.layers.values():
        print("\n" + table.table())
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def add_parser(sub: Any) -> None:
    """Register ``desim compare`` on the top-level subparsers."""
    cmd = sub.add_parser("compare", help="compare platforms (or variants) on the same workloads",
                         description=cmd_compare.__doc__)
    cmd.add_argument("variants", nargs="+", metavar="VARIANT",
                     help="a platform name or script, optionally with its own overrides: "
                          "PLATFORM:KEY=VALUE[,KEY=VALUE...], e.g. imc_cluster:aimc.n_crossbars=8")
    cmd.add_argument("-w", "--workload", action="append", metavar="WORKLOAD",
                     help="workload name or model path; repeat for more (default: resnet8)")
    cmd.add_argument("-o", "--outdir", default="compare",
                     help="output folder (default: compare)")
    cmd.add_argument("--seed", type=int, default=0, help="root random seed (default: 0)")
    cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter of every variant (a variant's own wins)")
    cmd.add_argument("--functional", action="store_true",
                     help="also compute on real int8 tensors and show the output agreement "
                          "with the digital reference (top-1, SNR)")
    cmd.set_defaults(func=cmd_compare)
