"""Every snippet of the Rosetta's chapters 5-6 computes the reference's numbers (or differs
where its concept says it does), in float64, on the book's kind of blocks and weights; and
the concepts are wired as chapter 1's are."""

from __future__ import annotations

import numpy as np
import pytest

from comparisons import rosetta
from comparisons.rosetta import recurrent
from comparisons.rosetta.recurrent import SNIPPET_TEST
from scratch import optimizers
from tests.helpers import need
from tests.learn.helpers import agree, framework_state, rendered

pytestmark = pytest.mark.crossframework
CONCEPTS = tuple(c for c in rosetta.CONCEPTS if c.snippet_test == SNIPPET_TEST)


def T(a):  # NumPy -> torch, sharing memory (float64 stays float64)
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def test_every_recurrent_concept_is_in_the_catalogue_and_renders():
    assert CONCEPTS and {c.id for c in CONCEPTS} == {f["id"] for f in recurrent.CONCEPTS}
    shown = rendered(CONCEPTS, (5, 6), SNIPPET_TEST)
    assert "f, g, i, o -> i, f, g, o" in shown["lstm"]["torch"]
    assert "detach()" in shown["truncated_bptt"]["torch"]
    assert "lax.scan" in shown["rnn"]["jax"] and "nn.RNN" in shown["rnn"]["torch"]
    assert "self.fc.weight = self.embed.weight" in shown["weight_tying"]["torch"]
    assert "nn.Dropout" in shown["dropout"]["torch"]
    for c in CONCEPTS:  # every snippet line fits a column of 64
        for fw in rosetta.FRAMEWORKS:
            assert max(len(line) for line in shown[c.id][fw].splitlines()) <= 64, (c.id, fw)


@pytest.fixture
def rnn_fw():
    """(book, torch_code, jax_code, torch, jax) of the recurrent snippets, torch's
    generator forked and x64 on."""
    need("torch", "jax")
    from comparisons.rosetta.snippets.recurrent import book, jax_code, torch_code

    with framework_state():
        yield book, torch_code, jax_code, torch_code.torch, jax_code.jax


def recurrent_weights(seed: int, gates: int, D: int = 5, H: int = 6) -> tuple:
    """Wx (D, gates*H), Wh (H, gates*H), b: lively, non-square, float64."""
    rng = np.random.RandomState(seed)
    return (
        rng.standard_normal((D, gates * H)),
        rng.standard_normal((H, gates * H)) * 0.5,
        rng.standard_normal(gates * H) * 0.1,
    )


def small_text(n: int = 400) -> tuple[np.ndarray, np.ndarray, int]:
    from scratch import small_corpus

    words = small_corpus.load_data()[0][:n]
    return words[:-1], words[1:], int(words.max()) + 1


