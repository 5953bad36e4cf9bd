"""RnnlmTrainer and eval_perplexity: the book's batches (offsets, time_idx), its reports,
and bad input refused before any training."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.optimizers import SGD
from scratch.rnnlm import Rnnlm
from scratch.trainer import RnnlmTrainer, rnnlm_batches
from scratch.util import eval_perplexity

V = 13


def corpus(n: int = 401, seed: int = 0) -> np.ndarray:
    c = np.random.RandomState(seed).randint(0, V, n)
    c[:V] = np.arange(V)
    return c


def test_batches_are_the_books_get_batch_blocks_offsets_and_time_idx():
    """common/trainer.py's get_batch, element by element: sample i reads from offset
    i * (data_size // batch_size) + time_idx, wrapping around; time_idx moves on by one
    per column, across steps and epochs."""
    data_size, batch_size, time_size, steps = 97, 6, 4, 9  # 97 // 24 = 4 iters an epoch
    book = np.empty((steps, batch_size, time_size), dtype=np.int64)
    jump = data_size // batch_size
    time_idx = 0
    for s in range(steps):
        for t in range(time_size):
            for i in range(batch_size):
                book[s, i, t] = (i * jump + time_idx) % data_size
            time_idx += 1
    assert np.array_equal(rnnlm_batches(data_size, batch_size, time_size, steps), book)
    trainer = RnnlmTrainer(None, None)
    trainer.time_idx = 0
    x = np.arange(100, 100 + data_size)
    for s in range(3):
        bx, bt = trainer.get_batch(x, x + 1, batch_size, time_size)
        assert bx.dtype == np.int32 and np.array_equal(bx, x[book[s]])
        assert np.array_equal(bt, x[book[s]] + 1)


def test_fit_reports_perplexity_every_eval_interval_from_each_epochs_first_step(capsys):
    c = corpus()
    model = Rnnlm(V, 5, 6, rng=np.random.RandomState(0), dtype=np.float64)
    trainer = RnnlmTrainer(model, SGD(1.0))
    losses = []
    forward = model.forward
    model.forward = lambda xs, ts: losses.append(forward(xs, ts)) or losses[-1]
    trainer.fit(c[:-1], c[1:], max_epoch=2, batch_size=4, time_size=10, eval_interval=4)
    lines = capsys.readouterr().out.splitlines()
    assert len(losses) == 2 * 10  # 400 // 40 steps an epoch
    assert [line.split("|")[2].strip() for line in lines] == [
        "iter 1 / 10", "iter 5 / 10", "iter 9 / 10"
    ] * 2  # fmt: skip
    assert lines[0].startswith("| epoch 1 |") and lines[-1].startswith("| epoch 2 |")
    # the second report averages steps 1..4 (0-based) since the first
    assert trainer.ppl_list[1] == pytest.approx(np.exp(np.mean(losses[1:5])), rel=1e-14)
    assert lines[1].endswith(f"perplexity {trainer.ppl_list[1]:.2f}")
    assert trainer.current_epoch == 2


def test_eval_perplexity_reads_the_books_blocks_and_turns_dropout_off():
    c = corpus(seed=1)
    seen = []

    class Recorder:
        vocab_size = V

        def forward(self, xs, ts, train_flg=True):
            seen.append((xs.copy(), ts.copy(), train_flg))
            return 1.5

    ppl = eval_perplexity(Recorder(), c, batch_size=4, time_size=7, verbose=False)
    assert ppl == pytest.approx(np.exp(1.5))
    jump = (len(c) - 1) // 4
    assert len(seen) == (len(c) - 1) // 28
    for iters, (xs, ts, train_flg) in enumerate(seen):
        assert train_flg is False
        for i in range(4):
            for t in range(7):  # common/util.py's loop
                where = iters * 7 + i * jump + t
                assert xs[i, t] == c[where % len(c)] and ts[i, t] == c[(where + 1) % len(c)]


def fit(**kw):
    c = corpus()
    args = {"xs": c[:-1], "ts": c[1:], "max_epoch": 1, "batch_size": 4, "time_size": 10}
    args.update(kw)
    model = Rnnlm(V, 5, 6, rng=np.random.RandomState(0))
    RnnlmTrainer(model, SGD(1.0)).fit(**args, verbose=False)


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"ts": corpus()[1:-1]}, ValueError, "xs and ts must have the same shape"),
        ({"xs": corpus()[:-1] + V}, ValueError, r"xs holds the word id .* outside"),
        ({"ts": corpus()[1:] - V}, ValueError, r"ts holds the word id -\d+"),
        ({"xs": corpus()[:-1].astype(float)}, TypeError, "xs must hold integer word ids"),
        ({"time_size": 101}, ValueError, "time_size 101 is too long for the data"),
        ({"max_grad": 0.0}, ValueError, "max_grad must be > 0"),
        ({"max_grad": -1.0}, ValueError, "max_grad must be > 0"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"eval_interval": 0}, ValueError, "eval_interval"),
    ],
)
def test_bad_input_is_refused_naming_it_before_any_training(kw, error, match):
    with pytest.raises(error, match=match):
        fit(**kw)


def test_bad_input_leaves_the_model_as_it_was():
    c = corpus()
    model = Rnnlm(V, 5, 6, rng=np.random.RandomState(0))
    before = model.weights()
    with pytest.raises(ValueError, match="time_size"):
        RnnlmTrainer(model, SGD(1.0)).fit(c[:-1], c[1:], 1, 4, 101, verbose=False)
    assert all(np.array_equal(before[k], v) for k, v in model.weights().items())


def test_eval_perplexity_refuses_a_corpus_too_short_for_one_block():
    model = Rnnlm(V, 5, 6, rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="time_size 35 is too long for the corpus"):
        eval_perplexity(model, corpus(100), verbose=False)


def test_plot_draws_the_perplexity_list_on_the_given_axes():
    figure_module = pytest.importorskip("matplotlib.figure")
    c = corpus()
    model = Rnnlm(V, 5, 6, rng=np.random.RandomState(0), dtype=np.float64)
    trainer = RnnlmTrainer(model, SGD(1.0))
    trainer.fit(c[:-1], c[1:], 1, 4, 10, eval_interval=4, verbose=False)

    ax = figure_module.Figure().subplots()  # no pyplot figure, nothing shown
    assert trainer.plot(ylim=(0, 20), ax=ax) is ax
    (line,) = ax.get_lines()
    assert len(trainer.ppl_list) == 3 and line.get_ydata().tolist() == trainer.ppl_list
    assert line.get_xdata().tolist() == [0, 1, 2]
    assert ax.get_xlabel() == "iterations (x4)" and ax.get_ylabel() == "perplexity"
    assert ax.get_ylim() == (0, 20)
