"""The optimizers of common/optimizer.py: three steps worked out by hand, defaults, in place.

The worked examples use non-default hyper-parameters so that a swapped or ignored one
changes the numbers; `test_defaults_are_the_books` covers the defaults.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratch.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

EPS = 1e-7  # the book's epsilon, outside the square root
GRADS = (0.5, -0.25, 1.5)  # the fixed gradient of each of the three steps
RTOL = 1e-14  # hand arithmetic may round in a different order than NumPy


def three_steps(optimizer, w0: float = 1.0) -> list[float]:
    """The value of a 1-element parameter after each of three updates with GRADS."""
    param = np.array([w0])
    values = []
    for g in GRADS:
        optimizer.update([param], [np.array([g])])
        values.append(float(param[0]))
    return values


def test_sgd_first_three_steps_by_hand():
    # W -= lr * g, lr = 0.1
    w1 = 1.0 - 0.1 * 0.5  # 0.95
    w2 = w1 - 0.1 * -0.25  # 0.975
    w3 = w2 - 0.1 * 1.5  # 0.825
    np.testing.assert_allclose(three_steps(SGD(lr=0.1)), [w1, w2, w3], rtol=RTOL)


def test_momentum_first_three_steps_by_hand():
    # v = m * v - lr * g; W += v, lr = 0.1, m = 0.5
    v1 = 0.5 * 0.0 - 0.1 * 0.5  # -0.05
    w1 = 1.0 + v1  # 0.95
    v2 = 0.5 * v1 - 0.1 * -0.25  # 0.0
    w2 = w1 + v2  # 0.95
    v3 = 0.5 * v2 - 0.1 * 1.5  # -0.15
    w3 = w2 + v3  # 0.8
    got = three_steps(Momentum(lr=0.1, momentum=0.5))
    np.testing.assert_allclose(got, [w1, w2, w3], rtol=RTOL)


def test_nesterov_first_three_steps_by_hand():
    # v *= m; v -= lr * g; W += m * m * v; W -= (1 + m) * lr * g, lr = 0.1, m = 0.5
    v1 = 0.5 * 0.0 - 0.1 * 0.5  # -0.05
    w1 = 1.0 + 0.25 * v1 - 1.5 * 0.1 * 0.5  # 0.9125
    v2 = 0.5 * v1 - 0.1 * -0.25  # 0.0
    w2 = w1 + 0.25 * v2 - 1.5 * 0.1 * -0.25  # 0.95
    v3 = 0.5 * v2 - 0.1 * 1.5  # -0.15
    w3 = w2 + 0.25 * v3 - 1.5 * 0.1 * 1.5  # 0.6875
    got = three_steps(Nesterov(lr=0.1, momentum=0.5))
    np.testing.assert_allclose(got, [w1, w2, w3], rtol=RTOL)


def test_adagrad_first_three_steps_by_hand():
    # h += g * g; W -= lr * g / (sqrt(h) + 1e-7), lr = 0.1
    h1 = 0.0 + 0.5 * 0.5  # 0.25
    w1 = 1.0 - 0.1 * 0.5 / (math.sqrt(h1) + EPS)
    h2 = h1 + 0.0625  # 0.3125
    w2 = w1 - 0.1 * -0.25 / (math.sqrt(h2) + EPS)
    h3 = h2 + 2.25  # 2.5625
    w3 = w2 - 0.1 * 1.5 / (math.sqrt(h3) + EPS)
    np.testing.assert_allclose(three_steps(AdaGrad(lr=0.1)), [w1, w2, w3], rtol=RTOL)


def test_rmsprop_first_three_steps_by_hand():
    # h *= d; h += (1 - d) * g * g; W -= lr * g / (sqrt(h) + 1e-7), lr = 0.1, d = 0.5
    h1 = 0.5 * 0.0 + 0.5 * 0.25  # 0.125
    w1 = 1.0 - 0.1 * 0.5 / (math.sqrt(h1) + EPS)
    h2 = 0.5 * h1 + 0.5 * 0.0625  # 0.09375
    w2 = w1 - 0.1 * -0.25 / (math.sqrt(h2) + EPS)
    h3 = 0.5 * h2 + 0.5 * 2.25  # 1.171875
    w3 = w2 - 0.1 * 1.5 / (math.sqrt(h3) + EPS)
    got = three_steps(RMSprop(lr=0.1, decay_rate=0.5))
    np.testing.assert_allclose(got, [w1, w2, w3], rtol=RTOL)


def test_adam_first_three_steps_by_hand():
    # lr_t = lr * sqrt(1 - b2**k) / (1 - b1**k); m += (1 - b1) * (g - m);
    # v += (1 - b2) * (g**2 - v); W -= lr_t * m / (sqrt(v) + 1e-7), lr = 0.1, b1 = 0.8, b2 = 0.9
    m1 = 0.0 + 0.2 * (0.5 - 0.0)  # 0.1
    v1 = 0.0 + 0.1 * (0.25 - 0.0)  # 0.025
    w1 = 1.0 - 0.1 * math.sqrt(0.1) / 0.2 * m1 / (math.sqrt(v1) + EPS)
    m2 = m1 + 0.2 * (-0.25 - m1)  # 0.03
    v2 = v1 + 0.1 * (0.0625 - v1)  # 0.02875
    w2 = w1 - 0.1 * math.sqrt(0.19) / 0.36 * m2 / (math.sqrt(v2) + EPS)
    m3 = m2 + 0.2 * (1.5 - m2)  # 0.324
    v3 = v2 + 0.1 * (2.25 - v2)  # 0.250875
    w3 = w2 - 0.1 * math.sqrt(0.271) / 0.488 * m3 / (math.sqrt(v3) + EPS)
    got = three_steps(Adam(lr=0.1, beta1=0.8, beta2=0.9))
    np.testing.assert_allclose(got, [w1, w2, w3], rtol=RTOL)


def book_scalar_steps(name: str, w: float, grads: list[float]) -> list[float]:
    """The brief's formulas on one float, for the element-wise check of the array case."""
    lr, m, d, b1, b2 = 0.1, 0.5, 0.5, 0.8, 0.9
    v = h = mom = sec = 0.0
    out = []
    for k, g in enumerate(grads, start=1):
        if name == "sgd":
            w -= lr * g
        elif name in ("momentum", "nesterov"):
            v = m * v - lr * g
            w += v if name == "momentum" else m * m * v - (1 + m) * lr * g
        elif name == "adagrad":
            h += g * g
            w -= lr * g / (math.sqrt(h) + EPS)
        elif name == "rmsprop":
            h = d * h + (1 - d) * g * g
            w -= lr * g / (math.sqrt(h) + EPS)
        else:
            lr_t = lr * math.sqrt(1 - b2**k) / (1 - b1**k)
            mom += (1 - b1) * (g - mom)
            sec += (1 - b2) * (g * g - sec)
            w -= lr_t * mom / (math.sqrt(sec) + EPS)
        out.append(w)
    return out


