"""The language models' twins against the reference: the default run in every framework
to the float64 trajectory tolerance (1e-10), dropout and weight tying included (JAX in
"scan" mode; "step" mode is compared with the reference by
tests/comparisons/test_rnnlm_cli.py); gradients, losses and scores of one block; the
reference Net is the book's RnnlmTrainer run bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from comparisons import parity
from scratch.optimizers import SGD
from scratch.trainer import RnnlmTrainer
from tests.adapters.rnnlm_runs import MODELS, default_run, short_run, train
from tests.helpers import need

pytestmark = pytest.mark.crossframework


@pytest.fixture(scope="module")
def default_runs():
    """Each model's default run (228 steps, float64) in NumPy, torch and JAX (scan)."""
    need("torch", "jax")
    return {
        model: {fw: train(fw, default_run(model)) for fw in ("numpy", "torch", "jax")}
        for model in MODELS
    }


@pytest.mark.parametrize("model", MODELS)
def test_twins_agree_with_the_reference_over_the_default_run(default_runs, model):
    runs = default_runs[model]
    ref = runs["numpy"]
    assert ref.losses.shape == (228,) and set(ref.weights) == set(
        adapters.rnnlm.weight_names(model)
    )
    for framework in ("torch", "jax"):
        report = parity.compare_trajectories(ref, runs[framework])
        assert report.passed, report.summary()
        assert report.error_curve.size == 229 and report.max_weight_error <= 1e-10
    ppl = np.exp(ref.losses.reshape(12, 19).mean(axis=1))  # per epoch
    assert ppl[0] > 2 * ppl[-1]  # it learns: perplexity falls


# JAX compiles each function for each model: its block functions are checked on the
# model that has every piece (two LSTMs, dropout, the tied weight); the others in torch
BLOCK_TWINS = {"simple_rnnlm": ("torch",), "rnnlm": ("torch",), "better_rnnlm": ("torch", "jax")}


@pytest.mark.parametrize("model", MODELS)
def test_gradients_losses_and_scores_of_a_block_agree(model):
    twins = BLOCK_TWINS[model]
    need(*twins)
    d = short_run(model)
    rows = d.schedule[0]
    block = (d.xs[rows], d.ts[rows], None if d.masks is None else d.masks[0])
    ref = adapters.build("numpy", d.weights, model=model, **d.config)
    want = ref.gradients(*block)
    assert list(want) == list(adapters.rnnlm.weight_names(model)) and all(
        g.any() for g in want.values()
    )
    for fw in twins:
        net = adapters.build(fw, d.weights, model=model, **d.config)
        report = parity.compare(
            want, net.gradients(*block), quantity="gradient", names=("numpy", fw)
        )
        assert report.passed, report.table()
        assert abs(net.loss(*block) - ref.loss(*block)) < 1e-13
        scores = {"scores": ref.predict(block[0])}
        report = parity.compare(scores, {"scores": net.predict(block[0])}, quantity="forward")
        assert report.passed, report.table()


def test_better_rnnlm_drops_only_with_masks_given():
    d = short_run("better_rnnlm")
    rows = d.schedule[0]
    net = adapters.build("numpy", d.weights, model="better_rnnlm", **d.config)
    dropped, kept = net.loss(d.xs[rows], d.ts[rows], d.masks[0]), net.loss(d.xs[rows], d.ts[rows])
    assert dropped != kept
    none_dropped = adapters.build("numpy", d.weights, model="better_rnnlm", dropout_ratio=0.0)
    ones = np.ones_like(d.masks[0])  # the masks of ratio 0
    assert none_dropped.loss(d.xs[rows], d.ts[rows], ones) == kept


@pytest.mark.parametrize("model", MODELS)
def test_the_reference_net_is_the_books_rnnlm_trainer_run_bit_for_bit(model):
    """book_data draws the weights and masks in the book's order: the Net trained on them
    in float32 equals scratch's model trained by RnnlmTrainer from RandomState(1984)."""
    from adapters.rnnlm import DEFAULT_RUNS, default_corpus
    from scratch import better_rnnlm, rnnlm, simple_rnnlm

    d = short_run(model, "float32")
    traj = train("numpy", d, record_every=38)
    run = DEFAULT_RUNS[model]
    corpus = default_corpus()
    V, D, H = int(corpus.max()) + 1, run["wordvec_size"], run["hidden_size"]
    rng = np.random.RandomState(1984)
    if model == "better_rnnlm":
        book = better_rnnlm.BetterRnnlm(V, D, H, run["dropout_ratio"], rng=rng)
    else:
        book = (simple_rnnlm.SimpleRnnlm if model == "simple_rnnlm" else rnnlm.Rnnlm)(
            V, D, H, rng=rng
        )
    trainer = RnnlmTrainer(book, SGD(run["lr"]))
    trainer.fit(
        corpus[:-1], corpus[1:], 2, 10, 5, run["max_grad"], eval_interval=None, verbose=False
    )
    for name, w in book.weights().items():
        assert traj.weights[name][-1].tobytes() == w.tobytes(), name
