"""The time layers of chapters 5-6: every backward pass against central differences
(float64, non-square shapes), the state kept between blocks, the book's sums and masks."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.gradcheck import numerical_gradient
from scratch.time_layers import (
    LSTM,
    RNN,
    TimeAffine,
    TimeDropout,
    TimeEmbedding,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    dropout_mask,
)
from tests.scratch.helpers import GRADCHECK_RTOL, relative_error, same_rng_state

N, T, D, H, V = 3, 4, 5, 6, 7  # all different: a missing transpose cannot pass


def rnn_weights(rng, gates: int):
    return (
        rng.standard_normal((D, gates * H)),
        rng.standard_normal((H, gates * H)) * 0.5,
        rng.standard_normal(gates * H) * 0.1,
    )


def check_layer_gradients(forward, backward, inputs, params, grads, rng) -> None:
    """Backward's gradients of sum(out * w) (w random) against central differences, for
    every array in `inputs` (d loss / d input, as backward returns) and in `params`."""
    out = forward()
    w = rng.standard_normal(out.shape)

    def loss(_):
        return float(np.sum(forward() * w))

    dinputs = backward(w)
    for name, x, dx in inputs(dinputs):
        err = relative_error(dx, numerical_gradient(loss, x))
        assert err < GRADCHECK_RTOL, f"d/d{name}: {err:.1e}"
    for i, p in enumerate(params):
        err = relative_error(grads[i], numerical_gradient(loss, p))
        assert err < GRADCHECK_RTOL, f"d/dparams[{i}] {p.shape}: {err:.1e}"


def test_rnn_cell_backward_matches_numerical_gradient():
    rng = np.random.RandomState(0)
    cell = RNN(*rnn_weights(rng, 1))
    x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    out = cell.forward(x, h)
    w = rng.standard_normal(out.shape)
    dx, dh = cell.backward(w)

    def loss(_):
        return float(np.sum(cell.forward(x, h) * w))

    for got, a in ((dx, x), (dh, h), *zip(cell.grads, cell.params, strict=True)):
        assert relative_error(got.copy(), numerical_gradient(loss, a)) < GRADCHECK_RTOL


def test_lstm_cell_backward_matches_numerical_gradient_for_h_and_c():
    rng = np.random.RandomState(1)
    cell = LSTM(*rnn_weights(rng, 4))
    x, h, c = (rng.standard_normal((N, k)) for k in (D, H, H))
    wh, wc = rng.standard_normal((N, H)), rng.standard_normal((N, H))

    def loss(_):
        h_next, c_next = cell.forward(x, h, c)
        return float(np.sum(h_next * wh) + np.sum(c_next * wc))

    loss(None)
    dx, dh, dc = cell.backward(wh, wc)
    grads = [g.copy() for g in cell.grads]
    for got, a in ((dx, x), (dh, h), (dc, c), *zip(grads, cell.params, strict=True)):
        assert relative_error(got, numerical_gradient(loss, a)) < GRADCHECK_RTOL


@pytest.mark.parametrize("cls, gates", [(TimeRNN, 1), (TimeLSTM, 4)])
def test_time_rnn_and_lstm_backward_match_numerical_gradient_from_a_kept_state(cls, gates):
    rng = np.random.RandomState(2)
    layer = cls(*rnn_weights(rng, gates), stateful=True)
    xs = rng.standard_normal((N, T, D))
    layer.forward(xs)
    start = (layer.h.copy(), getattr(layer, "c", None))
    start = (start[0], None if start[1] is None else start[1].copy())

    def forward():  # from the same kept state every time: the block's own gradient
        if cls is TimeLSTM:
            layer.set_state(start[0].copy(), start[1].copy())
        else:
            layer.set_state(start[0].copy())
        return layer.forward(xs)

    check_layer_gradients(
        forward,
        layer.backward,
        lambda dxs: [("xs", xs, dxs)],
        layer.params,
        layer.grads,
        rng,
    )


@pytest.mark.parametrize("cls, gates", [(TimeRNN, 1), (TimeLSTM, 4)])
def test_a_stateful_layer_continues_exactly_where_the_last_block_stopped(cls, gates):
    rng = np.random.RandomState(3)
    weights = rnn_weights(rng, gates)
    xs = rng.standard_normal((N, 2 * T, D)).astype(np.float32)
    whole = cls(*(w.astype(np.float32) for w in weights), stateful=True).forward(xs)
    layer = cls(*(w.astype(np.float32) for w in weights), stateful=True)
    halves = np.concatenate([layer.forward(xs[:, :T]), layer.forward(xs[:, T:])], axis=1)
    assert np.array_equal(whole, halves)  # the same operations, in the same order
    layer.reset_state()
    assert np.array_equal(layer.forward(xs[:, :T]), whole[:, :T])
    stateless = cls(*(w.astype(np.float32) for w in weights))
    stateless.forward(xs[:, :T])
    assert not np.allclose(stateless.forward(xs[:, T:]), whole[:, T:])  # starts from zeros


def test_a_kept_state_for_another_batch_size_is_refused_with_the_way_out():
    rng = np.random.RandomState(4)
    layer = TimeLSTM(*rnn_weights(rng, 4), stateful=True)
    layer.forward(rng.standard_normal((N, T, D)))
    with pytest.raises(ValueError, match=r"kept state h .* reset_state\(\)"):
        layer.forward(rng.standard_normal((N + 1, T, D)))


def test_time_embedding_and_affine_backward_match_numerical_gradient():
    rng = np.random.RandomState(5)
    W = rng.standard_normal((V, D))
    ids = rng.randint(0, V, (N, T))
    emb = TimeEmbedding(W)
    check_layer_gradients(
        lambda: emb.forward(ids), emb.backward, lambda _: [], emb.params, emb.grads, rng
    )
    aff = TimeAffine(rng.standard_normal((D, V)), rng.standard_normal(V))
    hs = rng.standard_normal((N, T, D))
    check_layer_gradients(
        lambda: aff.forward(hs),
        aff.backward,
        lambda dhs: [("hs", hs, dhs)],
        aff.params,
        aff.grads,
        rng,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_gradient_is_the_books_per_step_sum_bit_for_bit(dtype):
    """The book's TimeEmbedding: one (V, D) np.add.at into zeros per step, summed over the
    steps in order. Ids repeat within a step and across steps, so the order shows."""
    for seed in range(40):
        rng = np.random.RandomState(seed)
        W = rng.standard_normal((V, D)).astype(dtype)
        ids = rng.randint(0, 3, (N + 5, T))  # few ids: many repeats
        dout = rng.standard_normal((N + 5, T, D)) * 10 ** rng.uniform(-3, 3, (N + 5, T, 1))
        dout = dout.astype(dtype)
        book = 0
        for t in range(T):
            dW = np.zeros_like(W)
            np.add.at(dW, ids[:, t], dout[:, t, :])
            book += dW
        emb = TimeEmbedding(W)
        emb.forward(ids)
        emb.backward(dout)
        assert emb.grads[0].tobytes() == book.tobytes()


def test_time_softmax_loss_is_the_mean_over_n_times_t_and_skips_ignored_labels():
    rng = np.random.RandomState(6)
    xs = rng.standard_normal((N, T, V))
    ts = rng.randint(0, V, (N, T))
    ts[0, 1] = ts[2, 3] = -1  # ignored
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    keep = ts != -1
    logp = xs - np.log(np.exp(xs).sum(axis=2, keepdims=True))
    assert loss == pytest.approx(-logp[keep, ts[keep]].mean(), rel=1e-14)
    dxs = layer.backward()
    assert np.all(dxs[0, 1] == 0) and np.all(dxs[2, 3] == 0)

    def f(_):
        return float(TimeSoftmaxWithLoss().forward(xs, ts))

    assert relative_error(dxs, numerical_gradient(f, xs)) < GRADCHECK_RTOL
    full = rng.randint(0, V, (N, T))  # one-hot labels (N, T, V) give the same loss
    assert layer.forward(xs, np.eye(V, dtype=int)[full]) == TimeSoftmaxWithLoss().forward(xs, full)


def test_time_dropout_draws_the_books_mask_from_rng_not_the_global_one():
    xs = np.random.RandomState(7).standard_normal((N, T, D)).astype(np.float32)
    saved = np.random.get_state()
    try:
        np.random.seed(11)
        flg = np.random.rand(*xs.shape) > 0.3  # the book's TimeDropout.forward
        book_mask = flg.astype(np.float32) * (1 / (1.0 - 0.3))
        book_out = xs * book_mask
    finally:
        np.random.set_state(saved)
    layer = TimeDropout(0.3, rng=np.random.RandomState(11))
    out = layer.forward(xs)
    assert same_rng_state(saved, np.random.get_state())
    assert out.tobytes() == book_out.tobytes() and layer.mask.dtype == np.float32
    dout = np.ones_like(xs)
    assert layer.backward(dout).tobytes() == (dout * book_mask).tobytes()
    layer.train_flg = False
    assert layer.forward(xs) is xs


def test_dropout_mask_from_a_generator_keeps_about_one_minus_the_ratio():
    mask = dropout_mask(np.random.default_rng(0), (200, 50), 0.25, np.float64)
    assert set(np.unique(mask)) == {0.0, 1 / 0.75}
    assert abs((mask > 0).mean() - 0.75) < 0.01


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan")])
def test_a_dropout_ratio_outside_0_1_is_refused_naming_it(ratio):
    with pytest.raises(ValueError, match="dropout_ratio"):
        TimeDropout(ratio)


def test_a_dropout_ratio_that_is_not_a_number_is_a_type_error():
    with pytest.raises(TypeError, match="dropout_ratio"):
        TimeDropout("0.5")
