"""The comparison's plots, drawn with matplotlib's object API on the Agg canvas
(no pyplot, so no global backend or figure state is touched)."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FLOOR = 1e-18  # a difference of exactly 0 is drawn here on the log scale
STYLES = ["-", "--", ":", "-."]
MARKERS = ["", "o", "x", "^", "s"]


def _png(fig: Figure) -> bytes:
    """The figure as PNG bytes: the caller writes them (comparisons.outdir) and the HTML
    report embeds the same bytes."""
    import io

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def loss_curves(results, every: int = 10) -> bytes:
    """Every framework's loss, averaged over `every` iterations as the book plots it."""
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for i, r in enumerate(results.results):
        losses = r.trajectory.losses
        n = len(losses) // every * every
        avg = losses[:n].reshape(-1, every).mean(axis=1)
        ax.plot(
            avg,
            STYLES[i % 4],
            marker=MARKERS[i % 5],
            markevery=max(1, len(avg) // 12),
            label=f"{r.name} ({r.final_loss:.4f})",
            alpha=0.85,
        )
    ax.set_xlabel(f"iterations (x{every})")
    ax.set_ylabel("loss")
    ax.set_title("Training loss: the curves lie on top of each other")
    ax.legend()
    return _png(fig)


def difference_curves(results) -> bytes:
    """Per-step difference from the reference, log scale: weights and losses."""
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_w, ax_l = fig.subplots(1, 2)
    gap = results.reference.trajectory.loss_gap
    for i, r in enumerate(results.results[1:], start=1):
        rep = r.report
        ax_w.semilogy(
            rep.record_steps, np.maximum(rep.error_curve, FLOOR), STYLES[i % 4], label=r.name
        )
        ax_l.semilogy(np.maximum(rep.loss_error, FLOOR), STYLES[i % 4], linewidth=0.8, label=r.name)
    if gap is not None:
        ax_l.semilogy(gap, "k", linewidth=0.6, alpha=0.5, label="the book's 1e-7 (removed)")
    ax_w.set_title("max |W - W_ref| after each recorded step")
    ax_w.set_xlabel("step")
    ax_l.set_title("|loss - loss_ref| per step, epsilon-free")
    ax_l.set_xlabel("step")
    for ax in (ax_w, ax_l):
        if len(results.results) == 1:
            ax.text(0.5, 0.5, "only the reference ran", ha="center", transform=ax.transAxes)
        else:
            ax.legend(fontsize="small")
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(f"Difference from the reference (0 drawn at {FLOOR:g})")
    return _png(fig)


def decision_boundaries(results, h: float = 0.01) -> bytes:
    """The book's decision-boundary plot for each framework, side by side.

    The book samples the plane every 0.001; 0.01 gives the same picture with 100 times
    fewer points.
    """
    x, t = results.x, results.t
    x_min, x_max = x[:, 0].min() - 0.1, x[:, 0].max() + 0.1
    y_min, y_max = x[:, 1].min() - 0.1, x[:, 1].max() + 0.1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    grid = np.c_[xx.ravel(), yy.ravel()]
    n = len(results.results)
    fig = Figure(figsize=(3.6 * n, 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
    markers = ["o", "x", "^"]
    for ax, r in zip(axes, results.results, strict=True):
        z = r.net.predict(grid).argmax(axis=1).reshape(xx.shape)
        ax.contourf(xx, yy, z, alpha=0.6)
        for c in range(3):
            pts = x[t == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=12, marker=markers[c])
        ax.set_title(f"{r.name}: {100 * r.accuracy:.1f}%")
        ax.set_aspect("equal")
    return _png(fig)
