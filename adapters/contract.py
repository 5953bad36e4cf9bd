"""The neutral contract every adapter implements: `NetBase` and its one training loop.

`NetBase` checks every input once (adapters/checks.py) and hands the framework-specific
subclass clean NumPy arrays: x (batch, I), index labels t (batch,) int64, a schedule
(steps, batch) int64. Subclasses implement the underscored methods; NumPy in, NumPy out.
The training loop (`NetBase._run`) is written once, here: the framework supplies its
step and its weights (`Training`), `adapters.recording.Recorder` takes the records.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from adapters import checks
from adapters import data_parallel as dp
from adapters.optimizer_spec import OptimizerSpec
from adapters.recording import Recorder
from adapters.trajectory import (
    DivergenceError,
    Trajectory,
    raise_if_diverged,
    record_steps,
    schedule_fingerprint,
)
from scratch.two_layer_net import Weights

# NumPy's default floating-point error handling. Every Net method computes under it, not
# under the caller's np.seterr: with all="raise" the reference would raise on an underflow
# that is no error (a sigmoid of -800 is 0), and the results must not depend on it.
NUMPY_DEFAULTS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}


def numpy_defaults(method):
    """`method` run under NUMPY_DEFAULTS, whatever np.seterr the caller set."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with np.errstate(**NUMPY_DEFAULTS):
            return method(*args, **kwargs)

    return wrapper


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
    grads: bool = False  # record the gradients of each record's last step


class Training(NamedTuple):
    """What a framework hands the training loop: `step(i)` makes step i's update and
    returns its loss (the framework's scalar); `weights()` the current weights in the
    book's layout (the framework's arrays, views are fine: the Recorder copies);
    `loss_gap()`, called after the last step, the book-epsilon gap per step or None;
    `grads()`, when the run records them, the gradients of the step just taken, in the
    book's layout, as the backward pass made them (before clip_grads scales them)."""

    step: Callable[[int], Any]
    weights: Callable[[], Mapping[str, Any]]
    loss_gap: Callable[[], np.ndarray | None]
    grads: Callable[[], Mapping[str, Any]] | None = None


