"""Every snippet of the Rosetta computes the reference's numbers (or differs where its
concept says it does), in float64, from the book's data and weights."""

from __future__ import annotations

import numpy as np
import pytest

import scratch
from comparisons.rosetta import CONCEPTS
from scratch import layers, optimizers
from scratch.functions import softmax
from scratch.trainer import clip_grads, shuffled_batches
from tests.helpers import need
from tests.learn.helpers import agree, book_rng_after_data, book_start, framework_state

pytestmark = pytest.mark.crossframework
NAMES = scratch.WEIGHT_NAMES


@pytest.fixture
def fw():
    """(book, torch_code, jax_code, torch, jax) with torch's generator forked and x64 on."""
    need("torch", "jax")
    from comparisons.rosetta.snippets import book, jax_code, torch_code  # restores NumPy's RNG

    jax, torch = jax_code.jax, torch_code.torch

    with framework_state():
        yield book, torch_code, jax_code, torch, jax


def T(a):  # NumPy -> torch, sharing memory (float64 stays float64)
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def book_layout(tensors) -> dict:
    """torch parameters or grads in W1, b1, W2, b2 order -> the book's (in, out) layout."""
    return {
        k: (v.detach().numpy().T if v.ndim == 2 else v.detach().numpy())
        for k, v in zip(NAMES, tensors, strict=True)
    }


def test_data_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    x, t, _, _ = book_start()
    rows = shuffled_batches(300, 30, 1, np.random.RandomState(7))  # (10, 30)
    nb = book.load_batches(x, t, 30, np.random.RandomState(7))
    tb = torch_code.load_batches(x, t, 30, np.random.RandomState(7))
    xs, ts = jax_code.load_batches(x, t, 30, np.random.RandomState(7))
    assert len(nb) == len(tb) == xs.shape[0] == ts.shape[0] == len(rows) == 10
    for k, r in enumerate(rows):  # the very same rows, bit for bit
        np.testing.assert_array_equal(nb[k][0], x[r])
        np.testing.assert_array_equal(nb[k][1], t[r])
        np.testing.assert_array_equal(tb[k][0].numpy(), x[r])
        np.testing.assert_array_equal(tb[k][1].numpy(), t[r].argmax(axis=1))
        np.testing.assert_array_equal(np.asarray(xs[k]), x[r])
        np.testing.assert_array_equal(np.asarray(ts[k]), t[r].argmax(axis=1))


def test_weights_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, torch, jax = fw
    x, _, w, _ = book_start()
    net = book.TwoLayerNet(2, 10, 3, book_rng_after_data())  # the book's draw, W1 then W2
    for name, p in zip(NAMES, net.params, strict=True):
        np.testing.assert_array_equal(p, w[name])
    assert net.params[0] is net.layers[0].params[0]  # shared by reference, as in the book
    model = torch_code.two_layer_net(*(w[k] for k in NAMES))
    assert tuple(model[0].weight.shape) == (10, 2)  # (out, in): the book's W1 transposed
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), w["W1"].T)
    ref = scratch.TwoLayerNet(2, 10, 3, weights=w).predict(x)
    agree("forward", {"scores": ref}, {"scores": model(T(x)).detach().numpy()})
    key = jax.random.key(0)
    p1, p2 = jax_code.init_params(key, 2, 10, 3), jax_code.init_params(key, 2, 10, 3)
    assert {k: v.shape for k, v in p1.items()} == {k: v.shape for k, v in w.items()}
    assert all(np.array_equal(p1[k], p2[k]) for k in NAMES)  # same key, same weights
    assert not np.any(np.asarray(p1["b1"])) and not np.any(np.asarray(p1["b2"]))
    big = jax_code.init_params(key, 100, 100, 3)["W1"]  # 10,000 draws
    assert 0.0095 < float(big.std()) < 0.0105  # 0.01 * randn


