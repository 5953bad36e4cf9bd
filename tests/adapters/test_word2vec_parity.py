"""The word2vec twins against the reference: gradients (shared weights summed once),
losses (the book's 1e-7 explained), and whole runs in every framework and mode."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from tests.adapters.word2vec_runs import MODELS, short_run
from tests.helpers import framework_modes, need

pytestmark = pytest.mark.crossframework
TWINS = framework_modes(("torch", "jax"))


NEGATIVE_SAMPLING = ("cbow", "skip_gram")  # the simple models' whole runs: test_word2vec_cli.py


@pytest.fixture(scope="module")
def reference_runs():
    """The reference's trajectory of cbow's and skip_gram's short runs (float64, Adam)."""
    out = {}
    for model in NEGATIVE_SAMPLING:
        d = short_run(model)
        net = adapters.build("numpy", d.weights, model=model, **d.config)
        out[model] = net.train(
            d.contexts, d.target, d.schedule, OptimizerSpec("adam", 0.01), negatives=d.negatives
        )
    return out


def first_batch(model: str):
    d = short_run(model)
    rows = d.schedule[0]
    return d, (d.contexts[rows], d.target[rows], None if d.negatives is None else d.negatives[0])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_gradients_and_losses_agree_with_the_reference(model, framework):
    need(framework)
    d, batch = first_batch(model)
    ref = adapters.build("numpy", d.weights, model=model, **d.config)
    twin = adapters.build(framework, d.weights, model=model, **d.config)
    want, got = ref.gradients(*batch), twin.gradients(*batch)
    assert list(got) == ["W_in", "W_out"] and all(g.size for g in got.values())
    report = parity.compare(want, got, quantity="gradient", names=("numpy", framework))
    assert report.passed, report.table()
    gap = ref.loss(*batch) - twin.loss(*batch)
    assert 0 < -gap < 1e-5  # the book's loss sits below the epsilon-free one, by its 1e-7s
    ref_traj = ref.train(*batch[:2], np.arange(len(batch[1]))[None], OptimizerSpec("sgd"),
                         negatives=None if batch[2] is None else batch[2][None])  # fmt: skip
    assert abs(ref_traj.losses[0] + ref_traj.loss_gap[0] - twin.loss(*batch)) < 1e-14


@pytest.mark.parametrize(("framework", "mode"), TWINS)
@pytest.mark.parametrize("model", NEGATIVE_SAMPLING)
def test_whole_runs_agree_to_1e_10_in_float64(reference_runs, model, framework, mode):
    need(framework)
    d = short_run(model)
    twin = adapters.build(framework, d.weights, model=model, **d.config)
    traj = twin.train(
        d.contexts, d.target, d.schedule, OptimizerSpec("adam", 0.01),
        negatives=d.negatives, mode=mode,
    )  # fmt: skip
    ref = reference_runs[model]
    assert traj.steps == ref.steps == 60 and traj.mode == mode
    report = parity.compare_trajectories(ref, traj)
    assert report.passed, report.summary()
    worst = max(np.abs(traj.weights[k] - ref.weights[k]).max() for k in ref.weights)
    assert worst <= 1e-10
    assert np.abs(traj.losses - (ref.losses + ref.loss_gap)).max() <= 1e-10
    final = twin.weights()
    assert all(np.array_equal(final[k], traj.weights[k][-1]) for k in final)  # left trained


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_remove_duplicate_sums_what_autograd_sums_for_a_reused_weight(framework):
    """SimpleCBOW's two context layers each hold W_in and its own gradient; the book adds
    them (remove_duplicate). torch's one Linear used twice and JAX's one leaf read twice
    get exactly that sum from autograd."""
    need(framework)
    d, (contexts, target, _) = first_batch("simple_cbow")
    ref = adapters.build("numpy", d.weights, model="simple_cbow")
    model = ref.module
    model.forward(contexts, target)
    model.backward()
    first, second = model.in_layer0.grads[0].copy(), model.in_layer1.grads[0].copy()
    assert not np.allclose(first, second)  # two different gradients of one weight
    twin = adapters.build(framework, d.weights, model="simple_cbow")
    got = twin.gradients(contexts, target)["W_in"]
    report = parity.compare({"W_in": first + second}, {"W_in": got}, quantity="gradient")
    assert report.passed, report.table()
