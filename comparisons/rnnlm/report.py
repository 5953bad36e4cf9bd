"""The table, plots and report (report.md, a self-contained report.html) of a language
model's comparison run: perplexity per epoch in every framework (the book's measure,
§5.5.2), the difference from the reference per step (chapter 1's plot,
comparisons/plots.py), and each verdict."""

from __future__ import annotations

import base64
import html

import numpy as np
from matplotlib.figure import Figure

from comparisons import plots
from comparisons.rnnlm.run import BOOK_TITLES, RnnlmResults, table_rows
from comparisons.text import NONE, duration, fixed, markdown_table, sci, step_count, text_table

HEAD = (
    "framework",
    "mode",
    "perplexity, epoch 1",
    "perplexity, last epoch",
    "max |dW| vs ref",
    "first diverging step",
    "time",
    "parity",
)
PLOTS = {
    "perplexity.png": "Perplexity per epoch in every framework (exp of the epoch's mean loss)",
    "differences.png": "Difference from the reference, per step, on a log scale",
}
LOSS_NOTE = (
    "TimeSoftmaxWithLoss has no epsilon inside its log, so the reference's loss is the same "
    "quantity as torch's `F.cross_entropy` and optax's: the losses are compared as they are. "
    "Each block starts from the hidden state the last one left (truncated BPTT). "
)
MASKS_NOTE = (
    "BetterRnnlm's dropout masks were drawn once with the reference, in the book's order, "
    "and handed to every framework."
)


def cells(row: dict) -> tuple[str, ...]:
    is_ref = row["vs"] is None
    return (
        row["framework"],
        row["mode"],
        fixed(row["perplexity_first_epoch"], 4),
        fixed(row["perplexity_last_epoch"], 4),
        NONE if is_ref else sci(row["max_abs_dweights"]),
        NONE if is_ref else step_count(row["first_diverging_step"]),
        duration(row["seconds"]),
        row["verdict"],
    )


def table(results: RnnlmResults) -> str:
    return text_table(HEAD, [cells(r) for r in table_rows(results)])


