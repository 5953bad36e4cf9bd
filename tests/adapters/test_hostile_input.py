"""Hostile input, property-based: whatever is thrown at adapters.build, a Net's methods,
Net.train and OptimizerSpec ends in success on valid input, or in ValueError/TypeError
whose message names the argument; never in an error from inside a framework, and never
with the net's weights changed.

Each case starts from a valid call and corrupts one argument in a way drawn by
hypothesis (wrong shapes, dtypes from bool to complex, object and float16, NaN and inf,
values beyond float32, wrong label encodings, out-of-range schedules, bad settings), so
the test knows whether the call must succeed. A second kind of case throws arbitrary
arrays, where only the weaker promise is checked.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import adapters
from adapters import OptimizerSpec, checks
from scratch import init_weights
from tests.helpers import FRAMEWORKS, need

pytestmark = pytest.mark.crossframework

I, H, O, N = 3, 5, 4, 6  # non-square everywhere
W = init_weights(I, H, O, rng=np.random.RandomState(0))
X = np.random.RandomState(1).standard_normal((N, I))
T = np.array([0, 1, 2, 3, 0, 1])
FAST = settings(max_examples=40, deadline=None)

HOSTILE_DTYPES = [
    np.bool_,
    np.complex128,
    object,
    "U3",
    "datetime64[s]",
]
REAL_DTYPES = [np.float64, np.float32, np.float16, np.int8, np.int64, np.uint8, np.uint64]


def names(error: Exception, *arguments: str) -> bool:
    """True when the message names one of the arguments as a word."""
    return any(re.search(rf"\b{re.escape(a)}\b", str(error)) for a in arguments)


def outcome(call, must_succeed: bool, *arguments: str):
    """Run `call`; a valid call must succeed, an invalid one fail with a ValueError or
    TypeError naming one of `arguments`. Any other exception propagates (a failure)."""
    try:
        result = call()
    except (ValueError, TypeError) as error:
        assert not must_succeed, f"a valid call failed: {error!r}"
        assert names(error, *arguments), f"{error!r} does not name {arguments}"
        return None
    assert must_succeed, "an invalid call succeeded"
    return result


def unchanged(net) -> None:
    for k, v in net.weights().items():
        np.testing.assert_array_equal(v, np.asarray(W[k], dtype=net.dtype))


# --------------------------------------------------------------------------- corruptions


def recast(a: np.ndarray, dtype) -> np.ndarray:
    if dtype is object:
        out = np.empty(a.shape, dtype=object)
        out[...] = None
        return out
    if dtype == "datetime64[s]":
        return np.zeros(a.shape, dtype=dtype)
    return a.astype(dtype)


@st.composite
def corrupted_x(draw, dtype: str):
    """(x, valid): X or a corruption of it."""
    kind = draw(
        st.sampled_from(
            ["valid", "real dtype", "hostile dtype", "nan", "inf", "shape", "empty", "huge", "type"]
        )
    )
    if kind == "valid":
        return X, True
    if kind == "real dtype":  # ints, unsigned, float16: all fine
        return np.abs(np.round(X)).astype(draw(st.sampled_from(REAL_DTYPES))), True
    if kind == "hostile dtype":
        return recast(X, draw(st.sampled_from(HOSTILE_DTYPES))), False
    if kind in ("nan", "inf"):
        x = X.copy()
        x[draw(st.integers(0, N - 1)), draw(st.integers(0, I - 1))] = (
            np.nan if kind == "nan" else -np.inf
        )
        return x, False
    if kind == "shape":
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
        return np.ones(shape), len(shape) == 2 and shape[1] == I and shape[0] > 0
    if kind == "empty":
        return X[:0], False
    if kind == "huge":  # finite in float64, beyond float32's range
        return X * 1e300, dtype == "float64"
    return draw(st.sampled_from([None, "x", b"x", {"x": 1}, [[1.0, 2.0, 3.0], [1.0]]])), False


@st.composite
def corrupted_t(draw):
    """(t, valid) for x = X: index labels, one-hot rows or a corruption of either."""
    kind = draw(
        st.sampled_from(
            [
                "index",
                "one-hot",
                "whole floats",
                "small ints",
                "too large",
                "negative",
                "fractional",
                "nan",
                "wrong length",
                "two ones",
                "no one",
                "one-hot width",
                "column",
                "scalar",
                "hostile dtype",
            ]
        )
    )
    onehot = np.eye(O, dtype=np.int64)[T]
    if kind == "index":
        return T, True
    if kind == "one-hot":
        return onehot.astype(draw(st.sampled_from([np.int64, np.float64, np.uint8]))), True
    if kind == "whole floats":
        return T.astype(draw(st.sampled_from([np.float64, np.float32, np.float16]))), True
    if kind == "small ints":
        return T.astype(draw(st.sampled_from([np.int8, np.uint8, np.uint64]))), True
    t = T.astype(np.float64)
    i = draw(st.integers(0, N - 1))
    if kind == "too large":
        t[i] = draw(st.integers(O, 10**6))
        return t.astype(np.int64), False
    if kind == "negative":
        t[i] = draw(st.integers(-(10**6), -1))
        return t.astype(np.int64), False
    if kind == "fractional":
        t[i] = 0.5
        return t, False
    if kind == "nan":
        t[i] = np.nan
        return t, False
    if kind == "wrong length":
        return T[: draw(st.sampled_from([0, 1, N - 1]))], False
    if kind == "two ones":
        onehot[i, (T[i] + 1) % O] = 1
        return onehot, False
    if kind == "no one":
        onehot[i] = 0
        return onehot, False
    if kind == "one-hot width":
        return np.eye(O + 1, dtype=np.int64)[T], False
    if kind == "column":
        return T[:, None], False
    if kind == "scalar":
        return np.int64(1), False
    return recast(onehot, draw(st.sampled_from(HOSTILE_DTYPES))), False


@st.composite
def corrupted_weights(draw, dtype: str):
    """(weights, valid): W or a corruption of one of its arrays, or of the dict."""
    w = {k: v.copy() for k, v in W.items()}
    kinds = ["valid", "real dtype", "hostile dtype", "nan", "huge", "shape", "transposed"]
    kind = draw(st.sampled_from([*kinds, "keys", "type"]))
    key = draw(st.sampled_from(sorted(W)))
    if kind == "valid":
        return w, True
    if kind == "huge":  # finite in float64, beyond float32's range
        w[key] = w[key] + 1e300
        return w, dtype == "float64"
    if kind == "real dtype":
        w[key] = w[key].astype(draw(st.sampled_from([np.float32, np.float16, np.int64])))
        return w, True
    if kind == "hostile dtype":
        w[key] = recast(w[key], draw(st.sampled_from(HOSTILE_DTYPES)))
        return w, False
    if kind == "nan":
        w[key] = w[key].copy()
        w[key].flat[draw(st.integers(0, w[key].size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
        return w, False
    if kind == "shape":
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
        w[key] = np.ones(shape)
        return w, shape == W[key].shape
    if kind == "transposed":  # torch's (out, in) layout
        w["W1"] = w["W1"].T
        return w, False
    if kind == "keys":
        drop = draw(st.sets(st.sampled_from(sorted(W)), max_size=4))
        extra = draw(st.sets(st.sampled_from(["W3", "w1", "bias", "0"]), max_size=2))
        w = {k: v for k, v in w.items() if k not in drop} | {k: W["b1"] for k in extra}
        return w, not drop and not extra
    return draw(st.sampled_from([None, [W["W1"]], "weights", (1, 2)])), False


# --------------------------------------------------------------------------- build


GOOD_DTYPES = {
    "float64": "float64",
    "float32": "float32",
    np.float32: "float32",
    "float16": "float16",
    np.float16: "float16",
    "bfloat16": "bfloat16",  # torch and jax; NumPy has none
}
BAD_DTYPES = ["float8", "half", "int32", "f8", 5, {"names": [1]}, np.array([1.0])]


@FAST
@given(
    framework=st.sampled_from(FRAMEWORKS),
    dtype=st.one_of(st.sampled_from(list(GOOD_DTYPES)), st.sampled_from(BAD_DTYPES)),
    device=st.sampled_from(["cpu", "cpu", "tpu", "", None, 0, "cuda:x", "cpu:7"]),
    data=st.data(),
)
def test_build_refuses_hostile_weights_dtype_and_device(framework, dtype, device, data):
    need("torch", "jax")
    dtype_ok = (
        isinstance(dtype, str | type)
        and dtype in GOOD_DTYPES
        and GOOD_DTYPES[dtype] in adapters.net_class(framework).DTYPES
    )
    weights, valid = data.draw(corrupted_weights(GOOD_DTYPES[dtype] if dtype_ok else "float64"))
    net = outcome(
        lambda: adapters.build(framework, weights, dtype=dtype, device=device),
        valid and dtype_ok and device == "cpu",
        "weights",
        "dtype",
        "device",
    )
    if net is not None:
        for k, v in net.weights().items():
            expected = checks.cast(np.asarray(weights[k]), net.dtype, k)  # bfloat16 rounds
            np.testing.assert_array_equal(v, expected)


# --------------------------------------------------------------------------- Net methods


@FAST
@given(
    framework=st.sampled_from(FRAMEWORKS),
    dtype=st.sampled_from(["float64", "float32"]),
    method=st.sampled_from(["predict", "loss", "gradients", "activations"]),
    data=st.data(),
)
def test_net_methods_refuse_hostile_x_and_labels(framework, dtype, method, data):
    need("torch", "jax")
    x, x_ok = data.draw(corrupted_x(dtype), label="x")
    t, t_ok = data.draw(corrupted_t(), label="t")
    net = adapters.build(framework, W, dtype=dtype)
    if method == "predict":
        result = outcome(lambda: net.predict(x), x_ok, "x")
        expected = None if result is None else (np.asarray(x).shape[0], O)
    else:
        if x_ok and np.asarray(x).shape[0] != N:  # a valid x of another batch size
            t_ok = False
        result = outcome(lambda: getattr(net, method)(x, t), x_ok and t_ok, "x", "t")
        expected = None
    if result is not None:
        arrays = result if isinstance(result, dict) else {"result": np.asarray(result)}
        assert all(np.all(np.isfinite(a)) for a in arrays.values())
        if expected is not None:
            assert result.shape == expected
    unchanged(net)


@settings(max_examples=40, deadline=None)
@given(
    framework=st.sampled_from(FRAMEWORKS),
    x=hnp.arrays(
        dtype=st.sampled_from([*REAL_DTYPES, np.bool_, np.complex64]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    ),
    t=hnp.arrays(
        dtype=st.sampled_from([np.int64, np.float64, np.bool_, np.uint8]),
        shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4),
    ),
)
def test_arbitrary_arrays_never_crash_a_framework(framework, x, t):
    need("torch", "jax")
    net = adapters.build(framework, W)
    for call in (lambda: net.predict(x), lambda: net.loss(x, t), lambda: net.gradients(x, t)):
        try:
            call()
        except (ValueError, TypeError) as error:
            assert names(error, "x", "t"), repr(error)
    unchanged(net)


# --------------------------------------------------------------------------- Net.train

SCHEDULE = np.array([[0, 1, 2, 3], [4, 5, 0, 1], [2, 3, 4, 5]])  # (steps 3, batch 4)


@st.composite
def corrupted_train_arguments(draw, framework):
    """(kwargs, valid, argument named on failure)."""
    args = {
        "schedule": SCHEDULE,
        "optimizer": OptimizerSpec("sgd", 0.1),
        "max_grad": None,
        "record_every": 1,
        "mode": None,
    }
    which = draw(st.sampled_from(["none", *args]))
    if which == "none":
        return args, True, ""
    modes = adapters.net_class(framework).MODES
    good, bad = {
        "schedule": (
            [SCHEDULE.astype(np.uint8), SCHEDULE.astype(np.int32)],
            [
                SCHEDULE + 1,
                SCHEDULE - 1,
                SCHEDULE * 10**6,
                SCHEDULE.astype(float),
                SCHEDULE.astype(bool),
                SCHEDULE[0],
                SCHEDULE[:0],
                SCHEDULE[:, :0],
                SCHEDULE[None],
                recast(SCHEDULE, object),
                "0,1",
                None,
            ],
        ),
        "optimizer": ([OptimizerSpec("sgd", 0.1)], ["sgd", None, {"name": "sgd"}, 0.1]),
        "max_grad": (
            [0.5, np.float32(0.5)],
            [0, -1.0, np.nan, np.inf, True, "1", 1j, np.complex128(1 + 1j)],
        ),
        "record_every": (
            [3, np.int64(3), 10**30],  # 10**30 records as 3 does
            [0, -1, 1.5, True, "2", None, np.uint64(0), 2j],
        ),
        "mode": (
            list(modes),
            ["eager" if "eager" not in modes else "scan", "", 3, ["scan"], np.array(modes)],
        ),
    }[which]
    valid = draw(st.booleans())
    args[which] = draw(st.sampled_from(good if valid else bad))
    return args, valid, which


@settings(max_examples=60, deadline=None)
@given(framework=st.sampled_from(FRAMEWORKS), data=st.data())
def test_train_refuses_hostile_schedules_settings_and_modes(framework, data):
    need("torch", "jax")
    args, valid, which = data.draw(corrupted_train_arguments(framework))
    net = adapters.build(framework, W)
    schedule, optimizer = args.pop("schedule"), args.pop("optimizer")
    named = (which, "optimizer", "sgd") if which == "optimizer" else (which,)
    traj = outcome(lambda: net.train(X, T, schedule, optimizer, **args), valid, *named)
    if traj is None:
        unchanged(net)
    else:
        steps = np.asarray(schedule).shape[0]
        assert traj.steps == steps and traj.record_steps[-1] == steps
        assert all(np.all(np.isfinite(v)) for v in traj.weights.values())


@FAST
@given(
    name=st.one_of(
        st.sampled_from(sorted(adapters.BOOK_DEFAULTS)),
        st.text(max_size=8),
        st.sampled_from([None, ["sgd"], {"sgd": 1}, 3]),
    ),
    lr=st.one_of(
        st.none(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-3, 3),
        st.sampled_from([True, "0.1", 1j, np.complex64(1), np.float16(0.5), [0.1]]),
    ),
    flavor=st.sampled_from(["book", "stock", "keras", None, 1]),
    hyper=st.dictionaries(
        st.sampled_from(["momentum", "decay_rate", "beta1", "beta2", "eps", "lr2"]),
        st.one_of(st.floats(-2, 2), st.floats(allow_nan=True), st.sampled_from([1j, "0.9"])),
        max_size=2,
    ),
)
def test_optimizer_spec_refuses_hostile_settings(name, lr, flavor, hyper):
    try:
        spec = OptimizerSpec(name, lr, flavor=flavor, **hyper)
    except (ValueError, TypeError) as error:
        words = ["optimizer", "flavor", "lr", str(name), *hyper]
        assert names(error, *words), repr(error)
        return
    assert spec.lr > 0 and all(np.isfinite(v) for v in spec.hyper.values())
    assert all(0 <= v < 1 for k, v in spec.hyper.items() if k != "lr")


# --------------------------------------------------------------------------- fixed cases
# Each of these escaped before as a warning, an error from inside numpy or XLA, or a
# silent wrong value; adapters/contract.py and adapters/checks.py now refuse them up front.


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fixed_values_beyond_float32_are_refused_by_name(framework):
    need(framework)
    with pytest.raises(ValueError, match=r"weights\['W2'\] does not fit in float32"):
        adapters.build(framework, {**W, "W2": W["W2"] + 1e39}, dtype="float32")  # was inf
    net = adapters.build(framework, W, dtype="float32")
    for method in ("predict", "loss", "gradients", "activations"):
        args = (X * 1e300,) if method == "predict" else (X * 1e300, T)
        with pytest.raises(ValueError, match="x does not fit in float32"):
            getattr(net, method)(*args)
    with pytest.raises(ValueError, match="x does not fit in float32"):
        net.train(X * 1e300, T, SCHEDULE, OptimizerSpec("sgd", 0.1))
    unchanged(net)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"dtype": {"names": [1]}}, ValueError, "dtype must be one of"),  # was numpy's
        ({"device": "cpu:7"}, ValueError, "device must be one of"),  # numpy accepted it
        ({"device": "cuda:x"}, ValueError, "device must be one of"),  # jax took cuda:0
        ({"dtype": None}, ValueError, "dtype must be one of .*got None"),  # was float64
        ({"device": "cpu:\u00b2"}, ValueError, "device must be one of"),  # int() crashed
        ({"device": "cpu:0"}, ValueError, "device must be one of"),  # jax alone took it
    ],
)
def test_fixed_build_arguments(framework, kwargs, error, words):
    need(framework)
    with pytest.raises(error, match=words):
        adapters.build(framework, W, **kwargs)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fixed_a_net_with_one_output_is_refused_by_name(framework):
    """W2 (H, 1): the NumPy reference crashed (its one-hot test t.size == y.size) while
    torch and JAX returned a loss of 0; every framework now refuses it the same way."""
    need(framework)
    one = {**W, "W2": W["W2"][:, :1], "b2": W["b2"][:1]}
    with pytest.raises(ValueError, match=r"weights\['W2'\] has 1 output column"):
        adapters.build(framework, one)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fixed_torch_tensors_that_track_gradients_are_accepted(framework):
    """A torch tensor with requires_grad=True as weights or x (what a torch user has at
    hand) raised torch's "Can't call numpy() on Tensor that requires grad"; it is read
    (detached) like any array, and the result is the NumPy input's."""
    need(framework, "torch")
    import torch

    tracked = {k: torch.tensor(v, requires_grad=True) for k, v in W.items()}
    x = torch.tensor(X, requires_grad=True)
    net = adapters.build(framework, tracked)
    plain = adapters.build(framework, W)
    np.testing.assert_array_equal(net.predict(x), plain.predict(X))
    np.testing.assert_array_equal(net.loss(x, torch.tensor(T)), plain.loss(X, T))
    traj = net.train(x, T, SCHEDULE, OptimizerSpec("sgd", 0.1))
    assert np.array_equal(
        traj.losses, plain.train(X, T, SCHEDULE, OptimizerSpec("sgd", 0.1)).losses
    )
    assert tracked["W1"].grad is None  # nothing flowed back into the caller's graph


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((["sgd"],), {}, ValueError, "optimizer must be one of"),  # was "unhashable type"
        (("sgd", np.complex128(1)), {}, TypeError, "lr must be a number"),  # ComplexWarning
        (("momentum",), {"momentum": 0.5j}, TypeError, "momentum must be a number"),
        (("sgd",), {"flavor": ["book"]}, ValueError, "flavor"),
    ],
)
def test_fixed_optimizer_specs(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        OptimizerSpec(*args, **kwargs)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fixed_train_arguments(framework):
    need(framework)
    net = adapters.build(framework, W)
    sgd = OptimizerSpec("sgd", 0.1)
    with pytest.raises(TypeError, match="max_grad"):  # was clipped at its real part
        net.train(X, T, SCHEDULE, sgd, max_grad=np.complex128(1 + 1j))
    with pytest.raises(ValueError, match="mode must be one of"):  # was "truth value of..."
        net.train(X, T, SCHEDULE, sgd, mode=np.array(adapters.net_class(framework).MODES))
    unchanged(net)
    for mode in adapters.net_class(framework).MODES:  # jax scan: was an XLA error
        traj = adapters.build(framework, W).train(
            X, T, SCHEDULE, sgd, record_every=10**30, mode=mode
        )
        np.testing.assert_array_equal(traj.record_steps, [0, 3])