def test_affine_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    x, _, w, rows = book_start()
    xb, dout = x[rows[0]], np.random.RandomState(1).standard_normal((30, 10))
    ref = layers.Affine(w["W1"].copy(), w["b1"].copy())
    out, dx = ref.forward(xb), ref.backward(dout)
    mine = book.Affine(w["W1"].copy(), w["b1"].copy())
    agree("forward", {"out": out}, {"out": mine.forward(xb)})
    agree(
        "gradient",
        {"dx": dx, "dW": ref.grads[0], "db": ref.grads[1]},
        {"dx": mine.backward(dout), "dW": mine.grads[0], "db": mine.grads[1]},
    )
    out_torch = torch_code.affine(T(xb), T(w["W1"]), T(w["b1"])).detach().numpy()
    out_jax = np.asarray(jax_code.affine(xb, w["W1"], w["b1"]))
    agree("forward", {"torch": out, "jax": out}, {"torch": out_torch, "jax": out_jax})


def test_sigmoid_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    a, dout = np.random.RandomState(2).standard_normal((2, 30, 10)) * 3
    ref = layers.Sigmoid()
    y, dx = ref.forward(a), ref.backward(dout)
    mine = book.Sigmoid()
    x_torch = T(a.copy())
    y_torch, dx_torch = torch_code.sigmoid(x_torch, T(dout))
    assert not x_torch.requires_grad and x_torch.grad is None  # the caller's x is untouched
    y_jax, dx_jax = jax_code.sigmoid(a, dout)
    agree(
        "forward",
        {"book": y, "torch": y, "jax": y},
        {"book": mine.forward(a), "torch": y_torch.detach().numpy(), "jax": np.asarray(y_jax)},
    )
    agree(
        "gradient",
        {"book": dx, "torch": dx, "jax": dx},
        {"book": mine.backward(dout), "torch": dx_torch.numpy(), "jax": np.asarray(dx_jax)},
    )


def test_softmax_loss_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    x, t, w, rows = book_start()
    score = scratch.TwoLayerNet(2, 10, 3, weights=w).predict(x[rows[0]]) * 50  # not uniform
    labels = t[rows[0]].argmax(axis=1)
    ref = layers.SoftmaxWithLoss()
    loss, dx = ref.forward(score, t[rows[0]]), ref.backward()
    mine = book.SoftmaxWithLoss()
    agree("loss", {"loss": loss}, {"loss": mine.forward(score, t[rows[0]])})
    agree("gradient", {"dx": dx}, {"dx": mine.backward()})
    score_torch = T(score.copy())
    loss_torch, dx_torch = torch_code.softmax_with_loss(score_torch, T(labels))
    assert not score_torch.requires_grad and score_torch.grad is None
    loss_jax, dx_jax = jax_code.softmax_with_loss(score, labels)
    exact = -np.mean(np.log(softmax(score)[np.arange(30), labels]))  # no 1e-7
    agree(
        "loss",
        {"torch": exact, "jax": exact},
        {"torch": loss_torch.item(), "jax": float(loss_jax)},
    )
    assert 0 < exact - loss < 1e-6  # the book's 1e-7 inside the log, and nothing else
    agree(
        "gradient", {"torch": dx, "jax": dx}, {"torch": dx_torch.numpy(), "jax": np.asarray(dx_jax)}
    )


def test_the_loss_gap_the_concept_quotes_is_the_books_run():
    from comparisons.rosetta.ladder.reference import reference

    _, gaps, _ = reference(300)  # the book's 3000 steps: each step's 1e-7 gap
    said = next(c for c in CONCEPTS if c.id == "softmax_loss").differs
    for gap in (gaps[0], gaps.min(), gaps.max()):  # 3.0e-7 at the first step, then the range
        figure = f"{gap:.1e}".replace("e-07", "e-7")
        assert figure in said["en"] and figure in said["ja"], figure


def test_backward_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    x, t, w, rows = book_start()
    xb, tb = x[rows[0]], t[rows[0]]
    ref = scratch.TwoLayerNet(2, 10, 3, weights=w)
    ref.forward(xb, tb)
    ref.backward()
    expected = dict(zip(NAMES, ref.grads, strict=True))
    _, grads = book.gradients(book.TwoLayerNet(2, 10, 3, book_rng_after_data()), xb, tb)
    agree("gradient", expected, dict(zip(NAMES, grads, strict=True)))
    model = torch_code.two_layer_net(*(w[k] for k in NAMES))
    _, grads_torch = torch_code.gradients(model, T(xb), T(tb.argmax(axis=1)))
    agree("gradient", expected, book_layout(grads_torch))
    _, grads_jax = jax_code.gradients(dict(w), xb, tb.argmax(axis=1))
    agree("gradient", expected, {k: np.asarray(v) for k, v in grads_jax.items()})


