"""The ``desim`` command.

Every error a user can fix (an unknown name, a malformed ``--set``, an unwritable folder)
is printed as one line naming the problem and the fix, with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import desim
from desim.errors import DesimError, SimulationStalled


def _parse_sets(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DesimError(f"--set {item!r}: expected KEY=VALUE, e.g. --set dma.channels=2")
        out[key.strip()] = value.strip()
    return out


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a workload on a platform and write summary, trace and timeline."""
    from desim.report import format_summary
    from desim.run import prepare_outdir, simulate

    overrides = _parse_sets(args.set)
    prepare_outdir(args.outdir)  # fail before simulating, not after
    result = simulate(args.platform, args.workload, seed=args.seed, overrides=overrides,
                      trace=not args.no_trace, functional=args.functional,
                      input_tensor=args.input)
    paths = result.write(args.outdir)
    schedule = getattr(result.soc, "schedule", None)
    if args.save_schedule and schedule is not None:
        paths["schedule"] = schedule.save(paths["summary"].parent / "schedule.json")
    print(format_summary(result.summary()))
    if "functional" in result.extra:
        fn = result.extra["functional"]
        print("functional " + ", ".join(f"{k} {fn[k]}" for k in ("top1_agreement", "snr_db",
                                                                "input", "weights") if k in fn))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_platforms(args: argparse.Namespace) -> int:
    """List the built-in platforms, or show one platform's parameters."""
    from desim.registry import DEFAULT_PLATFORM, describe_module, load_platform, platform_names

    if args.action == "show":
        if not args.name:
            raise DesimError("desim platforms show NAME: give a platform name or script path")
        from desim.report import format_params

        module = load_platform(args.name)
        spec = module.default_spec().with_overrides(_parse_sets(args.set))
        print(format_params(spec, markdown=args.markdown))
        return 0
    for name in platform_names():
        mark = " (default)" if name == DEFAULT_PLATFORM else ""
        print(f"{name:<16} {describe_module(load_platform(name))}{mark}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from desim.registry import DEFAULT_PLATFORM
    from desim.regress.commands import add_parser as add_regress_parser
    from desim.trace.commands import add_parser as add_trace_parser
    from desim.workload import DEFAULT_WORKLOAD
    from desim.workload.commands import add_parser as add_workloads_parser

    parser = argparse.ArgumentParser(
        prog="desim", description="Cycle-approximate discrete-event simulator of TinyML SoCs.")
    parser.add_argument("--version", action="version", version=f"desim {desim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a workload on a platform",
                         description=cmd_run.__doc__)
    run.add_argument("platform", nargs="?", default=DEFAULT_PLATFORM,
                     help=f"built-in platform name or path to a platform script "
                          f"(default: {DEFAULT_PLATFORM})")
    run.add_argument("-w", "--workload", default=DEFAULT_WORKLOAD,
                     help=f"workload name (default: {DEFAULT_WORKLOAD})")
    run.add_argument("-o", "--outdir", default="out", help="output folder (default: out)")
    run.add_argument("--seed", type=int, default=0, help="root random seed (default: 0)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a platform parameter, e.g. --set dma.channels=2")
    run.add_argument("--no-trace", action="store_true",
                     help="do not record a trace (faster; no trace or timeline file)")
    run.add_argument("--functional", action="store_true",
                     help="also compute the graph on real int8 tensors through the schedule "
                          "and write OUTDIR/output.npy (same timing)")
    run.add_argument("--input", metavar="FILE.npy",
                     help="input tensor of a functional run (implies --functional; "
                          "default: seeded random)")
    run.add_argument("--save-schedule", action="store_true",
                     help="also write the mapped schedule (tiles, copies, placement) to "
                          "OUTDIR/schedule.json")
    run.set_defaults(func=cmd_run)

    plat = sub.add_parser("platforms", help="list built-in platforms, or show one's parameters",
                          description=cmd_platforms.__doc__)
    plat.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    plat.add_argument("name", nargs="?", help="platform name or script path (for show)")
    plat.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="show the parameters with these overrides applied")
    plat.add_argument("--markdown", action="store_true", help="print a Markdown table")
    plat.set_defaults(func=cmd_platforms)
    add_workloads_parser(sub)
    add_trace_parser(sub)
    add_regress_parser(sub)

    try:
        from desim.hw.dram import replay
    except ImportError:
        replay = None  # type: ignore[assignment]
    if replay is not None and hasattr(replay, "add_arguments"):
        dr = sub.add_parser("dram-replay", help="replay a DRAM trace through the controller model",
                            description="Replay a DRAM request trace and print its metrics.")
        replay.add_arguments(dr)
        dr.set_defaults(func=replay.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        code: Any = args.func(args)
    except SimulationStalled as exc:
        print(f"desim: error: {exc}", file=sys.stderr)
        return 3
    except DesimError as exc:
        print(f"desim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. head)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
