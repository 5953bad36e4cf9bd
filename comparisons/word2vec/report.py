"""The table, plots and report (report.md, a self-contained report.html) of a word2vec
comparison run: the loss and difference plots are chapter 1's (comparisons/plots.py),
and the trained vectors are shown the book's way, as each word's nearest neighbours."""

from __future__ import annotations

import base64
import html

import numpy as np

from comparisons import plots
from comparisons.text import NONE, duration, fixed, markdown_table, sci, step_count, text_table
from comparisons.word2vec.run import DEFAULTS, Word2vecResults, neighbours, table_rows

HEAD = (
    "framework",
    "mode",
    "train loss (last epoch avg)",
    "max |dW| vs ref",
    "first diverging step",
    "time",
    "parity",
)
PLOTS = {
    "loss_curves.png": "Loss curves of every framework (averaged over 10 iterations, as the book)",
    "differences.png": "Difference from the reference, per step, on a log scale",
}
TITLES = {
    "simple_cbow": "SimpleCBOW (ch03/simple_cbow.py)",
    "simple_skip_gram": "SimpleSkipGram (ch03/simple_skip_gram.py)",
    "cbow": "CBOW with negative sampling (ch04/cbow.py)",
    "skip_gram": "SkipGram with negative sampling (ch04/skip_gram.py)",
}


def cells(row: dict) -> tuple[str, ...]:
    is_ref = row["vs"] is None
    return (
        row["framework"],
        row["mode"],
        fixed(row["final_loss"], 6),
        NONE if is_ref else sci(row["max_abs_dweights"]),
        NONE if is_ref else step_count(row["first_diverging_step"]),
        duration(row["seconds"]),
        row["verdict"],
    )


def table(results: Word2vecResults) -> str:
    return text_table(HEAD, [cells(r) for r in table_rows(results)])


def neighbour_table(results: Word2vecResults) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Head and rows: one row per query word, one column per run."""
    rows = neighbours(results)
    runs = list(dict.fromkeys(r["run"] for r in rows))
    queries = list(dict.fromkeys(r["query"] for r in rows))
    by = {(r["query"], r["run"]): ", ".join(r["nearest"]) for r in rows}
    return ("query", *runs), [(q, *(by[(q, run)] for run in runs)) for q in queries]


def config_lines(results: Word2vecResults) -> list[tuple[str, str]]:
    c = results.config.resolved()
    d = DEFAULTS[c.model]
    corpus = (
        '"You say goodbye and I say hello." (ch03/train.py)'
        if d.corpus == "book sentence"
        else "scratch/small_corpus.py (8639 words, 54 distinct), written by this project"
    )
    V, H = results.data.weights["W_in"].shape
    return [
        ("model", TITLES[c.model]),
        ("corpus", corpus),
        ("sizes", f"vocabulary {V}, hidden {H}, window {results.data.window_size}"),
        (
            "training",
            f"{c.epochs} epochs, batch {c.batch_size}, {results.reference.trajectory.steps} steps",
        ),
        ("optimizer", repr(c.optimizer)),
        ("dtype", c.dtype),
        ("seed", f"{c.seed}: weights, batches and negative samples drawn as the book's code does"),
    ]


LOSS_NOTE = (
    "The reference reports the book's loss, with 1e-7 inside each log; torch's "
    "`F.cross_entropy` / `F.binary_cross_entropy_with_logits` and optax's losses have no "
    "epsilon. The reference records the gap at every step (computed exactly from the scores) "
    "and the comparison adds it before comparing losses. The negative samples were drawn once "
    "by the reference's sampler in the book's order and handed to every framework."
)


def draw(results: Word2vecResults) -> tuple[dict[str, bytes], list[str]]:
    drawn = [plots.loss_curves(results), plots.difference_curves(results)]
    images = {name: png for name, (png, _) in zip(PLOTS, drawn, strict=True)}
    return images, [note for _, note in drawn if note is not None]


def verdicts(results: Word2vecResults) -> list[str]:
    return [r.report.summary() for r in results.results if r.report is not None]


def markdown(results: Word2vecResults, notes: list[str] = ()) -> str:
    verdict = "PASS" if results.passed else "FAIL"
    head, body = neighbour_table(results)
    out = [f"# scratch-parity: {TITLES[results.config.model]} in every framework", ""]
    out += [f"- **{k}**: {v}" for k, v in config_lines(results)]
    out += ["", "## Results", "", "```", table(results), "```", ""]
    out += [f"## Parity verdicts: {verdict}", ""] + [f"- {v}" for v in verdicts(results)]
    out += ["", f"> {LOSS_NOTE}", ""]
    out += ["## Nearest words by the trained W_in (cosine similarity, §2.3.6)", ""]
    out += [markdown_table(head, body), ""]
    out += [f"- plot: {n}" for n in notes] + ([""] if notes else [])
    for name, caption in PLOTS.items():
        out += [f"### {caption}", "", f"![{caption}]({name})", ""]
    return "\n".join(out)


def html_report(results: Word2vecResults, images: dict[str, bytes], notes: list[str] = ()) -> str:
    e = html.escape

    def tab(head, body) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        trs = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body)
        return f"<table><tr>{th}</tr>{trs}</table>"

    verdict = "PASS" if results.passed else "FAIL"
    title = f"scratch-parity: {TITLES[results.config.model]} in every framework"
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
        f"<h2>Parity verdicts: {verdict}</h2><ul>",
        *(f"<li>{e(v)}</li>" for v in verdicts(results)),
        f"</ul><blockquote>{e(LOSS_NOTE)}</blockquote>",
        "<h2>Nearest words by the trained W_in</h2>",
        tab(*neighbour_table(results)),
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


def payload(results: Word2vecResults, notes: list[str], out: str) -> dict:
    """--json: the config, the rows, each verdict, the neighbours, pass/fail."""
    return {
        "config": results.config.to_dict(),
        "results": table_rows(results),
        "verdicts": [r.report.to_dict() for r in results.results if r.report is not None],
        "neighbours": neighbours(results),
        "passed": results.passed,
        "max_abs_dweights": max(
            (float(np.max(r.report.error_curve)) for r in results.results if r.report), default=0.0
        ),
        "plot_notes": notes,
        "out": out,
    }