def epoch_table(results: RnnlmResults) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Head and rows: one row per epoch, one perplexity column per run."""
    runs = results.results
    head = ("epoch", *(r.name for r in runs))
    body = [
        (str(e + 1), *(fixed(r.perplexity[e], 4) for r in runs))
        for e in range(len(results.reference.perplexity))
    ]
    return head, body


def config_lines(results: RnnlmResults) -> list[tuple[str, str]]:
    c = results.config.resolved()
    V, D = results.data.weights["embed_W"].shape
    N, T = results.data.schedule.shape[1:]
    sizes = f"vocabulary {V}, wordvec {D}, hidden {c.hidden_size}"
    if results.data.dropout_ratio is not None:
        sizes += f", dropout {results.data.dropout_ratio}, output tied to the embedding"
    steps = results.reference.trajectory.steps
    return [
        ("model", BOOK_TITLES[c.model]),
        ("corpus", f"scratch/small_corpus.py, the first 1000 words ({len(results.data.xs)} in)"),
        ("sizes", sizes),
        (
            "training",
            f"{c.epochs} epochs of {results.data.steps_per_epoch} blocks of {N} x {T}, "
            f"{steps} steps",
        ),  # fmt: skip
        ("optimizer", repr(c.optimizer)),
        ("max_grad", "none" if c.max_grad is None else str(c.max_grad)),
        ("dtype", c.dtype),
        ("seed", f"{c.seed}: the weights (and masks) drawn as the book's code draws them"),
    ]


def perplexity_curves(results: RnnlmResults) -> tuple[bytes, str | None]:
    """Every run's perplexity per epoch: the curves lie on each other when they agree."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax = fig.add_subplot()
    fit = plots.Plottable("perplexity.png")
    for i, r in enumerate(results.results):
        epochs = np.arange(1, len(r.perplexity) + 1)
        ax.plot(
            epochs, fit(r.perplexity), plots.STYLES[i % 4], marker=plots.MARKERS[i % 5],
            label=f"{r.name} ({r.perplexity[-1]:.4g})", alpha=0.85,
        )  # fmt: skip
    parted = [r.name for r in results.results[1:] if not r.report.passed]
    ax.set_title(
        f"Perplexity: {', '.join(parted)} part from the reference"
        if parted
        else "Perplexity per epoch: every framework agrees, the curves overlap",
        fontsize="medium",
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.legend(title="framework/mode (last epoch)", fontsize="small")
    ax.grid(True, alpha=0.3)
    return plots._png(fig), fit.note()  # chapter 1's PNG bytes (comparisons/plots.py)


def draw(results: RnnlmResults) -> tuple[dict[str, bytes], list[str]]:
    drawn = [perplexity_curves(results), plots.difference_curves(results)]
    images = {name: png for name, (png, _) in zip(PLOTS, drawn, strict=True)}
    return images, [note for _, note in drawn if note is not None]


def verdicts(results: RnnlmResults) -> list[str]:
    return [r.report.summary() for r in results.results if r.report is not None]


def notes_text(results: RnnlmResults) -> str:
    return LOSS_NOTE + (MASKS_NOTE if results.data.masks is not None else "")


def markdown(results: RnnlmResults, notes: list[str] = ()) -> str:
    verdict = "PASS" if results.passed else "FAIL"
    out = [f"# scratch-parity: {BOOK_TITLES[results.config.model]} in every framework", ""]
    out += [f"- **{k}**: {v}" for k, v in config_lines(results)]
    out += ["", "## Results", "", "```", table(results), "```", ""]
    out += ["## Perplexity per epoch", "", markdown_table(*epoch_table(results)), ""]
    out += [f"## Parity verdicts: {verdict}", ""] + [f"- {v}" for v in verdicts(results)]
    out += ["", f"> {notes_text(results)}", ""]
    out += [f"- plot: {n}" for n in notes] + ([""] if notes else [])
    for name, caption in PLOTS.items():
        out += [f"### {caption}", "", f"![{caption}]({name})", ""]
    return "\n".join(out)


def html_report(results: RnnlmResults, images: dict[str, bytes], notes: list[str] = ()) -> str:
    e = html.escape

    def tab(head, body) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        trs = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body)
        return f"<table><tr>{th}</tr>{trs}</table>"

    verdict = "PASS" if results.passed else "FAIL"
    title = f"scratch-parity: {BOOK_TITLES[results.config.model]} in every framework"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        tab(("", ""), config_lines(results)),
        "<h2>Results</h2>",
        tab(HEAD, [cells(r) for r in table_rows(results)]),
        "<h2>Perplexity per epoch</h2>",
        tab(*epoch_table(results)),
        f"<h2>Parity verdicts: {verdict}</h2><ul>",
        *(f"<li>{e(v)}</li>" for v in verdicts(results)),
        f"</ul><blockquote>{e(notes_text(results))}</blockquote>",
        *(f"<p>plot: {e(n)}</p>" for n in notes),
    ]
    for name, caption in PLOTS.items():
        data = base64.b64encode(images[name]).decode("ascii")
        parts += [
            f"<h3>{e(caption)}</h3>",
            f'<img alt="{e(caption)}" src="data:image/png;base64,{data}">',
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def payload(results: RnnlmResults, notes: list[str], out: str) -> dict:
    """--json: the config, the rows (perplexity per epoch in each), each verdict, pass/fail."""
    return {
        "config": results.config.to_dict(),
        "results": table_rows(results),
        "verdicts": [r.report.to_dict() for r in results.results if r.report is not None],
        "passed": results.passed,
        "max_abs_dweights": max(
            (float(np.max(r.report.error_curve)) for r in results.results if r.report), default=0.0
        ),
        "plot_notes": notes,
        "out": out,
    }
