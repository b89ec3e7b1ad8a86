"""What a trace interval's category says it is: computing, or moving data (and where).

Models record data movement under four categories: ``dma`` (a DMA channel serving a
descriptor), ``transfer`` (a chunk on an interconnect link), ``mem`` (a memory port
access) and ``dram`` (a DRAM bus access). Every other category (``compute``, ``aimc``,
``program``, ``sync``, an op kind such as ``conv2d``) is an engine at work.
"""

from __future__ import annotations

#: data-movement categories and the resource each stands for
MOVE_ROLES = {"dma": "dma", "transfer": "interconnect", "mem": "memory", "dram": "dram"}

#: intervals that are parts of a master's transfer (a DMA descriptor contains them)
PART_CATEGORIES = frozenset({"transfer", "mem", "dram"})

#: the roles waits are attributed to, innermost resource first
WAIT_ROLES = ("dram", "interconnect", "memory", "dma")


def role(cat: str) -> str:
    """``compute`` or the data-movement resource of a category."""
    return MOVE_ROLES.get(cat, "compute")