def test_sgd_snippets_agree_with_the_reference(fw):
    """Three steps with one optimizer made before the loop, as the snippets say to."""
    book, torch_code, jax_code, *_ = fw
    x, t, w, rows = book_start()
    steps = rows[:3]
    ref = scratch.TwoLayerNet(2, 10, 3, weights=w)
    sgd = optimizers.SGD(lr=1.0)
    for r in steps:
        ref.forward(x[r], t[r])
        ref.backward()
        sgd.update(ref.params, ref.grads)
    expected = ref.weights()
    net, opt = book.TwoLayerNet(2, 10, 3, book_rng_after_data()), book.SGD(lr=1.0)
    model = torch_code.two_layer_net(*(w[k] for k in NAMES))
    optimizer = torch_code.make_sgd(model, 1.0)
    params = dict(w)
    tx, opt_state = jax_code.make_sgd(params, 1.0)
    for r in steps:
        book.gradients(net, x[r], t[r])
        opt.update(net.params, net.grads)
        torch_code.gradients(model, T(x[r]), T(t[r].argmax(axis=1)))
        torch_code.sgd_update(optimizer)
        _, grads = jax_code.gradients(params, x[r], t[r].argmax(axis=1))
        params, opt_state = jax_code.sgd_update(tx, opt_state, params, grads)
    agree("trajectory", expected, dict(zip(NAMES, net.params, strict=True)))
    agree("trajectory", expected, book_layout(model.parameters()))
    agree("trajectory", expected, {k: np.asarray(v) for k, v in params.items()})
    assert optimizer.param_groups[0]["params"][0] is next(model.parameters())  # in place


# name -> (the book's optimizer, lr); which stock optimizers are the book's math
BOOK = {
    "momentum": (optimizers.Momentum, 0.1),
    "nesterov": (optimizers.Nesterov, 0.1),
    "adagrad": (optimizers.AdaGrad, 0.1),
    "rmsprop": (optimizers.RMSprop, 0.01),
    "adam": (optimizers.Adam, 0.01),
}
SAME = {"torch": {"momentum", "adagrad", "rmsprop"}, "jax": {"momentum", "rmsprop"}}


def test_optimizers_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    x, t, w, rows = book_start()
    steps = rows[:3]
    seen = {"torch": set(), "jax": set()}
    for name, (cls, lr) in BOOK.items():
        ref = scratch.TwoLayerNet(2, 10, 3, weights=w)
        opt = cls(lr=lr)
        for r in steps:
            ref.forward(x[r], t[r])
            ref.backward()
            opt.update(ref.params, ref.grads)
        expected = ref.weights()
        if name in ("momentum", "adam"):  # the book's own lines, shown in the Rosetta
            net = book.TwoLayerNet(2, 10, 3, book_rng_after_data())
            mine = getattr(book, cls.__name__)(lr=lr)
            for r in steps:
                book.gradients(net, x[r], t[r])
                mine.update(net.params, net.grads)
            agree("trajectory", expected, dict(zip(NAMES, net.params, strict=True)))

        model = torch_code.two_layer_net(*(w[k] for k in NAMES))
        optimizer = torch_code.make_optimizer(name, model.parameters(), lr)
        for r in steps:
            torch_code.train_step(model, optimizer, T(x[r]), T(t[r].argmax(axis=1)))
        got_torch = book_layout(model.parameters())

        tx = jax_code.make_optimizer(name, lr)
        step = jax_code.make_train_step(tx)
        params = dict(w)
        state = tx.init(params)
        for r in steps:
            params, state, _ = step(params, state, x[r], t[r].argmax(axis=1))
        got_jax = {k: np.asarray(v) for k, v in params.items()}

        for framework, got in (("torch", got_torch), ("jax", got_jax)):
            gap = max(np.abs(got[k] - expected[k]).max() for k in NAMES)
            if name in SAME[framework]:
                agree("trajectory", expected, got)
                seen[framework].add(name)
            else:  # the concept says this one leaves the book at once
                assert 1e-9 < gap < 1.0, (framework, name, gap)
    assert seen == SAME