class NetBase:
    """What every framework's `Net` shares: input checks, dispatch, the training loop,
    the Trajectory.

    A framework's `Net` says what it can do as class attributes and static methods:
    `framework`, `DTYPES`, `DEVICES`, `MODES` (the first is the default), `TF32`,
    `device_available(device)`, `tf32_capable(device)` (`adapters.net_class(framework)`
    reaches them without building a net). It implements `_load`, `_weights`, `_predict`,
    `_loss`, `_gradients`, `_activations` and `_training` (or overrides `_run`).
    """

    framework: str = ""
    DTYPES: tuple[str, ...] = checks.DTYPE_NAMES
    DEVICES: tuple[str, ...] = ("cpu",)
    MODES: tuple[str, ...] = ("eager",)
    TF32: bool = False  # whether the framework can be asked to use TF32

    @staticmethod
    def device_available(device: str) -> bool:
        """Whether `device` (a checked "kind" or "kind:N") exists here."""
        raise NotImplementedError

    @staticmethod
    def tf32_capable(device: str) -> bool:
        """Whether `device` has TF32 units (a CUDA GPU of compute capability 8.0 or newer)."""
        return False

    @numpy_defaults
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
        """Checked once, here: the framework code never asks again."""
        checks.check_device(device, self.DEVICES, self.framework)
        if not self.device_available(device):
            raise ValueError(f"device {device!r} is not available to {self.framework} here")
        return device

    def _check_xt(self, x: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
        I, _, O = self.sizes
        x = checks.check_x(x, I)
        return checks.cast(x, self.dtype, "x"), checks.check_labels(t, x.shape[0], O)

    # -- the public methods (NumPy in, NumPy out)
    @numpy_defaults
    def weights(self) -> Weights:
        """The current weights in the book layout (W is (in, out)), as NumPy arrays."""
        return self._weights()

    @numpy_defaults
    def predict(self, x: Any) -> np.ndarray:
        """Scores (batch, O), before the softmax."""
        x = checks.cast(checks.check_x(x, self.sizes[0]), self.dtype, "x")
        with np.errstate(**NUMPY_DEFAULTS):
            return self._predict(x)

    @numpy_defaults
    def loss(self, x: Any, t: Any) -> float:
        """The mean cross-entropy this framework computes (the reference: the book's,
        with 1e-7 inside the log; torch and JAX: without it)."""
        x, t = self._check_xt(x, t)
        return float(self._loss(x, t))

    @numpy_defaults
    def gradients(self, x: Any, t: Any) -> Weights:
        """d loss / d weights, in the book layout."""
        x, t = self._check_xt(x, t)
        return self._gradients(x, t)

    @numpy_defaults
    def activations(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """affine1 (batch, H), sigmoid (batch, H), affine2 (batch, O), softmax (batch, O)."""
        x, t = self._check_xt(x, t)
        return self._activations(x, t)

    @numpy_defaults
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
        grads: bool = False,
    ) -> Trajectory:
        """Train on the rows `schedule[i]` at step i; return the Trajectory.

        `grads=True` records, with every weight record after the first, the gradients of
        the step just taken (`Trajectory.grads`), as the backward pass made them (before
        `max_grad` clips them), so `compare_trajectories` tells a backward pass that
        differs from an update that does. A single-process run only.

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
        settings = {f"{optimizer.name} {k}": v for k, v in optimizer.hyper.items()}
        checks.check_fits({**settings, "max_grad": max_grad or 0.0}, self.dtype)
        record_every = checks.check_positive_int(record_every, "record_every")
        if mode is None:
            mode = self.MODES[0]
        if not isinstance(mode, str) or mode not in self.MODES:
            raise ValueError(
                f"mode must be one of {', '.join(self.MODES)} for {self.framework}; got {mode!r}"
            )
        if not isinstance(grads, bool | np.bool_):
            raise TypeError(f"grads must be True or False, got {type(grads).__name__}")
        workers, where = self.max_workers(self.device)
        n = dp.check(data_parallel, uneven, schedule.shape[1], workers, where)
        if grads and n > 1:
            raise ValueError(
                f"grads=True records the gradients of a single-process run; data_parallel "
                f"is {n}: compare the data-parallel run's weights, or record with one worker"
            )
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
            grads=bool(grads),
        )
        start = time.perf_counter()
        # A run that blows up overflows on its way to inf and NaN; NumPy would warn at every
        # step. It is reported once instead, as DivergenceError naming the step (below).
        with np.errstate(over="ignore", invalid="ignore"):
            if n == 1:
                losses, weights, gap, grad_records = self._run(inputs)
            else:
                losses, weights, gap = self._train_data_parallel(inputs, n)
                grad_records = None
        traj = Trajectory(
            losses=losses,
            record_steps=inputs.record_steps,
            weights=weights,
            framework=self.framework,
            mode=mode,
            dtype=self.dtype,
            seconds=time.perf_counter() - start,
            optimizer=optimizer,
            loss_gap=gap,
            grads=grad_records,
            fingerprint=schedule_fingerprint(schedule),
            workers=n,
        )
        try:
            return raise_if_diverged(traj)
        except DivergenceError as error:
            if error.trajectory.record_steps.size:
                self._load(error.trajectory.final_weights())  # the last finite record
            raise

    def _run(
        self, inputs: TrainInputs, training: contextlib.AbstractContextManager | None = None
    ) -> tuple[np.ndarray, Weights, np.ndarray | None, Weights | None]:
        """The training loop every framework shares: the framework's `_training` (or the
        `training` given, e.g. a data-parallel one) makes the steps, a `Recorder` takes
        the losses and weight records. Returns NumPy losses (steps,), records
        {name: (records, *shape)}, the loss gap (or None) and, when `inputs.grads`, the
        gradient records {name: (records - 1, *shape)} (else None)."""
        with training or self._training(inputs) as training:
            grads = training.grads if inputs.grads else None
            recorder = Recorder(inputs.schedule.shape[0], inputs.record_every, grads=grads)
            recorder.start(training.weights())
            recorder.run(training.step, training.weights, range(recorder.steps))
            gap = training.loss_gap()
        losses, weights = recorder.result()
        return losses, weights, gap, recorder.gradients()

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

    def _training(self, inputs: TrainInputs) -> contextlib.AbstractContextManager[Training]:
        """A context manager yielding the `Training` of this run; on exit the net holds
        the trained weights."""
        raise NotImplementedError

    @staticmethod
    def max_workers(device: str) -> tuple[int, str]:
        """How many data-parallel workers `device` allows, and what says so."""
        raise NotImplementedError

    def _train_data_parallel(self, inputs: TrainInputs, n: int):
        """`_run` with each step's rows split over `n` workers: NumPy losses (steps,),
        records {name: (records, *shape)} and the loss gap (or None), no gradients; the
        net is left at the trained weights."""
        raise NotImplementedError

    def __repr__(self) -> str:
        I, H, O = self.sizes
        tf32 = ", TF32 allowed" if self.tf32 else ""
        return f"<{self.framework} TwoLayerNet {I}-{H}-{O} {self.dtype}{tf32} on {self.device}>"


__all__ = ["NetBase", "TrainInputs", "Training"]
