"""The Trainer of common/trainer.py and its helpers, without global randomness.

The book shuffles with NumPy's global generator and rebinds `x = x[idx]` every epoch, so
epoch k sees the rows permuted by p_1, then p_2, ..., then p_k: the permutations compose.
`shuffled_batches` turns that into plain row indices of the *original* data, one row of
the result per step, so every framework can be fed exactly the same batches.
`remove_duplicate` merges the weights a model shares between layers before the update.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from scratch import word_ids
from scratch.xp import array_module

CLIP_EPS = 1e-6  # the book's epsilon in clip_grads


def shuffled_batches(
    n: int,
    batch_size: int,
    max_epoch: int,
    rng: np.random.RandomState | np.random.Generator,
) -> np.ndarray:
    """Row indices (steps, batch_size) into the unshuffled data, in the book's order.

    One `rng.permutation(n)` per epoch, applied to the already shuffled order; batches are
    contiguous slices of it, and the last `n % batch_size` rows of each epoch are dropped.
    steps = max_epoch * (n // batch_size).
    """
    epochs = list(epoch_batches(n, batch_size, max_epoch, rng))
    return np.concatenate(epochs).astype(np.int64, copy=False)  # (steps, batch)


def epoch_batches(
    n: int,
    batch_size: int,
    max_epoch: int,
    rng: np.random.RandomState | np.random.Generator,
) -> Iterator[np.ndarray]:
    """`shuffled_batches` one epoch at a time: (n // batch_size, batch_size) row indices each.

    An epoch's permutation is drawn when the epoch is reached, as the book's Trainer draws
    it, so a model that draws from the same generator while it trains (the negative
    samples of chapter 4) takes its draws between the epochs' ones, in the book's order.
    The arguments are checked at the call, before anything is drawn.
    """
    for name, value in (("n", n), ("batch_size", batch_size), ("max_epoch", max_epoch)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"shuffled_batches: {name} must be a positive int, got {value!r}")
    if batch_size > n:
        raise ValueError(f"shuffled_batches: batch_size {batch_size} exceeds n={n}")
    return _epochs(n, batch_size, max_epoch, rng)


def _epochs(n, batch_size, max_epoch, rng) -> Iterator[np.ndarray]:
    max_iters = n // batch_size
    order = np.arange(n)  # order[i] = original row now at position i
    for _ in range(max_epoch):
        order = order[rng.permutation(n)]  # the book's x = x[idx], on indices
        yield order[: max_iters * batch_size].reshape(max_iters, batch_size)


def clip_grads(grads: list[np.ndarray], max_norm: float) -> None:
    """Scale all gradients in place by max_norm / (global L2 norm + 1e-6) when that is < 1."""
    xp = array_module(*grads)
    total_norm = 0
    for grad in grads:
        total_norm += xp.sum(grad**2)
    total_norm = xp.sqrt(total_norm)
    rate = max_norm / (total_norm + CLIP_EPS)
    if rate < 1:
        for grad in grads:
            grad *= rate


def remove_duplicate(
    params: list[np.ndarray], grads: list[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Merge shared weights into one entry each, summing their gradients (common/trainer.py).

    A weight used by several layers (CBOW's `W_in` in every context's Embedding) appears
    once per layer in `params`; its gradients are added into the first one's array, in
    place, left to right, and the later entries are dropped. A weight shared as its
    transpose (weight tying, §6.5.3: an (H, V) matrix equal to the transpose of a (V, H)
    one) adds the transposed gradient. Returns new lists; the arrays in them are the
    model's own. This is what autograd does for a parameter used more than once: the
    gradients of its uses are summed.

    The book's loop, kept as it is: find the first pair (i < j) that is shared, merge it,
    and start the search again, so the sums run in the book's order.
    """
    params, grads = params[:], grads[:]  # copies of the lists, not of the arrays
    while True:
        found = False
        for i in range(len(params) - 1):
            for j in range(i + 1, len(params)):
                if params[i] is params[j]:  # the same array
                    grads[i] += grads[j]
                    found = True
                elif (
                    params[i].ndim == 2
                    and params[j].ndim == 2
                    and params[i].T.shape == params[j].shape
                    and bool((params[i].T == params[j]).all())
                ):  # shared as its transpose (weight tying)
                    grads[i] += grads[j].T  # (H, V) -> (V, H)
                    found = True
                if found:
                    params.pop(j)
                    grads.pop(j)
                    break
            if found:
                break
        if not found:
            return params, grads


def train_step(model, optimizer, batch_x, batch_t, max_grad: float | None) -> float:
    """One step of both trainers: forward, backward, the shared (or tied) weights'
    gradients summed once, clipping when `max_grad` is given, the update. The loss."""
    loss = model.forward(batch_x, batch_t)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(params, grads)
    return loss


def progress_line(epoch: int, iters: int, max_iters: int, elapsed: float, loss: float) -> str:
    """`| epoch 1 |  iter 1 / 10 | time 0[s] | loss 1.10`, the Trainer's report."""
    return (
        f"| epoch {epoch} |  iter {iters} / {max_iters} | time {int(elapsed)}[s] | loss {loss:.2f}"
    )


class Trainer:
    """common/trainer.py's Trainer: shuffle, slice, forward, backward, merge the shared
    weights (`remove_duplicate`), clip, update, report.

    A report is printed every `eval_interval` iterations counted from the first of each
    epoch (`iters % eval_interval == 0`), averaging the losses since the previous report;
    the averages are kept in `loss_list`. `rng` takes the place of the book's global
    generator (a fresh unseeded RandomState when None); hand it the generator the model
    draws from (its `rng`) to get the book's single stream: with both the same
    `RandomState(s)`, a run equals the book's after `np.random.seed(s)`.
    """

    def __init__(self, model, optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_list: list[float] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0

    def fit(
        self,
        x: np.ndarray,
        t: np.ndarray,
        max_epoch: int = 10,
        batch_size: int = 32,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
        rng: np.random.RandomState | np.random.Generator | None = None,
        *,
        verbose: bool = True,
    ) -> None:
        if rng is None:
            rng = np.random.RandomState()
        if len(x) != len(t):
            raise ValueError(f"Trainer.fit: x has {len(x)} rows but t has {len(t)}")
        if max_grad is not None and not max_grad > 0:
            raise ValueError(f"Trainer.fit: max_grad must be > 0 or None, got {max_grad!r}")
        if eval_interval is not None and eval_interval < 1:
            raise ValueError(f"Trainer.fit: eval_interval must be >= 1, got {eval_interval!r}")
        data_size = len(x)
        max_iters = data_size // batch_size
        epochs = epoch_batches(data_size, batch_size, max_epoch, rng)
        self.eval_interval = eval_interval
        model, optimizer = self.model, self.optimizer
        total_loss, loss_count = 0, 0

        start_time = time.time()
        xp = array_module(x)
        for batches in epochs:
            batches = xp.asarray(batches)  # CuPy data is indexed on the GPU
            # the epoch's batches gathered at once, as the book's x = x[idx]: (iters, batch, ...)
            epoch = zip(x[batches], t[batches], strict=True)
            for iters, (batch_x, batch_t) in enumerate(epoch):
                loss = train_step(model, optimizer, batch_x, batch_t, max_grad)
                total_loss += loss
                loss_count += 1

                if eval_interval is not None and iters % eval_interval == 0:
                    avg_loss = total_loss / loss_count
                    if verbose:
                        elapsed = time.time() - start_time
                        print(
                            progress_line(
                                self.current_epoch + 1, iters + 1, max_iters, elapsed, avg_loss
                            )
                        )
                    self.loss_list.append(float(avg_loss))
                    total_loss, loss_count = 0, 0
            self.current_epoch += 1

    def plot(self, ylim: tuple[float, float] | None = None, *, ax=None):
        """The book's loss plot. Draws on `ax` when given (nothing is shown then), else
        on a new figure that is shown, as the book does. Returns the axes."""
        return plot_per_interval(self.loss_list, self.eval_interval, "loss", ylim, ax)


# --------------------------------------------------------------------------- chapters 5-6


def rnnlm_batches(data_size: int, batch_size: int, time_size: int, steps: int) -> np.ndarray:
    """Positions (steps, batch_size, time_size) into xs and ts, in the order of the book's
    RnnlmTrainer.get_batch (§5.5.3): sample i of every batch reads from its own offset
    i * (data_size // batch_size), and every step moves all of them on by time_size, so
    each row continues where it stopped (what lets the stateful RNN carry its state), and
    wraps around at the end of the data. The first step starts at time_idx 0.
    """
    for name, value in (
        ("data_size", data_size),
        ("batch_size", batch_size),
        ("time_size", time_size),
        ("steps", steps),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"rnnlm_batches: {name} must be a positive int, got {value!r}")
    jump = data_size // batch_size
    offsets = np.arange(batch_size, dtype=np.int64) * jump  # (batch,)
    time_idx = np.arange(steps * time_size, dtype=np.int64).reshape(steps, 1, time_size)
    return (offsets[None, :, None] + time_idx) % data_size  # (steps, batch, time)


def rnnlm_iters(data_size: int, batch_size: int, time_size: int) -> int:
    """Steps in one epoch, data_size // (batch_size * time_size); a ValueError naming
    time_size when one batch needs more ids than the data holds."""
    max_iters = data_size // (batch_size * time_size)
    if max_iters < 1:
        raise ValueError(
            f"time_size {time_size} is too long for the data: one batch reads batch_size * "
            f"time_size = {batch_size * time_size} ids, but xs holds {data_size}"
        )
    return max_iters


def perplexity_line(epoch: int, iters: int, max_iters: int, elapsed: float, ppl: float) -> str:
    """`| epoch 1 |  iter 1 / 13 | time 0[s] | perplexity 417.06`, RnnlmTrainer's report."""
    return (
        f"| epoch {epoch} |  iter {iters} / {max_iters} | time {int(elapsed)}[s] "
        f"| perplexity {ppl:.2f}"
    )


class RnnlmTrainer:
    """common/trainer.py's RnnlmTrainer (§5.5.3): batches read in parallel at offsets
    through the corpus, forward, backward, merge the shared weights (`remove_duplicate`:
    the tied weight's two gradients are summed once), clip, update.

    Every `eval_interval` iterations of an epoch (counted from its first) the perplexity
    exp(mean loss since the last report) is printed and kept in `ppl_list`. Each `fit`
    starts reading at the beginning of the data (time_idx 0), as the book's does; the
    model keeps its recurrent state (call `model.reset_state()` to drop it).
    """

    def __init__(self, model, optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self.time_idx: int | None = None
        self.ppl_list: list[float] | None = None
        self.eval_interval: int | None = None
        self.current_epoch = 0

    def get_batch(
        self, x: np.ndarray, t: np.ndarray, batch_size: int, time_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The next (batch_size, time_size) block of x and t, as int32 ('i', the book's);
        time_idx moves on by time_size."""
        (rows,) = rnnlm_batches(len(x), batch_size, time_size, 1) + self.time_idx
        rows %= len(x)
        self.time_idx += time_size
        xp = array_module(x)
        rows = xp.asarray(rows)  # CuPy data is indexed on the GPU
        return x[rows].astype(np.int32), t[rows].astype(np.int32)

    def fit(
        self,
        xs: np.ndarray,
        ts: np.ndarray,
        max_epoch: int = 10,
        batch_size: int = 20,
        time_size: int = 35,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
        *,
        verbose: bool = True,
    ) -> None:
        vocab_size = getattr(self.model, "vocab_size", None)
        xs = word_ids.ids(xs, "xs", vocab_size, ndim=1)
        ts = word_ids.ids(ts, "ts", vocab_size, ndim=1)
        if xs.shape != ts.shape:
            raise ValueError(
                f"xs and ts must have the same shape (ts[i] is the word after xs[i]), got "
                f"{xs.shape} and {ts.shape}"
            )
        for name, value in (
            ("max_epoch", max_epoch),
            ("batch_size", batch_size),
            ("time_size", time_size),
        ):
            word_ids.positive_int(value, name)
        if max_grad is not None and not max_grad > 0:
            raise ValueError(f"RnnlmTrainer.fit: max_grad must be > 0 or None, got {max_grad!r}")
        if eval_interval is not None and eval_interval < 1:
            raise ValueError(
                f"RnnlmTrainer.fit: eval_interval must be >= 1 or None, got {eval_interval!r}"
            )
        data_size = len(xs)
        max_iters = rnnlm_iters(data_size, batch_size, time_size)
        self.time_idx = 0
        self.ppl_list = []
        self.eval_interval = eval_interval
        model, optimizer = self.model, self.optimizer
        total_loss, loss_count = 0, 0

        start_time = time.time()
        for _ in range(max_epoch):
            for iters in range(max_iters):
                batch_x, batch_t = self.get_batch(xs, ts, batch_size, time_size)
                loss = train_step(model, optimizer, batch_x, batch_t, max_grad)
                total_loss += loss
                loss_count += 1

                if eval_interval is not None and iters % eval_interval == 0:
                    ppl = np.exp(total_loss / loss_count)
                    if verbose:
                        elapsed = time.time() - start_time
                        epoch = self.current_epoch + 1
                        print(perplexity_line(epoch, iters + 1, max_iters, elapsed, ppl))
                    self.ppl_list.append(float(ppl))
                    total_loss, loss_count = 0, 0
            self.current_epoch += 1

    def plot(self, ylim: tuple[float, float] | None = None, *, ax=None):
        """The book's perplexity plot. Draws on `ax` when given (nothing is shown then),
        else on a new figure that is shown, as the book does. Returns the axes."""
        return plot_per_interval(self.ppl_list, self.eval_interval, "perplexity", ylim, ax)


def plot_per_interval(values: list, interval: int, ylabel: str, ylim, ax):
    """The trainers' plot of `values` taken every `interval` iterations. Draws on `ax`
    when given (nothing is shown then), else on a new figure that is shown, as the book
    does. Returns the axes."""
    import matplotlib.pyplot as plt

    show = ax is None
    if ax is None:
        _, ax = plt.subplots()
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.plot(np.arange(len(values)), values, label="train")
    ax.set_xlabel(f"iterations (x{interval})")
    ax.set_ylabel(ylabel)
    if show:
        plt.show()
    return ax
