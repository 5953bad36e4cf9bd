"""The language-model Nets refuse bad input by name, before any work: weights whose gate
dimension is not 4H, an untied size, a dropout ratio outside [0, 1), ids out of range,
xs and ts of different shapes, a schedule that is not (steps, N, T) positions, missing or
foreign dropout masks, max_grad <= 0; book_data refuses a time_size the corpus cannot hold."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from adapters.rnnlm import book_data
from tests.adapters.rnnlm_runs import short_run

SGD = OptimizerSpec("sgd", 1.0)


def rnnlm_net():
    d = short_run("rnnlm")
    return d, adapters.build("numpy", d.weights, model="rnnlm")


def test_build_knows_the_three_models_and_their_config():
    assert adapters.MODELS[-3:] == ("simple_rnnlm", "rnnlm", "better_rnnlm")
    d = short_run("better_rnnlm")
    with pytest.raises(TypeError, match="unknown config key.*window_size.*takes: dropout_ratio"):
        adapters.build("numpy", d.weights, model="better_rnnlm", window_size=2)
    with pytest.raises(TypeError, match="unknown config key.*dropout_ratio.*takes: none"):
        adapters.build("numpy", short_run("rnnlm").weights, model="rnnlm", dropout_ratio=0.5)
    for ratio in (1.0, -0.1):
        with pytest.raises(ValueError, match="dropout_ratio must be in"):
            adapters.build("numpy", d.weights, model="better_rnnlm", dropout_ratio=ratio)


@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
def test_weights_whose_gate_dimension_is_not_4h_are_refused_naming_them(framework):
    from tests.helpers import need

    need(framework)
    w = dict(short_run("rnnlm").weights)
    w["lstm_Wh"] = w["lstm_Wh"][:, :72]  # three gates of H = 24
    with pytest.raises(ValueError, match=r"weights\['lstm_Wh'\] .* gate dimension .* 4H = 96"):
        adapters.build(framework, w, model="rnnlm")
    w = dict(short_run("better_rnnlm").weights)
    w["lstm_b2"] = np.zeros(24)
    with pytest.raises(ValueError, match=r"weights\['lstm_b2'\] .* 4H = 96"):
        adapters.build(framework, w, model="better_rnnlm")


def test_other_bad_weights_are_refused_naming_them():
    w = dict(short_run("rnnlm").weights)
    with pytest.raises(ValueError, match="must have the keys"):
        adapters.build("numpy", {k: v for k, v in w.items() if k != "affine_b"}, model="rnnlm")
    bad = dict(w, affine_W=w["affine_W"].T)  # (V, H): the torch layout
    with pytest.raises(ValueError, match=r"weights\['affine_W'\] must have shape \(24, 54\)"):
        adapters.build("numpy", bad, model="rnnlm")
    nan = dict(w, lstm_b=np.full(96, np.nan))
    with pytest.raises(ValueError, match=r"weights\['lstm_b'\] holds NaN"):
        adapters.build("numpy", nan, model="rnnlm")
    b = dict(short_run("better_rnnlm").weights)
    b["embed_W"] = b["embed_W"][:, :16]
    with pytest.raises(ValueError, match="wordvec size D=16 must equal the hidden size H=24"):
        adapters.build("numpy", b, model="better_rnnlm")


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda d: {"ts": d.ts[:-1]}, ValueError, "xs and ts must have the same shape"),
        (lambda d: {"xs": d.xs + 54}, ValueError, r"xs holds the word id \d+ at \(0,\)"),
        (lambda d: {"ts": d.ts - 60}, ValueError, r"ts holds the word id -\d+"),
        (lambda d: {"xs": d.xs.astype(float)}, TypeError, "xs must hold integer word ids"),
        (lambda d: {"schedule": d.schedule[0]}, ValueError, r"\(steps, N, T\)"),
        (lambda d: {"schedule": d.schedule + len(d.xs)}, ValueError, "schedule positions"),
        (lambda d: {"masks": np.ones((38, 3, 10, 5, 24))}, ValueError, "rnnlm has no dropout"),
        (lambda d: {"max_grad": 0.0}, ValueError, "max_grad must be > 0"),
        (lambda d: {"max_grad": -0.25}, ValueError, "max_grad must be > 0"),
    ],
)
def test_bad_training_input_is_refused_before_any_step(change, error, match):
    d, net = rnnlm_net()
    args = {"xs": d.xs, "ts": d.ts, "schedule": d.schedule, "masks": None, "max_grad": None}
    args.update(change(d))
    before = net.weights()
    with pytest.raises(error, match=match):
        net.train(args.pop("xs"), args.pop("ts"), args.pop("schedule"), SGD, **args)
    assert all(np.array_equal(before[k], v) for k, v in net.weights().items())


def test_better_rnnlm_needs_the_references_masks_of_the_right_shape_and_ratio():
    d = short_run("better_rnnlm")
    net = adapters.build("numpy", d.weights, model="better_rnnlm", **d.config)
    with pytest.raises(ValueError, match="needs its masks .* the twins never draw"):
        net.train(d.xs, d.ts, d.schedule, SGD)
    with pytest.raises(ValueError, match=r"masks must have shape \(38, 3, 10, 5, 24\)"):
        net.train(d.xs, d.ts, d.schedule, SGD, masks=d.masks[:, :2])
    with pytest.raises(ValueError, match=r"0 and 1 / \(1 - dropout_ratio\) = 2"):
        net.train(d.xs, d.ts, d.schedule, SGD, masks=d.masks * 0.75)  # drawn for 0.4
    with pytest.raises(ValueError, match=r"masks must have shape \(3, 10, 5, 24\)"):
        net.loss(d.xs[d.schedule[0]], d.ts[d.schedule[0]], d.masks[0, :2])


def test_book_data_refuses_a_time_size_the_corpus_cannot_hold_and_a_bad_ratio():
    corpus = np.arange(100) % 7
    kw = {"wordvec_size": 4, "hidden_size": 4, "batch_size": 10, "max_epoch": 1}
    with pytest.raises(ValueError, match="time_size 11 is too long for the data"):
        book_data("rnnlm", corpus, time_size=11, **kw)
    assert book_data("rnnlm", corpus, time_size=9, **kw).schedule.shape == (1, 10, 9)
    with pytest.raises(ValueError, match="dropout_ratio must be in"):
        book_data("better_rnnlm", corpus, time_size=5, dropout_ratio=1.5, **kw)
    with pytest.raises(ValueError, match="model must be one of"):
        book_data("gru", corpus, time_size=5, **kw)
    with pytest.raises(ValueError, match="corpus holds the word id -1"):
        book_data("rnnlm", corpus - 1, time_size=5, **kw)
