"""TwoLayerNet of ch01/two_layer_net.py and init_weights: gradients, sharing, initialisation."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import WEIGHT_NAMES, TwoLayerNet, init_weights
from scratch.gradcheck import numerical_gradient
from scratch.optimizers import SGD
from tests.scratch.helpers import GRADCHECK_RTOL, exact_cross_entropy, relative_error

BATCH, IN, HIDDEN, OUT = 5, 4, 7, 3  # all different, so a missing transpose fails


def random_weights(seed: int) -> dict[str, np.ndarray]:
    """Weights of order one (not the book's 0.01), so every gradient is far from zero."""
    rng = np.random.RandomState(seed)
    return {
        "W1": rng.randn(IN, HIDDEN),
        "b1": rng.randn(HIDDEN),
        "W2": rng.randn(HIDDEN, OUT),
        "b2": rng.randn(OUT),
    }


def batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    return rng.randn(BATCH, IN), rng.randint(0, OUT, size=BATCH)


@pytest.mark.parametrize("label_format", ["index", "one-hot"])
def test_whole_net_gradient_matches_numerical_gradient(label_format):
    net = TwoLayerNet(IN, HIDDEN, OUT, weights=random_weights(0))
    x, labels = batch(1)
    t = labels if label_format == "index" else np.eye(OUT, dtype=np.int64)[labels]
    net.forward(x, t)
    net.backward()
    analytic = [g.copy() for g in net.grads]

    # The backward pass is the gradient of the loss without the book's 1e-7 (see
    # test_layers); numerical_gradient probes the net's own arrays in place.
    def loss(_):
        return exact_cross_entropy(net.predict(x), labels)

    for name, param, grad in zip(WEIGHT_NAMES, net.params, analytic, strict=True):
        assert grad.shape == param.shape, name
        error = relative_error(grad, numerical_gradient(loss, param))
        assert error < GRADCHECK_RTOL, f"{name}: relative error {error:.2e}"


def test_params_and_grads_are_the_layers_own_arrays():
    net = TwoLayerNet(IN, HIDDEN, OUT, weights=random_weights(2))
    affine1, _, affine2 = net.layers
    layer_params = affine1.params + affine2.params
    layer_grads = affine1.grads + affine2.grads
    assert len(net.params) == len(net.grads) == 4
    assert all(a is b for a, b in zip(net.params, layer_params, strict=True))
    assert all(a is b for a, b in zip(net.grads, layer_grads, strict=True))

    x, t = batch(3)
    net.forward(x, t)
    net.backward()
    assert all(a is b for a, b in zip(net.grads, layer_grads, strict=True))
    assert all(np.any(g != 0) for g in net.grads)


def test_in_place_update_through_params_changes_predict():
    net = TwoLayerNet(IN, HIDDEN, OUT, weights=random_weights(4))
    x, t = batch(5)
    before = net.predict(x).copy()
    net.forward(x, t)
    net.backward()
    expected = {
        name: p - 0.5 * g for name, p, g in zip(WEIGHT_NAMES, net.params, net.grads, strict=True)
    }
    SGD(lr=0.5).update(net.params, net.grads)

    after = net.predict(x)
    assert not np.allclose(after, before)
    assert np.array_equal(after, TwoLayerNet(IN, HIDDEN, OUT, weights=expected).predict(x))


def test_weights_returns_copies_in_the_book_layout():
    net = TwoLayerNet(IN, HIDDEN, OUT, weights=random_weights(6))
    originals = [p.copy() for p in net.params]
    weights = net.weights()
    assert list(weights) == list(WEIGHT_NAMES)
    assert [w.shape for w in weights.values()] == [(IN, HIDDEN), (HIDDEN,), (HIDDEN, OUT), (OUT,)]
    for name, param in zip(WEIGHT_NAMES, net.params, strict=True):
        assert weights[name] is not param
        assert np.array_equal(weights[name], param)
        weights[name] += 1.0
    assert all(np.array_equal(a, p) for a, p in zip(originals, net.params, strict=True))


def test_constructor_copies_the_given_weights():
    given = random_weights(7)
    net = TwoLayerNet(IN, HIDDEN, OUT, weights=given)
    assert all(net.params[i] is not given[name] for i, name in enumerate(WEIGHT_NAMES))
    given["W1"] += 1.0
    assert np.array_equal(net.params[0], random_weights(7)["W1"])


def test_init_weights_draws_w1_then_w2_as_0_01_randn():
    weights = init_weights(IN, HIDDEN, OUT, rng=np.random.RandomState(42))
    book = np.random.RandomState(42)  # stands in for the book's seeded global generator
    assert np.array_equal(weights["W1"], 0.01 * book.randn(IN, HIDDEN))
    assert np.array_equal(weights["W2"], 0.01 * book.randn(HIDDEN, OUT))
    assert np.array_equal(weights["b1"], np.zeros(HIDDEN))
    assert np.array_equal(weights["b2"], np.zeros(OUT))
    assert all(w.dtype == np.float64 for w in weights.values())


def test_net_without_weights_uses_init_weights_from_the_given_rng():
    net = TwoLayerNet(IN, HIDDEN, OUT, rng=np.random.RandomState(3))
    expected = init_weights(IN, HIDDEN, OUT, rng=np.random.RandomState(3))
    assert all(np.array_equal(net.weights()[k], expected[k]) for k in WEIGHT_NAMES)


def test_float32_net_has_float32_params_and_predictions():
    weights64 = init_weights(IN, HIDDEN, OUT, rng=np.random.RandomState(8))
    weights32 = init_weights(IN, HIDDEN, OUT, rng=np.random.RandomState(8), dtype=np.float32)
    assert all(weights32[k].dtype == np.float32 for k in WEIGHT_NAMES)
    assert all(np.array_equal(weights32[k], weights64[k].astype(np.float32)) for k in WEIGHT_NAMES)

    net = TwoLayerNet(IN, HIDDEN, OUT, rng=np.random.RandomState(8), dtype=np.float32)
    assert all(p.dtype == np.float32 for p in net.params)
    x, t = batch(9)  # float64 input is cast to the net's dtype
    assert net.predict(x).dtype == np.float32
    net.forward(x, t)
    assert net.backward().dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.grads)


def _bad_weights() -> dict[str, object]:
    good = random_weights(10)
    return {
        "missing b2": {k: v for k, v in good.items() if k != "b2"},
        "extra key": {**good, "W3": np.zeros((OUT, OUT))},
        "W1 transposed": {**good, "W1": good["W1"].T},
        "W2 transposed": {**good, "W2": good["W2"].T},
        "b1 as a column": {**good, "b1": good["b1"][:, None]},
        "b2 wrong length": {**good, "b2": np.zeros(OUT + 1)},
        "not a dict": list(good.values()),
    }


@pytest.mark.parametrize("case", list(_bad_weights()))
def test_constructor_rejects_wrong_weight_shapes_and_keys(case):
    with pytest.raises(ValueError, match="TwoLayerNet: weights"):
        TwoLayerNet(IN, HIDDEN, OUT, weights=_bad_weights()[case])
