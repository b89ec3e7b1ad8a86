"""Docs that run: every command and Python snippet of README.md and docs/ runs as shown,
and shows what the doc says it shows. One test per Markdown file; a failure names the file
and line.

How a doc's fenced blocks are read (tests/docs_support/blocks.py):

- ``sh``, ``console`` and ``python`` blocks run; ``text`` (or any other tag) is only shown.
  An untagged fence is an error: tag it.
- ``<!-- skip: REASON -->`` on a line before a fence: the block does not run. For
  commands that install (``python3 -m venv``, ``pip install``), run the test suite
  (``pytest``, ``ruff``) or the benchmarks, and for signatures that are not code.
- ``<!-- excerpt: PATH -->`` before a fence: the block is quoted from PATH (relative to
  the repo root); its lines must occur there, in order (it may leave lines out).
- ``sh``: one command per line (``\\`` continues it, ``#`` starts a comment); each must
  exit with 0. ``desim ...`` (also ``.venv/bin/desim``) runs ``python -m desim`` of this
  interpreter, ``python ...`` this interpreter, ``pytest FILE ...`` pytest on files the doc
  wrote.
- ``console``: ``$ COMMAND`` lines, each followed by the output it shows; those lines must
  appear in the command's stdout and stderr, in order (whitespace runs compare as one
  space; ``...`` stands for any text within a line, and on a line of its own for lines
  left out). A command shown with output may exit non-zero: the output is the check. A
  command shown without output must exit with 0.
- ``python``: the blocks of one file run in order in one namespace. A block whose first
  line is ``# PATH.py`` is a file the doc asks you to write: it is written to PATH, not
  run.

Every doc runs in a folder of its own (its current directory), holding copies of the
repo's ``platforms/`` and ``examples/`` and the files docs ask their reader to bring
(``docs_support.files.BROUGHT``: ``model.tflite`` and ``models/`` from ../shared when
present, ``model.onnx``, ``x.npy``, ``trace.trc.gz``, ``platforms/my_soc.py``). A command
or block naming a brought file that could not be made is left out with a warning.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from docs_support.blocks import (
    RUN_LANGS,
    Block,
    Command,
    anchors,
    console_commands,
    is_subsequence,
    links,
    missing_output,
    read_blocks,
    sh_commands,
)
from docs_support.files import ROOT, SHARED, make_workdir

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "docs" / "models").glob("*.md")),
        *sorted((ROOT / "docs" / "studies").rglob("*.md"))]

#: failures of docs this suite may not fix, each (text of the failing block or command,
#: why): the doc's test is an expected failure while these, and only these, fail
KNOWN_FAILURES: dict[str, list[tuple[str, str]]] = {}

#: seconds one command may take (MobileNetV2 with a trace takes 30-50 s)
COMMAND_TIMEOUT = 300
#: programs a sh block may not run without `<!-- skip: ... -->`
_NOT_RUN = {"pip": "installs", "ruff": "lints", "mypy": "type-checks"}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


class DocRun:
    """Runs one doc's blocks in ``work`` and collects what failed."""

    def __init__(self, doc: Path, work: Path, absent: dict[str, str]):
        self.doc, self.name, self.work, self.absent = doc, _rel(doc), work, absent
        self.failures: list[tuple[int, str, str]] = []  # (line, block or command, message)
        self.left_out: list[str] = []
        self.seconds: list[tuple[float, str]] = []  # (wall time, where) of each command
        self.namespace: dict[str, object] = {"__name__": "__docs__"}

    def fail(self, line: int, what: str, message: str) -> None:
        self.failures.append((line, what, message))

    def _absent_in(self, text: str) -> str | None:
        for name, reason in self.absent.items():
            if re.search(r"(?<![\w/.-])" + re.escape(name), text):
                return f"{name}: {reason}"
        return None

    # -- blocks ------------------------------------------------------------------------

    def block(self, block: Block) -> None:
        where = f"{self.name}:{block.line}"
        if "skip" in block.markers:
            return
        if "excerpt" in block.markers:
            source = ROOT / block.markers["excerpt"]
            if not source.is_file():
                self.fail(block.line, block.text, f"excerpt of {source}, which does not exist")
                return
            line = is_subsequence(block.lines, source.read_text())
            if line is not None:
                self.fail(block.line, block.text,
                          f"`{line}` is not in {block.markers['excerpt']} (in this order)")
            return
        if not block.lang:
            self.fail(block.line, block.text, "untagged fence: tag it sh, console or python "
                      "to run it, or text to show it")
            return
        if block.lang not in RUN_LANGS:
            return
        try:
            commands = (sh_commands(block, self.name) if block.lang == "sh" else
                        console_commands(block, self.name) if block.lang == "console" else None)
        except ValueError as exc:
            self.fail(block.line, block.text, str(exc))
            return
        if commands is None:
            self.python(block, where)
        else:
            for cmd in commands:
                self.command(cmd)

    def python(self, block: Block, where: str) -> None:
        first = block.lines[0].strip() if block.lines else ""
        if first.startswith("# ") and first.endswith(".py") and " " not in first[2:]:
            target = self.work / first[2:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
            return
        absent = self._absent_in(block.text)
        if absent:
            self.left_out.append(f"{where} (python): {absent}")
            return
        try:
            exec(compile(block.text, where, "exec"), self.namespace)
        except Exception as exc:  # a doc's snippet may raise anything: report it
            self.fail(block.line, block.text, f"{type(exc).__name__}: {exc}")

    # -- commands ----------------------------------------------------------------------

    def argv(self, cmd: Command) -> list[str] | str:
        """The command to run, or why it cannot run."""
        prog, args = cmd.argv[0], cmd.argv[1:]
        if {"&&", "||", "|", ";", ">", "<"} & set(args):
            return "shell operators do not run here: write one command per line"
        base = Path(prog).name
        if base == "desim":
            return [sys.executable, "-m", "desim", *args]
        if base in ("python", "python3"):
            if args[:2] == ["-m", "venv"] or args[:2] == ["-m", "pip"]:
                return "installs: mark the block <!-- skip: REASON -->"
            if args and args[0].startswith("benchmarks/"):
                return "runs a benchmark: mark the block <!-- skip: REASON -->"
            return [sys.executable, *args]
        if base == "pytest":
            files = [a for a in args if not a.startswith("-")]
            if not files or not all((self.work / f).exists() for f in files):
                return ("runs the test suite: mark the block <!-- skip: REASON -->, or name "
                        "files the doc writes")
            return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
        if base in _NOT_RUN:
            return f"{_NOT_RUN[base]}: mark the block <!-- skip: REASON -->"
        return f"`{prog}`: only desim, python and pytest commands run"

    def command(self, cmd: Command) -> None:
        absent = self._absent_in(cmd.text)
        if absent:
            self.left_out.append(f"{self.name}:{cmd.line} `{cmd.text}`: {absent}")
            return
        argv = self.argv(cmd)
        if isinstance(argv, str):
            self.fail(cmd.line, cmd.text, argv)
            return
        env = {**os.environ, "MPLBACKEND": "Agg", "DESIM_SHARED": str(SHARED),
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("PYTEST_ADDOPTS", None)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(argv, cwd=self.work, env=env, capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(cmd.line, cmd.text, f"did not finish in {COMMAND_TIMEOUT} s")
            return
        finally:
            self.seconds.append((time.perf_counter() - t0, f"{self.name}:{cmd.line} {cmd.text}"))
        got = proc.stdout + proc.stderr
        tail = "\n".join(got.rstrip().splitlines()[-15:])
        if cmd.output and any(line.strip() for line in cmd.output):
            line = missing_output(cmd.output, got)
            if line is not None:
                self.fail(cmd.line, cmd.text, f"output lacks `{line}`; it was:\n{tail}")
        elif proc.returncode != 0:
            self.fail(cmd.line, cmd.text, f"exit code {proc.returncode}:\n{tail}")

    def report(self) -> str:
        return "\n\n".join(f"{self.name}:{line}: `{what.strip().splitlines()[0]}`"
                           f"{' ...' if what.strip().count(chr(10)) else ''}\n{message}"
                           for line, what, message in self.failures)


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_doc_runs(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = make_workdir(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run = DocRun(doc, tmp_path, absent)
    for block in read_blocks(doc):
        run.block(block)
    for note in run.left_out:
        warnings.warn(f"left out: {note}", stacklevel=1)
    for seconds, where in sorted(run.seconds, reverse=True)[:5]:
        print(f"{seconds:6.1f} s  {where}")  # shown with -s or -rA: where the time goes
    known = KNOWN_FAILURES.get(run.name, [])
    why = [next((reason for text, reason in known if text in what), None)
           for _, what, _ in run.failures]
    for text, _ in known:
        if not any(text in what for _, what, _ in run.failures):
            warnings.warn(f"{run.name}: `{text}` no longer fails: remove it from "
                          "KNOWN_FAILURES", stacklevel=1)
    if not run.failures:
        return
    if all(why):
        pytest.xfail("; ".join(dict.fromkeys(w for w in why if w)))
    pytest.fail(run.report(), pytrace=False)


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_doc_links_resolve(doc: Path) -> None:
    """Every relative link names a file or folder of the repo, and a heading of it when it
    has an anchor."""
    broken = []
    for line, target in links(doc):
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f"{_rel(doc)}:{line}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{_rel(doc)}:{line}: {target}: no heading '#{anchor}' in "
                          f"{_rel(dest)}")
    assert not broken, "\n".join(broken)


def test_known_failures_name_docs_that_exist():
    for name in KNOWN_FAILURES:
        assert (ROOT / name).is_file(), name


def test_blocks_markers_commands_and_output(tmp_path: Path) -> None:
    """The reader this suite relies on: markers, commands, shown output, links."""
    doc = tmp_path / "doc.md"
    doc.write_text("# A doc\n\n<!-- skip: installs -->\n```sh\npip install x\n```\n\n"
                   "text\n\n```sh\ndesim run \\\n  -o out   # a comment\n# only a comment\n```\n"
                   "```console\n$ desim regress check b\ncase  item\nFAIL: 2 of ...\n```\n"
                   "See [here](#a-doc), [gone](#nowhere) and `[code](#x)`.\n")
    skip, sh, console = read_blocks(doc)
    assert (skip.markers, sh.markers, skip.line, sh.line) == ({"skip": "installs"}, {}, 4, 10)
    (cmd,) = sh_commands(sh, "doc.md")
    assert (cmd.line, cmd.argv) == (11, ["desim", "run", "-o", "out"])
    (cmd,) = console_commands(console, "doc.md")
    assert cmd.argv == ["desim", "regress", "check", "b"]
    assert missing_output(cmd.output, "x\ncase   item\ny\nFAIL: 2 of 2 case(s)\n") is None
    assert missing_output(cmd.output, "FAIL: 2 of 2\ncase item\n") == "FAIL: 2 of ..."
    assert links(doc) == [(20, "#a-doc"), (20, "#nowhere")]
    assert anchors(doc) == {"a-doc"}
    assert is_subsequence(["a", "", "  c"], "a\nb\nc\n") is None
    assert is_subsequence(["c", "a"], "a\nb\nc\n") == "a"
