"""The neutral contract of the recurrent language models (chapters 5-6): names, sizes, the
LSTM gate order, input checks, the public methods and the training loop; each
framework's module supplies the math.

Weights travel in the book's layout, by the book's names (scratch.simple_rnnlm,
scratch.rnnlm, scratch.better_rnnlm `WEIGHT_NAMES`): W is (in, out); an LSTM's Wx (D, 4H),
Wh (H, 4H) and b (4H,) hold the four gates side by side in the book's order f, g, i, o
(§6.3). Every framework's LSTM orders them i, f, g, o (torch.nn.LSTM, cuDNN, Keras,
flax's LSTMCell), so the twins' weight maps reorder the gate blocks; loading the book's
numbers without that is the first trap of a port: each gate then does another's job,
and nothing fails.

The data, as RnnlmTrainer feeds it:

| input     | shape                  | what                                                   |
|-----------|------------------------|--------------------------------------------------------|
| xs, ts    | (n,) word ids          | the corpus and the next word of each (corpus[:-1], [1:]) |
| schedule  | (steps, N, T) ints     | positions into xs and ts, one (N, T) block per step     |
| masks     | (steps, 3, N, T, H)    | better_rnnlm's dropout masks (scaled), the reference's  |

Each step reads the block `xs[schedule[i]]` and starts from the hidden state the last
step left (the book's `stateful=True`); its backward pass stops at the block's edge
(truncated BPTT). The dropout masks are data: drawn once with the reference in the
book's order (adapters/rnnlm/data.py) and handed to every framework, which never draws.
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
from scratch import better_rnnlm, rnnlm, simple_rnnlm
from scratch.base_model import take_weights
from scratch.time_layers import check_dropout_ratio

MODELS = ("simple_rnnlm", "rnnlm", "better_rnnlm")
BOOK_DROPOUT = 0.5  # ch06/better_rnnlm.py's default
CONFIGS: dict[str, dict[str, Any]] = {
    "simple_rnnlm": {},
    "rnnlm": {},
    "better_rnnlm": {"dropout_ratio": BOOK_DROPOUT},
}
CLASS_NAMES = {"simple_rnnlm": "SimpleRnnlm", "rnnlm": "Rnnlm", "better_rnnlm": "BetterRnnlm"}
DROPOUT_LAYERS = 3  # BetterRnnlm: before LSTM 1, before LSTM 2, before the output
_MODULES = {"simple_rnnlm": simple_rnnlm, "rnnlm": rnnlm, "better_rnnlm": better_rnnlm}
RECURRENT = {  # model -> each recurrent layer's (Wx, Wh, b) names
    "simple_rnnlm": (("rnn_Wx", "rnn_Wh", "rnn_b"),),
    "rnnlm": (("lstm_Wx", "lstm_Wh", "lstm_b"),),
    "better_rnnlm": tuple((f"lstm_Wx{i}", f"lstm_Wh{i}", f"lstm_b{i}") for i in (1, 2)),
}

# --------------------------------------------------------------------------- the gate order

BOOK_GATES = "fgio"  # the book's LSTM: forget, new memory (g), input, output
FRAMEWORK_GATES = "ifgo"  # torch.nn.LSTM, cuDNN, Keras, flax: input, forget, g, output
TO_FRAMEWORK = [BOOK_GATES.index(g) for g in FRAMEWORK_GATES]  # [2, 0, 1, 3]
TO_BOOK = [FRAMEWORK_GATES.index(g) for g in BOOK_GATES]  # [1, 2, 0, 3]


def gate_blocks(w: Any, order: list[int]):
    """`w` with the four gate blocks of its last axis (4H) taken in `order`: NumPy, torch
    and JAX arrays alike (indexing a view of (..., 4, H))."""
    blocks = w.reshape(*w.shape[:-1], 4, w.shape[-1] // 4)  # (..., 4, H)
    return blocks[..., order, :].reshape(w.shape)


def book_to_framework_gates(w: Any):
    """The book's gate order f, g, i, o -> the frameworks' i, f, g, o, on the last axis."""
    return gate_blocks(w, TO_FRAMEWORK)


def framework_to_book_gates(w: Any):
    """The frameworks' gate order i, f, g, o -> the book's f, g, i, o, on the last axis."""
    return gate_blocks(w, TO_BOOK)


# --------------------------------------------------------------------------- names and sizes


def weight_names(model: str) -> tuple[str, ...]:
    """The book's names of `model`'s weights, in its params order (the tied one once)."""
    return _MODULES[model].WEIGHT_NAMES


def sizes(model: str, weights: dict) -> tuple[int, int, int]:
    """(V, D, H) of `weights`: the embedding's (V, D), the first recurrent layer's H."""
    V, D = np.shape(weights["embed_W"])
    H = np.shape(weights[RECURRENT[model][0][1]])[0]
    return int(V), int(D), int(H)


def check_weights(model: str, weights: Any) -> dict[str, np.ndarray]:
    """`weights` checked against `model` (float64 NumPy copies): the book's names, each
    shape from (V, D, H), every LSTM's gate dimension 4H, BetterRnnlm's wordvec size equal
    to its hidden size (the tied weight), finite values. A ValueError or TypeError naming
    the weight otherwise, before any framework is touched."""
    names = weight_names(model)
    if not isinstance(weights, dict):
        raise TypeError(
            f"weights must be a dict of {', '.join(names)}, got {type(weights).__name__}"
        )
    if set(weights) != set(names):
        got = sorted(str(k) for k in weights)
        raise ValueError(f"weights of {model} must have the keys {', '.join(names)}; got {got}")
    arrays = {name: checks.as_array(weights[name], f"weights[{name!r}]") for name in names}
    for name, a in arrays.items():
        if a.ndim == 0 or a.size == 0:
            raise ValueError(f"weights[{name!r}] must be a non-empty array, got shape {a.shape}")
    for name in ("embed_W", RECURRENT[model][0][1]):
        if arrays[name].ndim != 2:
            raise ValueError(f"weights[{name!r}] must be 2-D, got shape {arrays[name].shape}")
    V, D, H = sizes(model, arrays)
    if model == "better_rnnlm" and D != H:
        raise ValueError(
            f"better_rnnlm ties its output layer to embed_W (V, D): the wordvec size D={D} "
            f"must equal the hidden size H={H}"
        )
    gates = RECURRENT[model] if model != "simple_rnnlm" else ()
    shapes = _MODULES[model].weight_shapes(V, D, H)
    arrays = take_weights(arrays, shapes, np.float64, model, gates)
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"weights[{name!r}] holds NaN or inf")
    return arrays


# --------------------------------------------------------------------------- the inputs


@dataclass
class Block:
    """One checked block: ids xs and labels ts (N, T) int64, and better_rnnlm's three
    scaled dropout masks (3, N, T, H) or None (no dropout: the book's predict)."""

    xs: np.ndarray
    ts: np.ndarray
    masks: np.ndarray | None


@dataclass
class TrainInputs:
    """What `train` hands its framework, checked once."""

    xs: np.ndarray  # (n,) int64 word ids
    ts: np.ndarray  # (n,) int64 the next words
    schedule: np.ndarray  # (steps, N, T) int64 positions
    masks: np.ndarray | None  # (steps, 3, N, T, H) in the net's dtype, or None
    optimizer: OptimizerSpec
    max_grad: float | None
    record_every: int
    mode: str

    @property
    def steps(self) -> int:
        return int(self.schedule.shape[0])


class RnnNet(ModelNet):
    """A recurrent language model behind the adapter contract (NumPy in, NumPy out).

    `predict(xs)`: scores (N, T, V) of a block from zero state, dropout off.
    `loss(xs, ts, masks=None)`: the mean cross-entropy over its N*T positions, from zero
    state; better_rnnlm drops with `masks` when given (training), not without.
    `gradients(xs, ts, masks=None)`: d loss / d weights by the book's names, the tied
    weight's two gradients summed once. `train(xs, ts, schedule, optimizer, *,
    masks=None, max_grad=None, record_every=1, mode=None)`: the Trajectory of the run,
    the state carried from step to step as the book's stateful layers carry it; the net
    keeps the trained weights. `module` is the framework's own model object.
    """

    framework = ""
    model = ""

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if "dropout_ratio" in config:
            config["dropout_ratio"] = check_dropout_ratio(config["dropout_ratio"])
        return config

    def _check_weights(self, weights: Any) -> dict[str, np.ndarray]:
        arrays = check_weights(self.model, weights)
        self.vocab_size, self.wordvec_size, self.hidden_size = sizes(self.model, arrays)
        return arrays

    # -- input checks, once, before any framework work
    def _check_ids(self, a: Any, name: str, ndim: int, *, ignore: bool = False) -> np.ndarray:
        a = checks.as_array(a, name)
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer word ids, got dtype {a.dtype}")
        shape = "(N, T)" if ndim == 2 else "(n,)"
        if a.ndim != ndim or a.size == 0:
            raise ValueError(f"{name} must be a non-empty {shape} array of word ids, got {a.shape}")
        V = self.vocab_size
        if a.min() < 0 or a.max() >= V:
            bad = np.flatnonzero((a.ravel() < 0) | (a.ravel() >= V))[0]
            where = tuple(int(i) for i in np.unravel_index(bad, a.shape))
            raise ValueError(
                f"{name} holds the word id {a.ravel()[bad]} at {where}, outside the "
                f"vocabulary [0, {V})"
            )
        return a.astype(np.int64, copy=False)

    def _check_pair(self, xs: Any, ts: Any, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        xs, ts = self._check_ids(xs, "xs", ndim), self._check_ids(ts, "ts", ndim)
        if xs.shape != ts.shape:
            raise ValueError(
                f"xs and ts must have the same shape (ts holds the word after each of xs), "
                f"got {xs.shape} and {ts.shape}"
            )
        return xs, ts

    def _check_masks(self, masks: Any, shape: tuple[int, ...], need: bool) -> np.ndarray | None:
        """better_rnnlm's masks of `shape` (the last four dims (3, N, T, H)), in the net's
        dtype: required in training (`need`), optional otherwise; None for the others."""
        if self.model != "better_rnnlm":
            if masks is not None:
                raise ValueError(f"masks: {self.model} has no dropout; pass None")
            return None
        if masks is None:
            if need:
                raise ValueError(
                    f"masks: better_rnnlm trains with dropout and needs its masks {shape}, "
                    "drawn with the reference (adapters.rnnlm.book_data); the twins never "
                    "draw their own"
                )
            return None
        masks = checks.as_array(masks, "masks")
        if masks.shape != shape:
            raise ValueError(f"masks must have shape {shape} (3 dropout layers), got {masks.shape}")
        scale = 1 / (1.0 - self.config["dropout_ratio"])
        if not np.all((masks == 0) | np.isclose(masks, scale, rtol=1e-6, atol=0)):
            raise ValueError(
                f"masks must hold 0 and 1 / (1 - dropout_ratio) = {scale:.6g} (the book's "
                f"scaled masks for dropout_ratio {self.config['dropout_ratio']}), got others"
            )
        return checks.cast(masks, self.dtype, "masks")

    def _check_block(self, xs: Any, ts: Any, masks: Any) -> Block:
        xs, ts = self._check_pair(xs, ts, 2)
        return Block(
            xs, ts, self._check_masks(masks, (DROPOUT_LAYERS, *xs.shape, self.hidden_size), False)
        )

    # -- the public methods (NumPy in, NumPy out)
    @numpy_defaults
    def predict(self, xs: Any) -> np.ndarray:
        """Scores (N, T, V) of the block xs (N, T), from zero state, no dropout."""
        return self._predict(self._check_ids(xs, "xs", 2))

    @numpy_defaults
    def loss(self, xs: Any, ts: Any, masks: Any = None) -> float:
        """The mean cross-entropy over the block's N*T positions (see the class docstring)."""
        return float(self._loss(self._check_block(xs, ts, masks)))

    @numpy_defaults
    def gradients(self, xs: Any, ts: Any, masks: Any = None) -> dict:
        """d loss / d weights (book layout, the book's names)."""
        return self._gradients(self._check_block(xs, ts, masks))

    @numpy_defaults
    def train(
        self,
        xs: Any,
        ts: Any,
        schedule: Any,
        optimizer: OptimizerSpec,
        *,
        masks: Any = None,
        max_grad: float | None = None,
        record_every: int = 1,
        mode: str | None = None,
    ) -> Trajectory:
        """Train on the block of positions `schedule[i]` (with better_rnnlm's `masks[i]`)
        at step i, from zero state, the state carried on; the Trajectory of the weights.

        The net is left at the trained weights. A non-finite loss or weights stop the run
        with `DivergenceError` naming the step; the net then holds the last finite weights
        recorded before it.
        """
        xs, ts = self._check_pair(xs, ts, 1)
        schedule = self._check_schedule(schedule, len(xs))
        steps, N, T = schedule.shape
        masks = self._check_masks(masks, (steps, DROPOUT_LAYERS, N, T, self.hidden_size), True)
        optimizer, max_grad, record_every, mode = self._check_training(
            optimizer, max_grad, record_every, mode
        )
        inputs = TrainInputs(xs, ts, schedule, masks, optimizer, max_grad, record_every, mode)
        return self._run(inputs)

    @staticmethod
    def _check_schedule(schedule: Any, n: int) -> np.ndarray:
        s = checks.as_array(schedule, "schedule")
        if s.dtype.kind not in "iu":
            raise TypeError(f"schedule must hold integer positions, got dtype {s.dtype}")
        if s.ndim != 3 or 0 in s.shape:
            raise ValueError(
                f"schedule must be a non-empty (steps, N, T) array of positions "
                f"(scratch.trainer.rnnlm_batches), got shape {s.shape}"
            )
        if s.min() < 0 or s.max() >= n:
            raise ValueError(
                f"schedule positions must lie in [0, {n}) (the length of xs), got "
                f"{s.min()} to {s.max()}"
            )
        return s.astype(np.int64, copy=False)

    # -- what each framework implements
    def _predict(self, xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _loss(self, block: Block) -> float:
        raise NotImplementedError

    def _gradients(self, block: Block) -> dict[str, np.ndarray]:
        raise NotImplementedError


def model_nets(base: type[RnnNet]) -> dict[str, type[RnnNet]]:
    """One Net class per model on a framework's `base` (`NETS` of its module),
    adapters/model_base.py's `model_nets` with this family's names and configs."""
    return model_base.model_nets(base, CLASS_NAMES, CONFIGS)


__all__ = [
    "CONFIGS",
    "DROPOUT_LAYERS",
    "MODELS",
    "RECURRENT",
    "Block",
    "RnnNet",
    "TrainInputs",
    "book_to_framework_gates",
    "check_weights",
    "framework_to_book_gates",
    "model_nets",
    "sizes",
    "weight_names",
]
