"""The models of ch03 and ch04: gradients against an independent loss, shared weights once,
the book's draws, bad input refused before training."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.cbow import CBOW
from scratch.gradcheck import numerical_gradient
from scratch.simple_cbow import SimpleCBOW
from scratch.simple_skip_gram import SimpleSkipGram
from scratch.skip_gram import SkipGram
from scratch.trainer import remove_duplicate
from scratch.util import convert_one_hot, create_contexts_target
from tests.scratch.helpers import GRADCHECK_RTOL, relative_error, same_rng_state

V, H = 9, 4  # vocabulary and hidden size differ: a missing transpose cannot pass
CORPUS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 5, 2, 0, 7, 1, 4, 6, 8, 2, 3])


class GivenSamples:
    """A sampler that hands out fixed negative samples (N, 5), for a deterministic loss."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples = samples

    def get_negative_sample(self, target: np.ndarray) -> np.ndarray:
        return self.samples


def softplus(x):
    return np.logaddexp(0, x)


def exact_ns_loss(h, W_out, target, negatives):
    """sum over the positive and each negative column of mean(-log sigmoid(+-score)),
    without the book's 1e-7, written from the formula (§4.2.7), not from the layers."""
    pos = np.sum(W_out[target] * h, axis=1)  # (N,)
    neg = np.einsum("nkh,nh->nk", W_out[negatives], h)  # (N, k)
    return np.mean(softplus(-pos)) + np.sum(np.mean(softplus(neg), axis=0))


def enliven(model, scale: float) -> None:
    """Multiply every weight by `scale` (each shared array once): scores not all near 0."""
    for p in {id(p): p for p in model.params}.values():
        p *= scale


def test_cbow_gradients_are_the_exact_losss_with_shared_weights_summed_once():
    window = 2
    model = CBOW(V, H, window, CORPUS, rng=np.random.RandomState(0), dtype=np.float64)
    enliven(model, 30)  # lively weights: the scores are not all near 0
    contexts, target = create_contexts_target(CORPUS, window)
    negatives = np.random.RandomState(1).randint(0, V, (len(target), 5))
    model.ns_loss.sampler = GivenSamples(negatives)
    model.forward(contexts, target)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    assert len(params) == 2 and params[0] is model.word_vecs  # W_in once, W_out once
    W_in, W_out = params

    def loss(_):
        return exact_ns_loss(W_in[contexts].mean(axis=1), W_out, target, negatives)

    for p, g in zip(params, grads, strict=True):
        assert relative_error(g, numerical_gradient(loss, p)) < GRADCHECK_RTOL


def test_skip_gram_gradients_are_the_exact_losss():
    window = 1
    model = SkipGram(V, H, window, CORPUS, rng=np.random.RandomState(2), dtype=np.float64)
    enliven(model, 30)
    contexts, target = create_contexts_target(CORPUS, window)
    negatives = np.random.RandomState(3).randint(0, V, (2, len(target), 5))
    for layer, samples in zip(model.loss_layers, negatives, strict=True):
        layer.sampler = GivenSamples(samples)
    model.forward(contexts, target)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    assert len(params) == 2 and len(model.params) == 1 + 2 * 6
    W_in, W_out = params

    def loss(_):
        h = W_in[target]
        return sum(exact_ns_loss(h, W_out, contexts[:, i], negatives[i]) for i in (0, 1))

    for p, g in zip(params, grads, strict=True):
        assert relative_error(g, numerical_gradient(loss, p)) < GRADCHECK_RTOL


def log_softmax(s):
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("cls", [SimpleCBOW, SimpleSkipGram])
def test_simple_models_gradients_are_the_exact_losss(cls):
    model = cls(V, H, rng=np.random.RandomState(4), dtype=np.float64)
    enliven(model, 50)
    contexts, target = create_contexts_target(CORPUS, 1)
    c1h, t1h = convert_one_hot(contexts, V), convert_one_hot(target, V)
    model.forward(c1h, t1h)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    W_in, W_out = params
    assert W_in.shape == (V, H) and W_out.shape == (H, V)
    rows = np.arange(len(target))

    def loss(_):
        if cls is SimpleCBOW:
            s = (W_in[contexts[:, 0]] + W_in[contexts[:, 1]]) * 0.5 @ W_out
            return -log_softmax(s)[rows, target].mean()
        lp = log_softmax(W_in[target] @ W_out)
        return -lp[rows, contexts[:, 0]].mean() - lp[rows, contexts[:, 1]].mean()

    for p, g in zip(params, grads, strict=True):
        assert relative_error(g, numerical_gradient(loss, p)) < GRADCHECK_RTOL


