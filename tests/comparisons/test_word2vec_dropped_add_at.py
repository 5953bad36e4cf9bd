"""The bug the book warns about in §4.1.4: Embedding's backward written `dW[idx] += dout`
keeps one gradient per repeated id instead of their sum. The harness catches it after
the first update, on exactly the rows of the ids a batch repeats."""

from __future__ import annotations

import re

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from scratch.layers import Embedding
from tests.adapters.word2vec_runs import short_run
from tests.helpers import need

pytestmark = pytest.mark.crossframework


def dropped_add_at(self, dout):
    """Embedding.backward with the fancy-index +=: a repeated id's rows overwrite."""
    (dW,) = self.grads
    dW[...] = 0
    dW[self.idx] += dout  # the bug: np.add.at(dW, self.idx, dout) is right


def repeated(ids: np.ndarray) -> set[int]:
    """The ids occurring more than once in a 1-D id array."""
    values, counts = np.unique(ids, return_counts=True)
    return {int(v) for v in values[counts > 1]}


def test_a_fancy_index_add_is_caught_at_step_1_on_the_rows_of_repeated_ids(monkeypatch):
    need("torch")
    d = short_run("cbow")
    spec = OptimizerSpec("sgd", 0.5)  # an update proportional to the gradient
    right = adapters.build("torch", d.weights, model="cbow", **d.config)
    good = right.train(d.contexts, d.target, d.schedule, spec, negatives=d.negatives)
    monkeypatch.setattr(Embedding, "backward", dropped_add_at)
    wrong = adapters.build("numpy", d.weights, model="cbow", **d.config)
    bad = wrong.train(d.contexts, d.target, d.schedule, spec, negatives=d.negatives)

    report = parity.compare_trajectories(good, bad)
    assert not report.passed and report.first_step == 1
    assert "first diverge after 1 update at" in report.summary()
    # and says why: only the rows of repeated ids differ, an np.add.at dropped
    hint = report.hints[0]
    assert hint.kind == "rows" and hint.name in ("W_in", "W_out"), report.hints
    assert "np.add.at" in report.summary()

    rows = d.schedule[0]  # step 0's batch: each Embedding reads one column of ids
    want = {
        "W_in": set().union(*(repeated(d.contexts[rows, i]) for i in range(4))),
        "W_out": repeated(d.target[rows]).union(*(repeated(n) for n in d.negatives[0].T)),
    }
    tol = parity.tolerance("float64", "trajectory")
    for name, expected in want.items():
        assert expected  # the batch does repeat ids: the test can fail
        a, b = good.weights[name][1], bad.weights[name][1]  # after 1 update
        off = np.abs(a - b) > tol.atol + tol.rtol * np.abs(a)
        assert set(np.flatnonzero(off.any(axis=1)).tolist()) == expected, name
        assert np.array_equal(good.weights[name][0], bad.weights[name][0])  # same start
    assert report.first.weight in want and report.first.index[0] in want[report.first.weight]
    named = {int(r) for r in re.findall(r"\d+", hint.detail.split(":")[1].split(";")[0])}
    assert named and named <= want[hint.name], (hint.detail, want[hint.name])
