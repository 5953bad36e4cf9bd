"""The Rosetta as terminal text, Markdown (report.md) and HTML (report.html, or a page).

Code is shown as it is in `snippets/`, never broken inside a line. The frameworks stand
side by side as far as the width allows, their snippets aligned step by step (a concept's
k-th snippets start on the same row): in a terminal as many columns as fit (the snippets'
64 columns make one framework per screen at 80, two from 131 and three from 198); in HTML
two or three columns once the section is wide enough for the longest line at 13 px (about
1050 and 1570 px), one framework under the other below that. Prose is wrapped by display
width (a Japanese character takes two columns).
"""

from __future__ import annotations

import ast
import functools
import html
import importlib.util
import itertools
import re
import shutil
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from comparisons.rosetta.catalogue import (
    CONCEPTS,
    FRAMEWORKS,
    LABELS,
    LANGS,
    SNIPPET_MODULES,
    Concept,
    chapter_title,
    chapters_text,
    section_key,
    section_text,
)

MIN_WIDTH, MAX_WIDTH = 80, 1000  # a classic terminal; anything wider is a bug, not a screen
DEFAULT_WIDTH = 100  # when the terminal's width is unknown
_RULES = ("━", "─", " │ ", "─┼─")  # an ASCII terminal gets "=", "-", "|", "+" (streams.ASCII)
_EXTRAS = {"torch": "torch", "jax": "jax", "jaxlib": "jax", "optax": "jax"}  # module -> extra

TEXT = {
    "en": {
        "title": "Rosetta: the book's {chapters} in NumPy, PyTorch and JAX",
        "intro": "Each concept: the book's section and file, the minimal code in each "
        "framework (every snippet is run by the tests against the reference's numbers), "
        "what differs and why, and where the adapters prove it over whole training runs (the "
        "book's 3000 steps of chapter 1, the later chapters' runs of each model).",
        "book": "Book",
        "differs": "What differs",
        "proof": "Proved at scale by",
        "snippet_test": "Snippets checked by",
        "list_head": "Concepts, in the book's order (python -m comparisons rosetta --concept ID):",
    },
    "ja": {
        "title": "Rosetta: 本の{chapters}を NumPy・PyTorch・JAX で",
        "intro": "各項目に、本の節とファイル、各フレームワークでの最小のコード（どのコードも"
        "テストが参照実装の数値と照合して実行します）、違いとその理由、そしてアダプタが学習"
        "全体（第1章は本の3000ステップ、以降の章は各モデルの学習）で同じことを証明している"
        "場所を示します。",
        "book": "本",
        "differs": "違い",
        "proof": "学習全体での証明",
        "snippet_test": "コードの検証",
        "list_head": "項目、本の順に（python -m comparisons rosetta --concept ID）:",
    },
}
SNIPPET_TEST = "{file}::test_{id}_snippets_agree_with_the_reference"


# --------------------------------------------------------------------------- checks


def check_frameworks(frameworks: Iterable[str]) -> tuple[str, ...]:
    frameworks = tuple(frameworks)
    unknown = [fw for fw in frameworks if fw not in FRAMEWORKS]
    if not frameworks or unknown or len(set(frameworks)) != len(frameworks):
        raise ValueError(
            f"frameworks must be distinct names among {', '.join(FRAMEWORKS)}, got {frameworks}"
        )
    return tuple(sorted(frameworks, key=FRAMEWORKS.index))


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def _concepts(concepts: Sequence[Concept] | None) -> tuple[Concept, ...]:
    chosen = CONCEPTS if concepts is None else tuple(concepts)
    if not chosen or not all(isinstance(c, Concept) for c in chosen):
        raise ValueError("concepts must be a non-empty sequence of Concept")
    return chosen


def title(concepts: Sequence[Concept], lang: str) -> str:
    return TEXT[lang]["title"].format(chapters=chapters_text(concepts, lang))


# --------------------------------------------------------------------------- the code


def placeholder(framework: str) -> str:
    return f"# ({framework} is not installed: pip install 'scratch-parity[{_EXTRAS[framework]}]')"


def _installed(framework: str) -> bool:
    modules = [m for m, extra in _EXTRAS.items() if extra == framework]
    return all(importlib.util.find_spec(m) is not None for m in modules)


