"""Support of tests/test_docs.py: reading the fenced blocks of a Markdown file, and the
files a doc tells its reader to bring (a model, an input, a DRAM trace, a platform)."""