@pytest.mark.parametrize("name", ["simple_cbow", "simple_skip_gram", "cbow", "skip_gram"])
def test_weights_are_drawn_as_the_books_and_named_once(name):
    def make(rng, **kw):
        if name == "simple_cbow":
            return SimpleCBOW(V, H, rng=rng, **kw)
        if name == "simple_skip_gram":
            return SimpleSkipGram(V, H, rng=rng, **kw)
        cls = CBOW if name == "cbow" else SkipGram
        return cls(V, H, 2, CORPUS, rng=rng, **kw)

    before = np.random.get_state()
    model = make(np.random.RandomState(5))
    assert same_rng_state(before, np.random.get_state())
    r = np.random.RandomState(5)  # the book: 0.01 * randn(...).astype('f'), W_in first
    out_shape = (H, V) if name.startswith("simple") else (V, H)
    want = {
        "W_in": 0.01 * r.randn(V, H).astype("f"),
        "W_out": 0.01 * r.randn(*out_shape).astype("f"),
    }
    got = model.weights()
    assert list(got) == ["W_in", "W_out"]
    for k in want:
        assert got[k].dtype == np.float32 and np.array_equal(got[k], want[k]), k
    got["W_in"][...] = 0
    assert model.word_vecs.any()  # weights() are copies
    again = make(None, weights=want, dtype=np.float64)
    assert again.weights()["W_out"].dtype == np.float64
    assert np.array_equal(again.weights()["W_out"], want["W_out"])


def test_rng_dtype_and_weights_are_keyword_only():
    with pytest.raises(TypeError):
        SimpleCBOW(V, H, np.random.RandomState(0))
    with pytest.raises(TypeError):
        CBOW(V, H, 1, CORPUS, np.random.RandomState(0))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CBOW(V, H, 0, CORPUS), "window_size must be an int >= 1"),
        (lambda: SkipGram(V, H, -2, CORPUS), "window_size must be an int >= 1"),
        (lambda: CBOW(V + 1, H, 1, CORPUS), r"corpus lacks 1 id\(s\) of the vocabulary \[0, 10\)"),
        (lambda: CBOW(V - 1, H, 1, CORPUS), r"corpus holds the word id 8 .* \[0, 8\)"),
        (lambda: SkipGram(5, H, 1, np.arange(5)), "sample_size 5 is too large"),
        (lambda: CBOW(V, 0, 1, CORPUS), "hidden_size must be an int >= 1"),
        (lambda: SimpleCBOW(V, H, weights={"W_in": np.zeros((V, H))}), "keys W_in, W_out"),
        (
            lambda: SimpleCBOW(V, H, weights={"W_in": np.zeros((V, H)), "W_out": np.zeros((V, H))}),
            r"weights\['W_out'\] must have shape \(4, 9\)",
        ),
    ],
)
def test_bad_construction_is_refused_naming_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_batches_are_refused_before_any_draw():
    rng = np.random.RandomState(6)
    model = CBOW(V, H, 1, CORPUS, rng=rng)
    contexts, target = create_contexts_target(CORPUS, 1)
    state = rng.get_state()
    bad = contexts.copy()
    bad[3, 1] = V
    with pytest.raises(ValueError, match=r"contexts holds the word id 9 at \(3, 1\)"):
        model.forward(bad, target)
    with pytest.raises(ValueError, match="contexts has 19 rows but target has 18"):
        model.forward(contexts, target[:-1])
    with pytest.raises(ValueError, match="2 window_size = 2 columns"):
        model.forward(np.hstack([contexts, contexts]), target)
    with pytest.raises(ValueError, match="target holds the word id -1"):
        model.forward(contexts, np.where(target == 3, -1, target))
    assert same_rng_state(state, rng.get_state())  # nothing was drawn
    simple = SimpleCBOW(V, H)
    with pytest.raises(ValueError, match=r"contexts must be one-hot rows \(N, 2, 9\)"):
        simple.forward(contexts, target)
    with pytest.raises(ValueError, match="target must be one-hot"):
        simple.forward(convert_one_hot(contexts, V), target[:-1])