def snippet_source(framework: str, name: str, module: str | None = None) -> str:
    """The dedented source of `name` ("Affine", "TwoLayerNet.backward") in the snippet
    `module` of `framework` (chapter 1's by default), read from its file without importing
    it (showing the PyTorch code needs no torch import, seconds of a report's time); a
    one-line placeholder when that framework is not installed."""
    if not _installed(framework):
        return placeholder(framework)
    text, tree = _snippet_module(module or SNIPPET_MODULES[framework])
    node: ast.AST = tree
    for part in name.split("."):
        node = next(
            child
            for child in node.body  # type: ignore[attr-defined]
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and child.name == part
        )
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])  # as inspect does
    lines = text.splitlines()[first - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines)).rstrip("\n")


@functools.cache
def _snippet_module(module: str) -> tuple[str, ast.Module]:
    """The text and syntax tree of a snippet module (its file, not imported)."""
    origin = importlib.util.find_spec(module).origin
    text = Path(origin).read_text(encoding="utf-8")
    return text, ast.parse(text)


@dataclass(frozen=True)
class Cell:
    """One framework's snippet for one step of a concept: it starts at step `step`
    (0-based) and runs on beside the others' next `span - 1` steps."""

    step: int
    span: int
    text: str


def step_count(concept: Concept, frameworks: Iterable[str]) -> int:
    return max(len(concept.code[fw]) for fw in frameworks)


def cells(concept: Concept, framework: str, steps: int) -> list[Cell]:
    """The snippets of one framework for one concept, placed by step (see `Concept`):
    a None leaves its step empty, the last snippet runs to the last of `steps`."""
    if not _installed(framework):
        return [Cell(0, steps, placeholder(framework))]
    names = concept.code[framework]
    return [
        Cell(
            k,
            steps - k if k == len(names) - 1 else 1,
            snippet_source(framework, name, concept.snippets[framework]),
        )
        for k, name in enumerate(names)
        if name is not None
    ]


def code(concept: Concept, framework: str) -> str:
    """Every snippet of one framework for one concept, separated by a blank line."""
    return "\n\n".join(cell.text for cell in cells(concept, framework, 1))


# --------------------------------------------------------------------------- display width


def display_width(text: str) -> int:
    """Terminal columns `text` takes: wide (East Asian) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


_NO_LINE_START = frozenset("、。，．）」』！？")  # kinsoku: never the first of a line
_NO_LINE_END = frozenset("（「『")  # never the last


def wrap(text: str, width: int) -> list[str]:
    """Prose in lines of at most `width` columns: at spaces, and between any two wide
    characters (Japanese has no spaces between words); a closing mark such as 。or ）
    never starts a line and an opening （ never ends one: whole words move down instead."""
    tokens = re.findall(r"[^\s\u3000-\u9fff\uff00-\uffef]+|[\u3000-\u9fff\uff00-\uffef]|\s+", text)
    lines: list[str] = []
    line: list[str] = []
    for token in tokens:
        if token.isspace():
            if not line:
                continue
            token = " "
        if line and display_width("".join(line) + token) > width and "".join(line).strip():
            carry: list[str] = []
            while len(line) > 1 and (
                (carry[0] if carry else token) in _NO_LINE_START or line[-1] in _NO_LINE_END
            ):
                carry.insert(0, line.pop())
            lines.append("".join(line).rstrip())
            line = list(itertools.dropwhile(str.isspace, (*carry, token)))
        else:
            line.append(token)
    if "".join(line).strip():
        lines.append("".join(line).rstrip())
    return lines


def terminal_width() -> int:
    columns = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return min(max(columns, MIN_WIDTH), MAX_WIDTH)


def check_width(width: int | None) -> int:
    if width is None:
        return terminal_width()
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"width must be an int, got {type(width).__name__}")
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"width must lie in [{MIN_WIDTH}, {MAX_WIDTH}], got {width}")
    return width


# --------------------------------------------------------------------------- text


def _name_lines(name: str, width: int) -> list[str]:
    """A test id or dotted path on a line of its own, never cut inside a name: a test id
    too long for the width goes on two, its file and then its function."""
    if display_width(name) + 2 <= width or "::" not in name:
        return [f"  {name}"]
    file, _, function = name.partition("::")
    return [f"  {file}::", f"    {function}"]


def _header_lines(number: int, c: Concept, lang: str, width: int) -> list[str]:
    rule = _RULES[0]
    words = TEXT[lang]
    head = f"{rule * 2} {number}. {c.title[lang]}  [{c.id}] "
    out = [head + rule * max(0, width - display_width(head))]
    out += wrap(f"{words['book']}: {section_text(c.section, lang)} · {'; '.join(c.book)}", width)
    out += wrap(f"{words['differs']}: {c.differs[lang]}", width)
    out.append(f"{words['proof']}:")
    for name in (*c.adapters, *c.tests):
        out += _name_lines(name, width)
    out.append(f"{words['snippet_test']}:")
    out += _name_lines(SNIPPET_TEST.format(file=c.snippet_test, id=c.id), width)
    return out


def _groups(widths: list[int], width: int) -> list[list[int]]:
    """The frameworks (by index) in rows of columns, as many side by side as fit."""
    sep = len(_RULES[2])
    groups: list[list[int]] = [[]]
    for k, w in enumerate(widths):
        group = groups[-1]
        if group and sum(widths[i] for i in group) + w + sep * len(group) > width:
            groups.append([])
        groups[-1].append(k)
    return groups


def _aligned(columns: list[list[Cell]], steps: int) -> list[list[str]]:
    """Each column's lines, a blank line between steps, every step starting on one row."""
    height = [0] * steps
    for column in columns:  # a step is as tall as its tallest one-step snippet
        for cell in column:
            if cell.span == 1:
                height[cell.step] = max(height[cell.step], len(cell.text.splitlines()))
    for column in columns:  # a snippet that runs on: its last step grows if need be
        for cell in column:
            if cell.span > 1:
                last = cell.step + cell.span - 1
                room = sum(height[cell.step : last + 1]) + cell.span - 1
                height[last] += max(0, len(cell.text.splitlines()) - room)
    starts = [sum(height[:k]) + k for k in range(steps)]
    total = starts[-1] + height[-1]
    out = []
    for column in columns:
        lines = [""] * total
        for cell in column:
            for i, line in enumerate(cell.text.splitlines()):
                lines[starts[cell.step] + i] = line
        out.append(lines)
    return out


