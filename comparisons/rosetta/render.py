"""The Rosetta as terminal text, Markdown (report.md) and HTML (report.html, or a page).

Code is shown as it is in `snippets/`, never broken inside a line: in the terminal the
frameworks stand side by side when their longest lines fit the width, and follow one
another when they do not. Prose is wrapped by display width (a Japanese character takes
two columns).
"""

from __future__ import annotations

import ast
import functools
import html
import importlib.util
import re
import shutil
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from comparisons.rosetta.catalogue import (
    ALL,
    CONCEPTS,
    FRAMEWORKS,
    LABELS,
    LANGS,
    SNIPPET_MODULES,
    Concept,
)

MIN_WIDTH, MAX_WIDTH = 80, 1000  # a classic terminal; anything wider is a bug, not a screen
DEFAULT_WIDTH = 100  # when the terminal's width is unknown
_RULES = ("━", "─", " │ ", "─┼─")  # an ASCII terminal gets "=", "-", "|", "+" (streams.ASCII)
_EXTRAS = {"torch": "torch", "jax": "jax", "jaxlib": "jax", "optax": "jax"}  # module -> extra

TEXT = {
    "en": {
        "title": "Rosetta: the book's chapter 1 in NumPy, PyTorch and JAX",
        "title_later": "Rosetta: the book's chapters 1-{last} in NumPy, PyTorch and JAX",
        "intro": "Each concept: the book's section and file, the minimal code in each "
        "framework (every snippet is run by the tests against the reference's numbers), "
        "what differs and why, and where the adapters prove it over the book's 3000-step run.",
        "book": "Book",
        "differs": "What differs",
        "proof": "Proved at scale by",
        "snippet_test": "Snippets checked by",
        "list_head": "Concepts (python -m comparisons rosetta --concept ID):",
    },
    "ja": {
        "title": "Rosetta: 本の第1章を NumPy・PyTorch・JAX で",
        "title_later": "Rosetta: 本の第1〜{last}章を NumPy・PyTorch・JAX で",
        "intro": "各項目に、本の節とファイル、各フレームワークでの最小のコード（どのコードも"
        "テストが参照実装の数値と照合して実行します）、違いとその理由、そしてアダプタが本の"
        "3000ステップの学習で同じことを証明している場所を示します。",
        "book": "本",
        "differs": "違い",
        "proof": "本の学習全体での証明",
        "snippet_test": "コードの検証",
        "list_head": "項目（python -m comparisons rosetta --concept ID）:",
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


def _title(concepts: Sequence[Concept], lang: str) -> str:
    """Chapter 1's title, or the later chapters' (1 to the last the Rosetta covers) when
    a concept of theirs is shown."""
    if all(c in CONCEPTS for c in concepts):
        return TEXT[lang]["title"]
    last = max(int(c.section.lstrip("§").split(".")[0]) for c in ALL)
    return TEXT[lang]["title_later"].format(last=last)


def _concepts(concepts: Sequence[Concept] | None) -> tuple[Concept, ...]:
    chosen = CONCEPTS if concepts is None else tuple(concepts)
    if not chosen or not all(isinstance(c, Concept) for c in chosen):
        raise ValueError("concepts must be a non-empty sequence of Concept")
    return chosen


# --------------------------------------------------------------------------- the code


def placeholder(framework: str) -> str:
    return f"# ({framework} is not installed: pip install 'scratch-parity[{_EXTRAS[framework]}]')"


def snippet_source(framework: str, name: str, module: str | None = None) -> str:
    """The dedented source of `name` ("Affine", "TwoLayerNet.backward") in the snippet
    `module` of `framework` (chapter 1's by default), read from its file without importing
    it (showing the PyTorch code needs no torch import, seconds of a report's time); a
    one-line placeholder when that framework is not installed."""
    if framework != "numpy" and any(
        importlib.util.find_spec(m) is None for m, extra in _EXTRAS.items() if extra == framework
    ):
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


def code(concept: Concept, framework: str) -> str:
    """Every snippet of one framework for one concept, separated by a blank line."""
    module = concept.snippets[framework]
    texts = [snippet_source(framework, name, module) for name in concept.code[framework]]
    if texts and texts[0].startswith("# (") and "not installed" in texts[0]:
        return texts[0]
    return "\n\n".join(texts)


# --------------------------------------------------------------------------- display width


def display_width(text: str) -> int:
    """Terminal columns `text` takes: wide (East Asian) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


_NO_LINE_START = frozenset("、。，．）」』！？")


def wrap(text: str, width: int) -> list[str]:
    """Prose in lines of at most `width` columns: at spaces, and between any two wide
    characters (Japanese has no spaces between words)."""
    tokens = re.findall(r"[^\s\u3000-\u9fff\uff00-\uffef]+|[\u3000-\u9fff\uff00-\uffef]|\s+", text)
    lines, line = [], ""
    for token in tokens:
        if token.isspace():
            token = " "
            if not line:
                continue
        if display_width(line + token) > width and line.strip():
            carry = ""
            if token in _NO_LINE_START and len(line) > 1:  # 。or 、never starts a line
                line, carry = line[:-1], line[-1]
            lines.append(line.rstrip())
            line = "" if token == " " else carry + token
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
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


def _header_lines(number: int, c: Concept, lang: str, width: int) -> list[str]:
    rule = _RULES[0]
    words = TEXT[lang]
    head = f"{rule * 2} {number}. {c.title[lang]}  [{c.id}] "
    out = [head + rule * max(0, width - display_width(head))]
    out += wrap(f"{words['book']}: {c.section} · {'; '.join(c.book)}", width)
    out += wrap(f"{words['differs']}: {c.differs[lang]}", width)
    out.append(f"{words['proof']}:")
    out += [f"  {item}" for item in (*c.adapters, *c.tests)]  # one name a line, never cut
    out.append(f"{words['snippet_test']}:")
    out.append(f"  {SNIPPET_TEST.format(file=c.snippet_test, id=c.id)}")
    return out


def _code_block(c: Concept, frameworks: tuple[str, ...], lang: str, width: int):
    _, line, sep, cross = _RULES
    blocks = [code(c, fw).splitlines() for fw in frameworks]
    labels = [LABELS[lang][fw] for fw in frameworks]
    widths = [
        max(map(display_width, [lb, *lines])) for lb, lines in zip(labels, blocks, strict=True)
    ]
    out = []
    if len(frameworks) > 1 and sum(widths) + len(sep) * (len(widths) - 1) <= width:
        out.append(sep.join(_ljust(lb, w) for lb, w in zip(labels, widths, strict=True)).rstrip())
        out.append(cross.join(line * w for w in widths))
        for k in range(max(map(len, blocks))):
            cells = [block[k] if k < len(block) else "" for block in blocks]
            out.append(
                sep.join(_ljust(cl, w) for cl, w in zip(cells, widths, strict=True)).rstrip()
            )
        return out
    for label, lines in zip(labels, blocks, strict=True):  # one after another: nothing breaks
        out += [f"{line * 2} {label}", *lines, ""]
    return out[:-1]


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
    out = [_title(concepts, lang), ""]
    if len(concepts) == len(CONCEPTS):  # the whole Rosetta; one concept is a short answer
        out[1:1] = wrap(words["intro"], width)
    for c in concepts:
        number = ALL.index(c) + 1
        out += _header_lines(number, c, lang, width)
        out.append("")
        out += _code_block(c, frameworks, lang, width)
        out.append("")
    return "\n".join(out)


def render_list(lang: str = "en") -> str:
    """One line per concept: its id, its title and the book's section."""
    lang = check_lang(lang)
    idw = max(len(c.id) for c in ALL)
    lines = [TEXT[lang]["list_head"]]
    lines += [f"  {c.id.ljust(idw)}  {c.title[lang]} ({c.section})" for c in ALL]
    return "\n".join(lines)


# --------------------------------------------------------------------------- markdown


def render_markdown(
    concepts: Sequence[Concept] | None = None,
    frameworks: Iterable[str] = FRAMEWORKS,
    lang: str = "en",
) -> str:
    """A "## Rosetta: ..." section: per concept a heading, the book, what differs, the
    proof, and one fenced code block per framework."""
    concepts, frameworks, lang = _concepts(concepts), check_frameworks(frameworks), check_lang(lang)
    words = TEXT[lang]
    out = [f"## {_title(concepts, lang)}", "", words["intro"], ""]
    for c in concepts:
        number = ALL.index(c) + 1
        out += [f"### {number}. {c.title[lang]} (`{c.id}`)", ""]
        out += [f"**{words['book']}**: {c.section} · " + "; ".join(f"`{b}`" for b in c.book), ""]
        out += [f"**{words['differs']}**: {c.differs[lang]}", ""]
        proof = (
            ", ".join(f"`{a}`" for a in c.adapters) + "; " + "; ".join(f"`{t}`" for t in c.tests)
        )
        out += [f"**{words['proof']}**: {proof}", ""]
        for fw in frameworks:
            text = code(c, fw)
            fence = "`" * max(3, 1 + max(map(len, re.findall("`+", text)), default=0))
            out += [f"**{LABELS[lang][fw]}**", "", f"{fence}python", text, fence, ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- html

CSS = """
#rosetta .code { display: grid; grid-template-columns: repeat(auto-fit, minmax(44em, 1fr));
  gap: 0.8em; margin: 0.6em 0 1.6em; }
#rosetta figure { margin: 0; min-width: 0; }
#rosetta figcaption { font-weight: bold; margin-bottom: 0.2em; }
#rosetta pre { white-space: pre; overflow-x: auto; tab-size: 4; margin: 0;
  background: #f6f8fa; border: 1px solid #ddd; padding: 0.5em; font-size: 12px;
  font-family: ui-monospace, 'DejaVu Sans Mono', monospace; }
#rosetta .meta { color: #333; margin: 0.2em 0; }
"""


def render_html(
    concepts: Sequence[Concept] | None = None,
    frameworks: Iterable[str] = FRAMEWORKS,
    lang: str = "en",
    *,
    page: bool = False,
) -> str:
    """One <section id="rosetta"> (its own <style>, no script, no external file): per
    concept a heading, the book, what differs, the proof, and each framework's code in a
    <pre> that keeps every space. `page` wraps it in a whole HTML document."""
    concepts, frameworks, lang = _concepts(concepts), check_frameworks(frameworks), check_lang(lang)
    e = html.escape
    words = TEXT[lang]
    out = [
        '<section id="rosetta">' if lang == "en" else f'<section id="rosetta" lang="{lang}">',
        f"<style>{CSS}</style>",
        f"<h2>{e(_title(concepts, lang))}</h2>",
        f"<p>{e(words['intro'])}</p>",
    ]
    for c in concepts:
        number = ALL.index(c) + 1
        out.append(f'<h3 id="rosetta-{c.id}">{number}. {e(c.title[lang])} <code>{c.id}</code></h3>')
        books = "; ".join(f"<code>{e(b)}</code>" for b in c.book)
        out.append(f'<p class="meta"><b>{e(words["book"])}</b>: {e(c.section)} · {books}</p>')
        out.append(f'<p class="meta"><b>{e(words["differs"])}</b>: {e(c.differs[lang])}</p>')
        proof = ", ".join(f"<code>{e(a)}</code>" for a in c.adapters)
        proof += "; " + "; ".join(f"<code>{e(t)}</code>" for t in c.tests)
        out.append(f'<p class="meta"><b>{e(words["proof"])}</b>: {proof}</p>')
        figures = "".join(
            f'<figure data-framework="{fw}"><figcaption>{e(LABELS[lang][fw])}</figcaption>'
            f"<pre><code>{e(code(c, fw))}</code></pre></figure>"
            for fw in frameworks
        )
        out.append(f'<div class="code">{figures}</div>')
    out.append("</section>")
    fragment = "\n".join(out)
    if not page:
        return fragment
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{e(_title(concepts, lang))}</title>"
        "<style>body { font-family: system-ui, sans-serif; max-width: 2000px; margin: 2em auto;"
        " padding: 0 1em; line-height: 1.5; }</style></head><body>\n"
        f"{fragment}\n</body></html>\n"
    )
