"""``desim platforms``: list the built-in platforms, or show one platform's parameters."""

from __future__ import annotations

import argparse
from typing import Any

from desim.cli.args import parse_sets
from desim.errors import DesimError


def cmd_platforms(args: argparse.Namespace) -> int:
    """List the built-in platforms, or show one platform's parameters."""
    from desim.soc.loader import DEFAULT_PLATFORM, load_platform, platform_names

    if args.action == "show":
        if not args.name:
            raise DesimError("desim platforms show NAME: give a platform name or script path")
        from desim.report import format_params

        if args.diagram:
            return _diagram(args)
        spec = load_platform(args.name).default_spec().with_overrides(parse_sets(args.set))
        print(format_params(spec, markdown=args.markdown))
        return 0
    for name in platform_names():
        mark = " (default)" if name == DEFAULT_PLATFORM else ""
        print(f"{name:<16} {load_platform(name).doc}{mark}")
    return 0


def _diagram(args: argparse.Namespace) -> int:
    """Draw the built platform's component tree and memory fabric (``--diagram``)."""
    from pathlib import Path

    from desim.driver import elaborate
    from desim.soc.diagram import draw

    plat, _, _, soc = elaborate(args.name, parse_sets(args.set))
    out = Path(args.output or f"platform_{plat.name}.png")
    if not out.parent.is_dir():
        raise DesimError(f"output folder {out.parent} does not exist; create it or choose "
                         "another -o")
    draw(soc, out, title=f"platform {plat.name}")
    print(f"wrote {out}")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``desim platforms [list|show NAME]`` on the top-level subparsers."""
    plat = sub.add_parser("platforms", help="list built-in platforms, or show one's parameters",
                          description=cmd_platforms.__doc__)
    plat.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    plat.add_argument("name", nargs="?", help="platform name or script path (for show)")
    plat.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="show the parameters with these overrides applied")
    plat.add_argument("--markdown", action="store_true", help="print a Markdown table")
    plat.add_argument("--diagram", action="store_true",
                      help="draw the built platform (component tree, memories, links, DMA "
                           "engines, engines) instead of printing its parameters")
    plat.add_argument("-o", "--output", metavar="FILE",
                      help="picture file for --diagram, .png, .svg or .pdf (default: "
                           "platform_NAME.png)")
    plat.set_defaults(func=cmd_platforms)
