"""The drift table's explanations are computed, not recited: the Nesterov sentence quoted by
`drift`, both adapters and the Rosetta is checked against steps the stock optimizers take."""

from __future__ import annotations

import re

import numpy as np
import pytest

from adapters import OptimizerSpec
from comparisons import drift
from comparisons.rosetta import concept
from scratch.optimizers import Nesterov
from tests.helpers import need, torch_and_jax

pytestmark = pytest.mark.crossframework

# "at lr 0.1, m 0.9, g 1 its first step is -0.19, the book's -0.271"
EXAMPLE = re.compile(
    r"lr ([\d.]+), m\w* ([\d.]+), (?:g|dW) ([\d.]+) its first step is (-[\d.]+),? "
    r"(?:and )?the book's (-[\d.]+)"
)


def book_steps(lr: float, m: float, grads: np.ndarray) -> np.ndarray:
    """How far the book's Nesterov moves one weight at each gradient of `grads`."""
    w, opt, steps = [np.zeros(1)], Nesterov(lr=lr, momentum=m), []
    for g in grads:
        before = w[0].copy()
        opt.update(w, [np.array([g])])
        steps.append(w[0][0] - before[0])
    return np.array(steps)


def stock_steps(framework: str, lr: float, m: float, grads: np.ndarray) -> np.ndarray:
    """The same with the stock optimizer that `drift` runs (the adapters' flavor="stock")."""
    torch, jax = torch_and_jax()
    spec = OptimizerSpec("nesterov", lr, momentum=m, flavor="stock")
    steps = []
    if framework == "torch":
        from adapters.torch_adapter import make_optimizer

        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = make_optimizer(spec, [p])
        for g in grads:
            before = p.item()
            p.grad = torch.tensor([g], dtype=torch.float64)
            opt.step()
            steps.append(p.item() - before)
        return np.array(steps)
    from adapters.jax_adapter import make_optimizer

    with jax.enable_x64(True):
        tx = make_optimizer(spec, None)
        p = jax.numpy.zeros(1)
        state = tx.init(p)
        for g in grads:
            updates, state = tx.update(jax.numpy.array([g]), state, p)
            p = p + updates
            steps.append(float(updates[0]))
    return np.array(steps)


def quoted() -> dict[str, str]:
    from adapters.jax_adapter import book_nesterov
    from adapters.torch_adapter import BookNesterov

    return {
        "drift": drift.NESTEROV,
        "torch adapter": BookNesterov.__doc__,
        "jax adapter": book_nesterov.__doc__,
        "rosetta": concept("optimizers").differs["en"],
    }


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_the_nesterov_explanation_is_the_step_the_stock_optimizer_takes(framework):
    need("torch", "jax")
    texts = quoted()
    for where, text in texts.items():
        found = EXAMPLE.search(" ".join(text.split()))
        assert found, f"{where} quotes no computed step: {text!r}"
        lr, m, g, stock, book = map(float, found.groups())
        ones = np.full(12, g)
        ours, theirs = book_steps(lr, m, ones), stock_steps(framework, lr, m, ones)
        assert ours[0] == pytest.approx(book, abs=1e-12), where  # -0.271
        assert theirs[0] == pytest.approx(stock, abs=1e-12), where  # -0.19
        assert ours[0] - theirs[0] == pytest.approx(-(m**2) * lr * g, abs=1e-12)  # m² lr g
        assert "m**2 * lr * g" in text or "momentum**2 * lr * dW" in text, where
        # under a constant gradient the stock step k + 1 is the book's step k
        np.testing.assert_allclose(theirs[1:], ours[:-1], rtol=0, atol=1e-12)
        assert not np.allclose(theirs, ours)
    ja = concept("optimizers").differs["ja"]
    assert "-0.19" in ja and "-0.271" in ja and "m**2 * lr * g" in ja


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_the_stock_nesterov_is_the_books_form_with_the_velocity_before_the_step(framework):
    """In general (any gradients): stock W += m² v_old - (1 + m) lr g, the book m² v_new."""
    need("torch", "jax")
    lr, m = 0.05, 0.8
    grads = np.random.RandomState(3).standard_normal(9)
    v, velocities = 0.0, [0.0]
    for g in grads:  # the book's velocity, v <- m v - lr g
        v = m * v - lr * g
        velocities.append(v)
    v_old, v_new = np.array(velocities[:-1]), np.array(velocities[1:])
    expected_book = m**2 * v_new - (1 + m) * lr * grads
    expected_stock = m**2 * v_old - (1 + m) * lr * grads
    np.testing.assert_allclose(book_steps(lr, m, grads), expected_book, rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        stock_steps(framework, lr, m, grads), expected_stock, rtol=0, atol=1e-14
    )
