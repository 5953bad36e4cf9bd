"""The table, plots and report (report.md, a self-contained report.html, laid out by
comparisons/model_report.py) of a word2vec comparison run: the loss and difference plots
are chapter 1's (comparisons/plots.py), and the trained vectors are shown the book's way,
as each word's nearest neighbours."""

from __future__ import annotations

from comparisons import model_report, plots
from comparisons.text import fixed, text_table
from comparisons.word2vec.run import DEFAULTS, Word2vecResults, neighbours, table_rows

HEAD = model_report.head("train loss (last epoch avg)")
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
    return model_report.cells(row, fixed(row["final_loss"], 6))


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
    return model_report.images(
        PLOTS, [plots.loss_curves(results), plots.difference_curves(results)]
    )


def verdicts(results: Word2vecResults) -> list[str]:
    return model_report.verdicts(results)


def page(results: Word2vecResults) -> model_report.Page:
    """The report's parts: the nearest words after the note on the loss."""
    nearest = model_report.Section(
        "Nearest words by the trained W_in",
        *neighbour_table(results),
        markdown_title="Nearest words by the trained W_in (cosine similarity, §2.3.6)",
    )
    return model_report.Page(
        TITLES[results.config.model], config_lines(results), HEAD,
        [cells(r) for r in table_rows(results)], results.passed, verdicts(results), LOSS_NOTE,
        PLOTS, after=[nearest],
    )  # fmt: skip


def markdown(results: Word2vecResults, notes: list[str] = ()) -> str:
    return model_report.markdown(page(results), notes)


def html_report(results: Word2vecResults, images: dict[str, bytes], notes: list[str] = ()) -> str:
    return model_report.html_report(page(results), images, notes)


def payload(results: Word2vecResults, notes: list[str], out: str) -> dict:
    """--json: the config, the rows, each verdict, the neighbours, pass/fail."""
    rows = table_rows(results)
    return model_report.payload(results, rows, notes, out, neighbours=neighbours(results))
