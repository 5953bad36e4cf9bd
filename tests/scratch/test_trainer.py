"""common/trainer.py: clip_grads, the shuffled batches, the report line, Trainer.fit/plot."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scratch import TwoLayerNet, spiral
from scratch.optimizers import SGD
from scratch.trainer import Trainer, clip_grads, progress_line, shuffled_batches


def norm_13_grads() -> list[np.ndarray]:
    """Two gradients whose global L2 norm is sqrt(9 + 16 + 144) = 13."""
    return [np.array([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]), np.array([0.0, 0.0, 12.0])]


@pytest.mark.parametrize("max_norm", [5.0, 10.0, 13.0])  # equal still scales: 13 / (13 + 1e-6)
def test_clip_grads_rescales_in_place_to_max_norm_when_above(max_norm):
    grads = norm_13_grads()
    aliases = list(grads)
    norm = 13.0

    clip_grads(grads, max_norm)

    assert all(g is a for g, a in zip(grads, aliases, strict=True))
    rate = max_norm / (norm + 1e-6)
    for clipped, original in zip(grads, norm_13_grads(), strict=True):
        np.testing.assert_allclose(clipped, original * rate, rtol=1e-15)
    new_norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    np.testing.assert_allclose(new_norm, max_norm * (norm / (norm + 1e-6)), rtol=1e-15)


@pytest.mark.parametrize("max_norm", [13.001, 20.0])
def test_clip_grads_leaves_grads_untouched_when_below(max_norm):
    grads = norm_13_grads()
    clip_grads(grads, max_norm)
    assert all(np.array_equal(g, o) for g, o in zip(grads, norm_13_grads(), strict=True))


def book_batches(n: int, batch_size: int, max_epoch: int, seed: int) -> list[np.ndarray]:
    """The book's loop on x = arange(n): one permutation per epoch, x rebound each time."""
    r = np.random.RandomState(seed)
    xs = np.arange(n)
    seen = []
    for _ in range(max_epoch):
        idx = r.permutation(n)
        xs = xs[idx]
        for iters in range(n // batch_size):
            seen.append(xs[iters * batch_size : (iters + 1) * batch_size])
    return seen


def test_shuffled_batches_are_the_rows_the_books_loop_sees():
    n, batch_size, max_epoch, seed = 23, 5, 4, 7  # 23 % 5 = 3 rows dropped per epoch
    schedule = shuffled_batches(n, batch_size, max_epoch, np.random.RandomState(seed))
    assert schedule.shape == (max_epoch * 4, batch_size)
    assert np.array_equal(schedule, np.array(book_batches(n, batch_size, max_epoch, seed)))
    for epoch in schedule.reshape(max_epoch, 4 * batch_size):
        assert len(set(epoch.tolist())) == 4 * batch_size  # no row twice within an epoch


def test_shuffled_batches_compose_the_permutations():
    # Epoch 2 sees p1[p2], not p2: the book shuffles the already shuffled rows.
    r = np.random.RandomState(3)
    p1, p2 = r.permutation(6), r.permutation(6)
    schedule = shuffled_batches(6, 6, 2, np.random.RandomState(3))
    assert np.array_equal(schedule, np.stack([p1, p1[p2]]))


@pytest.mark.parametrize(
    ("n", "batch_size", "max_epoch"), [(5, 6, 1), (0, 1, 1), (5, 0, 1), (5, 1, 0), (5.0, 1, 1)]
)
def test_shuffled_batches_rejects_bad_sizes(n, batch_size, max_epoch):
    with pytest.raises(ValueError, match="shuffled_batches"):
        shuffled_batches(n, batch_size, max_epoch, np.random.RandomState(0))


def test_progress_line_is_the_books_format():
    assert (
        progress_line(1, 1, 10, 0.4, 1.1034) == "| epoch 1 |  iter 1 / 10 | time 0[s] | loss 1.10"
    )


def fit_book_setup(**fit_options) -> Trainer:
    """The book's Trainer run on the spiral, one RandomState(1984) for everything."""
    rng = np.random.RandomState(1984)
    x, t = spiral.load_data(rng=rng)
    model = TwoLayerNet(2, 10, 3, rng=rng)
    trainer = Trainer(model, SGD(1.0))
    trainer.fit(x, t, 300, 30, eval_interval=10, rng=rng, **fit_options)
    return trainer


def test_fit_reproduces_a_book_style_loop_bit_for_bit():
    trainer = fit_book_setup()

    # The book's Trainer.fit, written out, with its own stream standing in for np.random.
    book_rng = np.random.RandomState(1984)
    x, t = spiral.load_data(rng=book_rng)
    W1 = 0.01 * book_rng.randn(2, 10)
    W2 = 0.01 * book_rng.randn(10, 3)
    model = TwoLayerNet(
        2, 10, 3, weights={"W1": W1, "b1": np.zeros(10), "W2": W2, "b2": np.zeros(3)}
    )
    optimizer = SGD(lr=1.0)
    batch_size, max_iters, eval_interval = 30, 10, 10
    loss_list, total_loss, loss_count = [], 0, 0
    for _ in range(300):
        idx = book_rng.permutation(np.arange(len(x)))
        x, t = x[idx], t[idx]
        for iters in range(max_iters):
            batch_x = x[iters * batch_size : (iters + 1) * batch_size]
            batch_t = t[iters * batch_size : (iters + 1) * batch_size]
            loss = model.forward(batch_x, batch_t)
            model.backward()
            optimizer.update(model.params, model.grads)
            total_loss += loss
            loss_count += 1
            if iters % eval_interval == 0:
                loss_list.append(float(total_loss / loss_count))
                total_loss, loss_count = 0, 0

    assert len(trainer.loss_list) == 300
    assert trainer.loss_list == loss_list
    assert trainer.current_epoch == 300
    for got, want in zip(trainer.model.params, model.params, strict=True):
        assert np.array_equal(got, want)


def test_fit_prints_one_report_line_per_eval_interval(capsys):
    trainer = fit_book_setup()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 300
    assert lines[0].startswith("| epoch 1 |  iter 1 / 10 | time ")
    pattern = re.compile(r"\| epoch (\d+) \|  iter 1 / 10 \| time \d+\[s\] \| loss (\d+\.\d\d)")
    for epoch, (line, loss) in enumerate(zip(lines, trainer.loss_list, strict=True), start=1):
        match = pattern.fullmatch(line)
        assert match, line
        assert match.groups() == (str(epoch), f"{loss:.2f}")


def test_fit_reports_nothing_without_eval_interval(capsys):
    rng = np.random.RandomState(0)
    x, t = spiral.load_data(rng=rng)
    trainer = Trainer(TwoLayerNet(2, 5, 3, rng=rng), SGD(1.0))
    trainer.fit(x, t, 2, 30, eval_interval=None, rng=rng)
    assert trainer.loss_list == [] and capsys.readouterr().out == ""
    assert trainer.current_epoch == 2


def test_fit_with_max_grad_clips_every_step():
    rng = np.random.RandomState(5)
    x, t = spiral.load_data(rng=rng)
    weights = TwoLayerNet(2, 5, 3, rng=rng).weights()
    max_grad = 0.05
    trainer = Trainer(TwoLayerNet(2, 5, 3, weights=weights), SGD(1.0))
    trainer.fit(x, t, 2, 30, max_grad=max_grad, eval_interval=2, rng=np.random.RandomState(6))

    # The same steps by hand: forward, backward, clip, update.
    model, optimizer = TwoLayerNet(2, 5, 3, weights=weights), SGD(1.0)
    for rows in shuffled_batches(300, 30, 2, np.random.RandomState(6)):
        model.forward(x[rows], t[rows])
        model.backward()
        clip_grads(model.grads, max_grad)
        optimizer.update(model.params, model.grads)

    unclipped = Trainer(TwoLayerNet(2, 5, 3, weights=weights), SGD(1.0))
    unclipped.fit(x, t, 2, 30, eval_interval=2, rng=np.random.RandomState(6))
    assert not np.allclose(unclipped.model.params[0], model.params[0])  # clipping did act

    last_norm = np.sqrt(sum(np.sum(g**2) for g in trainer.model.grads))
    assert last_norm <= max_grad  # the last step's gradients were clipped in place
    assert len(trainer.loss_list) == 2 * 5  # iters 0, 2, 4, 6, 8 of each epoch
    for got, want in zip(trainer.model.params, model.params, strict=True):
        assert np.array_equal(got, want)


def test_fit_counts_epochs_across_calls_even_with_one_batch_per_epoch(capsys):
    rng = np.random.RandomState(2)
    x, t = spiral.load_data(rng=rng)
    trainer = Trainer(TwoLayerNet(2, 5, 3, rng=rng), SGD(1.0))
    trainer.fit(x, t, 3, 300, eval_interval=1, rng=rng)  # max_iters = 1
    trainer.fit(x, t, 2, 300, eval_interval=1, rng=rng)  # the book keeps counting
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" |")[0] for line in lines] == [f"| epoch {e}" for e in range(1, 6)]
    assert all(" iter 1 / 1 |" in line for line in lines)
    assert trainer.current_epoch == 5 and len(trainer.loss_list) == 5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"t": np.zeros((299, 3), dtype=np.int64)}, "rows"),
        ({"max_grad": 0.0}, "max_grad"),
        ({"eval_interval": 0}, "eval_interval"),
    ],
)
def test_fit_rejects_bad_arguments(options, message):
    x, t = spiral.load_data()
    trainer = Trainer(TwoLayerNet(2, 5, 3, rng=np.random.RandomState(0)), SGD())
    arguments = {"x": x, "t": t, "max_epoch": 1, "batch_size": 30, **options}
    with pytest.raises(ValueError, match=message):
        trainer.fit(**arguments, rng=np.random.RandomState(0))


def test_plot_draws_the_loss_list_on_the_given_axes():
    figure_module = pytest.importorskip("matplotlib.figure")
    rng = np.random.RandomState(1)
    x, t = spiral.load_data(rng=rng)
    trainer = Trainer(TwoLayerNet(2, 5, 3, rng=rng), SGD(1.0))
    trainer.fit(x, t, 3, 30, eval_interval=5, rng=rng, verbose=False)

    ax = figure_module.Figure().subplots()  # no pyplot figure, nothing shown
    assert trainer.plot(ylim=(0, 2), ax=ax) is ax
    (line,) = ax.get_lines()
    assert line.get_ydata().tolist() == trainer.loss_list
    assert line.get_xdata().tolist() == list(range(len(trainer.loss_list)))
    assert ax.get_xlabel() == "iterations (x5)" and ax.get_ylabel() == "loss"
    assert ax.get_ylim() == (0, 2)