def test_rnn_snippets_agree_with_the_reference(rnn_fw):
    book, torch_code, jax_code, *_ = rnn_fw
    from scratch.time_layers import RNN, TimeRNN

    Wx, Wh, b = recurrent_weights(0, 1)
    xs = np.random.RandomState(1).standard_normal((3, 4, 5))  # (N, T, D)
    ref = TimeRNN(Wx, Wh, b, stateful=True)
    first, second = ref.forward(xs), ref.forward(xs[:, ::-1])  # the second from h
    hs, h = book.time_rnn(xs, Wx, Wh, b)
    hs2, _ = book.time_rnn(xs[:, ::-1], Wx, Wh, b, h)
    agree("forward", {"1": first, "2": second}, {"1": hs, "2": hs2})
    ths, th = torch_code.rnn_layer(T(xs), T(Wx), T(Wh), T(b))
    ths2, _ = torch_code.rnn_layer(T(xs[:, ::-1].copy()), T(Wx), T(Wh), T(b), th)
    agree(
        "forward",
        {"1": first, "2": second},
        {"1": ths.detach().numpy(), "2": ths2.detach().numpy()},
    )
    p = {"Wx": Wx, "Wh": Wh, "b": b}
    jhs, jh = jax_code.rnn_layer(p, xs, np.zeros((3, 6)))
    jhs2, _ = jax_code.rnn_layer(p, xs[:, ::-1], jh)
    agree("forward", {"1": first, "2": second}, {"1": np.asarray(jhs), "2": np.asarray(jhs2)})
    cell, mine = RNN(Wx, Wh, b), book.RNN(Wx.copy(), Wh.copy(), b.copy())
    dh = np.random.RandomState(2).standard_normal((3, 6))
    want_h = cell.forward(xs[:, 0], first[:, 1])
    np.testing.assert_array_equal(mine.forward(xs[:, 0], first[:, 1]), want_h)
    carry, out = jax_code.rnn_cell(p, first[:, 1], xs[:, 0])
    agree("forward", {"h": want_h, "out": want_h}, {"h": np.asarray(carry), "out": np.asarray(out)})
    want, got = cell.backward(dh), mine.backward(dh)
    agree("gradient", {"dx": want[0], "dh": want[1]}, {"dx": got[0], "dh": got[1]})
    agree("gradient", dict(enumerate(cell.grads)), dict(enumerate(mine.grads)))


def test_lstm_snippets_agree_with_the_reference(rnn_fw):
    book, torch_code, jax_code, *_ = rnn_fw
    from scratch.time_layers import TimeLSTM

    Wx, Wh, b = recurrent_weights(3, 4)
    xs = np.random.RandomState(4).standard_normal((3, 4, 5))
    ref = TimeLSTM(Wx, Wh, b, stateful=True)
    want = {"hs": ref.forward(xs), "h": ref.h, "c": ref.c}
    h = c = np.zeros((3, 6))
    hs = []
    for t in range(4):  # the book's TimeLSTM: one LSTM per step
        h, c = book.LSTM(Wx, Wh, b).forward(xs[:, t], h, c)
        hs.append(h)
    agree("forward", want, {"hs": np.stack(hs, axis=1), "h": h, "c": c})
    ths, (th, tc) = torch_code.lstm_layer(T(xs), T(Wx), T(Wh), T(b))
    got = {"hs": ths, "h": th[0], "c": tc[0]}
    agree("forward", want, {k: v.detach().numpy() for k, v in got.items()})
    p = {
        "Wx": jax_code.book_to_jax(Wx),
        "Wh": jax_code.book_to_jax(Wh),
        "b": jax_code.book_to_jax(b),
    }
    jhs, (jh, jc) = jax_code.lstm_layer(p, xs, (np.zeros((3, 6)), np.zeros((3, 6))))
    agree("forward", want, {"hs": np.asarray(jhs), "h": np.asarray(jh), "c": np.asarray(jc)})
    # the gates left in the book's order: another function, and nothing fails
    wrong = {"Wx": Wx, "Wh": Wh, "b": b}
    whs, _ = jax_code.lstm_layer(wrong, xs, (np.zeros((3, 6)), np.zeros((3, 6))))
    assert np.abs(np.asarray(whs) - want["hs"]).max() > 0.1


def test_time_softmax_loss_snippets_agree_with_the_reference(rnn_fw):
    book, torch_code, jax_code, _, jax = rnn_fw
    from scratch.time_layers import TimeSoftmaxWithLoss

    rng = np.random.RandomState(5)
    xs, ts = rng.standard_normal((3, 4, 7)) * 3, rng.randint(0, 7, (3, 4))
    ref = TimeSoftmaxWithLoss()
    want = {"loss": ref.forward(xs, ts), "dx": ref.backward()}
    mine = book.TimeSoftmaxWithLoss()
    agree("loss", want, {"loss": mine.forward(xs, ts), "dx": mine.backward()})
    scores = T(xs.copy()).requires_grad_()
    loss = torch_code.time_softmax_loss(scores, T(ts))
    loss.backward()
    agree("loss", want, {"loss": loss.item(), "dx": scores.grad.numpy()})
    jloss, jdx = jax.value_and_grad(jax_code.time_softmax_loss)(xs, ts)
    agree("loss", want, {"loss": float(jloss), "dx": np.asarray(jdx)})
    per_step = sum(  # each time step's mean, summed: T times the book's
        torch_code.time_softmax_loss(T(xs[:, [t]]), T(ts[:, [t]])) for t in range(4)
    )
    assert per_step.item() == pytest.approx(4 * want["loss"], rel=1e-12)


