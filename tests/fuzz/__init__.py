"""Fuzzing every input surface of desim against its error contract (see contract.py)."""
