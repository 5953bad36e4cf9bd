"""How far each framework's stock optimizer drifts from the book's on the book's run.

`flavor="stock"` is torch.optim / optax with their own defaults (epsilon 1e-8 or 1e-10,
optax's AdaGrad accumulator starting at 0.1, the stock Nesterov and Adam update forms);
`flavor="book"` reproduces common/optimizer.py exactly. Same data, weights and batches.
"""

from __future__ import annotations

from collections.abc import Callable

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from comparisons.run import RunConfig, accuracy, book_data
from comparisons.text import TRAIN_LOSS, markdown_table, percent, sci, step_count

# learning rates at which each optimizer trains the book's net in 3000 steps
DRIFT_LR = {
    "sgd": 1.0,
    "momentum": 0.1,
    "nesterov": 0.1,
    "adagrad": 1.0,
    "rmsprop": 0.01,
    "adam": 0.01,
}

WHY = {  # (optimizer, framework) -> what the stock one does differently
    ("sgd", "torch"): "same math",
    ("sgd", "jax"): "same math",
    ("momentum", "torch"): "same math (torch's buffer is -v / lr)",
    ("momentum", "jax"): "same math (optax's trace is -v / lr)",
    ("nesterov", "torch"): "steps with lr * (g + m * buf): one m * lr * g short of the book",
    ("nesterov", "jax"): "steps with lr * (g + m * trace): one m * lr * g short of the book",
    ("adagrad", "torch"): "eps 1e-10 instead of 1e-7",
    ("adagrad", "jax"): "accumulator starts at 0.1; eps inside the sqrt",
    ("rmsprop", "torch"): "eps 1e-8 instead of 1e-7",
    ("rmsprop", "jax"): "eps 1e-8 inside the sqrt (book: 1e-7 outside)",
    ("adam", "torch"): "eps 1e-8, after the bias correction (book: 1e-7, lr_t form)",
    ("adam", "jax"): "eps 1e-8, after the bias correction (book: 1e-7, lr_t form)",
}


def drift_rows(
    frameworks: list[str], config: RunConfig | None = None, say: Callable[[str], None] = print
) -> list[dict]:
    """One row per optimizer and framework: final max |W_stock - W_book|, first diverging
    step, final losses and accuracies of both flavors."""
    x, t, w, schedule = book_data(config or RunConfig())
    rows = []
    for name, lr in DRIFT_LR.items():
        book_spec = OptimizerSpec(name, lr)
        ref_net = adapters.build("numpy", w)
        ref = ref_net.train(x, t, schedule, book_spec, record_every=10)
        for fw in frameworks:
            if fw == "numpy":
                continue
            say(f"{name}: {fw} stock vs book ...")
            net = adapters.build(fw, w)
            stock = net.train(
                x, t, schedule, OptimizerSpec(name, lr, flavor="stock"), record_every=10
            )
            report = parity.compare_trajectories(ref, stock)
            rows.append(
                {
                    "optimizer": name,
                    "lr": lr,
                    "framework": fw,
                    "max_abs_dweights": float(report.max_weight_error),
                    "first_diverging_step": report.first_step,
                    "book_final_loss": float(ref.losses[-10:].mean()),
                    "stock_final_loss": float(stock.losses[-10:].mean()),
                    "book_accuracy": accuracy(ref_net, x, t),
                    "stock_accuracy": accuracy(net, x, t),
                    "why": WHY[(name, fw)],
                }
            )
    return rows


def format_drift(rows: list[dict]) -> str:
    """A markdown table, as docs/numerics.md shows it."""
    head = (
        "optimizer (lr)",
        "framework",
        "max abs dW, final",
        "first diverging step",
        f"{TRAIN_LOSS} book / stock",
        "accuracy book / stock",
        "why",
    )
    body = [
        (
            f"{r['optimizer']} ({r['lr']:g})",
            r["framework"],
            sci(r["max_abs_dweights"]),
            step_count(r["first_diverging_step"]),
            f"{r['book_final_loss']:.4f} / {r['stock_final_loss']:.4f}",
            f"{percent(r['book_accuracy'])} / {percent(r['stock_accuracy'])}",
            r["why"],
        )
        for r in rows
    ]
    return markdown_table(head, body)
