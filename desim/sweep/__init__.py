"""Design-space sweeps: many platform x workload x parameter points, one results table.

``desim.sweep.run(study, outdir)`` runs the points not yet done (see :mod:`.run`) and
``desim.sweep.load(outdir)`` reads the table back as a pandas DataFrame.
"""

from desim.sweep.points import Point, Range, Study, build_points, load_toml
from desim.sweep.results import load
from desim.sweep.run import run

__all__ = ["Point", "Range", "Study", "build_points", "load", "load_toml", "run"]
