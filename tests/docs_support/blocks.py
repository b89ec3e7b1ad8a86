"""The fenced code blocks of a Markdown file, with the markers written before them.

A marker is an HTML comment on its own line just before the fence (blank lines and other
markers may come between): ``<!-- skip: REASON -->`` or ``<!-- excerpt: PATH -->``.
Rendered Markdown does not show them; the doc's source does.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

#: fence languages whose blocks run; every other tag (text, ...) is shown only
RUN_LANGS = ("sh", "console", "python")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(skip|excerpt)\s*:\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    """One fenced block: its language tag, the line its fence opens on (1-based), its
    lines, and its markers (name -> value)."""

    lang: str
    line: int
    lines: list[str]
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class Command:
    """A command line of a sh or console block, and the output a console block shows."""

    line: int
    text: str
    argv: list[str]
    output: list[str] = field(default_factory=list)


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, in order."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    markers: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            mark = _MARKER.match(lines[i])
            if mark:
                markers[mark.group(1)] = mark.group(2)
            elif lines[i].strip():
                markers = {}
            i += 1
            continue
        indent, fence, lang = m.groups()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                for line in lines[i + 1:j]]
        blocks.append(Block(lang, i + 1, body, markers))
        markers = {}
        i = j + 1
    return blocks


def _argv(text: str, where: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError as exc:
        raise ValueError(f"{where}: cannot split `{text}`: {exc}") from None


def sh_commands(block: Block, doc: str) -> list[Command]:
    """The commands of a sh block: one per line (``\\`` continues a line), comments and
    comment-only lines dropped."""
    out: list[Command] = []
    pending, start = "", 0
    for k, raw in enumerate(block.lines):
        if not pending:
            start = block.line + 1 + k
        pending += raw.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        argv = _argv(pending, f"{doc}:{start}")
        if argv:
            out.append(Command(start, pending.strip(), argv))
        pending = ""
    return out


def console_commands(block: Block, doc: str) -> list[Command]:
    """The ``$ `` lines of a console block, each with the output lines shown after it."""
    out: list[Command] = []
    for k, raw in enumerate(block.lines):
        number = block.line + 1 + k
        if raw.startswith("$ "):
            text = raw[2:].strip()
            out.append(Command(number, text, _argv(text, f"{doc}:{number}")))
        elif out:
            out[-1].output.append(raw)
        elif raw.strip():
            raise ValueError(f"{doc}:{number}: a console block starts with a `$ ` command")
    return out


def _norm(text: str) -> str:
    return " ".join(text.split())


def _line_matcher(want: str) -> re.Pattern[str]:
    """``...`` within a line stands for any text (a path, a duration)."""
    return re.compile(".*".join(re.escape(part) for part in want.split("...")))


def missing_output(expected: list[str], got: str) -> str | None:
    """None when the ``expected`` lines appear in ``got``, in order, other lines allowed
    between them (whitespace runs compare as one space; ``...`` within a line stands for
    any text, and a line of only ``...``, "more lines here", is not looked for); else the
    first expected line not found."""
    have = [_norm(line) for line in got.splitlines()]
    pos = 0
    for want in (_norm(line) for line in expected):
        if not want or want == "...":
            continue
        match = _line_matcher(want).fullmatch
        pos = next((k for k in range(pos, len(have)) if match(have[k])), -1) + 1
        if not pos:
            return want
    return None


def is_subsequence(excerpt: list[str], source: str) -> str | None:
    """None when every non-blank line of ``excerpt`` occurs in ``source``, in order
    (leading and trailing spaces ignored: an excerpt may leave lines out); else the first
    line that does not."""
    have = [line.strip() for line in source.splitlines()]
    pos = 0
    for want in (line.strip() for line in excerpt):
        if not want:
            continue
        try:
            pos = have.index(want, pos) + 1
        except ValueError:
            return want
    return None


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to ``-``."""
    text = heading.strip().lower()
    return "".join(ch for ch in text if ch.isalnum() or ch in " -_").replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (a repeated one gets ``-1``, ``-2``...)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_fence = False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.startswith("#"):
            base = slug(line.lstrip("#"))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """The relative link targets of a Markdown file, with their lines (outside code)."""
    out: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for target in _LINK.findall(_CODE_SPAN.sub("", line)):
            if not re.match(r"[a-z]+:", target):
                out.append((number, target))
    return out
