"""The neutral contract every adapter implements: Weights, Net, OptimizerSpec, Trajectory.

`NetBase` checks every input once (adapters/checks.py) and hands the framework-specific
subclass clean NumPy arrays: x (batch, I), index labels t (batch,) int64, a schedule
(steps, batch) int64. Subclasses implement the underscored methods; NumPy in, NumPy out.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters import checks
from adapters import data_parallel as dp
from scratch import optimizers as book_optimizers
from scratch.two_layer_net import WEIGHT_NAMES, Weights

FRAMEWORKS = ("numpy", "torch", "jax")
_REQUIRES = {"numpy": ("numpy",), "torch": ("torch",), "jax": ("jax", "optax")}
_EXTRA = {"numpy": "", "torch": "torch", "jax": "jax"}


def available() -> list[str]:
    """The installed frameworks among numpy, torch and jax (none of them is imported)."""
    return [
        fw
        for fw in FRAMEWORKS
        if all(importlib.util.find_spec(mod) is not None for mod in _REQUIRES[fw])
    ]


def _framework_error(framework: Any) -> ValueError:
    have = available()
    missing = [fw for fw in FRAMEWORKS if fw not in have]
    how = (
        "; install the rest with pip install 'scratch-parity["
        + ",".join(_EXTRA[fw] for fw in missing)
        + "]'"
        if missing
        else ""
    )
    what = "not installed" if framework in FRAMEWORKS else "unknown"
    return ValueError(f"framework {framework!r} is {what}; installed: {', '.join(have)}{how}")


def adapter_module(framework: str):
    """The adapter module for `framework` (imported on first use)."""
    if framework not in FRAMEWORKS or framework not in available():
        raise _framework_error(framework)
    return importlib.import_module(f"adapters.{framework}_adapter")


def net_class(framework: str) -> type[NetBase]:
    """The `Net` class of `framework`: what it can do, as class attributes and static
    methods (`DTYPES`, `DEVICES`, `MODES` (the first is the default), `TF32`,
    `device_available(device)`, `tf32_capable(device)`, `max_workers(device)`). The one
    public way to ask."""
    return adapter_module(framework).Net


def build(
    framework: str,
    weights: Weights,
    *,
    dtype: str = "float64",
    device: str = "cpu",
    tf32: bool = False,
):
    """The TwoLayerNet of `framework` holding `weights` (book layout), as a `Net`.

    `tf32=True` (float32 only; torch and JAX) lets float32 matmuls use TF32 on GPUs
    that have it, as JAX does by default there: the trap parity mode otherwise pins shut.
    """
    return adapter_module(framework).Net(weights, dtype=dtype, device=device, tf32=tf32)


# --------------------------------------------------------------------------- optimizers

BOOK_DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {"lr": 0.01},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.01},
    "rmsprop": {"lr": 0.01, "decay_rate": 0.99},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999},
}
FLAVORS = ("book", "stock")
_BOOK_CLASSES = {
    "sgd": book_optimizers.SGD,
    "momentum": book_optimizers.Momentum,
    "nesterov": book_optimizers.Nesterov,
    "adagrad": book_optimizers.AdaGrad,
    "rmsprop": book_optimizers.RMSprop,
    "adam": book_optimizers.Adam,
}


class OptimizerSpec:
    """Which optimizer, with which settings, in which flavor; framework-neutral.

    `OptimizerSpec("adam", 0.001, beta2=0.99)`. Unset hyper-parameters take the book's
    defaults (common/optimizer.py). `flavor="book"` reproduces the book's update rule
    exactly in every framework; `flavor="stock"` uses the framework's own optimizer with
    its own defaults for everything but lr and the momentum/decay constants.
    """

    __slots__ = ("name", "hyper", "flavor")

    def __init__(self, name: str, lr: float | None = None, *, flavor: str = "book", **hyper: float):
        if not isinstance(name, str) or name not in BOOK_DEFAULTS:
            raise ValueError(f"optimizer must be one of {', '.join(BOOK_DEFAULTS)}; got {name!r}")
        if not isinstance(flavor, str) or flavor not in FLAVORS:
            raise ValueError(f"flavor must be 'book' or 'stock', got {flavor!r}")
        known = BOOK_DEFAULTS[name]
        unknown = sorted(set(hyper) - set(known))
        if unknown:
            raise ValueError(
                f"{name} takes {', '.join(known)}; unknown hyper-parameter(s) {', '.join(unknown)}"
            )
        values = dict(known)
        if lr is not None:
            values["lr"] = lr
        values.update(hyper)
        for key, value in values.items():
            if isinstance(value, bool | complex | np.complexfloating) or not isinstance(
                value, int | float | np.number
            ):
                raise TypeError(f"{name} {key} must be a number, got {type(value).__name__}")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name} {key} must be finite, got {value}")
            if key == "lr" and value <= 0:
                raise ValueError(f"{name} lr must be > 0, got {value}")
            if key != "lr" and not 0 <= value < 1:
                raise ValueError(f"{name} {key} must lie in [0, 1), got {value}")
            values[key] = value
        self.name = name
        self.hyper = values
        self.flavor = flavor

    @property
    def lr(self) -> float:
        return self.hyper["lr"]

    def book(self):
        """The reference optimizer (scratch.optimizers) with these settings."""
        return _BOOK_CLASSES[self.name](**self.hyper)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        return f"OptimizerSpec({self.name!r}, {args}, flavor={self.flavor!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OptimizerSpec) and (
            (self.name, self.hyper, self.flavor) == (other.name, other.hyper, other.flavor)
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.hyper.items())), self.flavor))


# --------------------------------------------------------------------------- trajectory


@dataclass
class Trajectory:
    """One training run: the loss of every step and the weights at the recorded steps.

    `record_steps[k]` is the number of updates made when `weights[name][k]` was taken:
    0 (the initial weights), every `record_every` steps, and always the last step.
    `loss_gap[i]`, when set, is how far `losses[i]` sits below the epsilon-free
    cross-entropy: the reference reports the book's loss, -log(p + 1e-7), and records
    mean(log(1 + 1e-7 / p)) over the batch beside it, so `losses + loss_gap` is the loss
    torch and optax compute. None when the loss has no epsilon.
    """

    losses: np.ndarray  # (steps,)
    record_steps: np.ndarray  # (records,)
    weights: dict[str, np.ndarray]  # name -> (records, *shape), book layout
    framework: str
    mode: str
    dtype: str
    seconds: float
    optimizer: OptimizerSpec | None = None
    loss_gap: np.ndarray | None = None  # (steps,); None when the loss has no epsilon
    diverged_at: int | None = None  # the step `divergence` found, if any

    @property
    def steps(self) -> int:
        return int(self.losses.shape[0])

    def final_weights(self) -> Weights:
        return {k: v[-1].copy() for k, v in self.weights.items()}

    def truncated(self, steps: int) -> Trajectory:
        """The trajectory of the first `steps` steps (records up to that step)."""
        keep = self.record_steps <= steps
        return dataclasses.replace(
            self,
            losses=self.losses[:steps],
            record_steps=self.record_steps[keep],
            weights={k: v[keep] for k, v in self.weights.items()},
            loss_gap=None if self.loss_gap is None else self.loss_gap[:steps],
        )


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights.

    `.step` is the first step that cannot be trusted: its loss is not finite, or the
    weights it started from are not. `.trajectory` holds the steps before it and the
    finite weight records; the net is left at the last of those records.
    """

    def __init__(self, framework: str, step: int, trajectory: Trajectory, reason: str = "") -> None:
        if not reason:
            value = trajectory.losses[step] if step < trajectory.steps else "non-finite"
            reason = f"loss became {value}"
        kept = trajectory.truncated(step)
        finite = _finite_records(kept)
        kept = dataclasses.replace(
            kept,
            record_steps=kept.record_steps[finite],
            weights={k: v[finite] for k, v in kept.weights.items()},
            diverged_at=step,
        )
        held = ""
        if kept.record_steps.size:
            last = int(kept.record_steps[-1])
            held = " and the net holds " + (
                "its initial weights" if last == 0 else f"the weights recorded after {_steps(last)}"
            )
        super().__init__(
            f"{framework}: training diverged at step {step} ({reason}); the trajectory up to "
            f"step {step} is kept in .trajectory{held}"
        )
        self.framework = framework
        self.step = step
        self.trajectory = kept