def _code_block(c: Concept, frameworks: tuple[str, ...], lang: str, width: int) -> list[str]:
    _, line, sep, cross = _RULES
    steps = step_count(c, frameworks)
    columns = [cells(c, fw, steps) for fw in frameworks]
    labels = [LABELS[lang][fw] for fw in frameworks]
    widths = [
        max(map(display_width, [label, *(ln for cl in column for ln in cl.text.splitlines())]))
        for label, column in zip(labels, columns, strict=True)
    ]
    out: list[str] = []
    for group in _groups(widths, width):
        if out:
            out.append("")
        if len(group) == 1:  # one framework across the screen: its snippets in turn
            (k,) = group
            out.append(f"{line * 2} {labels[k]}")
            out += "\n\n".join(cell.text for cell in columns[k]).splitlines()
            continue
        ws = [widths[k] for k in group]
        out.append(sep.join(_ljust(labels[k], w) for k, w in zip(group, ws, strict=True)).rstrip())
        out.append(cross.join(line * w for w in ws))
        for row in zip(*_aligned([columns[k] for k in group], steps), strict=True):
            out.append(sep.join(_ljust(x, w) for x, w in zip(row, ws, strict=True)).rstrip())
    return out


def render_text(
    concepts: Sequence[Concept] | None = None,
    frameworks: Iterable[str] = FRAMEWORKS,
    lang: str = "en",
    width: int | None = None,
) -> str:
    """The terminal view. `width` defaults to the terminal's (at least 80)."""
    concepts, frameworks = _concepts(concepts), check_frameworks(frameworks)
    lang, width = check_lang(lang), check_width(width)
    words = TEXT[lang]
    out = [*wrap(title(concepts, lang), width), ""]
    if len(concepts) == len(CONCEPTS):  # the whole Rosetta; one concept is a short answer
        out[-1:-1] = wrap(words["intro"], width)
    for c in concepts:
        number = CONCEPTS.index(c) + 1
        out += _header_lines(number, c, lang, width)
        out.append("")
        out += _code_block(c, frameworks, lang, width)
        out.append("")
    return "\n".join(out)


