"""Bad input gets the same clear error in every framework, before any framework work."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from tests.adapters.helpers import problem
from tests.helpers import need

pytestmark = pytest.mark.crossframework

W, X, T = problem(5, 4, 7, 3)


def bad_weights():
    cases = {
        "missing key": ({k: v for k, v in W.items() if k != "b2"}, ValueError, "keys"),
        "extra key": ({**W, "W3": W["W1"]}, ValueError, "keys"),
        "torch layout W1": ({**W, "W1": W["W1"].T}, ValueError, "W1"),
        "wrong bias": ({**W, "b1": np.zeros(6)}, ValueError, "b1"),
        "NaN": ({**W, "W2": np.full_like(W["W2"], np.nan)}, ValueError, "NaN"),
        "inf": ({**W, "b2": np.array([np.inf, 0, 0])}, ValueError, "NaN or inf"),
        "strings": ({**W, "b1": np.array(["a"] * 7)}, TypeError, "b1"),
        "not a dict": ([W["W1"]], TypeError, "dict"),
        "1-D W": ({**W, "W1": W["W1"].ravel()}, ValueError, "2-D"),
    }
    return [pytest.param(*v, id=k) for k, v in cases.items()]


@pytest.mark.parametrize("weights, error, words", bad_weights())
def test_bad_weights_are_refused_identically(framework, weights, error, words):
    with pytest.raises(error, match=words):
        adapters.build(framework, weights)


@pytest.mark.parametrize(
    "kwargs, words",
    [({"dtype": "float8"}, "dtype"), ({"dtype": "int32"}, "dtype"), ({"device": "tpu"}, "device")],
)
def test_bad_dtype_or_device_is_refused(framework, kwargs, words):
    with pytest.raises(ValueError, match=words):
        adapters.build(framework, W, **kwargs)


def test_numpy_has_no_bfloat16_and_says_which_dtypes_it_has():
    with pytest.raises(ValueError, match="dtype must be one of float64, float32, float16;"):
        adapters.build("numpy", W, dtype="bfloat16")


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"dtype": "float64", "tf32": True}, ValueError, "float32 matmuls only"),
        ({"dtype": "float32", "tf32": "yes"}, TypeError, "tf32 must be True or False"),
    ],
)
def test_tf32_is_for_float32_only(framework, kwargs, error, words):
    if framework == "numpy":
        kwargs, error, words = {"dtype": "float32", "tf32": True}, ValueError, "no TF32 mode"
    with pytest.raises(error, match=words):
        adapters.build(framework, W, **kwargs)


def test_weights_beyond_float16_range_are_refused_naming_the_dtype(framework):
    big = {**W, "W2": W["W2"] + 7e4}
    with pytest.raises(ValueError, match="does not fit in float16"):
        adapters.build(framework, big, dtype="float16")


def test_unknown_framework_names_what_is_installed():
    with pytest.raises(ValueError, match="installed: numpy") as err:
        adapters.build("tensorflow", W)
    assert "unknown" in str(err.value)


def bad_xt():
    cases = {
        "x 1-D": (X[0], T[:1], ValueError, r"x\[None\]"),
        "x wrong width": (X[:, :3], T, ValueError, "x must have shape"),
        "x empty": (X[:0], T[:0], ValueError, "empty"),
        "x NaN": (np.where(X > 1, np.nan, X), T, ValueError, "x holds NaN"),
        "x strings": (X.astype(str), T, TypeError, "x must hold real numbers"),
        "t too large": (X, np.full(5, 3), ValueError, r"\[0, 3\)"),
        "t negative": (X, np.full(5, -1), ValueError, r"\[0, 3\)"),
        "t fractional": (X, np.full(5, 0.5), ValueError, "whole numbers"),
        "t wrong length": (X, T[:4], ValueError, "t must be"),
        "one-hot two ones": (X, np.ones((5, 3), int), ValueError, "one 1 per row"),
        "one-hot wrong width": (X, np.zeros((5, 4), int), ValueError, "one-hot t"),
    }
    return [pytest.param(*v, id=k) for k, v in cases.items()]


@pytest.mark.parametrize("x, t, error, words", bad_xt())
@pytest.mark.parametrize("method", ["loss", "gradients", "activations"])
def test_bad_x_or_t_is_refused_identically(framework, method, x, t, error, words):
    net = adapters.build(framework, W)
    before = net.weights()
    with pytest.raises(error, match=words):
        getattr(net, method)(x, t)
    for k, v in net.weights().items():
        np.testing.assert_array_equal(v, before[k])  # nothing lost


def test_predict_refuses_bad_x(framework):
    net = adapters.build(framework, W)
    with pytest.raises(ValueError, match="x must have shape"):
        net.predict(X.T)


def bad_train_args():
    sched = np.zeros((3, 2), dtype=np.int64)
    sgd = OptimizerSpec("sgd", 0.1)
    cases = {
        "schedule out of range": ({"schedule": sched + 5}, ValueError, r"\[0, 5\)"),
        "schedule float": ({"schedule": sched.astype(float)}, TypeError, "integer"),
        "schedule 1-D": ({"schedule": sched[0]}, ValueError, "steps, batch"),
        "schedule empty": ({"schedule": sched[:0]}, ValueError, "non-empty"),
        "optimizer as string": ({"optimizer": "sgd"}, TypeError, "OptimizerSpec"),
        "max_grad zero": ({"optimizer": sgd, "max_grad": 0.0}, ValueError, "max_grad"),
        "max_grad NaN": ({"max_grad": float("nan")}, ValueError, "max_grad"),
        "record_every 0": ({"record_every": 0}, ValueError, "record_every"),
        "unknown mode": ({"mode": "graph"}, ValueError, "mode must be one of"),
    }
    return [pytest.param(*v, id=k) for k, v in cases.items()]


@pytest.mark.parametrize("override, error, words", bad_train_args())
def test_bad_train_arguments_are_refused_before_training(framework, override, error, words):
    net = adapters.build(framework, W)
    args = {"schedule": np.zeros((3, 2), dtype=np.int64), "optimizer": OptimizerSpec("sgd", 0.1)}
    args.update(override)
    schedule, optimizer = args.pop("schedule"), args.pop("optimizer")
    with pytest.raises(error, match=words):
        net.train(X, T, schedule, optimizer, **args)
    for k, v in net.weights().items():
        np.testing.assert_array_equal(v, W[k])


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        (("adamw", 0.1), {}, ValueError, "optimizer must be one of"),
        (("sgd", -1.0), {}, ValueError, "lr must be > 0"),
        (("sgd", float("inf")), {}, ValueError, "finite"),
        (("sgd", 0.1), {"momentum": 0.9}, ValueError, "unknown hyper-parameter"),
        (("momentum", 0.1), {"momentum": 1.5}, ValueError, r"\[0, 1\)"),
        (("adam", 0.1), {"flavor": "keras"}, ValueError, "flavor"),
        (("sgd", "0.1"), {}, TypeError, "number"),
    ],
)
def test_bad_optimizer_spec_is_refused(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        OptimizerSpec(*args, **kwargs)


def test_optimizer_spec_takes_the_books_defaults():
    assert OptimizerSpec("adam").hyper == {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}
    assert OptimizerSpec("rmsprop", 0.1).hyper == {"lr": 0.1, "decay_rate": 0.99}
    assert OptimizerSpec("momentum", momentum=0.5).hyper == {"lr": 0.01, "momentum": 0.5}


def test_missing_framework_error_names_the_extra(monkeypatch):
    need("numpy")
    monkeypatch.setattr(adapters, "available", lambda: ["numpy"])
    with pytest.raises(ValueError, match=r"not installed.*scratch-parity\[torch,jax\]"):
        adapters.build("torch", W)


def test_an_lr_float16_cannot_hold_is_refused_before_training(framework):
    """torch would fail midway (an lr beyond 65504 cannot become a float16); every
    framework refuses it up front, and the net is untouched."""
    net = adapters.build(framework, W, dtype="float16")
    before = net.weights()
    schedule = np.zeros((3, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="sgd lr 1e\\+06 does not fit in float16"):
        net.train(X, T, schedule, adapters.OptimizerSpec("sgd", 1e6))
    with pytest.raises(ValueError, match="max_grad 1e\\+05 does not fit in float16"):
        net.train(X, T, schedule, adapters.OptimizerSpec("sgd", 0.1), max_grad=1e5)
    for k, v in net.weights().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize(
    "device", ["cpu:0", "cpu:\u00b2", "cuda:\u00b2", "cuda:x", "tpu", "", 0, None]
)
def test_device_available_answers_false_for_a_malformed_device_in_every_framework(
    framework, device
):
    """The one capability question the CLI asks before a run: a malformed name is "not
    available" (it was an int() crash for cuda:\u00b2, and True for cpu:0 in JAX alone)."""
    assert adapters.net_class(framework).device_available(device) is False
    with pytest.raises(ValueError, match="device must be one of"):
        adapters.build(framework, W, device=device)
