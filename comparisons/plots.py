"""The comparison's plots, drawn with matplotlib's object API on the Agg canvas
(no pyplot, so no global backend or figure state is touched).

Titles say what the run did (the curves agree, or where they part), not what the book's
run does. A run that blew up to huge but finite values (`--lr 1e300`) cannot be drawn as
is (matplotlib overflows): values beyond PLOT_LIMIT are drawn at the limit and values
that are not finite are left out, and `draw_all` returns a note saying so.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

FLOOR = 1e-18  # a difference of exactly 0 is drawn here on the log scale
PLOT_LIMIT = 1e100  # larger magnitudes are drawn here (matplotlib overflows near 1e300)
STYLES = ["-", "--", ":", "-."]
MARKERS = ["", "o", "x", "^", "s"]
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c"]  # one per spiral arm, regions and points
CLASS_MARKERS = ["o", "x", "^"]
GRID_CHUNK = 1 << 22  # grid points x hidden units per predict call of the boundary plot


class Plottable:
    """Counts what had to be clipped or left out while preparing curves for one figure."""

    def __init__(self, figure: str) -> None:
        self.figure = figure
        self.clipped = 0
        self.dropped = 0

    def __call__(self, values: np.ndarray, floor: float | None = None) -> np.ndarray:
        """`values` as float64 with non-finite ones NaN (matplotlib leaves a gap) and
        magnitudes beyond PLOT_LIMIT (or below `floor`, on a log scale) at the limit."""
        v = np.array(values, dtype=np.float64)
        bad = ~np.isfinite(v)
        self.dropped += int(bad.sum())
        big = np.abs(np.where(bad, 0.0, v)) > PLOT_LIMIT
        self.clipped += int(big.sum())
        v = np.where(bad, np.nan, np.clip(v, -PLOT_LIMIT, PLOT_LIMIT))
        return v if floor is None else np.maximum(v, floor)

    def note(self) -> str | None:
        if not (self.clipped or self.dropped):
            return None
        parts = []
        if self.clipped:
            parts.append(f"{self.clipped} values beyond {PLOT_LIMIT:.0e} drawn at that limit")
        if self.dropped:
            parts.append(f"{self.dropped} values that are not finite left out")
        return f"{self.figure}: " + "; ".join(parts)


def _png(fig: Figure) -> bytes:
    """The figure as PNG bytes: the caller writes them (comparisons.outdir) and the HTML
    report embeds the same bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


PLOT_NAMES = ("loss_curves.png", "differences.png", "decision_boundaries.png")


def draw_all(results) -> tuple[dict[str, bytes], list[str]]:
    """The three plots as PNG bytes by file name, and the notes of what any of them could
    not draw."""
    drawn = [loss_curves(results), difference_curves(results), decision_boundaries(results)]
    images = {name: png for name, (png, _) in zip(PLOT_NAMES, drawn, strict=True)}
    return images, [note for _, note in drawn if note is not None]


def loss_title(results) -> str:
    """What the loss curves show for this run: agreement, or who parts and when."""
    others = results.results[1:]
    if not others:
        return f"Training loss of {results.reference.name} (no other framework ran)"
    parted = [r for r in others if not r.report.passed]
    if not parted:
        worst = max(float(np.max(r.report.loss_error, initial=0.0)) for r in others)
        return f"Training loss: every framework agrees (max |dloss| {worst:.1g}), curves overlap"
    first = min(parted, key=lambda r: r.report.first_step)
    names = ", ".join(r.name for r in parted)
    return f"Training loss: {names} part from the reference after {first.report.first_step} updates"


