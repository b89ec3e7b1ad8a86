"""What a trace interval's category says it is: computing, setting up, or moving data.

Models record data movement under four categories: ``dma`` (a DMA channel serving a
descriptor), ``transfer`` (a chunk on an interconnect link), ``mem`` (a memory port
access) and ``dram`` (a DRAM bus access). Engine set-up that is not computation (``program``:
writing weights into crossbars) is ``setup``. Every other category (``compute``, ``aimc``,
``sync``, ``psum``, an op kind such as ``conv2d``) is an engine computing.
"""

from __future__ import annotations

#: data-movement categories and the resource each stands for
MOVE_ROLES = {"dma": "dma", "transfer": "interconnect", "mem": "memory", "dram": "dram"}

#: intervals that are parts of a master's transfer (a DMA descriptor contains them)
PART_CATEGORIES = frozenset({"transfer", "mem", "dram"})

#: engine set-up categories (work an engine does before it can compute)
SETUP_CATEGORIES = frozenset({"program"})

#: the roles waits are attributed to, innermost resource first
WAIT_ROLES = ("dram", "interconnect", "memory", "dma")


def role(cat: str) -> str:
    """``compute``, ``setup`` or the data-movement resource of a category."""
    if cat in SETUP_CATEGORIES:
        return "setup"
    return MOVE_ROLES.get(cat, "compute")
