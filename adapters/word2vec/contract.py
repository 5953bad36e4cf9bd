"""The neutral contract of the word2vec Nets (chapters 3-4): names, shapes, input checks,
the public methods and the training loop; each framework's module supplies the math.

The models and their inputs, as the book feeds them:

| model            | contexts              | target         | negatives (one step)   | W_out  |
|------------------|-----------------------|----------------|------------------------|--------|
| simple_cbow      | one-hot (N, 2, V)     | one-hot (N, V) | none                   | (H, V) |
| simple_skip_gram | one-hot (N, 2, V)     | one-hot (N, V) | none                   | (H, V) |
| cbow             | ids (N, 2 window)     | ids (N,)       | ids (N, 5)             | (V, H) |
| skip_gram        | ids (N, 2 window)     | ids (N,)       | ids (N, 2 window, 5)   | (V, H) |

W_in is (V, H) in every model. The negative samples are data: drawn once by the
reference's sampler in the book's order (adapters/word2vec/data.py), then handed to every
framework, which never draws its own. `train` takes them for every step,
(steps, batch, ...) beside the schedule (steps, batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters import checks, model_base
from adapters.contract import numpy_defaults
from adapters.model_base import ModelNet
from adapters.optimizer_spec import OptimizerSpec
from adapters.trajectory import Trajectory

MODELS = ("simple_cbow", "simple_skip_gram", "cbow", "skip_gram")
WEIGHT_NAMES = ("W_in", "W_out")
ONE_HOT = ("simple_cbow", "simple_skip_gram")  # chapter 3: one-hot inputs, softmax loss
NEGATIVE_SAMPLING = ("cbow", "skip_gram")  # chapter 4: ids, negative sampling
BOOK_WINDOW_SIZE = 5  # ch04/train.py
SAMPLE_SIZE = 5  # ch04/cbow.py, ch04/skip_gram.py: NegativeSamplingLoss(sample_size=5), fixed
CONFIGS: dict[str, dict[str, Any]] = {
    "simple_cbow": {},
    "simple_skip_gram": {},
    "cbow": {"window_size": BOOK_WINDOW_SIZE},
    "skip_gram": {"window_size": BOOK_WINDOW_SIZE},
}
CLASS_NAMES = {
    "simple_cbow": "SimpleCBOW",
    "simple_skip_gram": "SimpleSkipGram",
    "cbow": "CBOW",
    "skip_gram": "SkipGram",
}


def weight_shapes(model: str, vocab_size: int, hidden_size: int) -> dict[str, tuple[int, int]]:
    """{"W_in": (V, H), "W_out": (H, V) for chapter 3's MatMul, (V, H) for chapter 4's
    Embedding rows}, the book's layout."""
    V, H = vocab_size, hidden_size
    return {"W_in": (V, H), "W_out": (H, V) if model in ONE_HOT else (V, H)}


def negatives_shape(model: str, batch: int, window_size: int) -> tuple:
    """The negative samples of one step: (N, 5) for cbow (one loss), (N, 2 window, 5) for
    skip_gram (a loss per context word, in the book's order)."""
    if model == "cbow":
        return (batch, SAMPLE_SIZE)
    return (batch, 2 * window_size, SAMPLE_SIZE)


@dataclass
class Batch:
    """One checked batch: contexts and target as the model reads them, and its samples.
    One-hot models: contexts (N, 2, V) and target (N, V) int one-hot. Negative-sampling
    models: contexts (N, 2 window) and target (N,) int64 ids, negatives int64."""

    contexts: np.ndarray
    target: np.ndarray
    negatives: np.ndarray | None


@dataclass
class TrainInputs:
    """What `train` hands its framework, checked once."""

    contexts: np.ndarray  # all rows, as in Batch
    target: np.ndarray
    schedule: np.ndarray  # (steps, batch) int64
    negatives: np.ndarray | None  # (steps, batch, ...) int64, or None
    optimizer: OptimizerSpec
    max_grad: float | None
    record_every: int
    mode: str

    @property
    def steps(self) -> int:
        return int(self.schedule.shape[0])


