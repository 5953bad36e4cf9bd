"""report.md and a self-contained report.html (plots embedded) for one comparison run."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from comparisons import rosetta
from comparisons.run import RunResults, format_table, table_rows, uneven_note

PLOTS = {
    "loss_curves.png": "Loss curves of every framework (averaged over 10 iterations, as the book)",
    "differences.png": "Difference from the reference, per step, on a log scale",
    "decision_boundaries.png": "The book's decision-boundary plot, one per framework",
}

LOSS_NOTE = (
    "The reference reports the book's loss, -log(p + 1e-7); torch's `F.cross_entropy` and "
    "optax's `softmax_cross_entropy_with_integer_labels` have no epsilon, so their raw losses "
    "sit above the reference's by mean(log(1 + 1e-7 / p)), about 1e-7 to 6e-7 a step here. "
    "The reference records that gap at every step (the black line in the difference plot) "
    "and the comparison removes it before comparing losses. The weights are unaffected: the "
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
    "Accuracy is the net's own, in its precision; the loss is the epsilon-free loss of the "
    "trained weights evaluated in float64; max |W - W64| is the distance of the trained "
    "weights from the float64 reference's. Parity compares each run with the reference in "
    "the same precision, within ten times that reference's own drift from float64 (NumPy "
    "has no bfloat16: torch's run stands in). A float16 run ends at another point of the "
    "same basin, so its parity says only that the frameworks drifted alike. The last row "
    "is the book's save_params: the float32 weights stored in float16 and computed with "
    "in float32 (§1.5.2)."
)


def _matrix_lines(results: RunResults) -> list[str]:
    if results.matrix is None:
        return []
    m = results.matrix
    out = ["## Precision matrix", "", f"> {MATRIX_NOTE}", "", "```", m.table(), "```", ""]
    out += [f"- {r.precision}, {r.framework}: {r.report.summary()}" for r in m.rows if r.report]
    out += [f"- {r.precision}, {r.framework}: {r.note}" for r in m.rows if r.note]
    return [*out, ""]


def markdown(results: RunResults) -> str:
    rows = table_rows(results)
    out = ["# scratch-parity: the book's TwoLayerNet in every framework", ""]
    out += [f"- **{k}**: {v}" for k, v in _config_lines(results)]
    out += ["", "## Results", "", "```", format_table(rows), "```", ""]
    verdict = "PASS" if results.passed else "FAIL"
    out += [f"## Parity verdicts: {verdict}", ""]
    out += [f"- {v}" for v in _verdicts(results)]
    out += ["", f"> {LOSS_NOTE}", ""]
    for name, caption in PLOTS.items():
        out += [f"### {caption}", "", f"![{caption}]({name})", ""]
    out += _matrix_lines(results)
    out += ["## Precision settings", "", "| setting | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in results.settings.items()]
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


def _html_table(head: list[str], body: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{th}</tr>{trs}</table>"


def html_report(results: RunResults, out_dir: Path) -> str:
    e = html.escape
    rows = table_rows(results)
    head = [
        "framework",
        "mode",
        "final loss",
        "accuracy",
        "max |ΔW| vs ref",
        "first diverging step",
        "time [s]",
        "parity",
    ]
    body = []
    for r in rows:
        cls = {"PASS": "pass", "FAIL": "fail"}.get(r["verdict"], "")
        body.append(
            [
                e(r["framework"]),
                e(r["mode"]),
                f"{r['final_loss']:.6f}",
                f"{100 * r['accuracy']:.1f}%",
                "–" if r["vs"] is None else f"{r['max_abs_dweights']:.2e}",
                "–" if r["vs"] is None else e(str(r["first_diverging_step"] or "none")),
                f"{r['seconds']:.3f}",
                f'<span class="{cls}">{e(r["verdict"])}</span>',
            ]
        )
    verdict = "PASS" if results.passed else "FAIL"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>scratch-parity report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>scratch-parity: the book's TwoLayerNet in every framework</h1>",
        _html_table(["", ""], [[e(k), e(v)] for k, v in _config_lines(results)]),
        "<h2>Results</h2>",
        _html_table(head, body),
        f'<h2>Parity verdicts: <span class="{verdict.lower()}">{verdict}</span></h2><ul>',
        *(f"<li>{e(v)}</li>" for v in _verdicts(results)),
        f"</ul><blockquote>{e(LOSS_NOTE)}</blockquote>",
    ]
    for name, caption in PLOTS.items():
        data = base64.b64encode((out_dir / name).read_bytes()).decode("ascii")
        parts += [
            f"<h3>{e(caption)}</h3>",
            f'<img alt="{e(caption)}" src="data:image/png;base64,{data}">',
        ]
    if results.matrix is not None:
        m = results.matrix.to_dict()
        mhead = ["precision", "framework", "accuracy", "vs float64", "loss", "max |W − W64|"]
        mbody = []
        for r in m["rows"]:
            cls = {"PASS": "pass", "FAIL": "fail"}.get(r["verdict"], "")
            acc, change, dw = r["accuracy"], r["accuracy_change"], r["max_abs_dweights_vs_float64"]
            mbody.append(
                [
                    e(r["precision"]),
                    e(
                        r["framework"]
                        if r["precision"] == "float16 storage"
                        else f"{r['framework']}/{r['mode']}"
                    ),
                    "–" if acc is None else f"{100 * acc:.1f}%",
                    "–" if change is None else f"{100 * change:+.1f} pt",
                    "–" if r["loss"] is None else f"{r['loss']:.4f}",
                    "–" if dw is None else f"{dw:.2e}",
                    f'<span class="{cls}">{e(r["verdict"])}</span>',
                    e(r["note"]),
                ]
            )
        parts += [
            "<h2>Precision matrix</h2>",
            f"<blockquote>{e(MATRIX_NOTE)}</blockquote>",
            _html_table([*mhead, "parity", "note"], mbody),
        ]
    parts += [
        "<h2>Precision settings</h2>",
        _html_table(["setting", "value"], [[e(k), e(str(v))] for k, v in results.settings.items()]),
    ]
    parts += [rosetta.render_html(), "</body></html>"]
    return "\n".join(parts)
