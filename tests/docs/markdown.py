"""Reading the project's Markdown as GitHub renders it: headings and their anchors,
relative links, `##` sections and fenced code blocks. Plain functions for tests/docs."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_JA = ROOT / "README.ja.md"
DOCS = ROOT / "docs"

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def documents() -> list[Path]:
    """Every Markdown file a reader is sent to: the two READMEs and docs/."""
    return [README, README_JA, *sorted(DOCS.glob("*.md"))]


def prose(text: str) -> str:
    """`text` without fenced code blocks and inline code (neither holds links or headings)."""
    text = FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every ATX heading outside code blocks, in order."""
    return [
        (len(m.group(1)), m.group(2).strip())
        for m in re.finditer(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", FENCE.sub("", text), re.M)
    ]


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters of any
    script, digits, `_` and `-` kept), each space a hyphen."""
    title = re.sub(r"`|\*\*|\*|_(?=\W)|(?<=\W)_", "", title)  # the rendered text
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor `path` offers: its headings' slugs, a repeated one numbered -1, -2 ..."""
    seen: dict[str, int] = {}
    found = set()
    for _, title in headings(path.read_text(encoding="utf-8")):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def relative_links(text: str) -> list[str]:
    """The targets of the links that stay in the repository (`docs/x.md#y`, `#y`)."""
    return [unquote(t) for t in LINK.findall(prose(text)) if not EXTERNAL.match(t)]


def sections(text: str) -> list[tuple[str, str]]:
    """(title, body) of each `##` section, in order; the text before the first is left out.
    A `## ` inside a code block is code, not a heading."""
    spans = [(m.start(), m.end()) for m in FENCE.finditer(text)]
    starts = [
        m
        for m in re.finditer(r"^## (.+)$", text, re.M)
        if not any(a <= m.start() < b for a, b in spans)
    ]
    return [
        (m.group(1).strip(), text[m.end() : nxt.start() if nxt else len(text)])
        for m, nxt in zip(starts, [*starts[1:], None], strict=True)
    ]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, in order."""
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(text)]


def commands(language: str, code: str) -> list[str]:
    """What a block runs, whatever language its comments are in: for `sh` and `python`,
    every line without its comment (a `#` at a line's start or after a space) and without
    blank lines; any other block (program output, a file tree) line for line."""
    lines = code.splitlines()
    if language in ("sh", "python"):
        lines = [re.sub(r"(^|\s)#.*$", "", line) for line in lines]
    return [line.rstrip() for line in lines if line.strip()]
