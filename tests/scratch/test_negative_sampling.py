"""ch04/negative_sampling_layer.py: the sampler's draws, EmbeddingDot, the loss."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.gradcheck import numerical_gradient
from scratch.negative_sampling_layer import EmbeddingDot, NegativeSamplingLoss, UnigramSampler
from tests.scratch.helpers import GRADCHECK_RTOL, relative_error, same_rng_state

CORPUS = np.array([0, 1, 2, 3, 4, 1, 5, 2, 4, 1, 6, 0, 1, 3])  # ids 0..6, "say" (1) often


def book_draws(seed: int, targets: list[np.ndarray], power: float, sample_size: int):
    """The book's CPU sampling after np.random.seed(seed), from the global generator: per
    row, the unigram probabilities ** power with the target's set to 0, renormalised,
    then np.random.choice without replacement (ch04/negative_sampling_layer.py)."""
    counts = np.bincount(CORPUS).astype(float)
    word_p = counts**power / np.sum(counts**power)
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        out = []
        for target in targets:
            rows = []
            for t in target:
                p = word_p.copy()
                p[t] = 0
                p /= p.sum()
                rows.append(np.random.choice(len(p), size=sample_size, replace=False, p=p))
            out.append(np.array(rows))
        return out
    finally:
        np.random.set_state(saved)


def test_samples_are_the_books_after_seeding_and_never_the_target():
    targets = [np.array([1, 1, 0, 6]), np.array([2, 5, 3])]
    sampler = UnigramSampler(CORPUS, 0.75, 3, rng=np.random.RandomState(7))
    before = np.random.get_state()
    got = [sampler.get_negative_sample(t) for t in targets]
    assert same_rng_state(before, np.random.get_state())
    for g, want, t in zip(got, book_draws(7, targets, 0.75, 3), targets, strict=True):
        assert g.dtype == np.int32 and g.shape == (len(t), 3)
        assert np.array_equal(g, want)
        assert not (g == t[:, None]).any()  # the target is never its own negative
        assert all(len(set(row)) == 3 for row in g)  # without replacement


def test_word_probabilities_are_counts_to_the_power_normalised():
    sampler = UnigramSampler(CORPUS, 0.75, 2)
    counts = np.array([2, 4, 2, 2, 2, 1, 1])
    np.testing.assert_allclose(sampler.word_p, counts**0.75 / (counts**0.75).sum(), rtol=1e-15)
    assert sampler.vocab_size == 7


@pytest.mark.parametrize(
    ("corpus", "sample_size", "match"),
    [
        (np.array([0, 1, 3, 3]), 1, r"corpus lacks 1 id\(s\) of the vocabulary \[0, 4\) \(2\)"),
        (CORPUS, 7, "sample_size 7 is too large: .* at most 6"),
        (CORPUS, 0, "sample_size must be an int >= 1"),
        (np.array([0, -1, 1]), 1, "corpus holds the word id -1"),
        (np.array([[0, 1], [1, 0]]), 1, "corpus must be a 1-D array"),
    ],
)
def test_bad_corpus_or_sample_size_is_refused_before_any_draw(corpus, sample_size, match):
    with pytest.raises(ValueError, match=match):
        UnigramSampler(corpus, 0.75, sample_size)


def test_embedding_dot_scores_and_backward_match_numerical_gradients():
    rng = np.random.RandomState(0)
    W, h = rng.randn(7, 4), rng.randn(5, 4)
    idx = np.array([3, 0, 3, 6, 1])  # 3 twice
    weight = rng.randn(5)
    layer = EmbeddingDot(W)
    out = layer.forward(h, idx)
    assert np.array_equal(out, np.sum(W[idx] * h, axis=1))
    dh = layer.backward(weight)
    f = lambda _: np.sum(layer.forward(h, idx) * weight)  # noqa: E731
    assert relative_error(dh, numerical_gradient(f, h)) < GRADCHECK_RTOL
    assert relative_error(layer.grads[0], numerical_gradient(f, W)) < GRADCHECK_RTOL


def test_negative_sampling_loss_is_the_sum_of_one_positive_and_k_negative_losses():
    rng = np.random.RandomState(1)
    W, h = rng.randn(7, 4), rng.randn(3, 4)
    target = np.array([1, 4, 0])
    layer = NegativeSamplingLoss(W, CORPUS, sample_size=2, rng=np.random.RandomState(2))
    loss = layer.forward(h, target)
    negatives = book_draws(2, [target], 0.75, 2)[0]
    s = lambda ids: np.sum(W[ids] * h, axis=1)  # noqa: E731
    y_pos, y_neg = (
        1 / (1 + np.exp(-s(target))),
        [1 / (1 + np.exp(-s(negatives[:, i]))) for i in (0, 1)],
    )
    want = -np.mean(np.log(y_pos + 1e-7)) - sum(np.mean(np.log(1 - y + 1e-7)) for y in y_neg)
    np.testing.assert_allclose(loss, want, rtol=1e-14)
    assert len(layer.params) == 3 and all(p is W for p in layer.params)  # W once per layer