def loss_curves(results, every: int = 10) -> tuple[bytes, str | None]:
    """Every framework's loss, averaged over `every` iterations as the book plots it."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax = fig.add_subplot()
    fit = Plottable("loss_curves.png")
    for i, r in enumerate(results.results):
        losses = np.asarray(r.trajectory.losses, dtype=np.float64)
        n = len(losses) // every * every
        with np.errstate(over="ignore", invalid="ignore"):
            avg = losses[:n].reshape(-1, every).mean(axis=1) if n else losses
        ax.plot(
            fit(avg),
            STYLES[i % 4],
            marker=MARKERS[i % 5],
            markevery=max(1, len(avg) // 12),
            label=f"{r.name} ({r.final_loss:.4g})",
            alpha=0.85,
        )
    gap = results.reference.trajectory.loss_gap
    if gap is not None and len(results.results) > 1 and np.nanmax(gap) > 1e-3:
        # the book's 1e-7 caps -log(p) near 16.1 where p underflows: drawn without it,
        # the reference's curve is what torch and JAX report (a run far from the book's)
        exact = np.asarray(results.reference.trajectory.losses) + gap
        n = len(exact) // every * every
        with np.errstate(over="ignore", invalid="ignore"):
            avg = exact[:n].reshape(-1, every).mean(axis=1) if n else exact
        ax.plot(fit(avg), color="k", linewidth=0.7, alpha=0.6,
                label=f"{results.reference.name} without the book's 1e-7")  # fmt: skip
    ax.set_xlabel(f"iterations (x{every})")
    ax.set_ylabel("train loss as each framework reports it")
    ax.set_title(loss_title(results), fontsize="medium")
    ax.legend(
        title="framework/mode (last epoch avg)", fontsize="small",
        loc="upper left", bbox_to_anchor=(1.01, 1),
    )  # fmt: skip
    return _png(fig), fit.note()


def difference_curves(results) -> tuple[bytes, str | None]:
    """Per-step difference from the reference, log scale: weights and losses. A curve
    identical to one drawn before it says so in the legend, and every curve has its own
    style and markers, so none hides another (jax/scan under jax/step)."""
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_w, ax_l = fig.subplots(1, 2)
    fit = Plottable("differences.png")
    gap = results.reference.trajectory.loss_gap
    drawn_w: list[tuple[str, np.ndarray]] = []
    drawn_l: list[tuple[str, np.ndarray]] = []
    for i, r in enumerate(results.results[1:]):
        rep = r.report
        style = dict(linestyle=STYLES[i % 4], marker=MARKERS[(i + 1) % 5], alpha=0.8)
        for ax, x, y, drawn, extra in (
            (ax_w, rep.record_steps, rep.error_curve, drawn_w, {}),
            (ax_l, np.arange(len(rep.loss_error)), rep.loss_error, drawn_l, {"linewidth": 0.8}),
        ):
            y = np.asarray(y, dtype=np.float64)
            same = next((name for name, d in drawn if np.array_equal(d, y, equal_nan=True)), None)
            label = r.name if same is None else f"{r.name} (= {same})"
            ax.semilogy(
                x, fit(y, FLOOR), label=label, markevery=max(1, len(y) // (8 + 3 * i)),
                markersize=4 + 2 * i, fillstyle="none", **style, **extra,
            )  # fmt: skip
            drawn.append((r.name, y))
    if gap is not None:
        ax_l.semilogy(
            fit(gap, FLOOR), "k", linewidth=0.6, alpha=0.5, label="the book's 1e-7 (removed)"
        )
    ax_w.set_title("max |W - W_ref| after each recorded step")
    ax_l.set_title("|loss - loss_ref| per step, epsilon-free")
    for ax in (ax_w, ax_l):
        ax.set_xlabel("step")
        if len(results.results) == 1:
            ax.text(0.5, 0.5, "only the reference ran", ha="center", transform=ax.transAxes)
        else:
            ax.legend(fontsize="small")
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(f"Difference from the reference (0 drawn at {FLOOR:g})")
    return _png(fig), fit.note()


def _predict_classes(net, grid: np.ndarray, hidden: int) -> np.ndarray:
    """argmax of the net's scores on `grid`, a chunk at a time so that a wide net does not
    hold (grid points, hidden) at once."""
    rows = max(1, GRID_CHUNK // max(1, hidden))
    with np.errstate(all="ignore"):
        return np.concatenate(
            [net.predict(grid[i : i + rows]).argmax(axis=1) for i in range(0, len(grid), rows)]
        )


def decision_boundaries(results, h: float = 0.01) -> tuple[bytes, str | None]:
    """The book's decision-boundary plot for each framework, side by side; each class's
    region in the colour of its points.

    The book samples the plane every 0.001; 0.01 gives the same picture with 100 times
    fewer points.
    """
    x, t = results.x, results.t
    x_min, x_max = x[:, 0].min() - 0.1, x[:, 0].max() + 0.1
    y_min, y_max = x[:, 1].min() - 0.1, x[:, 1].max() + 0.1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    grid = np.c_[xx.ravel(), yy.ravel()]
    n = len(results.results)
    fig = Figure(figsize=(3.6 * n + 1.6, 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
    regions = ListedColormap(CLASS_COLORS)
    hidden = results.config.hidden_size
    for ax, r in zip(axes, results.results, strict=True):
        z = _predict_classes(r.net, grid, hidden).reshape(xx.shape)
        ax.contourf(xx, yy, z, levels=[-0.5, 0.5, 1.5, 2.5], cmap=regions, alpha=0.3)
        for c in range(3):
            pts = x[t == c]
            ax.scatter(
                pts[:, 0], pts[:, 1], s=14, marker=CLASS_MARKERS[c], color=CLASS_COLORS[c],
                label=f"class {c}",
            )  # fmt: skip
        ax.set_title(f"{r.name}: {100 * r.accuracy:.1f}%")
        ax.set_xlabel("x[0]")
        ax.set_aspect("equal")
    axes[0].set_ylabel("x[1]")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, title="points (region: predicted)", fontsize="small",
        loc="outside right upper",
    )  # fmt: skip
    return _png(fig), None