def test_clipping_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    x, t, w, rows = book_start()
    ref = scratch.TwoLayerNet(2, 10, 3, weights=w)
    ref.forward(x[rows[0]], t[rows[0]])
    ref.backward()
    grads = [g * 100 for g in ref.grads]  # a norm well above max_norm
    max_norm = 0.5
    expected = [g.copy() for g in grads]
    clip_grads(expected, max_norm)
    expected = dict(zip(NAMES, expected, strict=True))
    mine = [g.copy() for g in grads]
    book.clip_grads(mine, max_norm)
    agree("gradient", expected, dict(zip(NAMES, mine, strict=True)))
    model = torch_code.two_layer_net(*(w[k] for k in NAMES))
    for p, g in zip(model.parameters(), grads, strict=True):
        p.grad = T(g.T.copy() if g.ndim == 2 else g.copy())
    torch_code.clip_grads(model, max_norm)
    agree("gradient", expected, book_layout([p.grad for p in model.parameters()]))
    clipped = jax_code.clip_grads(dict(zip(NAMES, grads, strict=True)), max_norm)
    got = {k: np.asarray(v) for k, v in clipped.items()}
    agree("gradient", expected, got, rtol=1e-6)  # optax has no 1e-6: 1e-6 / norm relative
    assert any(not np.array_equal(expected[k], got[k]) for k in NAMES)


def test_train_step_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, torch, _ = fw
    import optax

    x, t, w, rows = book_start()
    ref = scratch.TwoLayerNet(2, 10, 3, weights=w)
    sgd = optimizers.SGD(lr=1.0)
    ref_losses = []
    for r in rows[:5]:
        ref_losses.append(ref.forward(x[r], t[r]))
        ref.backward()
        clip_grads(ref.grads, 0.5)
        sgd.update(ref.params, ref.grads)
    expected = ref.weights()
    net, opt = book.TwoLayerNet(2, 10, 3, book_rng_after_data()), book.SGD(lr=1.0)
    losses = [book.train_step(net, opt, x[r], t[r], max_grad=0.5) for r in rows[:5]]
    agree("trajectory", expected, dict(zip(NAMES, net.params, strict=True)))
    agree("loss", {"loss": np.array(ref_losses)}, {"loss": np.array(losses)})
    model = torch_code.two_layer_net(*(w[k] for k in NAMES))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    losses_torch = [
        torch_code.train_step(model, optimizer, T(x[r]), T(t[r].argmax(axis=1)), max_grad=0.5)
        for r in rows[:5]
    ]
    agree("trajectory", expected, book_layout(model.parameters()))
    # the losses differ by the book's 1e-7 inside the log (see softmax_loss), no more
    agree("loss", {"loss": np.array(ref_losses)}, {"loss": np.array(losses_torch)}, atol=1e-6)
    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(1.0))
    step, params = jax_code.make_train_step(tx), dict(w)
    state = tx.init(params)
    for r in rows[:5]:
        params, state, _ = step(params, state, x[r], t[r].argmax(axis=1))
    # optax's clip has no 1e-6 (see clipping): 1e-6 / norm relative, five times over
    agree("trajectory", expected, {k: np.asarray(v) for k, v in params.items()}, rtol=1e-5)


