"""Chapters 5-6's models, reproduced bit for bit: figures recorded from the book's own code.

How the figures were made: the book's repository (oreilly-japan/deep-learning-from-scratch-2
at 842ae31c, numpy 2.4.6, Linux x86-64) was unpacked to a folder and, for each model, its
own RnnlmTrainer and SGD trained its own model class (ch05/simple_rnnlm.py,
ch06/rnnlm.py, ch06/better_rnnlm.py) after `np.random.seed(1984)`: the constructor
draws the weights, then BetterRnnlm's three TimeDropout layers draw their masks from the
global generator at every step. The data: the first 1000 words of
`scratch.small_corpus.load_data()` (as ch05/train.py takes PTB's first 1000),
vocab_size = max id + 1 = 54, batch 10, time_size 5, 2 epochs (38 steps),
eval_interval 5; SimpleRnnlm(54, 16, 24) with SGD(0.1); Rnnlm(54, 16, 24) and
BetterRnnlm(54, 24, 24, 0.5) with SGD(10.0) and max_grad 0.25. `optimizer.update` was
wrapped to hash, at every step, the merged and clipped gradients it was handed and the
parameters after the update; `model.forward` to keep every loss. After training,
`model.reset_state()` and the book's `eval_perplexity(model, corpus[1000:1400],
batch_size=10, time_size=5)`.

Here the same runs are made with scratch's classes, RnnlmTrainer, SGD and
eval_perplexity, the model drawing from `np.random.RandomState(1984)`, and hashed the
same way (float32 weights and gradients; float64 losses, as the book's code returns them).

Bits depend on the machine's float32 kernels (the BLAS's matrix products, NumPy's SIMD
exp/tanh/log). `NUMERICS` fingerprints those on the shapes the runs use: where it is the
recording machine's, every hash must match; elsewhere the perplexities must agree to
float32 accuracy and the test says why the hashes were not compared.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from scratch import small_corpus
from scratch.better_rnnlm import BetterRnnlm
from scratch.optimizers import SGD
from scratch.rnnlm import Rnnlm
from scratch.simple_rnnlm import SimpleRnnlm
from scratch.trainer import RnnlmTrainer
from scratch.util import eval_perplexity
from tests.scratch.helpers import same_rng_state

NUMERICS = "d428f5a8d84233d92c618cff27bd1338144873c456fffff76b9a7ef46f69e851"
BOOK = {
    "simple_rnnlm": {
        "steps": 38,
        "init": "262e72d30e75ed836a96af0fedbd969dc3a5f9a8d91760a118bd5d6eda33e34f",
        "losses": "266f6a91d9c7acf63bfc612513dff279c8e626c94d6040aa79afd0f2e4f291d4",
        "grads": "31d090ab6b1f1b8bdb6104c53215fa0548ada0b9a4131175489f9e59b18ea817",
        "weights": "2b2e9451ae3bd9536adbfd14c00166bda6b83b6d6c9e82fd56d1cff027f10759",
        "first_loss": 3.9861865234375,
        "last_loss": 3.38616455078125,
        "ppl_list": [
            53.84914485991017, 52.92612613455143, 52.59090267587605, 46.14294506457916,
            41.964506943422634, 35.70531729678293, 34.47836308083639, 32.331154825522994,
        ],
        "val_ppl": 31.390160671490396,
    },
    "rnnlm": {
        "steps": 38,
        "init": "91a481c423ca2fe8dcbd0bc2c319a394a9643e7de7eeafda087fe0c1c2ae3b78",
        "losses": "9b867ead1f94db22c01d63ac275d029d05103774d9c3295b0bcadff77b30dec2",
        "grads": "b2b70346da1bbdfe67bedd3d4b629184019d1c18183d23725b6a264166342f36",
        "weights": "8c0411bbc449ad174c36a514b4989a3d1d331e27764062ae81725474b7758fb4",
        "first_loss": 3.9889617919921876,
        "last_loss": 1.9887139892578125,
        "ppl_list": [
            53.9987982664794, 33.84396240119604, 35.82026060013197, 23.662359032178603,
            17.315240486172865, 12.233011064677836, 11.028701800014563, 8.265123533426559,
        ],
        "val_ppl": 7.151660733340049,
    },
    "better_rnnlm": {
        "steps": 38,
        "init": "cb3e3159f8a4b680fc91c8e2023ccf3edc464082d090b8e17f2f917547a0afba",
        "losses": "55cc757c16118722fd0ddfc7a63e1a32c6f1eab26911168a6ee43d748f6929bb",
        "grads": "46f17079e0218a3dc183186a4b08eb9177eafd3864cf9e3334ebc6ad8cde7a6f",
        "weights": "f041fcaa1f7b594d8aee9373fc6ccccff09ab273b733b20437f38181afc0828d",
        "first_loss": 3.988992919921875,
        "last_loss": 3.4097991943359376,
        "ppl_list": [
            54.00047916343634, 33.56072778279583, 36.92702713358806, 32.553255544166156,
            34.857680438507266, 32.3822947922288, 36.926574113145854, 33.289178055176635,
        ],
        "val_ppl": 35.96557432763923,
    },
}  # fmt: skip
SEED = 1984
FLOAT32_DRIFT = 1e-4  # another machine's float32 kernels, 38 steps: relative, on perplexity


def numerics() -> str:
    """A hash of the float32 results these runs rest on, on their own shapes: matrix
    products (plain and with a transposed operand, as x.T @ dA) and exp, tanh, log."""
    rng = np.random.RandomState(0)
    h = hashlib.sha256()
    for m, k, n in ((10, 16, 96), (10, 24, 96), (10, 96, 24), (50, 24, 54), (50, 54, 24)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = rng.standard_normal((m, n)).astype(np.float32)
        h.update(np.dot(a, b).tobytes())
        h.update(np.dot(a.T, c).tobytes())  # (k, m) @ (m, n)
        h.update(np.dot(c, b.T).tobytes())  # (m, n) @ (n, k)
    x = np.linspace(-20, 20, 4001, dtype=np.float32)
    for f in (np.exp, np.tanh):
        h.update(f(x).tobytes())
    h.update(np.log(np.linspace(1e-6, 1, 4001, dtype=np.float32)).tobytes())
    return h.hexdigest()


def run(name: str) -> dict:
    """The recorded run of `name` with scratch's code, hashed as the book's was."""
    corpus, _, _ = small_corpus.load_data()
    train, val = corpus[:1000], corpus[1000:1400]
    V = int(train.max()) + 1
    rng = np.random.RandomState(SEED)
    model, lr, max_grad = {
        "simple_rnnlm": lambda: (SimpleRnnlm(V, 16, 24, rng=rng), 0.1, None),
        "rnnlm": lambda: (Rnnlm(V, 16, 24, rng=rng), 10.0, 0.25),
        "better_rnnlm": lambda: (BetterRnnlm(V, 24, 24, 0.5, rng=rng), 10.0, 0.25),
    }[name]()
    init = hashlib.sha256(b"".join(p.tobytes() for p in model.params)).hexdigest()

    losses, grads_hash, weights_hash = [], hashlib.sha256(), hashlib.sha256()
    forward, optimizer = model.forward, SGD(lr)
    update = optimizer.update

    def recording_forward(xs, ts):
        losses.append(forward(xs, ts))
        return losses[-1]

    def recording_update(params, grads):
        for g in grads:  # before the update, as handed to it
            grads_hash.update(g.tobytes())
        update(params, grads)
        for p in params:
            weights_hash.update(p.tobytes())

    model.forward, optimizer.update = recording_forward, recording_update
    trainer = RnnlmTrainer(model, optimizer)
    trainer.fit(train[:-1], train[1:], 2, 10, 5, max_grad, eval_interval=5, verbose=False)
    model.forward = forward
    model.reset_state()
    return {
        "steps": len(losses),
        "init": init,
        "losses": hashlib.sha256(np.array(losses, dtype=np.float64).tobytes()).hexdigest(),
        "grads": grads_hash.hexdigest(),
        "weights": weights_hash.hexdigest(),
        "first_loss": float(losses[0]),
        "last_loss": float(losses[-1]),
        "ppl_list": trainer.ppl_list,
        "val_ppl": eval_perplexity(model, val, 10, 5, verbose=False),
    }


@pytest.mark.parametrize("name", list(BOOK))
def test_every_loss_gradient_update_and_perplexity_is_the_books(name):
    before = np.random.get_state()
    got = run(name)
    assert same_rng_state(before, np.random.get_state())  # np.random never drawn from
    want = BOOK[name]
    assert got["steps"] == want["steps"] == 38
    if numerics() != NUMERICS:  # another machine's float32 kernels: no bits to compare
        np.testing.assert_allclose(got["ppl_list"], want["ppl_list"], rtol=FLOAT32_DRIFT)
        np.testing.assert_allclose(got["val_ppl"], want["val_ppl"], rtol=FLOAT32_DRIFT)
        return  # the values agree; bits cannot be asked of other kernels
    for key in ("init", "losses", "grads", "weights"):
        assert got[key] == want[key], f"{name}: the {key} differ from the book's run"
    for key in ("first_loss", "last_loss", "ppl_list", "val_ppl"):
        assert got[key] == want[key], f"{name}: {key} {got[key]} is not the book's {want[key]}"