def tied_problem(max_grad: float):
    """A BetterRnnlm without dropout (ratio 0) trained 4 blocks the book's way from the
    book's batches; its weights before and after, the blocks and the losses."""
    import scratch.better_rnnlm as better
    from scratch.trainer import RnnlmTrainer

    xs, ts, V = small_text()
    model = better.BetterRnnlm(V, 6, 6, 0.0, rng=np.random.RandomState(6), dtype=np.float64)
    for p in model.params[1:]:  # livelier than the book's start; embed_W stays small
        p[...] = np.random.RandomState(p.size).standard_normal(p.shape) * 0.5
    w0 = model.weights()
    losses, forward = [], model.forward
    model.forward = lambda x, t: losses.append(forward(x, t)) or losses[-1]
    trainer = RnnlmTrainer(model, optimizers.SGD(lr=1.0))
    trainer.fit(xs[:200], ts[:200], 1, 5, 10, max_grad, eval_interval=None, verbose=False)
    return w0, model.weights(), np.array(losses), (xs[:200], ts[:200], V)


def test_truncated_bptt_snippets_agree_with_the_reference(rnn_fw):
    book, torch_code, jax_code, torch, jax = rnn_fw
    import optax

    from scratch.trainer import rnnlm_batches

    w0, want, ref_losses, (xs, ts, V) = tied_problem(max_grad=0.5)
    assert len(ref_losses) == 4  # 200 // (5 * 10)
    blocks = rnnlm_batches(len(xs), 5, 10, 4)
    time_idx = 0
    for k in range(4):  # the book's get_batch reads the same positions
        bx, bt, time_idx = book.get_batch(xs, ts, 5, 10, time_idx)
        assert np.array_equal(bx, xs[blocks[k]]) and np.array_equal(bt, ts[blocks[k]])
    batches = [(T(xs[r]), T(ts[r])) for r in blocks]
    model = torch_code.BetterRnnlm(V, 6, dropout=0.0).double()
    torch_code.load_book_weights(model, {k: T(v) for k, v in w0.items()})
    losses = torch_code.train(model, torch.optim.SGD(model.parameters(), lr=1.0), batches, 0.5)
    agree("loss", {"loss": ref_losses}, {"loss": np.array(losses)})
    got = {"embed_W": model.embed.weight, "affine_b": model.fc.bias}
    agree("trajectory", {k: want[k] for k in got}, {k: v.detach().numpy() for k, v in got.items()})
    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(1.0))
    params = jax_code.from_book(w0)
    step, opt_state = jax_code.make_train_step(tx), tx.init(params)
    zeros = np.zeros((5, 6))
    carry = ((zeros, zeros), (zeros, zeros))
    jlosses = []
    for r in blocks:
        params, opt_state, carry, loss = step(params, opt_state, carry, xs[r], ts[r])
        jlosses.append(float(loss))
    # optax's clip has no 1e-6 (see clipping): 1e-6 / norm relative, four times over
    agree("loss", {"loss": ref_losses}, {"loss": np.array(jlosses)}, rtol=1e-5)
    agree(
        "trajectory",
        {"embed_W": want["embed_W"]},
        {"embed_W": np.asarray(params["embed"])},
        rtol=1e-5,
    )


