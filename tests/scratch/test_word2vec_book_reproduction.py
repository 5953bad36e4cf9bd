"""Chapters 3-4's models, reproduced bit for bit: figures recorded from the book's own code.

How the figures were made: the book's repository (oreilly-japan/deep-learning-from-scratch-2
at 842ae31c, numpy 2.4.6, Linux x86-64) was unpacked to a folder and, for each model, its
own Trainer and Adam trained its own model class after `np.random.seed(1984)` (the
weights are drawn by the constructor, then the Trainer's permutations and the sampler's
negative samples are drawn from the global generator as training goes). `optimizer.update`
was wrapped to hash, at every step, the merged gradients it was handed (after the
Trainer's remove_duplicate) and the parameters after the update; `model.forward` to keep
every loss. The runs:

- simple_cbow, simple_skip_gram: ch03/train.py's data ("You say goodbye and I say
  hello."), hidden 5, batch 3, 20 epochs (40 steps), one-hot inputs.
- cbow, skip_gram: `scratch.small_corpus.load_data(sentences=60, seed=3)` (406 words, a
  vocabulary of 53), window 2, hidden 5, batch 20, 3 epochs (60 steps).

Here the same runs are made with scratch's classes, Trainer and Adam from one
`np.random.RandomState(1984)` handed to the model and to `Trainer.fit`, and hashed the
same way. The hashes are of the raw bytes (float32 weights and gradients; float64 losses
for the softmax models, float32 for negative sampling, as the book's code returns them).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from scratch import small_corpus
from scratch.cbow import CBOW
from scratch.optimizers import Adam
from scratch.simple_cbow import SimpleCBOW
from scratch.simple_skip_gram import SimpleSkipGram
from scratch.skip_gram import SkipGram
from scratch.trainer import Trainer
from scratch.util import convert_one_hot, create_contexts_target, preprocess
from tests.scratch.helpers import same_rng_state

BOOK = {
    "simple_cbow": {
        "steps": 40,
        "init": "cb93aa74992cf8b9d3f631806610db4925dfd18412484b517dda779bec752abe",
        "losses": "29bf200b8a0f68d82ced9eefacafd7165747cd614e01d19950aa5bace936cd34",
        "grads": "154d7d19a3f0877d505a65776975b46faca63ba53d30a3f4864768a4a708077a",
        "weights": "2054495e789a5de1aa0dc989218dd81843f5d214e33817a7135b7a5796b5a57d",
        "first_loss": 1.9458590038866965,
        "last_loss": 1.9418530154971616,
    },
    "simple_skip_gram": {
        "steps": 40,
        "init": "9adec67be77822674d8ca325d30ca14261a4ddb968c7537d60d1eb04a30eac14",
        "losses": "1fe9f963a86061e49e1b98fe07cfd43590c0f10f9cb92a7a6ca292162ba8715e",
        "grads": "526dab0c54246726ecf860f310afef664b6fba524177f003d7124f5d2dd216e5",
        "weights": "df61e3cfa430bd8fa21c694177ad1d150d00f38a8df2041ee846a7adf85c1a65",
        "first_loss": 3.8915924047455963,
        "last_loss": 3.8826042107460035,
    },
    "cbow": {
        "steps": 60,
        "init": "02a4255b914b73d3155de17d750af826e255c5509179273d9636d2e998676466",
        "losses": "e27171dd2ff737e47e9d98d8742376614e032cb74b7a0b1ef9f2f2531eaddb94",
        "grads": "2467e50374f46d0f0992cfc20d2d0e6e03667a4a1c9ac7ceb0dae29800a6e7ea",
        "weights": "4fdd699e90f2027adacc46c4261750c1e34d9b533d78fd536127e3341144cc18",
        "first_loss": 4.158872604370117,
        "last_loss": 4.13299036026001,
    },
    "skip_gram": {
        "steps": 60,
        "init": "0e2b4037f3dae69d524a948c3111d5b39e7ced423d4c1e8a34a3fc652c5fb1ea",
        "losses": "d735704ae2a0e2544a2c7a34cbbe5aa9a6ea31b3927dd3e9f8127bc604b4c321",
        "grads": "23d12a9d329d29aed5e0f6e27817659415b8609e0252f535a50949f18d3407a6",
        "weights": "1643fc22d9acf78b864ec50b108a39bdf04efc51549497e8639ee88d56ebc444",
        "first_loss": 16.635589599609375,
        "last_loss": 16.546682357788086,
    },
}
SEED, HIDDEN = 1984, 5


def run(name: str) -> dict:
    """The recorded run of `name` with scratch's code, hashed as the book's was."""
    rng = np.random.RandomState(SEED)
    if name.startswith("simple"):
        corpus, word_to_id, _ = preprocess("You say goodbye and I say hello.")
        V, window, batch, epochs = len(word_to_id), 1, 3, 20
        cls = SimpleCBOW if name == "simple_cbow" else SimpleSkipGram
        model = cls(V, HIDDEN, rng=rng)
    else:
        corpus, word_to_id, _ = small_corpus.load_data(sentences=60, seed=3)
        V, window, batch, epochs = len(word_to_id), 2, 20, 3
        cls = CBOW if name == "cbow" else SkipGram
        model = cls(V, HIDDEN, window, corpus, rng=rng)
    contexts, target = create_contexts_target(corpus, window)
    if name.startswith("simple"):
        contexts, target = convert_one_hot(contexts, V), convert_one_hot(target, V)
    init = hashlib.sha256(b"".join(p.tobytes() for p in model.params)).hexdigest()

    losses, grads_hash, weights_hash = [], hashlib.sha256(), hashlib.sha256()
    forward, optimizer = model.forward, Adam()
    update = optimizer.update

    def recording_forward(x, t):
        losses.append(forward(x, t))
        return losses[-1]

    def recording_update(params, grads):
        seen = [g.tobytes() for g in grads]  # before the update, as handed to it
        update(params, grads)
        for g in seen:
            grads_hash.update(g)
        for p in params:
            weights_hash.update(p.tobytes())

    model.forward, optimizer.update = recording_forward, recording_update
    Trainer(model, optimizer).fit(
        contexts, target, epochs, batch, eval_interval=None, rng=rng, verbose=False
    )
    return {
        "steps": len(losses),
        "init": init,
        "losses": hashlib.sha256(np.array(losses).tobytes()).hexdigest(),
        "grads": grads_hash.hexdigest(),
        "weights": weights_hash.hexdigest(),
        "first_loss": float(losses[0]),
        "last_loss": float(losses[-1]),
    }


@pytest.mark.parametrize("name", list(BOOK))
def test_every_loss_gradient_and_update_is_the_books(name):
    before = np.random.get_state()
    got = run(name)
    assert same_rng_state(before, np.random.get_state())  # np.random never drawn from
    want = BOOK[name]
    assert (got["steps"], got["first_loss"], got["last_loss"]) == (
        want["steps"], want["first_loss"], want["last_loss"],
    )  # fmt: skip
    for key in ("init", "losses", "grads", "weights"):
        assert got[key] == want[key], f"{name}: the {key} differ from the book's run"