def test_training_loop_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    epochs = 3
    ref_model, ref_list = scratch.train_custom_loop(max_epoch=epochs, verbose=False)
    expected = ref_model.weights()
    rng = np.random.RandomState(1984)
    x, t = scratch.spiral.load_data(rng=rng)
    net = book.TwoLayerNet(2, 10, 3, rng)
    loss_list = book.train(net, x, t, epochs, 30, 1.0, rng)
    # the book's own lines, in the book's order: bit for bit
    np.testing.assert_array_equal(loss_list, ref_list)
    for name, p in zip(NAMES, net.params, strict=True):
        np.testing.assert_array_equal(p, expected[name])

    x, t, w, schedule = book_start(epochs)
    labels = t.argmax(axis=1)
    model = torch_code.two_layer_net(*(w[k] for k in NAMES))
    losses_torch = torch_code.train(model, T(x), T(labels), schedule, 1.0)
    params, losses_jax = jax_code.train(dict(w), x, labels, schedule, 1.0)
    agree("trajectory", expected, book_layout(model.parameters()))
    agree("trajectory", expected, {k: np.asarray(v) for k, v in params.items()})
    averages = np.array(ref_list)  # the book's averages every 10 steps; 1e-7 in the log
    for losses in (np.array(losses_torch), np.asarray(losses_jax)):
        agree("loss", {"avg": averages}, {"avg": losses.reshape(-1, 10).mean(axis=1)}, atol=1e-6)


def test_predict_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    ref_model, _ = scratch.train_custom_loop(max_epoch=30, verbose=False)
    w = ref_model.weights()
    x, t = scratch.spiral.load_data()
    scores = ref_model.predict(x)
    acc = np.mean(scores.argmax(axis=1) == t.argmax(axis=1))
    assert 0.5 < acc < 1.0  # a half-trained net: some points right, some wrong
    net = book.TwoLayerNet(2, 10, 3, np.random.RandomState(0))
    for p, name in zip(net.params, NAMES, strict=True):
        p[...] = w[name]  # in place: the layers see it (params are shared)
    agree("forward", {"scores": scores}, {"scores": net.predict(x)})
    agree("forward", {"scores": scores}, {"scores": np.asarray(jax_code.predict(dict(w), x))})
    model = torch_code.two_layer_net(*(w[k] for k in NAMES))
    labels = t.argmax(axis=1)
    assert book.accuracy(net, x, t) == acc
    assert torch_code.accuracy(model, T(x), T(labels)) == acc
    assert float(jax_code.accuracy(dict(w), x, labels)) == pytest.approx(acc, abs=1e-7)  # f32


def test_precision_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, _, jax = fw
    _, _, w, _ = book_start()
    expected = {k: v.astype(np.float32).astype(np.float16).astype(np.float32) for k, v in w.items()}
    assert any(not np.array_equal(expected[k], w[k].astype(np.float32)) for k in NAMES)
    got_book = dict(zip(NAMES, book.half_storage([w[k] for k in NAMES]), strict=True))
    model = torch_code.half_storage(torch_code.two_layer_net(*(w[k] for k in NAMES)))
    got_torch = book_layout(model.parameters())
    got_jax = {k: np.asarray(v) for k, v in jax_code.half_storage(dict(w)).items()}
    for got in (got_book, got_torch, got_jax):
        for k in NAMES:
            assert got[k].dtype == np.float32
            np.testing.assert_array_equal(got[k], expected[k])  # bit for bit
    with jax.enable_x64(False):  # JAX's default: float64 input becomes float32, silently
        assert jax.numpy.asarray(w["W1"]).dtype == np.float32


def test_gpu_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, *_ = fw
    x, t, w, _ = book_start()
    ref = scratch.TwoLayerNet(2, 10, 3, weights=w).predict(x)
    params = book.to_device([w[k] for k in NAMES])  # NumPy here; CuPy with xp=cupy
    net = book.TwoLayerNet(2, 10, 3, np.random.RandomState(0))
    for p, q in zip(net.params, params, strict=True):
        p[...] = q
    model, xt, _ = torch_code.to_device(
        torch_code.two_layer_net(*(w[k] for k in NAMES)), T(x), T(t.argmax(axis=1))
    )
    on_device = jax_code.to_device(dict(w))
    agree(
        "forward",
        {"book": ref, "torch": ref, "jax": ref},
        {
            "book": net.predict(x),
            "torch": model(xt).detach().cpu().numpy(),
            "jax": np.asarray(jax_code.predict(on_device, x)),
        },
    )
