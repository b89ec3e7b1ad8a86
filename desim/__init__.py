"""desim: a cycle-approximate discrete-event simulator of TinyML systems-on-chip."""

__version__ = "0.1.0"
