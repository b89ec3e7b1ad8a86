"""Writing a matplotlib figure to a picture file: PNG, SVG or PDF by the name's extension,
atomically, at one resolution for every desim picture."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desim.errors import DesimError
from desim.fileio import atomic_path

#: dots per inch of every PNG desim draws
DPI = 110

FORMATS = (".png", ".svg", ".pdf")


def save(make: Callable[[], Any], path: str | os.PathLike[str], what: str) -> Path:
    """Build the figure with ``make()`` and write it to ``path`` (``what`` names the
    picture in the error for an unknown extension, raised before anything is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise DesimError(f"{what} file {target}: use a .png, .svg or .pdf name")
    fig = make()
    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=DPI, format=suffix[1:],
                        metadata={"Software": None} if suffix == ".png" else None)
    finally:
        plt.close(fig)
    return target