MADE = {
    "sgd": lambda: SGD(lr=0.1),
    "momentum": lambda: Momentum(lr=0.1, momentum=0.5),
    "nesterov": lambda: Nesterov(lr=0.1, momentum=0.5),
    "adagrad": lambda: AdaGrad(lr=0.1),
    "rmsprop": lambda: RMSprop(lr=0.1, decay_rate=0.5),
    "adam": lambda: Adam(lr=0.1, beta1=0.8, beta2=0.9),
}


@pytest.mark.parametrize("name", list(MADE))
def test_array_parameters_follow_the_formula_element_by_element(name):
    rng = np.random.RandomState(0)
    params = [rng.randn(2, 3), rng.randn(3)]  # a non-square matrix and a bias, own state each
    grads_per_step = [[rng.randn(2, 3), rng.randn(3)] for _ in range(3)]
    expected = [[np.empty_like(p) for p in params] for _ in range(3)]  # expected[step][param]
    for i, param in enumerate(params):
        for idx in np.ndindex(param.shape):
            gs = [float(step[i][idx]) for step in grads_per_step]
            for step, value in enumerate(book_scalar_steps(name, float(param[idx]), gs)):
                expected[step][i][idx] = value

    optimizer = MADE[name]()
    for step, grads in enumerate(grads_per_step):
        optimizer.update(params, grads)
        for got, want in zip(params, expected[step], strict=True):
            np.testing.assert_allclose(got, want, rtol=RTOL, err_msg=f"{name} step {step + 1}")


BOOK_DEFAULTS = [
    (SGD, {"lr": 0.01}),
    (Momentum, {"lr": 0.01, "momentum": 0.9}),
    (Nesterov, {"lr": 0.01, "momentum": 0.9}),
    (AdaGrad, {"lr": 0.01}),
    (RMSprop, {"lr": 0.01, "decay_rate": 0.99}),
    (Adam, {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}),
]


@pytest.mark.parametrize(
    ("cls", "book"), BOOK_DEFAULTS, ids=[cls.__name__ for cls, _ in BOOK_DEFAULTS]
)
def test_defaults_are_the_books(cls, book):
    default = cls()
    assert {name: getattr(default, name) for name in book} == book
    assert three_steps(cls()) == three_steps(cls(**book))


@pytest.mark.parametrize("name", list(MADE))
def test_update_is_in_place_and_leaves_grads_alone(name):
    rng = np.random.RandomState(1)
    params = [rng.randn(2, 3), rng.randn(3)]
    grads = [rng.randn(2, 3), rng.randn(3)]
    originals = [p.copy() for p in params]
    grads_before = [g.copy() for g in grads]
    aliases = list(params)  # what a network's layers hold

    MADE[name]().update(params, grads)

    assert all(p is a for p, a in zip(params, aliases, strict=True))
    assert all(not np.array_equal(p, o) for p, o in zip(aliases, originals, strict=True))
    assert all(np.array_equal(g, b) for g, b in zip(grads, grads_before, strict=True))
