"""report.md and a self-contained report.html (plots embedded) for one comparison run."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence

import numpy as np

from comparisons import rosetta
from comparisons.run import RunResults, table_rows, uneven_note
from comparisons.text import (
    CALIBRATED,
    MATRIX_HEAD,
    RESULT_HEAD,
    markdown_table,
    matrix_cells,
    result_cells,
    text_table,
)

PLOTS = {
    "loss_curves.png": "Loss curves of every framework (averaged over 10 iterations, as the book)",
    "differences.png": "Difference from the reference, per step, on a log scale",
    "decision_boundaries.png": "The book's decision-boundary plot, one per framework",
}


def loss_note(results: RunResults) -> str:
    """Why the reference's loss differs from torch's and JAX's, with this run's numbers."""
    gap = results.reference.trajectory.loss_gap
    if gap is None:
        return (
            f"The reference here is {results.reference.name}, whose loss has no epsilon: the "
            "losses are compared as they are."
        )
    gap = np.asarray(gap, dtype=np.float64)
    finite = gap[np.isfinite(gap)]
    size = (
        f"between {finite.min():.1e} and {finite.max():.1e} a step in this run"
        if finite.size
        else "not finite in this run"
    )
    return (
        "The reference reports the book's loss, -log(p + 1e-7); torch's `F.cross_entropy` and "
        "optax's `softmax_cross_entropy_with_integer_labels` have no epsilon, so their raw "
        f"losses sit above the reference's by mean(log(1 + 1e-7 / p)): {size}. The reference "
        "records that gap at every step (the black line in the difference plot) and the "
        "comparison removes it before comparing losses. The weights are unaffected: the "
        "book's backward pass is the exact gradient of the epsilon-free loss."
    )


def _config_lines(results: RunResults) -> list[tuple[str, str]]:
    c = results.config
    return [
        ("data", f"spiral (300 points, 3 classes), seed {c.seed}"),
        ("net", f"TwoLayerNet 2-{c.hidden_size}-3"),
        (
            "training",
            f"{c.epochs} epochs, batch {c.batch_size}, {results.reference.trajectory.steps} steps",
        ),
        ("optimizer", repr(c.optimizer)),
        ("max_grad", str(c.max_grad)),
        *([("data parallel", f"x {c.data_parallel} workers")] if c.data_parallel > 1 else []),
    ]


def _verdicts(results: RunResults) -> list[str]:
    lines = [r.report.summary() for r in results.results if r.report is not None]
    if results.tf32_note:
        lines.append(results.tf32_note)
    if uneven_note(results):
        lines.append(uneven_note(results))
    return lines


MATRIX_NOTE = (
    "The book's run again in every precision, from the same weights on the same batches. "
    "Accuracy is the net's own, in its precision; the loss on all 300 points is the "
    "epsilon-free loss of the trained weights evaluated in float64 (not the main table's "
    "train loss, which averages the last epoch's mini-batches with the book's 1e-7); "
    "max |W - W64| is the distance of the trained weights from the float64 reference's. "
    "Parity compares each run with the reference in the same precision, within ten times "
    "that reference's own drift from float64 (NumPy has no bfloat16: torch's run stands "
    "in). A float16 run ends at another point of the same basin, so its parity says only "
    "that the frameworks drifted alike. The last row is the book's save_params: the "
    "float32 weights stored in float16 and computed with in float32 (§1.5.1)."
)


def _matrix_lines(results: RunResults) -> list[str]:
    if results.matrix is None:
        return []
    m = results.matrix
    out = ["## Precision matrix", "", f"> {MATRIX_NOTE}", "", "```", m.table(), "```", ""]
    out += [f"- {r.precision}, {r.framework}: {r.report.summary()}" for r in m.rows if r.report]
    out += [f"- {r.precision}, {r.framework}: {r.note}" for r in m.rows if r.note]
    return [*out, ""]


def markdown(results: RunResults, plot_notes: list[str] = ()) -> str:
    rows = [result_cells(r) for r in table_rows(results)]
    out = ["# scratch-parity: the book's TwoLayerNet in every framework", ""]
    out += [f"- **{k}**: {v}" for k, v in _config_lines(results)]
    out += ["", "## Results", "", "```", text_table(RESULT_HEAD, rows), "```", ""]
    verdict = "PASS" if results.passed else "FAIL"
    out += [f"## Parity verdicts: {verdict}", ""]
    out += [f"- {v}" for v in _verdicts(results)]
    out += ["", f"> {loss_note(results)}", ""]
    out += [f"- plot: {n}" for n in plot_notes] + ([""] if plot_notes else [])
    for name, caption in PLOTS.items():
        out += [f"### {caption}", "", f"![{caption}]({name})", ""]
    out += _matrix_lines(results)
    settings = [(k, str(v)) for k, v in results.settings.items()]
    out += ["## Precision settings", "", markdown_table(["setting", "value"], settings)]
    out += ["", rosetta.render_markdown()]
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.pass { color: #17702a; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
pre { font-size: 12px; margin: 0; white-space: pre-wrap; }
img { max-width: 100%; border: 1px solid #ddd; }
blockquote { border-left: 4px solid #ccc; margin: 1em 0; padding: 0.2em 1em; color: #444; }
"""


def _html_table(head, body) -> str:
    """Cells are escaped here; a verdict cell (PASS/FAIL) gets its colour."""
    e = html.escape
    cls = {"PASS": ' class="pass"', "FAIL": ' class="fail"'}
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    trs = "".join(
        "<tr>"
        + "".join(f"<td{cls.get(c.removesuffix(CALIBRATED), '')}>{e(c)}</td>" for c in row)
        + "</tr>"
        for row in body
    )
    return f"<table><tr>{th}</tr>{trs}</table>"


def _prose(text: str) -> str:
    """Escaped text with `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def html_report(
    results: RunResults, images: Mapping[str, bytes], plot_notes: Sequence[str] = ()
) -> str:
    """The report as one HTML file, the plots embedded from `images` (name -> PNG bytes,
    the ones this run drew: never read back from a folder another run may write)."""
    e = html.escape
    verdict = "PASS" if results.passed else "FAIL"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>scratch-parity report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>scratch-parity: the book's TwoLayerNet in every framework</h1>",
        _html_table(["", ""], _config_lines(results)),
        "<h2>Results</h2>",
        _html_table(RESULT_HEAD, [result_cells(r) for r in table_rows(results)]),
        f'<h2>Parity verdicts: <span class="{verdict.lower()}">{verdict}</span></h2><ul>',
        *(f"<li>{_prose(v)}</li>" for v in _verdicts(results)),
        f"</ul><blockquote>{_prose(loss_note(results))}</blockquote>",
        *(f"<p>plot: {_prose(n)}</p>" for n in plot_notes),
    ]
    for name, caption in PLOTS.items():
        data = base64.b64encode(images[name]).decode("ascii")
        parts += [
            f"<h3>{e(caption)}</h3>",
            f'<img alt="{e(caption)}" src="data:image/png;base64,{data}">',
        ]
    if results.matrix is not None:
        rows = results.matrix.to_dict()["rows"]
        parts += [
            "<h2>Precision matrix</h2>",
            f"<blockquote>{_prose(MATRIX_NOTE)}</blockquote>",
            _html_table([*MATRIX_HEAD, "note"], [(*matrix_cells(r), r["note"]) for r in rows]),
        ]
    parts += [
        "<h2>Precision settings</h2>",
        _html_table(["setting", "value"], [(k, str(v)) for k, v in results.settings.items()]),
    ]
    parts += [rosetta.render_html(), "</body></html>"]
    return "\n".join(parts)
