"""``desim run``: simulate a workload on a platform and write its outputs."""

from __future__ import annotations

import argparse
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from desim.cli.args import add_limits, parse_sets, warn_dropped


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a workload on a platform and write summary, trace and timeline."""
    from desim.cli.progress import Progress
    from desim.driver import simulate
    from desim.hw.dram.component import record_requests
    from desim.report import format_summary
    from desim.result import output_dir, staged, unstaged

    overrides = parse_sets(args.set)
    recording: AbstractContextManager[None] = (record_requests() if args.dram_trace
                                               else nullcontext())
    # the folder is checked (and locked) before simulating, and removed again if the run
    # fails; the outputs appear in it together, or not at all
    with output_dir(args.outdir) as out, Progress() as progress, recording:
        result = simulate(args.platform, args.workload, seed=args.seed, overrides=overrides,
                          trace=not args.no_trace, functional=args.functional,
                          inputs=args.input, progress=progress,
                          max_minutes=args.max_minutes, trace_cap=args.trace_cap or None)
        t0 = time.perf_counter()
        with staged(out) as stage:
            paths = result.write(stage)
            if args.save_schedule and result.schedule is not None:
                paths["schedule"] = result.schedule.save(stage / "schedule.json")
            if args.dram_trace:
                paths["dram_trace"] = _write_dram_trace(result, args)
        paths = unstaged(paths, stage, out)
        written_s = time.perf_counter() - t0
    print(format_summary(result.summary))
    warn_dropped(result, args.trace_cap)
    if result.functional is not None:
        fn = result.functional
        print("functional " + ", ".join(f"{k} {fn[k]}" for k in ("top1_agreement", "snr_db",
                                                                "input", "weights") if k in fn))
    print(f"outputs   written in {written_s:.3f} s" + (" (trace and timeline)"
                                                        if "trace" in paths else ""))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _write_dram_trace(result: Any, args: argparse.Namespace) -> Path:
    """Write the run's DRAM requests to ``args.dram_trace`` (desim dram-replay's format)."""
    from desim.errors import SpecError
    from desim.fileio import atomic_path
    from desim.hw.dram.replay import write_trace

    if not result.soc.has_memory("dram"):
        raise SpecError(f"--dram-trace: platform {args.platform} has no DRAM")
    dram = result.soc.memory("dram")
    spec = dram.spec
    comment = (f"desim run {args.platform} -w {args.workload}: requests to {dram.path} "
               f"({spec.name}, {spec.txn_bytes} B transactions), arrivals in cycles of "
               f"tCK {spec.tCK_ns} ns\nreplay: desim dram-replay FILE --preset {spec.name} "
               "(plus the run's dram.* overrides as --set)")
    path = Path(args.dram_trace)
    with atomic_path(path) as tmp:
        write_trace(tmp, dram.requests(), comment)
    return path


def add_parser(sub: Any) -> None:
    """Register ``desim run`` on the top-level subparsers."""
    from desim.soc.loader import DEFAULT_PLATFORM
    from desim.workload import DEFAULT_WORKLOAD

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
                     help="override a platform parameter by its dotted key (desim platforms show "
                          "NAME lists them), e.g. --set cluster.n_cores=16")
    run.add_argument("--no-trace", action="store_true",
                     help="do not record a trace (faster; no trace or timeline file)")
    run.add_argument("--functional", action="store_true",
                     help="also compute the graph on real int8 tensors through the schedule "
                          "and write OUTDIR/output.npy (same timing)")
    run.add_argument("--input", metavar="FILE.npy",
                     help="input tensor of a functional run (implies --functional; "
                          "default: seeded random)")
    run.add_argument("--dram-trace", metavar="FILE",
                     help="also write the run's DRAM requests to FILE (.gz: compressed) in the "
                          "trace format desim dram-replay reads")
    add_limits(run)
    run.add_argument("--save-schedule", action="store_true",
                     help="also write the mapped schedule (tiles, copies, placement) to "
                          "OUTDIR/schedule.json")
    run.set_defaults(func=cmd_run)
