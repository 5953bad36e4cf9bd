"""report.md and a self-contained report.html (plots embedded) of a later chapter's
comparison run, from the parts its family's report module gives (comparisons/word2vec/
report.py, comparisons/rnnlm/report.py): every family's report has the same shape, a
title, the run's settings, the results table, the parity verdicts with a note on the
loss, the family's own tables, the plots.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from comparisons.text import NONE, duration, markdown_table, sci, step_count, text_table

Rows = list[tuple[str, ...]]
CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em}"
    "img{max-width:100%}"
)


def head(*columns: str) -> tuple[str, ...]:
    """The results table's head: framework, mode, the family's own `columns`, then the
    comparison with the reference (comparisons/model_run.py's table_row)."""
    return ("framework", "mode", *columns, "max |dW| vs ref", "first diverging step", "time",
            "parity")  # fmt: skip


def cells(row: dict, *columns: str) -> tuple[str, ...]:
    """One row of the results table, the family's `columns` already formatted."""
    is_ref = row["vs"] is None
    return (
        row["framework"],
        row["mode"],
        *columns,
        NONE if is_ref else sci(row["max_abs_dweights"]),
        NONE if is_ref else step_count(row["first_diverging_step"]),
        duration(row["seconds"]),
        row["verdict"],
    )


@dataclass(frozen=True)
class Section:
    """A table of the family's own: its heading (`markdown_title` in report.md when
    that says more), head and rows."""

    title: str
    head: tuple[str, ...]
    rows: Rows
    markdown_title: str | None = None


@dataclass(frozen=True)
class Page:
    """What a report shows, in its order: `before` stands between the results and the
    verdicts, `after` after the note."""

    model_title: str  # the book's class and file
    config: list[tuple[str, str]]
    head: tuple[str, ...]  # the results table
    rows: Rows
    passed: bool
    verdicts: list[str]
    note: str
    plots: Mapping[str, str]  # file name -> caption
    before: list[Section] = field(default_factory=list)
    after: list[Section] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"scratch-parity: {self.model_title} in every framework"


def verdicts(results) -> list[str]:
    """Each framework's verdict against the reference, as one line."""
    return [r.report.summary() for r in results.results if r.report is not None]


def images(plots: Mapping[str, str], drawn: list[tuple[bytes, str | None]]):
    """The PNGs by their names in `plots` and the notes the plots made."""
    named = {name: png for name, (png, _) in zip(plots, drawn, strict=True)}
    return named, [note for _, note in drawn if note is not None]


def markdown(page: Page, notes: Sequence[str] = ()) -> str:
    verdict = "PASS" if page.passed else "FAIL"

    def section(s: Section) -> list[str]:
        return [f"## {s.markdown_title or s.title}", "", markdown_table(s.head, s.rows), ""]

    out = [f"# {page.title}", ""]
    out += [f"- **{k}**: {v}" for k, v in page.config]
    out += ["", "## Results", "", "```", text_table(page.head, page.rows), "```", ""]
    out += [line for s in page.before for line in section(s)]
    out += [f"## Parity verdicts: {verdict}", ""] + [f"- {v}" for v in page.verdicts]
    out += ["", f"> {page.note}", ""]
    out += [line for s in page.after for line in section(s)]
    out += [f"- plot: {n}" for n in notes] + ([""] if notes else [])
    for name, caption in page.plots.items():
        out += [f"### {caption}", "", f"![{caption}]({name})", ""]
    return "\n".join(out)


def html_report(page: Page, pngs: Mapping[str, bytes], notes: Sequence[str] = ()) -> str:
    e = html.escape

    def tab(head, body) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        trs = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body)
        return f"<table><tr>{th}</tr>{trs}</table>"

    def section(s: Section) -> list[str]:
        return [f"<h2>{e(s.title)}</h2>", tab(s.head, s.rows)]

    verdict = "PASS" if page.passed else "FAIL"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(page.title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(page.title)}</h1>",
        tab(("", ""), page.config),
        "<h2>Results</h2>",
        tab(page.head, page.rows),
        *(part for s in page.before for part in section(s)),
        f"<h2>Parity verdicts: {verdict}</h2><ul>",
        *(f"<li>{e(v)}</li>" for v in page.verdicts),
        f"</ul><blockquote>{e(page.note)}</blockquote>",
        *(part for s in page.after for part in section(s)),
        *(f"<p>plot: {e(n)}</p>" for n in notes),
    ]
    for name, caption in page.plots.items():
        data = base64.b64encode(pngs[name]).decode("ascii")
        parts += [
            f"<h3>{e(caption)}</h3>",
            f'<img alt="{e(caption)}" src="data:image/png;base64,{data}">',
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def payload(results, rows: list[dict], notes: list[str], out: str, **extra) -> dict:
    """--json: the config, the rows, each verdict, `extra` (the family's own), pass/fail."""
    return {
        "config": results.config.to_dict(),
        "results": rows,
        "verdicts": [r.report.to_dict() for r in results.results if r.report is not None],
        **extra,
        "passed": results.passed,
        "max_abs_dweights": max(
            (float(np.max(r.report.error_curve)) for r in results.results if r.report), default=0.0
        ),
        "plot_notes": notes,
        "out": out,
    }