def test_dropout_snippets_agree_with_the_reference(rnn_fw):
    book, torch_code, jax_code, torch, jax = rnn_fw
    from scratch.time_layers import TimeDropout

    xs = np.random.RandomState(7).standard_normal((20, 10, 30)) + 3.0  # never 0
    ref = TimeDropout(0.4, rng=np.random.RandomState(8))
    want = ref.forward(xs)
    mine = book.TimeDropout(np.random.RandomState(8), 0.4)
    np.testing.assert_array_equal(mine.forward(xs), want)  # the book's draw, bit for bit
    np.testing.assert_array_equal(mine.backward(xs), ref.backward(xs))
    np.testing.assert_array_equal(torch_code.dropout_with_mask(T(xs), T(ref.mask)).numpy(), want)
    np.testing.assert_array_equal(np.asarray(jax_code.dropout_with_mask(xs, ref.mask)), want)
    # their own generators: inverted dropout too, but other elements dropped
    outs = {
        "torch": torch_code.dropout(T(xs), 0.4).numpy(),
        "jax": np.asarray(jax_code.dropout(jax.random.key(0), xs, 0.4)),
    }
    for name, out in outs.items():
        kept = out != 0
        np.testing.assert_allclose(out[kept], xs[kept] / 0.6, rtol=1e-15, err_msg=name)
        assert abs(kept.mean() - 0.6) < 0.02, name
        assert not np.array_equal(kept, want != 0), name  # not the book's mask


def test_weight_tying_snippets_agree_with_the_reference(rnn_fw):
    book, torch_code, jax_code, torch, jax = rnn_fw
    import scratch.better_rnnlm as better
    from scratch.trainer import remove_duplicate

    xs, ts, V = small_text()
    ref = better.BetterRnnlm(V, 6, 6, 0.0, rng=np.random.RandomState(9), dtype=np.float64)
    w = ref.weights()
    block = np.arange(50).reshape(5, 10)
    ref_scores = ref.predict(xs[block])
    ref.reset_state()
    ref.forward(xs[block], ts[block])
    ref.backward()
    d_embed, d_affine = ref.layers[0].grads[0].copy(), ref.layers[-1].grads[0].copy()
    _, grads = remove_duplicate(ref.params, ref.grads)
    merged = grads[0]  # the tied weight's two gradients, summed once
    np.testing.assert_array_equal(book.merge_tied_grads(d_embed, d_affine), merged)
    hs = np.random.RandomState(10).standard_normal((5, 10, 6))
    np.testing.assert_array_equal(
        book.tied_scores(hs, w["embed_W"], w["affine_b"]), ref.layers[-1].forward(hs)
    )
    model = torch_code.BetterRnnlm(V, 6, dropout=0.0).double()
    torch_code.load_book_weights(model, {k: T(v) for k, v in w.items()})
    assert model.fc.weight is model.embed.weight
    assert sum(p is model.embed.weight for p in model.parameters()) == 1
    with torch.no_grad():
        scores, _ = model(T(xs[block]))
    agree("forward", {"scores": ref_scores}, {"scores": scores.numpy()})
    t_grad = torch_code.tied_gradient(model, T(xs[block]), T(ts[block]))
    agree("gradient", {"embed_W": merged}, {"embed_W": t_grad.numpy()})
    params = jax_code.from_book(w)
    zeros = np.zeros((5, 6))
    carry = ((zeros, zeros), (zeros, zeros))
    jscores, _ = jax_code.better_rnnlm(params, xs[block], carry)
    agree("forward", {"scores": ref_scores}, {"scores": np.asarray(jscores)})
    j_grad = jax_code.tied_gradient(params, xs[block], ts[block], carry)
    agree("gradient", {"embed_W": merged}, {"embed_W": np.asarray(j_grad)})
    for got in (t_grad.numpy(), np.asarray(j_grad)):  # one use's gradient is not the sum
        assert not np.allclose(got, d_embed) and not np.allclose(got, d_affine.T)
