"""The exercises of notebooks 1-3, chapter 1's TwoLayerNet in NumPy, PyTorch and JAX:
"numpy-1" ... "jax-3". The right shape is the shape the reference's gradient has, the
number of misclassified points is what the trained reference gets wrong, the step at which
the stock Adam leaves the book is found by running both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

import scratch
from comparisons.parity import tolerance
from comparisons.rosetta.exercises.exercise import Exercise, number
from scratch import spiral
from scratch.trainer import shuffled_batches


@functools.cache
def _book():
    """The book's problem (one RandomState(1984): data, weights, batches) and its
    trained reference."""
    rng = np.random.RandomState(1984)
    x, t = spiral.load_data(rng=rng)
    weights = scratch.init_weights(2, 10, 3, rng=rng)
    schedule = shuffled_batches(300, 30, 300, rng)
    trained, _ = scratch.train_custom_loop(verbose=False)
    return x, t, weights, schedule, trained


def _jax():
    """jax, jax.numpy and optax; importing jax draws from NumPy's global generator, which
    is put back as it was."""
    state = np.random.get_state()  # noqa: NPY002
    try:
        import jax
        import jax.numpy as jnp
        import optax
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return jax, jnp, optax


# --------------------------------------------------------------------------- numpy


def _grad_shape(answer: object) -> bool:
    x, t, weights, schedule, _ = _book()
    model = scratch.TwoLayerNet(2, 10, 3, weights=weights)
    model.forward(x[schedule[0]], t[schedule[0]])
    model.backward()
    try:
        return tuple(answer) == model.grads[0].shape  # type: ignore[arg-type]
    except TypeError:
        return False


def _still_shared(answer: object) -> bool:
    _, _, weights, _, _ = _book()
    model = scratch.TwoLayerNet(2, 10, 3, weights=weights)
    layer = model.layers[0]
    layer.grads[0] = np.ones_like(layer.grads[0])  # rebinding, not writing into
    sees = model.grads[0] is layer.grads[0]
    return isinstance(answer, bool | np.bool_) and bool(answer) == sees


def _misclassified(answer: object) -> bool:
    x, t, _, _, trained = _book()
    wrong = int(np.sum(trained.predict(x).argmax(axis=1) != t.argmax(axis=1)))
    return number(answer) == wrong


# --------------------------------------------------------------------------- torch


def _torch_net(weights: dict):
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):  # nn.Linear draws a throwaway init
        model = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 3)).double()
    with torch.no_grad():
        for p, name in zip(model.parameters(), scratch.WEIGHT_NAMES, strict=True):
            p.copy_(torch.from_numpy(weights[name].T))
    return model


def _affine_by_hand(answer: object) -> bool:
    import torch

    x, _, weights, _, _ = _book()
    if not callable(answer):
        return False
    fc = _torch_net(weights)[0]
    try:
        with torch.no_grad():
            got = np.asarray(answer(torch.from_numpy(x), fc))
    except Exception as error:  # the reader's function: any error is a wrong answer
        print(f"    ({type(error).__name__}: {error})")
        return False
    expected = np.dot(x, weights["W1"]) + weights["b1"]
    tol = tolerance("float64", "forward")  # the one table's
    return got.shape == expected.shape and np.allclose(got, expected, tol.rtol, tol.atol)


def _accumulated(answer: object) -> bool:
    import torch
    import torch.nn.functional as F

    x, t, weights, schedule, _ = _book()
    model = _torch_net(weights)
    rows = torch.from_numpy(schedule[0])
    xb, tb = torch.from_numpy(x)[rows], torch.from_numpy(t.argmax(axis=1))[rows]
    F.cross_entropy(model(xb), tb).backward()
    once = model[0].weight.grad.clone()
    F.cross_entropy(model(xb), tb).backward()
    factor = float(model[0].weight.grad.norm() / once.norm())
    return number(answer) is not None and abs(number(answer) - factor) < 1e-9


def _first_step_apart(stock_steps: Callable[[int], list[dict]]) -> int | None:
    """The first step after which a stock Adam's weights (`stock_steps(n)`: the weights
    after each of the book's first n batches) and the book's Adam's differ by more than
    1e-6, over the first three batches."""
    from scratch.optimizers import Adam

    x, t, weights, schedule, _ = _book()
    book = scratch.TwoLayerNet(2, 10, 3, weights=weights)
    adam = Adam(lr=0.01)
    stock = stock_steps(3)
    for step, rows in enumerate(schedule[:3], start=1):
        book.forward(x[rows], t[rows])
        book.backward()
        adam.update(book.params, book.grads)
        gap = max(np.abs(stock[step - 1][k] - v).max() for k, v in book.weights().items())
        if gap > 1e-6:
            return step
    return None


def _torch_adam_steps(steps: int) -> list[dict]:
    import torch
    import torch.nn.functional as F

    x, t, weights, schedule, _ = _book()
    model = _torch_net(weights)
    adam = torch.optim.Adam(model.parameters(), lr=0.01)
    out = []
    for rows in schedule[:steps]:
        xb, tb = torch.from_numpy(x[rows]), torch.from_numpy(t[rows].argmax(axis=1))
        adam.zero_grad()
        F.cross_entropy(model(xb), tb).backward()
        adam.step()
        out.append(
            {
                k: (p.detach().numpy().T if p.ndim == 2 else p.detach().numpy()).copy()
                for k, p in zip(scratch.WEIGHT_NAMES, model.parameters(), strict=True)
            }
        )
    return out


def _torch_adam(answer: object) -> bool:
    return number(answer) == _first_step_apart(_torch_adam_steps)


# --------------------------------------------------------------------------- jax


def _traces(answer: object) -> bool:
    jax, _, _ = _jax()

    x, _, _, schedule, _ = _book()
    traced = []

    @jax.jit
    def counted(rows):
        traced.append(1)
        return rows.sum()

    for rows in schedule[:10]:
        counted(rows)
    return number(answer) == len(traced)


def _changed_in_place(answer: object) -> bool:
    _, jnp, optax = _jax()

    _, _, weights, _, _ = _book()
    params = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in weights.items()}
    before = np.asarray(params["W1"]).copy()
    tx = optax.sgd(1.0)
    grads = {k: jnp.ones_like(v) for k, v in params.items()}
    updates, _ = tx.update(grads, tx.init(params))
    optax.apply_updates(params, updates)
    changed = not np.array_equal(np.asarray(params["W1"]), before)
    return isinstance(answer, bool | np.bool_) and bool(answer) == changed


def _optax_adam_steps(steps: int) -> list[dict]:
    jax, jnp, optax = _jax()

    x, t, weights, schedule, _ = _book()

    def loss_fn(p, xb, tb):
        h = jax.nn.sigmoid(xb @ p["W1"] + p["b1"])
        score = h @ p["W2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(score, tb).mean()

    out = []
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v) for k, v in weights.items()}
        adam = optax.adam(0.01)
        state = adam.init(p)
        for rows in schedule[:steps]:
            grads = jax.grad(loss_fn)(p, x[rows], t[rows].argmax(axis=1))
            updates, state = adam.update(grads, state)
            p = optax.apply_updates(p, updates)
            out.append({k: np.asarray(v) for k, v in p.items()})
    return out


def _optax_adam(answer: object) -> bool:
    return number(answer) == _first_step_apart(_optax_adam_steps)


# --------------------------------------------------------------------------- the table

_ADAM_WHY = {
    "en": "The book adds 1e-7 to sqrt(v) before the bias correction (folded into lr_t); "
    "{fw} adds eps after it, so the two part at the very first step.",
    "ja": "本は 1e-7 をバイアス補正の前の sqrt(v) に足し（補正は lr_t に含めます）、{fw} は"
    "補正の後に eps を足すので、最初のステップからずれます。",
}
_ADAM_HINT = {
    "en": "Answer with a step number (1 is the first step). Compare the weights after each "
    "of the first steps: where does each add its epsilon?",
    "ja": "ステップの番号で答えてください（最初のステップが 1）。最初の数ステップそれぞれの後の"
    "重みを比べましょう。epsilon はそれぞれどこで足されていますか。",
}

EXERCISES: dict[str, Exercise] = {
    "numpy-1": Exercise(
        _grad_shape,
        why={
            "en": "dW1 = x.T @ dout is (2, N) @ (N, 10) = (2, 10), the shape of W1: SGD "
            "subtracts lr * dW1 from W1 element by element.",
            "ja": "dW1 = x.T @ dout は (2, N) @ (N, 10) = (2, 10) で W1 と同じ形です。SGD は "
            "W1 から lr * dW1 を要素ごとに引くからです。",
        },
        hint={
            "en": "Answer with a tuple such as (3, 4). Affine.backward computes "
            "dW = np.dot(self.x.T, dout): what are the shapes of x and dout in layer 0?",
            "ja": "(3, 4) のようなタプルで答えてください。Affine.backward は "
            "dW = np.dot(self.x.T, dout) を計算します。レイヤ 0 の x と dout の形は？",
        },
    ),
    "numpy-2": Exercise(
        _still_shared,
        why={
            "en": "No: model.grads keeps the array the layer had when the net was built; the "
            "layer's list would hold a new one. The book writes into it, grads[0][...] = dW.",
            "ja": "見えません。model.grads はネットワークを作ったときの配列を持ち続け、レイヤの"
            "リストだけが新しい配列を指すからです。本は grads[0][...] = dW と書き込みます。",
        },
        hint={
            "en": "Answer True or False. Rebinding a list item to a new array changes what "
            "that list holds: does it change the array another list holds?",
            "ja": "True か False で答えてください。リストの要素を新しい配列に差し替えると、"
            "そのリストの中身は変わります。別のリストが持つ配列も変わるでしょうか。",
        },
    ),
    "numpy-3": Exercise(
        _misclassified,
        why={
            "en": "9 of 300 (97% right): the errors sit where the arms of the spiral meet.",
            "ja": "300点中9点（正解率97%）です。誤りはスパイラルの腕が接するところにあります。",
        },
        hint={
            "en": "Answer with a count. model.predict(x).argmax(axis=1) is the class the net "
            "picks; count the points where it differs from t.argmax(axis=1).",
            "ja": "個数で答えてください。model.predict(x).argmax(axis=1) がネットワークの選ぶ"
            "クラスです。t.argmax(axis=1) と違う点を数えましょう。",
        },
    ),
    "torch-1": Exercise(
        _affine_by_hand,
        why={
            "en": "x @ fc.weight.T + fc.bias: nn.Linear keeps W as (out, in), the book's W "
            "transposed, and that is what it computes.",
            "ja": "x @ fc.weight.T + fc.bias です。nn.Linear は W を本の転置の (出力, 入力) で"
            "持ち、まさにこの計算をします。",
        },
        hint={
            "en": "Answer with a function of (x, fc) that returns a tensor of shape (300, 10). "
            "fc.weight is (10, 2), (out, in): what must happen to it before x @ it?",
            "ja": "(x, fc) を受け取り形 (300, 10) のテンソルを返す関数で答えてください。"
            "fc.weight は (10, 2) = (出力, 入力) です。x と掛ける前に何が必要でしょう。",
        },
    ),
    "torch-2": Exercise(
        _accumulated,
        why={
            "en": "2: backward adds into .grad, it does not overwrite it; zero_grad() clears it.",
            "ja": "2 倍です。backward は .grad に足し込み、上書きしません。zero_grad() で"
            "消します。",
        },
        hint={
            "en": "Answer with the number k for which p.grad is k times one backward's "
            "gradient. Does backward() write .grad or add into it?",
            "ja": "p.grad が1回分の勾配の k 倍になるとして、k を数で答えてください。backward() "
            "は .grad を上書きするでしょうか、足し込むでしょうか。",
        },
    ),
    "torch-3": Exercise(
        _torch_adam,
        why={k: v.format(fw="torch.optim.Adam") for k, v in _ADAM_WHY.items()},
        hint=_ADAM_HINT,
    ),
    "jax-1": Exercise(
        _traces,
        why={
            "en": "Once: jit traces once per input shape and dtype, and Python side effects "
            "such as the counter run only while tracing; later calls run the compiled program.",
            "ja": "1回です。jit は入力の形と型ごとに1回だけトレースし、カウンタのような Python "
            "の副作用はトレース中にだけ実行されます。以後はコンパイル済みのプログラムが動きます。",
        },
        hint={
            "en": "Answer with a count. The ten batches all have the same shape and dtype.",
            "ja": "回数で答えてください。10個のミニバッチはどれも同じ形と型です。",
        },
    ),
    "jax-2": Exercise(
        _changed_in_place,
        why={
            "en": "No: JAX arrays never change; apply_updates returns new ones, where the "
            "book's SGD writes into its arrays.",
            "ja": "変わりません。JAX の配列は書き換えられず、apply_updates は新しい配列を返します"
            "（本の SGD は配列に書き込みます）。",
        },
        hint={
            "en": "Answer True or False. Can a JAX array be written into?",
            "ja": "True か False で答えてください。JAX の配列に書き込むことはできるでしょうか。",
        },
    ),
    "jax-3": Exercise(
        _optax_adam,
        why={k: v.format(fw="optax.adam") for k, v in _ADAM_WHY.items()},
        hint=_ADAM_HINT,
    ),
}