class WordNet(ModelNet):
    """A word2vec model behind the adapter contract (NumPy in, NumPy out).

    `loss(contexts, target, negatives=None)`: the framework's loss (the reference's is
    the book's, with 1e-7 inside each log; torch's and JAX's are epsilon-free).
    `gradients(...)`: d loss / d weights by name, each shared weight's uses summed once.
    `train(contexts, target, schedule, optimizer, *, negatives=None, max_grad=None,
    record_every=1, mode=None)`: the Trajectory of the run; the net keeps the trained
    weights, as the book's model does. `module` is the framework's own model object.
    """

    framework = ""
    model = ""

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        for key, value in config.items():
            what = " (words on each side)" if key == "window_size" else ""
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{key} must be an int >= 1{what}, got {value!r}")
        return {k: int(v) for k, v in config.items()}

    def _check_weights(self, weights: Any) -> dict[str, np.ndarray]:
        if not isinstance(weights, dict):
            raise TypeError(
                f"weights must be a dict with keys W_in, W_out, got {type(weights).__name__}"
            )
        if set(weights) != set(WEIGHT_NAMES):
            raise ValueError(
                f"weights of {self.model} must have the keys W_in, W_out; got "
                f"{sorted(str(k) for k in weights)}"
            )
        arrays = {k: checks.as_array(weights[k], f"weights[{k!r}]") for k in WEIGHT_NAMES}
        W_in = arrays["W_in"]
        if W_in.ndim != 2 or W_in.size == 0:
            raise ValueError(f"weights['W_in'] must be a non-empty (V, H) array, got {W_in.shape}")
        V, H = W_in.shape
        want = weight_shapes(self.model, V, H)["W_out"]
        if arrays["W_out"].shape != want:
            raise ValueError(
                f"weights['W_out'] of {self.model} must have shape {want} to match W_in "
                f"{W_in.shape} (the book's layout), got {arrays['W_out'].shape}"
            )
        for k, a in arrays.items():
            if not np.all(np.isfinite(a)):
                raise ValueError(f"weights[{k!r}] holds NaN or inf")
        if self.model in NEGATIVE_SAMPLING and SAMPLE_SIZE > V - 1:
            raise ValueError(
                f"weights: a vocabulary of {V} words is too small for {self.model}'s "
                f"{SAMPLE_SIZE} negative samples (drawn without replacement, never the "
                f"target): it needs at least {SAMPLE_SIZE + 1} words"
            )
        self.vocab_size, self.hidden_size = V, H
        return arrays

    # -- input checks, once, before any framework work
    def _check_batch(self, contexts: Any, target: Any, negatives: Any) -> Batch:
        contexts, target = self._check_pairs(contexts, target)
        if self.model in ONE_HOT:
            if negatives is not None:
                raise ValueError(f"negatives: {self.model} has no negative sampling; pass None")
            return Batch(contexts, target, None)
        want = negatives_shape(self.model, len(target), self.config["window_size"])
        return Batch(contexts, target, self._check_negatives(negatives, want))

    def _check_pairs(self, contexts: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
        V = self.vocab_size
        contexts = checks.as_array(contexts, "contexts")
        target = checks.as_array(target, "target")
        if self.model in ONE_HOT:
            _check_one_hot(contexts, "contexts", (2, V), "convert_one_hot(contexts, V)")
            _check_one_hot(target, "target", (V,), "convert_one_hot(target, V)")
        else:
            columns = 2 * self.config["window_size"]
            _check_ids(contexts, "contexts", V, (columns,), f"2 window_size = {columns} columns")
            _check_ids(target, "target", V, (), "one id per row")
        if len(contexts) != len(target):
            raise ValueError(
                f"contexts has {len(contexts)} rows but target has {len(target)}: they pair "
                "up row by row (create_contexts_target makes both)"
            )
        if len(target) == 0:
            raise ValueError("contexts and target are empty: no rows to train on")
        return contexts.astype(np.int64, copy=False), target.astype(np.int64, copy=False)

    def _check_negatives(self, negatives: Any, shape: tuple) -> np.ndarray:
        if negatives is None:
            raise ValueError(
                f"negatives: {self.model} needs its negative samples {shape}, drawn by the "
                "reference's sampler (adapters.word2vec.sample_negatives or book_data); the "
                "twins never draw their own"
            )
        negatives = checks.as_array(negatives, "negatives")
        _check_ids(negatives, "negatives", self.vocab_size, shape[1:], f"shape {shape}")
        if negatives.shape != shape:
            raise ValueError(f"negatives must have shape {shape}, got {negatives.shape}")
        return negatives.astype(np.int64, copy=False)

    # -- the public methods (NumPy in, NumPy out)
    @numpy_defaults
    def loss(self, contexts: Any, target: Any, negatives: Any = None) -> float:
        """The loss this framework computes on one batch (see the class docstring)."""
        return float(self._loss(self._check_batch(contexts, target, negatives)))

    @numpy_defaults
    def gradients(self, contexts: Any, target: Any, negatives: Any = None) -> dict:
        """d loss / d W_in and d W_out (book layout): a weight used by several layers has
        the sum of their gradients, as remove_duplicate makes it and autograd computes."""
        return self._gradients(self._check_batch(contexts, target, negatives))

    @numpy_defaults
    def train(
        self,
        contexts: Any,
        target: Any,
        schedule: Any,
        optimizer: OptimizerSpec,
        *,
        negatives: Any = None,
        max_grad: float | None = None,
        record_every: int = 1,
        mode: str | None = None,
    ) -> Trajectory:
        """Train on the rows `schedule[i]` (and, with negative sampling, the samples
        `negatives[i]`) at step i; the Trajectory of W_in and W_out.

        The net is left at the trained weights. A non-finite loss or weights stop the
        run with `DivergenceError` naming the step; the net then holds the last finite
        weights recorded before it.
        """
        contexts, target = self._check_pairs(contexts, target)
        schedule = checks.check_schedule(schedule, len(target))
        steps, batch = schedule.shape
        if self.model in ONE_HOT:
            if negatives is not None:
                raise ValueError(f"negatives: {self.model} has no negative sampling; pass None")
        else:
            per_step = negatives_shape(self.model, batch, self.config["window_size"])
            negatives = self._check_negatives(negatives, (steps, *per_step))
        optimizer, max_grad, record_every, mode = self._check_training(
            optimizer, max_grad, record_every, mode
        )
        inputs = TrainInputs(
            contexts, target, schedule, negatives, optimizer, max_grad, record_every, mode
        )
        return self._run(inputs)

    # -- what each framework implements
    def _loss(self, batch: Batch) -> float:
        raise NotImplementedError

    def _gradients(self, batch: Batch) -> dict[str, np.ndarray]:
        raise NotImplementedError


def _check_one_hot(a: np.ndarray, name: str, tail: tuple, how: str) -> None:
    if a.ndim != 1 + len(tail) or a.shape[1:] != tail:
        raise ValueError(f"{name} must be one-hot rows (N, {', '.join(map(str, tail))}) ({how}), "
                         f"got shape {a.shape}")  # fmt: skip
    if a.size and not (np.all((a == 0) | (a == 1)) and np.all(a.sum(axis=-1) == 1)):
        raise ValueError(f"{name} must be one-hot: exactly one 1 per row and 0 elsewhere")


def _check_ids(a: np.ndarray, name: str, vocab_size: int, tail: tuple, what: str) -> None:
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer word ids, got dtype {a.dtype}")
    if a.ndim != 1 + len(tail) or a.shape[1:] != tail:
        raise ValueError(f"{name} must have {what}, got shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= vocab_size):
        bad = np.flatnonzero((a.ravel() < 0) | (a.ravel() >= vocab_size))[0]
        where = tuple(int(i) for i in np.unravel_index(bad, a.shape))
        raise ValueError(
            f"{name} holds the word id {a.ravel()[bad]} at {where}, outside the vocabulary "
            f"[0, {vocab_size})"
        )


def model_nets(base: type[WordNet]) -> dict[str, type[WordNet]]:
    """One Net class per model on a framework's `base` (`NETS` of its module),
    adapters/model_base.py's `model_nets` with this family's names and configs."""
    return model_base.model_nets(base, CLASS_NAMES, CONFIGS)


__all__ = [
    "CONFIGS",
    "MODELS",
    "NEGATIVE_SAMPLING",
    "ONE_HOT",
    "SAMPLE_SIZE",
    "WEIGHT_NAMES",
    "Batch",
    "TrainInputs",
    "WordNet",
    "model_nets",
    "negatives_shape",
    "weight_shapes",
]
