"""``desim train``: simulate one training step of a workload and write its outputs."""

from __future__ import annotations

import argparse
from typing import Any

from desim.cli.args import add_limits, parse_sets, warn_dropped


def options_from(args: argparse.Namespace) -> Any:
    """The :class:`TrainOptions` the command line asks for."""
    from desim.training.options import TrainOptions

    return TrainOptions(
        trainable=args.trainable, dtype=args.dtype, optimizer=args.optimizer, loss=args.loss,
        batch=args.batch, lr=args.lr, replay=args.replay, replay_level=args.replay_level,
        aimc_training=args.aimc_training, reprogram_every=args.reprogram_every,
        transposed_read=args.transposed_read, pulse_trains=args.pulse_trains,
        autotune=args.autotune)


def cmd_train(args: argparse.Namespace) -> int:
    """Simulate one training step (forward, loss, backward, update) and write summary,
    trace and timeline; with --functional, also train on real tensors for --steps."""
    from desim.cli.progress import Progress
    from desim.result import output_dir, staged, unstaged
    from desim.training.report import format_training
    from desim.training.run import train

    overrides = parse_sets(args.set)
    options = options_from(args)
    if args.steps is not None and not args.functional:
        from desim.errors import SpecError

        raise SpecError("--steps counts functional training steps; add --functional")
    # checked and locked before simulating, removed if the run fails; outputs all or none
    with output_dir(args.outdir, "desim train") as out, Progress() as progress:
        result = train(args.platform, args.workload, options, seed=args.seed,
                       overrides=overrides, trace=not args.no_trace, progress=progress,
                       functional_steps=(args.steps or 20) if args.functional else 0,
                       data=args.data, max_minutes=args.max_minutes,
                       trace_cap=args.trace_cap or None)
        with staged(out) as stage:
            paths = result.write(stage)
        paths = unstaged(paths, stage, out)
    print(format_training(result.summary))
    warn_dropped(result, args.trace_cap)
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def add_step_options(p: argparse.ArgumentParser) -> None:
    """The options that shape a training step (shared by ``desim train`` and
    ``desim workloads show --train``)."""
    from desim.training.options import AIMC_MODES, DTYPES, LOSSES, OPTIMIZERS, REPLAY_LEVELS

    p.add_argument("--trainable", default="all", metavar="all|last:N|NAME,...",
                   help="layers to train (default: all); frozen layers get no weight "
                        "gradient, a frozen prefix no input gradient")
    p.add_argument("--dtype", default="fp32", choices=tuple(DTYPES),
                   help="training data type (default: fp32)")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS,
                   help="optimizer (default: sgd)")
    p.add_argument("--loss", default="auto", choices=LOSSES,
                   help="loss (default: cross_entropy after a softmax, else mse)")
    p.add_argument("--batch", type=int, default=1,
                   help="samples per weight update, gradients accumulated (default: 1)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default: 0.01)")
    p.add_argument("--replay", type=int, default=0, metavar="N",
                   help="latent-replay buffer of N samples (default: 0, none)")
    p.add_argument("--replay-level", default="auto", choices=REPLAY_LEVELS,
                   help="where the replay buffer lives (default: auto, L2 while it fits)")
    p.add_argument("--aimc-training", choices=AIMC_MODES, default=None,
                   help="train the crossbar layers: forward-only (reprogram from digital "
                        "weights), mixed-precision (digital gradient buffer, pulsed "
                        "transfers) or analog-sgd (parallel stochastic pulses)")
    p.add_argument("--reprogram-every", type=int, default=1, metavar="K",
                   help="forward-only: steps between reprogrammings (default: 1)")
    p.add_argument("--transposed-read", action="store_true",
                   help="the crossbars read transposed: input gradients as MVMs on the array")
    p.add_argument("--pulse-trains", type=int, default=31, metavar="BL",
                   help="analog-sgd: longest pulse train of one update (default: 31)")
    p.add_argument("--autotune", action="store_true",
                   help="pick the fastest matrix-multiply kernel per layer and phase")


def add_parser(sub: Any) -> None:
    """Register ``desim train`` on the top-level subparsers."""
    from desim.soc.loader import DEFAULT_PLATFORM
    from desim.workload import DEFAULT_WORKLOAD

    p = sub.add_parser("train", help="simulate a training step of a workload on a platform",
                       description=cmd_train.__doc__)
    p.add_argument("platform", nargs="?", default=DEFAULT_PLATFORM,
                   help=f"built-in platform name or platform script (default: "
                        f"{DEFAULT_PLATFORM})")
    p.add_argument("-w", "--workload", default=DEFAULT_WORKLOAD,
                   help=f"workload name or model file (default: {DEFAULT_WORKLOAD})")
    p.add_argument("-o", "--outdir", default="out", help="output folder (default: out)")
    p.add_argument("--seed", type=int, default=0, help="root random seed (default: 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a platform parameter by its dotted key")
    p.add_argument("--no-trace", action="store_true", help="do not record a trace")
    add_limits(p, "step")
    add_step_options(p)
    p.add_argument("--functional", action="store_true",
                   help="also train on real float tensors (numba kernels)")
    p.add_argument("--steps", type=int, default=None,
                   help="functional training steps (default: 20)")
    p.add_argument("--data", metavar="FILE.npz",
                   help="functional training data: arrays x and y (default: a generated "
                        "task the workload can learn)")
    p.set_defaults(func=cmd_train)
