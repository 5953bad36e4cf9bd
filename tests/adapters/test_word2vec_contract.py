"""The word2vec Nets' contract: build's model and config checks, bad input refused before
any work, NumPy in and out, and the reference equal to the book's Trainer bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from scratch.cbow import CBOW
from scratch.optimizers import Adam
from scratch.simple_cbow import SimpleCBOW
from scratch.simple_skip_gram import SimpleSkipGram
from scratch.skip_gram import SkipGram
from scratch.trainer import Trainer
from scratch.util import convert_one_hot, create_contexts_target, preprocess
from tests.adapters.word2vec_runs import BOOK_TEXT, MODELS, short_run
from tests.helpers import need


def test_models_are_listed_in_the_books_chapter_order():
    assert adapters.MODELS[:5] == ("two_layer_net", *MODELS)


def test_an_unknown_model_is_a_value_error_listing_the_models():
    d = short_run("cbow")
    with pytest.raises(ValueError, match="model must be one of two_layer_net, simple_cbow"):
        adapters.build("numpy", d.weights, model="word2vec")
    with pytest.raises(ValueError, match="model must be one of"):
        adapters.net_class("torch", model="CBOW")


def test_unknown_config_keys_are_a_type_error_naming_them():
    d = short_run("cbow")
    with pytest.raises(TypeError, match=r"'cbow' got unknown config key\(s\) hidden, windw"):
        adapters.build("numpy", d.weights, model="cbow", windw=2, hidden=5)
    with pytest.raises(TypeError, match="'simple_cbow' got unknown config key.*takes: none"):
        adapters.build("numpy", short_run("simple_cbow").weights, model="simple_cbow", tf32=True)
    with pytest.raises(ValueError, match="window_size must be an int >= 1"):
        adapters.build("numpy", d.weights, model="cbow", window_size=0)


def book_trainer_run(model: str):
    """The same run as short_run(model, "float32"), with scratch's model and Trainer from
    one RandomState (the book's code after np.random.seed, as tests/scratch shows)."""
    rng = np.random.RandomState(1984)
    if model.startswith("simple"):
        corpus, word_to_id, _ = preprocess(BOOK_TEXT)
        V, window, batch, epochs = len(word_to_id), 1, 3, 30
        net = (SimpleCBOW if model == "simple_cbow" else SimpleSkipGram)(V, 5, rng=rng)
    else:
        from scratch import small_corpus

        corpus, word_to_id, _ = small_corpus.load_data(sentences=60, seed=3)
        V, window, batch, epochs = len(word_to_id), 2, 20, 3
        net = (CBOW if model == "cbow" else SkipGram)(V, 5, window, corpus, rng=rng)
    contexts, target = create_contexts_target(corpus, window)
    if model.startswith("simple"):
        contexts, target = convert_one_hot(contexts, V), convert_one_hot(target, V)
    losses, forward = [], net.forward
    net.forward = lambda x, t: losses.append(forward(x, t)) or losses[-1]
    Trainer(net, Adam()).fit(contexts, target, epochs, batch, None, rng=rng, verbose=False)
    return np.array(losses, dtype=np.float64), net.weights()


@pytest.mark.parametrize("model", MODELS)
def test_the_numpy_net_is_the_books_trainer_run_bit_for_bit(model):
    d = short_run(model, "float32")
    net = adapters.build("numpy", d.weights, model=model, dtype="float32", **d.config)
    traj = net.train(d.contexts, d.target, d.schedule, OptimizerSpec("adam"), negatives=d.negatives)
    losses, weights = book_trainer_run(model)
    assert traj.steps == len(losses) == 60
    assert np.array_equal(traj.losses, losses)
    for k, w in weights.items():
        assert traj.weights[k].dtype == np.float32 and np.array_equal(traj.weights[k][-1], w), k
    assert traj.loss_gap.shape == (60,) and np.all(traj.loss_gap > 0)


@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
def test_numpy_in_numpy_out_and_the_module_is_the_frameworks_own(framework):
    need(framework)
    d = short_run("skip_gram")
    net = adapters.build(framework, d.weights, model="skip_gram", **d.config)
    rows = d.schedule[0]
    grads = net.gradients(d.contexts[rows], d.target[rows], d.negatives[0])
    assert all(type(g) is np.ndarray and g.dtype == np.float64 for g in grads.values())
    assert {k: v.shape for k, v in net.weights().items()} == {"W_in": (53, 5), "W_out": (53, 5)}
    assert net.framework == framework and net.dtype == "float64" and net.device == "cpu"
    kind = {"numpy": "SkipGram", "torch": "SkipGram", "jax": "dict"}[framework]
    assert type(net.module).__name__ == kind
    assert type(net).__name__ == "SkipGramNet" and net.model == "skip_gram"


def bad(model: str, **change):
    """The first batch of model's short run with one argument replaced."""
    d = short_run(model)
    rows = d.schedule[0]
    args = {
        "contexts": d.contexts[rows],
        "target": d.target[rows],
        "negatives": None if d.negatives is None else d.negatives[0],
    }
    args.update(change)
    return d, args


def out_of_range(a: np.ndarray, where: tuple, value: int) -> np.ndarray:
    a = a.copy()
    a[where] = value
    return a


@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
def test_bad_batches_are_refused_naming_the_argument(framework):
    need(framework)
    d, ok = bad("cbow")
    net = adapters.build(framework, d.weights, model="cbow", **d.config)
    before = net.weights()
    cases = [
        (
            {"contexts": out_of_range(ok["contexts"], (2, 3), 53)},
            "contexts holds the word id 53 at \\(2, 3\\)",
        ),
        (
            {"target": out_of_range(ok["target"], (4,), -1)},
            "target holds the word id -1 at \\(4,\\)",
        ),
        (
            {"negatives": out_of_range(ok["negatives"], (0, 4), 99)},
            "negatives holds the word id 99",
        ),
        ({"target": ok["target"][:-1]}, "contexts has 20 rows but target has 19"),
        ({"contexts": ok["contexts"][:, :2]}, "contexts must have 2 window_size = 4 columns"),
        ({"negatives": None}, "negatives: cbow needs its negative samples"),
        ({"negatives": ok["negatives"][:, :3]}, r"negatives must have shape \(20, 5\)"),
        ({"contexts": ok["contexts"].astype(float)}, "contexts must hold integer word ids"),
    ]
    for change, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            net.loss(**{**ok, **change})
    simple = short_run("simple_cbow")
    net1 = adapters.build(framework, simple.weights, model="simple_cbow")
    rows = simple.schedule[0]
    with pytest.raises(ValueError, match=r"contexts must be one-hot rows \(N, 2, 7\)"):
        net1.loss(simple.contexts[rows].argmax(axis=2), simple.target[rows])
    with pytest.raises(ValueError, match="negatives: simple_cbow has no negative sampling"):
        net1.loss(simple.contexts[rows], simple.target[rows], d.negatives[0])
    twice = simple.contexts[rows].copy()
    twice[0, 0, :] = 1
    with pytest.raises(ValueError, match="contexts must be one-hot: exactly one 1 per row"):
        net1.loss(twice, simple.target[rows])
    assert all(np.array_equal(before[k], v) for k, v in net.weights().items())


def test_bad_training_input_is_refused_before_any_step():
    d = short_run("skip_gram")
    net = adapters.build("numpy", d.weights, model="skip_gram", **d.config)
    spec = OptimizerSpec("adam")
    with pytest.raises(ValueError, match=r"negatives must have shape \(60, 20, 4, 5\)"):
        net.train(d.contexts, d.target, d.schedule, spec, negatives=d.negatives[:10])
    with pytest.raises(ValueError, match="schedule indices must lie in"):
        net.train(d.contexts, d.target, d.schedule + 10**6, spec, negatives=d.negatives)
    with pytest.raises(TypeError, match="optimizer must be an adapters.OptimizerSpec"):
        net.train(d.contexts, d.target, d.schedule, "adam", negatives=d.negatives)
    with pytest.raises(ValueError, match="mode must be one of eager for numpy"):
        net.train(d.contexts, d.target, d.schedule, spec, negatives=d.negatives, mode="scan")


def test_bad_weights_and_sizes_are_refused_when_built():
    d = short_run("cbow")
    with pytest.raises(ValueError, match="must have the keys W_in, W_out"):
        adapters.build("numpy", {"W1": d.weights["W_in"]}, model="cbow")
    with pytest.raises(ValueError, match=r"weights\['W_out'\] of cbow must have shape \(53, 5\)"):
        adapters.build("numpy", {**d.weights, "W_out": d.weights["W_out"].T}, model="cbow")
    small = {"W_in": np.ones((4, 3)), "W_out": np.ones((4, 3))}
    with pytest.raises(ValueError, match="too small for cbow's 5 negative samples"):
        adapters.build("numpy", small, model="cbow")
    nan = {**d.weights, "W_in": np.full((53, 5), np.nan)}
    with pytest.raises(ValueError, match=r"weights\['W_in'\] holds NaN"):
        adapters.build("numpy", nan, model="cbow")