def _steps(n: int) -> str:
    return f"{n} step" + ("" if n == 1 else "s")


def _finite_records(traj: Trajectory) -> np.ndarray:
    """(records,) bool: True where every recorded weight is finite."""
    ok = np.ones(len(traj.record_steps), dtype=bool)
    for v in traj.weights.values():
        ok &= np.isfinite(v.reshape(len(ok), -1)).all(axis=1)
    return ok


def divergence(traj: Trajectory) -> tuple[int, str] | None:
    """(step, reason) of the first non-finite value of a run, or None when all is finite.

    Three things count, whichever comes first: the loss the framework reports; the
    epsilon-free loss, `losses + loss_gap` (the book's -log(p + 1e-7) stays finite when a
    label's logit overflows to -inf, the cross-entropy torch and optax compute does not,
    so this makes every framework stop at the same step); and the recorded weights (a
    record taken after s updates that is not finite makes step s, the first to start
    from those weights, the diverging one; this also catches the last update).
    """
    found = []
    losses = np.asarray(traj.losses, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        found.append((int(bad[0]), f"loss became {losses[bad[0]]}"))
    if traj.loss_gap is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            exact = losses + np.asarray(traj.loss_gap, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(exact))
        if bad.size:
            found.append((int(bad[0]), f"the epsilon-free cross-entropy became {exact[bad[0]]}"))
    records = np.flatnonzero(~_finite_records(traj))
    if records.size:
        s = int(traj.record_steps[records[0]])
        found.append((s, f"the weights after {_steps(s)} are not finite"))
    return min(found, key=lambda f: f[0]) if found else None


def record_steps(steps: int, record_every: int) -> np.ndarray:
    """0, k, 2k, ... and always `steps`: when `Net.train` records the weights."""
    marks = list(range(0, steps + 1, record_every))
    if marks[-1] != steps:
        marks.append(steps)
    return np.asarray(marks, dtype=np.int64)


# --------------------------------------------------------------------------- the Net


@dataclass
class TrainInputs:
    """What `Net.train` hands its framework, already checked and converted once."""

    x: np.ndarray  # (n, I) in the net's dtype
    t: np.ndarray  # (n,) int64 index labels
    schedule: np.ndarray  # (steps, batch) int64
    optimizer: OptimizerSpec
    max_grad: float | None
    record_steps: np.ndarray  # (records,)
    record_every: int
    mode: str
    extra: dict = field(default_factory=dict)


class NetBase:
    """What every framework's `Net` shares: input checks, dispatch, the Trajectory.

    Subclasses set `framework`, `DTYPES`, `DEVICES`, `MODES` (the first is the default)
    and implement `_load`, `_weights`, `_predict`, `_loss`, `_gradients`,
    `_activations` and `_train`.
    """

    framework: str = ""
    DTYPES: tuple[str, ...] = checks.DTYPE_NAMES
    DEVICES: tuple[str, ...] = ("cpu",)
    MODES: tuple[str, ...] = ("eager",)
    TF32: bool = False  # whether the framework can be asked to use TF32

    def __init__(
        self,
        weights: Weights,
        *,
        dtype: str = "float64",
        device: str = "cpu",
        tf32: bool = False,
    ) -> None:
        arrays, sizes = checks.check_weights(weights)
        self.dtype = checks.check_dtype(dtype, self.DTYPES)
        self.device = self._check_device(device)
        if not isinstance(tf32, bool | np.bool_):
            raise TypeError(f"tf32 must be True or False, got {type(tf32).__name__}")
        if tf32 and not self.TF32:
            raise ValueError(
                f"tf32: {self.framework} has no TF32 mode (the reference never uses it)"
            )
        if tf32 and self.dtype != "float32":
            raise ValueError(f"tf32 applies to float32 matmuls only; this net is {self.dtype}")
        self.tf32 = bool(tf32)
        self.sizes = sizes  # (I, H, O)
        self._load({k: checks.cast(v, self.dtype, f"weights[{k!r}]") for k, v in arrays.items()})

    # -- checks shared by every framework
    def _check_device(self, device: Any) -> str:
        kind, _, index = device.partition(":") if isinstance(device, str) else ("", "", "")
        if kind not in self.DEVICES or (index and not index.isdigit()):
            raise ValueError(
                f"device must be one of {', '.join(self.DEVICES)} (or kind:N) for "
                f"{self.framework}; got {device!r}"
            )
        available = getattr(sys.modules[type(self).__module__], "device_available", None)
        if available is not None and not available(device):  # each adapter says
            raise ValueError(f"device {device!r} is not available to {self.framework} here")
        return device

    def _check_xt(self, x: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
        I, _, O = self.sizes
        x = checks.check_x(x, I)
        return checks.cast(x, self.dtype, "x"), checks.check_labels(t, x.shape[0], O)

    # -- the public methods (NumPy in, NumPy out)
    def weights(self) -> Weights:
        """The current weights in the book layout (W is (in, out)), as NumPy arrays."""
        return self._weights()

    def predict(self, x: Any) -> np.ndarray:
        """Scores (batch, O), before the softmax."""
        return self._predict(checks.cast(checks.check_x(x, self.sizes[0]), self.dtype, "x"))

    def loss(self, x: Any, t: Any) -> float:
        """The mean cross-entropy this framework computes (the reference: the book's,
        with 1e-7 inside the log; torch and JAX: without it)."""
        return float(self._loss(*self._check_xt(x, t)))

    def gradients(self, x: Any, t: Any) -> Weights:
        """d loss / d weights, in the book layout."""
        return self._gradients(*self._check_xt(x, t))

    def activations(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """affine1 (batch, H), sigmoid (batch, H), affine2 (batch, O), softmax (batch, O)."""
        return self._activations(*self._check_xt(x, t))

    def train(
        self,
        x: Any,
        t: Any,
        schedule: Any,
        optimizer: OptimizerSpec,
        *,
        max_grad: float | None = None,
        record_every: int = 1,
        mode: str | None = None,
        data_parallel: int = 1,
        uneven: bool = False,
    ) -> Trajectory:
        """Train on the rows `schedule[i]` at step i; return the Trajectory.

        `data_parallel=N` splits each step's rows into N contiguous shards, one per worker,
        and averages the shard gradients (adapters/data_parallel.py); a batch N does not
        divide is refused unless `uneven=True`.

        The net is left at the trained weights, as the book's model is updated in place.
        A non-finite loss or non-finite weights stop the run with `DivergenceError` naming
        the step and the framework (`divergence` says what counts); the net then holds the
        last finite weights recorded before that step.
        """
        x, t = self._check_xt(x, t)
        schedule = checks.check_schedule(schedule, x.shape[0])
        if not isinstance(optimizer, OptimizerSpec):
            raise TypeError(
                f"optimizer must be an adapters.OptimizerSpec, got {type(optimizer).__name__}"
            )
        max_grad = checks.check_max_grad(max_grad)
        largest = checks.largest(self.dtype)  # torch cannot even hold a bigger lr in float16
        settings = {f"{optimizer.name} {k}": v for k, v in optimizer.hyper.items()}
        for key, value in {**settings, "max_grad": max_grad or 0.0}.items():
            if abs(value) > largest:
                raise ValueError(
                    f"{key} {value:.3g} does not fit in {self.dtype} (largest {largest:.3g})"
                )
        record_every = checks.check_positive_int(record_every, "record_every")
        if mode is None:
            mode = self.MODES[0]
        if not isinstance(mode, str) or mode not in self.MODES:
            raise ValueError(
                f"mode must be one of {', '.join(self.MODES)} for {self.framework}; got {mode!r}"
            )
        workers, where = self.max_workers(self.device)
        n = dp.check(data_parallel, uneven, schedule.shape[1], workers, where)
        steps = schedule.shape[0]
        record_every = min(record_every, steps)  # the same records; no framework sees 10**30
        inputs = TrainInputs(
            x=x,
            t=t,
            schedule=schedule,
            optimizer=optimizer,
            max_grad=max_grad,
            record_steps=record_steps(steps, record_every),
            record_every=record_every,
            mode=mode,
        )
        start = time.perf_counter()
        # A run that blows up overflows on its way to inf and NaN; NumPy would warn at every
        # step. It is reported once instead, as DivergenceError naming the step (below).
        with np.errstate(over="ignore", invalid="ignore"):
            if n == 1:
                losses, weights, gap = self._train(inputs)
            else:
                losses, weights, gap = self._train_data_parallel(inputs, n)
        seconds = time.perf_counter() - start
        traj = Trajectory(
            losses=np.asarray(losses),
            record_steps=inputs.record_steps,
            weights=weights,
            framework=self.framework,
            mode=mode,
            dtype=self.dtype,
            seconds=seconds,
            optimizer=optimizer,
            loss_gap=gap,
        )
        found = divergence(traj)
        if found is not None:
            step, reason = found
            traj.diverged_at = step
            error = DivergenceError(self.framework, step, traj, reason)
            if error.trajectory.record_steps.size:
                self._load(error.trajectory.final_weights())  # the last finite record
            raise error
        return traj

    # -- what each framework implements
    def _load(self, weights: Weights) -> None:
        raise NotImplementedError

    def _weights(self) -> Weights:
        raise NotImplementedError

    def _predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _loss(self, x: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def _gradients(self, x: np.ndarray, t: np.ndarray) -> Weights:
        raise NotImplementedError

    def _activations(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _train(self, inputs: TrainInputs) -> tuple[np.ndarray, dict[str, np.ndarray], Any]:
        raise NotImplementedError

    @staticmethod
    def max_workers(device: str) -> tuple[int, str]:
        """How many data-parallel workers `device` allows, and what says so."""
        raise NotImplementedError

    def _train_data_parallel(self, inputs: TrainInputs, n: int):
        """`_train` with each step's rows split over `n` workers; the net is left at the
        trained weights."""
        raise NotImplementedError

    def __repr__(self) -> str:
        I, H, O = self.sizes
        tf32 = ", TF32 allowed" if self.tf32 else ""
        return f"<{self.framework} TwoLayerNet {I}-{H}-{O} {self.dtype}{tf32} on {self.device}>"


__all__ = [
    "BOOK_DEFAULTS",
    "FRAMEWORKS",
    "DivergenceError",
    "NetBase",
    "OptimizerSpec",
    "Trajectory",
    "TrainInputs",
    "WEIGHT_NAMES",
    "Weights",
    "adapter_module",
    "net_class",
    "available",
    "build",
    "divergence",
    "record_steps",
]
