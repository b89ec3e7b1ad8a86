"""The one colour scheme of every desim picture: a fixed colour per known category.

A category keeps its colour in every figure (the run's timeline, a windowed or filtered
plot, the energy and roofline plots, the platform diagram), so a reader learns it once.
Families share a hue: digital compute kinds are greens and teals, the AIMC blue, crossbar
programming purple, training phases green (forward), blues (gradients) and yellow
(update), partial-sum accumulation orange, data movement pinks and reds, memory
levels browns, synchronisation and idle greys. Any other key gets a colour picked from
:data:`EXTRA` by a CRC of its name: the same in every run and on every machine.

Colours are ``#rrggbb`` strings (what matplotlib takes), so this module needs no plotting
library.
"""

from __future__ import annotations

import zlib

#: colours of the known categories (and of the component kinds the energy plot shows)
CATEGORY: dict[str, str] = {
    # digital compute on the cluster: the job lane, then the op kinds on the cores
    "compute": "#1b7837",
    "conv2d": "#2ca02c",
    "pointwise": "#98df8a",
    "depthwise": "#17becf",
    "fc": "#bcbd22",
    "maxpool": "#8c6d31",
    "avgpool": "#bd9e39",
    "add": "#9edae5",
    "requant": "#637939",
    # analog in-memory compute
    "aimc": "#1f77b4",
    "mvm": "#1f77b4",
    "program": "#9467bd",
    "psum": "#ff7f0e",
    # data movement: DMA, interconnect links, memory ports, DRAM
    "dma": "#e377c2",
    "transfer": "#f7b6d2",
    "interconnect": "#f7b6d2",
    "mem": "#c49c94",
    "dram": "#d62728",
    # training phases on the cores (desim train): forward green as inference compute,
    # the two gradients blues, the optimizer yellow, device writes purple as programming
    "forward": "#2ca02c",
    "loss": "#bcbd22",
    "backward_weight": "#08519c",
    "backward_input": "#6baed6",
    "update": "#e7ba52",
    "aimc_write": "#756bb1",
    # memory levels (energy plot)
    "l1": "#c49c94",
    "l2": "#8c564b",
    "sync": "#7f7f7f",
    "idle": "#e0e0e0",
}

#: aliases: a name that means a known category (component kinds, engine names, layer
#: kinds of the workload graph)
ALIAS = {"cluster": "compute", "core": "compute", "crossbar": "aimc", "memory": "mem",
         "sram": "mem", "setup": "program", "depthwise_conv2d": "depthwise",
         "fully_connected": "fc", "avg_pool2d": "avgpool", "max_pool2d": "maxpool"}

#: colours for keys outside :data:`CATEGORY` (none of them a known category's)
EXTRA = ("#393b79", "#5254a3", "#6b6ecf", "#9c9ede", "#843c39", "#ad494a", "#d6616b",
         "#e7969c", "#7b4173", "#a55194", "#ce6dbd", "#de9ed6", "#8ca252", "#b5cf6b",
         "#cedb9c", "#e7ba52", "#e7cb94")

#: colours of layer blocks (``--by layer``): neighbours differ in hue and lightness
LAYER = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
         "#17becf", "#bcbd22", "#393b79", "#e7969c", "#637939")

#: intervals outside every layer
NO_LAYER = "#a0a0a0"


def colour(key: str) -> str:
    """The colour of category (or component kind, or any other legend key) ``key``."""
    known = CATEGORY.get(key) or CATEGORY.get(ALIAS.get(key, ""))
    if known:
        return known
    return EXTRA[zlib.crc32(key.encode()) % len(EXTRA)]


def layer_colour(index: int) -> str:
    """The colour of the ``index``-th layer block."""
    return LAYER[index % len(LAYER)]
