"""The table, plots and report (report.md, a self-contained report.html, laid out by
comparisons/model_report.py) of a language model's comparison run: perplexity per epoch
in every framework (the book's measure, §5.5.2), the difference from the reference per
step (chapter 1's plot, comparisons/plots.py), and each verdict."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from comparisons import model_report, plots
from comparisons.rnnlm.run import BOOK_TITLES, RnnlmResults, table_rows
from comparisons.text import fixed, text_table

HEAD = model_report.head("perplexity, epoch 1", "perplexity, last epoch")
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
    first, last = row["perplexity_first_epoch"], row["perplexity_last_epoch"]
    return model_report.cells(row, fixed(first, 4), fixed(last, 4))


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
    return model_report.images(
        PLOTS, [perplexity_curves(results), plots.difference_curves(results)]
    )


def verdicts(results: RnnlmResults) -> list[str]:
    return model_report.verdicts(results)


def notes_text(results: RnnlmResults) -> str:
    return LOSS_NOTE + (MASKS_NOTE if results.data.masks is not None else "")


def page(results: RnnlmResults) -> model_report.Page:
    """The report's parts: the perplexity per epoch before the verdicts."""
    return model_report.Page(
        BOOK_TITLES[results.config.model], config_lines(results), HEAD,
        [cells(r) for r in table_rows(results)], results.passed, verdicts(results),
        notes_text(results), PLOTS,
        before=[model_report.Section("Perplexity per epoch", *epoch_table(results))],
    )  # fmt: skip


def markdown(results: RnnlmResults, notes: list[str] = ()) -> str:
    return model_report.markdown(page(results), notes)


def html_report(results: RnnlmResults, images: dict[str, bytes], notes: list[str] = ()) -> str:
    return model_report.html_report(page(results), images, notes)


def payload(results: RnnlmResults, notes: list[str], out: str) -> dict:
    """--json: the config, the rows (perplexity per epoch in each), each verdict, pass/fail."""
    return model_report.payload(results, table_rows(results), notes, out)
