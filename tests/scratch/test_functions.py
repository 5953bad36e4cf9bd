"""scratch.functions beyond the book: the stable log-softmax and the epsilon gap."""

from __future__ import annotations

import numpy as np

from scratch.functions import (
    BOOK_LOG_EPS,
    epsilon_gap,
    epsilon_gap_from_log,
    log_softmax,
    softmax,
)


def test_log_softmax_is_the_log_of_the_books_softmax_where_that_is_finite():
    scores = np.random.RandomState(0).standard_normal((5, 3)) * 4  # (N, C) non-square
    np.testing.assert_allclose(log_softmax(scores), np.log(softmax(scores)), rtol=1e-13)


def test_log_softmax_stays_finite_where_a_probability_underflows():
    scores = np.array([[0.0, -2000.0, 5.0]])
    assert softmax(scores)[0, 1] == 0  # the book's probability underflowed
    expected = scores[0] - 5.0 - np.log1p(np.exp(-5.0))  # max 5, sum exp(s - 5) = 1 + e^-5
    np.testing.assert_allclose(log_softmax(scores)[0], expected, rtol=1e-13)


def test_epsilon_gap_per_row_equals_the_gap_of_each_row():
    p = np.random.RandomState(1).uniform(1e-6, 1, (4, 7))  # (steps, N)
    rows = epsilon_gap(p)
    assert rows.shape == (4,)
    assert [epsilon_gap(r) for r in p] == list(rows)
    np.testing.assert_allclose(rows, np.mean(np.log(p + BOOK_LOG_EPS) - np.log(p), axis=1))


def test_epsilon_gap_from_log_agrees_and_survives_underflow():
    p = np.array([0.3, 1e-5, 0.9])
    np.testing.assert_allclose(epsilon_gap_from_log(np.log(p)), epsilon_gap(p), rtol=1e-12)
    logp = np.array([-2000.0, -0.1])  # exp(-2000) is 0 in float64
    expected = np.mean([np.log(BOOK_LOG_EPS) + 2000.0, np.log1p(BOOK_LOG_EPS / np.exp(-0.1))])
    np.testing.assert_allclose(epsilon_gap_from_log(logp), expected, rtol=1e-12)
