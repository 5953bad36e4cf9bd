"""SimpleRnnlm, Rnnlm and BetterRnnlm: the book's initial weights from rng, weights by the
book's names (the tied one once), whole-model gradients against central differences
(the tied weight's two gradients merged by remove_duplicate), and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.better_rnnlm import BetterRnnlm
from scratch.gradcheck import numerical_gradient
from scratch.rnnlm import Rnnlm
from scratch.simple_rnnlm import SimpleRnnlm
from scratch.trainer import remove_duplicate
from tests.scratch.helpers import GRADCHECK_RTOL, relative_error, same_rng_state

V, D, H, N, T = 11, 5, 6, 3, 4
NAMES = {
    SimpleRnnlm: ["embed_W", "rnn_Wx", "rnn_Wh", "rnn_b", "affine_W", "affine_b"],
    Rnnlm: ["embed_W", "lstm_Wx", "lstm_Wh", "lstm_b", "affine_W", "affine_b"],
    BetterRnnlm: [
        "embed_W", "lstm_Wx1", "lstm_Wh1", "lstm_b1", "lstm_Wx2", "lstm_Wh2", "lstm_b2",
        "affine_b",
    ],
}  # fmt: skip


def make(cls, **kw):
    if cls is BetterRnnlm:
        return cls(V, H, H, 0.3, **kw)
    return cls(V, D, H, **kw)


def book_initial_weights(cls) -> list[np.ndarray]:
    """The book's constructors' draws after np.random.seed(7), as they are printed."""
    rn = np.random.randn
    np.random.seed(7)
    if cls is BetterRnnlm:
        embed_W = (rn(V, H) / 100).astype("f")
        lstm = []
        for _ in range(2):
            lstm += [(rn(H, 4 * H) / np.sqrt(H)).astype("f") for _ in range(2)]
            lstm.append(np.zeros(4 * H).astype("f"))
        return [embed_W, *lstm, np.zeros(V).astype("f")]
    gates = 1 if cls is SimpleRnnlm else 4
    return [
        (rn(V, D) / 100).astype("f"),
        (rn(D, gates * H) / np.sqrt(D)).astype("f"),
        (rn(H, gates * H) / np.sqrt(H)).astype("f"),
        np.zeros(gates * H).astype("f"),
        (rn(H, V) / np.sqrt(H)).astype("f"),
        np.zeros(V).astype("f"),
    ]


@pytest.mark.parametrize("cls", list(NAMES))
def test_initial_weights_are_the_books_drawn_from_rng_by_the_books_names(cls):
    saved = np.random.get_state()
    try:
        book = book_initial_weights(cls)
    finally:
        np.random.set_state(saved)
    model = make(cls, rng=np.random.RandomState(7))
    assert same_rng_state(saved, np.random.get_state())
    weights = model.weights()
    assert list(weights) == NAMES[cls]
    for name, want in zip(NAMES[cls], book, strict=True):
        assert weights[name].dtype == np.float32
        assert weights[name].tobytes() == want.tobytes(), name


def test_better_rnnlm_ties_the_output_layer_to_the_embedding_one_array():
    model = make(BetterRnnlm, rng=np.random.RandomState(0), dtype=np.float64)
    embed_W, affine_W = model.layers[0].params[0], model.layers[-1].params[0]
    assert affine_W.shape == (H, V) and np.shares_memory(embed_W, affine_W)
    assert len(model.params) == 9  # the tied weight twice, as the book has it
    params, _ = remove_duplicate(model.params, model.grads)
    assert len(params) == 8 == len(model.weights())  # merged: once, as embed_W
    assert "affine_W" not in model.weights()


@pytest.mark.parametrize("cls", list(NAMES))
def test_weights_given_are_copied_and_come_back_the_same(cls):
    given = make(cls, rng=np.random.RandomState(1), dtype=np.float64).weights()
    model = make(cls, weights=given, dtype=np.float64)
    got = model.weights()
    assert all(np.array_equal(got[k], given[k]) for k in given)
    model.params[0][...] = 0  # the model owns its copy
    assert not np.all(given[NAMES[cls][0]] == 0)


@pytest.mark.parametrize("cls", list(NAMES))
def test_model_gradients_match_numerical_gradients_tied_weight_merged(cls):
    """d loss / d every weight, in float64 from a kept state (the second block), the
    dropout masks the same at every evaluation (a fresh RandomState(5) each time)."""
    rng = np.random.RandomState(2)
    model = make(cls, rng=rng, dtype=np.float64)
    for p in model.params:  # livelier than the book's small initial weights
        p[...] = rng.standard_normal(p.shape) * (0.5 if p.ndim == 2 else 0.1)
    xs, ts = rng.randint(0, V, (2, N, T))
    model.forward(xs, ts)  # a first block: the state to start from
    kept = [(layer.h.copy(), getattr(layer, "c", None)) for layer in model.state_layers]

    def loss(_):
        for layer, (h, c) in zip(model.state_layers, kept, strict=True):
            layer.h = h.copy()
            if c is not None:
                layer.c = c.copy()
        masks = np.random.RandomState(5)
        for layer in getattr(model, "drop_layers", []):
            layer.rng = masks
        return float(model.forward(xs, ts))

    loss(None)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    assert len(params) == len(NAMES[cls])
    for name, p, g in zip(NAMES[cls], params, grads, strict=True):
        err = relative_error(g.copy(), numerical_gradient(loss, p))
        assert err < GRADCHECK_RTOL, f"{cls.__name__} d/d{name}: {err:.1e}"


def test_better_rnnlm_predicts_without_dropout_and_forward_trains_with_it():
    model = make(BetterRnnlm, rng=np.random.RandomState(3), dtype=np.float64)
    xs = np.random.RandomState(4).randint(0, V, (N, T))
    a = model.predict(xs)
    model.reset_state()
    assert np.array_equal(model.predict(xs), a)  # no masks drawn, the same scores
    model.reset_state()
    model.forward(xs, xs)
    assert all(layer.train_flg and layer.mask is not None for layer in model.drop_layers)


@pytest.mark.parametrize("cls", list(NAMES))
def test_reset_state_starts_the_next_block_from_zeros(cls):
    model = make(cls, rng=np.random.RandomState(5), dtype=np.float64)
    xs = np.random.RandomState(6).randint(0, V, (N, T))
    first = model.predict(xs)
    assert not np.allclose(model.predict(xs), first)  # the state carried on
    model.reset_state()
    assert np.array_equal(model.predict(xs), first)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("cls", list(NAMES))
def test_ids_out_of_range_and_labels_of_another_shape_are_refused_naming_them(cls):
    model = make(cls, rng=np.random.RandomState(0))
    xs = np.zeros((N, T), dtype=int)
    for bad, name in ((xs + V, "xs"), (xs - 1, "xs")):
        with pytest.raises(ValueError, match=name):
            model.forward(bad, xs)
    with pytest.raises(ValueError, match=r"ts holds ids from 11 to 11, outside \[0, 11\)"):
        model.forward(xs, xs + V)
    with pytest.raises(ValueError, match="ts must have the shape of xs"):
        model.forward(xs, xs[:, :-1])
    with pytest.raises(TypeError, match="xs"):
        model.predict(xs.astype(float))


def test_lstm_weights_whose_gate_dimension_is_not_4h_are_refused_naming_them():
    weights = make(Rnnlm, rng=np.random.RandomState(0)).weights()
    weights["lstm_Wx"] = weights["lstm_Wx"][:, : 3 * H]  # three gates
    with pytest.raises(ValueError, match=r"weights\['lstm_Wx'\] .* gate dimension .* 4H = 24"):
        Rnnlm(V, D, H, weights=weights)
    weights = make(BetterRnnlm, rng=np.random.RandomState(0)).weights()
    weights["lstm_b2"] = np.zeros(H)
    with pytest.raises(ValueError, match=r"weights\['lstm_b2'\] .* 4H = 24"):
        BetterRnnlm(V, H, H, weights=weights)


def test_missing_weights_sizes_and_untied_sizes_are_refused_naming_them():
    weights = make(Rnnlm, rng=np.random.RandomState(0)).weights()
    del weights["affine_b"]
    with pytest.raises(ValueError, match="keys .* affine_b"):
        Rnnlm(V, D, H, weights=weights)
    with pytest.raises(ValueError, match="hidden_size"):
        Rnnlm(V, D, 0)
    with pytest.raises(ValueError, match=r"wordvec_size \(5\) must equal hidden_size \(6\)"):
        BetterRnnlm(V, D, H)
    with pytest.raises(ValueError, match="dropout_ratio"):
        BetterRnnlm(V, H, H, 1.0)