def render_list(lang: str = "en") -> str:
    """One line per concept, in the book's order: its id, its title and the book's
    sections."""
    lang = check_lang(lang)
    idw = max(len(c.id) for c in CONCEPTS)
    lines = [TEXT[lang]["list_head"]]
    lines += [
        f"  {c.id.ljust(idw)}  {c.title[lang]} ({section_text(c.section, lang)})" for c in CONCEPTS
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- markdown


def render_markdown(
    concepts: Sequence[Concept] | None = None,
    frameworks: Iterable[str] = FRAMEWORKS,
    lang: str = "en",
) -> str:
    """A "## Rosetta: ..." section: per concept a heading, the book, what differs, the
    proof, the test that runs the snippets, and one fenced code block per framework."""
    concepts, frameworks, lang = _concepts(concepts), check_frameworks(frameworks), check_lang(lang)
    words = TEXT[lang]
    out = [f"## {title(concepts, lang)}", "", words["intro"], ""]
    for c in concepts:
        number = CONCEPTS.index(c) + 1
        out += [f"### {number}. {c.title[lang]} (`{c.id}`)", ""]
        books = "; ".join(f"`{b}`" for b in c.book)
        out += [f"**{words['book']}**: {section_text(c.section, lang)} · {books}", ""]
        out += [f"**{words['differs']}**: {c.differs[lang]}", ""]
        proof = (
            ", ".join(f"`{a}`" for a in c.adapters) + "; " + "; ".join(f"`{t}`" for t in c.tests)
        )
        out += [f"**{words['proof']}**: {proof}", ""]
        out += [
            f"**{words['snippet_test']}**: `{SNIPPET_TEST.format(file=c.snippet_test, id=c.id)}`",
            "",
        ]
        for fw in frameworks:
            text = code(c, fw)
            fence = "`" * max(3, 1 + max(map(len, re.findall("`+", text)), default=0))
            out += [f"**{LABELS[lang][fw]}**", "", f"{fence}python", text, fence, ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- html

CODE_PX = 13  # the code's font size: readable, and three columns of 64 from about 1600 px
CHAR_EM = 0.6021  # a monospace advance: DejaVu Sans Mono 1233/2048 em; Menlo, SF Mono no wider
PRE_PX = 2 * 5 + 2 * 1  # a <pre>'s padding and border, both sides
GAP_PX = 8  # between two columns

CSS = f"""
#rosetta {{ container-type: inline-size; }}
#rosetta .code {{ display: grid; grid-template-columns: minmax(0, 1fr);
  gap: 0.4em {GAP_PX}px; margin: 0.6em 0 1.6em; align-items: start; }}
#rosetta .code > * {{ min-width: 0; margin: 0; }}
#rosetta .label {{ font-weight: bold; align-self: end; }}
#rosetta pre {{ white-space: pre; overflow-x: auto; tab-size: 4;
  background: #f6f8fa; border: 1px solid #ddd; padding: 5px; font-size: {CODE_PX}px;
  line-height: 1.4; font-family: ui-monospace, 'DejaVu Sans Mono', monospace; }}
#rosetta .meta {{ color: #333; margin: 0.2em 0; }}
#rosetta .contents ul {{ padding-left: 1.2em; }}
"""


def _columns_css(columns: int, min_px: int) -> str:
    """From `min_px` of the section's width on, `columns` frameworks side by side, each
    snippet at the grid place its --cN, --rN, --sN (column, row, rows) give."""
    n = columns
    concepts = ", ".join(f"#rosetta .code.n{k}" for k in range(n, 4))
    items = ", ".join(f"#rosetta .code.n{k} > *" for k in range(n, 4))
    return (
        f"@container (min-width: {min_px}px) {{ {concepts} {{ "
        f"grid-template-columns: repeat({n}, minmax(0, 1fr)); }} {items} {{ "
        f"grid-column: var(--c{n}); grid-row: var(--r{n}) / span var(--s{n}, 1); }} }}\n"
    )


def columns_px(columns: int, longest: int) -> int:
    """The section width from which `columns` columns hold lines of `longest` columns
    (a wide character counted as two) at CODE_PX without scrolling."""
    column = longest * CHAR_EM * CODE_PX + PRE_PX
    return int(columns * column + (columns - 1) * GAP_PX) + 1


def _places(step: int, span: int, fw: int, frameworks: int, steps: int) -> str:
    """The CSS variables placing one grid item (its label when step is -1) for every
    column count from 2 to `frameworks`: in N columns, frameworks k < N stand side by side
    (row 1 their labels, row 2 + s their step s); the rest follow below, in column 1."""
    out = []
    for n in range(2, frameworks + 1):
        if fw < n:
            col, row = fw + 1, step + 2
        else:  # below the first N: each later framework takes steps + 1 rows of column 1
            col, row = 1, (steps + 1) * (fw - n + 1) + step + 2
        out.append(f"--c{n}: {col}; --r{n}: {row}; --s{n}: {span}")
    return "; ".join(out)


def _contents(concepts: Sequence[Concept], lang: str) -> str:
    """A <nav>: per chapter its title and a link to each of its concepts, in the book's
    order (the number a concept has in the whole Rosetta, its title)."""
    e = html.escape
    lines = []
    for chapter, group in itertools.groupby(concepts, key=lambda c: section_key(c)[0]):
        links = " · ".join(
            f'<a href="#rosetta-{c.id}">{CONCEPTS.index(c) + 1}. {e(c.title[lang])}</a>'
            for c in group
        )
        lines.append(f"<li><b>{e(chapter_title(chapter, lang))}</b>: {links}</li>")
    return f'<nav class="contents"><ul>{"".join(lines)}</ul></nav>'


def render_html(
    concepts: Sequence[Concept] | None = None,
    frameworks: Iterable[str] = FRAMEWORKS,
    lang: str = "en",
    *,
    page: bool = False,
) -> str:
    """One <section id="rosetta"> (its own <style>, no script, no external file): the
    contents by chapter, linked to the concepts; per concept a heading, the book, what
    differs, the proof, the test that runs the snippets, and a grid of each framework's
    code in <pre>s that keep every space: one column below the width the code needs, two
    or three side by side above it, each snippet in the row of its step. `page` wraps it
    in a whole HTML document."""
    concepts, frameworks, lang = _concepts(concepts), check_frameworks(frameworks), check_lang(lang)
    e = html.escape
    words = TEXT[lang]
    lines = [line for c in concepts for fw in frameworks for line in code(c, fw).splitlines()]
    longest = max(map(display_width, lines))
    css = CSS + "".join(
        _columns_css(n, columns_px(n, longest)) for n in range(2, len(frameworks) + 1)
    )
    out = [
        '<section id="rosetta">' if lang == "en" else f'<section id="rosetta" lang="{lang}">',
        f"<style>{css}</style>",
        f"<h2>{e(title(concepts, lang))}</h2>",
        f"<p>{e(words['intro'])}</p>",
        _contents(concepts, lang),
    ]
    for c in concepts:
        number = CONCEPTS.index(c) + 1
        out.append(f'<h3 id="rosetta-{c.id}">{number}. {e(c.title[lang])} <code>{c.id}</code></h3>')
        books = "; ".join(f"<code>{e(b)}</code>" for b in c.book)
        where = e(section_text(c.section, lang))
        out.append(f'<p class="meta"><b>{e(words["book"])}</b>: {where} · {books}</p>')
        out.append(f'<p class="meta"><b>{e(words["differs"])}</b>: {e(c.differs[lang])}</p>')
        proof = ", ".join(f"<code>{e(a)}</code>" for a in c.adapters)
        proof += "; " + "; ".join(f"<code>{e(t)}</code>" for t in c.tests)
        out.append(f'<p class="meta"><b>{e(words["proof"])}</b>: {proof}</p>')
        test = f"<code>{e(SNIPPET_TEST.format(file=c.snippet_test, id=c.id))}</code>"
        out.append(f'<p class="meta"><b>{e(words["snippet_test"])}</b>: {test}</p>')
        steps, n = step_count(c, frameworks), len(frameworks)
        items = []
        for k, fw in enumerate(frameworks):
            place = _places(-1, 1, k, n, steps)
            items.append(
                f'<div class="label" data-framework="{fw}" style="{place}">'
                f"{e(LABELS[lang][fw])}</div>"
            )
            for cell in cells(c, fw, steps):
                place = _places(cell.step, cell.span, k, n, steps)
                items.append(
                    f'<pre data-framework="{fw}" data-step="{cell.step}" style="{place}">'
                    f"<code>{e(cell.text)}</code></pre>"
                )
        out.append(f'<div class="code n{n}">{"".join(items)}</div>')
    out.append("</section>")
    fragment = "\n".join(out)
    if not page:
        return fragment
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title(concepts, lang))}</title>"
        "<style>body { font-family: system-ui, sans-serif; max-width: 2000px; margin: 1em auto;"
        " padding: 0 8px; line-height: 1.5; }</style></head><body>\n"
        f"{fragment}\n</body></html>\n"
    )
