"""`Recorder`: the weights and losses of a training run, taken the way every adapter takes
them, at the cost of a list append per step.

The weights are taken before the first step, after every `record_every` steps and after
the last (`record_steps`). Records stay in the framework's own arrays while the run goes
on (a torch tensor is copied on its device, a JAX array is kept as it is: JAX arrays are
immutable) and become NumPy once, at the end: converting every record to NumPy as it is
taken would cost more than a small net's training step.

Used by `NetBase.train`'s training loop (adapters/contract.py) and by
`comparisons.parity.record` for a user's own model; it knows nothing about either.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from adapters.trajectory import Trajectory, raise_if_diverged, record_steps
from scratch.xp import to_numpy as any_to_numpy


class Recorder:
    """Losses of `steps` steps and weight records at `record_steps(steps, record_every)`.

        recorder = Recorder(steps, record_every)
        recorder.start(weights())              # the initial weights, record 0
        for i in range(steps):
            recorder.step(train_step(i), weights)  # weights() is called only when due
        losses, records = recorder.result()    # NumPy: (steps,) float64, name -> (records, *shape)

    `weights()` returns a mapping of names to NumPy arrays, torch tensors or JAX arrays
    (gradient-tracking tensors are detached); its names, shapes and dtypes must stay the
    same at every record (a declared dtype is `comparisons.parity.record`'s to check). A
    step's loss is a Python number, a 0-d NumPy array or NumPy scalar, a 0-d torch
    tensor or a 0-d JAX array. Bad values are a TypeError/ValueError naming `weights` or
    `step`. Finiteness is judged once, at the end (`trajectory`, or
    `adapters.trajectory.divergence`).
    """

    def __init__(self, steps: int, record_every: int = 1) -> None:
        for name, value in (("steps", steps), ("record_every", record_every)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.steps = int(steps)
        self.record_steps = record_steps(self.steps, min(int(record_every), self.steps))
        self._marks = self.record_steps.tolist() + [-1]  # -1: no record is due any more
        self._next = 0  # index of the next record in record_steps
        self._losses: list = []
        self._loss_type: type | None = None
        self._take_loss: Callable[[Any], Any] = _number
        self._loss_kinds: set[str] = set()  # "number", "torch", "jax": how losses are kept
        self._stores: dict[str, _Store] = {}

    # -- during the run
    def start(self, weights: Mapping[str, Any]) -> None:
        """Record 0: the weights before the first step."""
        if self._next != 0:
            raise RuntimeError("Recorder.start: the initial weights are already recorded")
        self._stores = _make_stores(weights, len(self.record_steps))
        self._put(weights)

    def step(self, loss: Any, weights: Callable[[], Mapping[str, Any]]) -> None:
        """The loss of the next step; then `weights()` is recorded if a record is due."""
        if type(loss) is not self._loss_type:
            self._take_loss = _loss_taker(loss)
            self._loss_type = type(loss)
            self._loss_kinds.add(_kind(loss) if _kind(loss) in ("torch", "jax") else "number")
        self._losses.append(self._take_loss(loss))
        if len(self._losses) == self._marks[self._next]:
            self._put(weights())

    def _put(self, weights: Mapping[str, Any]) -> None:
        r = self._next
        if r == 0 and not self._stores:
            raise RuntimeError("Recorder.step: call start(weights) before the first step")
        stores = self._stores
        step = self._marks[r]
        mapping = type(weights) is dict or isinstance(weights, Mapping)
        if not mapping or weights.keys() != stores.keys():
            raise ValueError(
                f"weights() must return the same names at every record: first "
                f"{sorted(stores)}, after {step} steps "
                f"{sorted(weights) if mapping else type(weights).__name__}"
            )
        for name, store in stores.items():
            store.put(r, weights[name], name, step)
        self._next = r + 1

    # -- at the end
    def result(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(losses (steps,) float64, {name: (records, *shape)}) as NumPy arrays; bfloat16
        comes out as float32 holding the same values. Every step must have been taken."""
        if len(self._losses) != self.steps or self._next != len(self.record_steps):
            raise RuntimeError(
                f"Recorder.result: {len(self._losses)} of {self.steps} steps and "
                f"{self._next} of {len(self.record_steps)} records were taken"
            )
        losses = _losses_to_numpy(self._losses, self._loss_kinds)
        return losses, {k: s.numpy() for k, s in self._stores.items()}

    def trajectory(
        self,
        *,
        framework: str,
        mode: str,
        dtype: str,
        seconds: float,
        optimizer=None,
        loss_gap: np.ndarray | None = None,
    ) -> Trajectory:
        """The run as a `Trajectory`; DivergenceError (holding the trajectory up to the
        step) when a loss or a recorded weight is not finite."""
        losses, weights = self.result()
        traj = Trajectory(
            losses=losses,
            record_steps=self.record_steps,
            weights=weights,
            framework=framework,
            mode=mode,
            dtype=dtype,
            seconds=seconds,
            optimizer=optimizer,
            loss_gap=loss_gap,
        )
        return raise_if_diverged(traj)


# --------------------------------------------------------------------------- array kinds


def _kind(a: Any) -> str:
    """ "numpy", "torch", "jax" or "cupy": which framework's array `a` is."""
    if isinstance(a, np.ndarray):
        return "numpy"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(a, torch.Tensor):
        return "torch"
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(a, jax.Array):
        return "jax"
    if hasattr(a, "__cuda_array_interface__") and hasattr(a, "get"):
        return "cupy"
    return ""


def dtype_name(a: Any) -> str:
    """ "float64", "bfloat16", ...: the dtype of a NumPy, torch, JAX or CuPy array."""
    return str(a.dtype).removeprefix("torch.")


# --------------------------------------------------------------------------- losses


def _number(loss: Any) -> float:
    return float(loss)


def _loss_taker(loss: Any) -> Callable[[Any], Any]:
    """How to keep this type of loss: as a Python float, or as the framework's 0-d array
    (detached from torch's graph, so the graph is freed)."""
    if isinstance(loss, bool | np.bool_) or not (
        isinstance(loss, numbers.Real | np.ndarray) or _kind(loss)
    ):
        raise TypeError(
            f"step must return the loss as a number or a 0-d array, got {type(loss).__name__}"
        )
    if isinstance(loss, numbers.Real):  # Python and NumPy scalars
        return _number
    kind = _kind(loss)

    def scalar(loss: Any) -> None:
        if loss.ndim:
            raise TypeError(f"step must return a scalar loss, got shape {tuple(loss.shape)}")

    if kind == "torch":

        def take(loss: Any) -> Any:
            scalar(loss)
            return loss.detach()

    elif kind == "jax":

        def take(loss: Any) -> Any:
            scalar(loss)
            return loss

    else:  # a 0-d NumPy or CuPy array

        def take(loss: Any) -> Any:
            scalar(loss)
            return float(loss)

    return take


def _losses_to_numpy(losses: list, kinds: set[str]) -> np.ndarray:
    if kinds == {"torch"}:  # one stack on the device, one copy
        return _torch_to_numpy(sys.modules["torch"].stack(losses)).astype(np.float64)
    if kinds == {"jax"}:
        return _jax_stack(losses).astype(np.float64)
    return np.asarray([float(v) for v in losses], dtype=np.float64)


# --------------------------------------------------------------------------- weight stores


class _Store:
    """One weight's records, kept in its framework's arrays until `numpy()`."""

    def __init__(self, first: Any, records: int) -> None:
        self.shape = tuple(first.shape)
        self.dtype = first.dtype

    def check(self, a: Any, name: str, step: int) -> None:
        if tuple(a.shape) != self.shape or a.dtype != self.dtype:
            raise ValueError(
                f"weights()[{name!r}] must keep its shape and dtype: {self.shape} "
                f"{dtype_name(self)} at the start, {tuple(a.shape)} {dtype_name(a)} "
                f"after {step} steps"
            )


class _NumpyStore(_Store):
    """NumPy (or CuPy) weights, copied into one preallocated NumPy buffer."""

    def __init__(self, first: Any, records: int) -> None:
        super().__init__(first, records)
        self.buffer = np.empty((records, *self.shape), dtype=np.dtype(first.dtype))

    def put(self, r: int, a: Any, name: str, step: int) -> None:
        if type(a) is not np.ndarray or a.shape != self.shape or a.dtype != self.dtype:
            if _kind(a) not in ("numpy", "cupy"):
                raise TypeError(
                    f"weights()[{name!r}] changed from a NumPy array to {type(a).__name__}"
                )
            self.check(a, name, step)
        self.buffer[r] = a if type(a) is np.ndarray else any_to_numpy(a)

    def numpy(self) -> np.ndarray:
        return self.buffer


class _TorchStore(_Store):
    """torch tensors, copied (detached) into one preallocated tensor on their device."""

    def __init__(self, first: Any, records: int) -> None:
        super().__init__(first, records)
        torch = sys.modules["torch"]
        self.tensor_type = torch.Tensor
        self.buffer = torch.empty((records, *self.shape), dtype=first.dtype, device=first.device)

    def put(self, r: int, a: Any, name: str, step: int) -> None:
        if not isinstance(a, self.tensor_type):
            raise TypeError(
                f"weights()[{name!r}] changed from a torch tensor to {type(a).__name__}"
            )
        if a.shape != self.shape or a.dtype != self.dtype:
            self.check(a, name, step)
        self.buffer[r].copy_(a.detach())

    def numpy(self) -> np.ndarray:
        return _torch_to_numpy(self.buffer)


class _JaxStore(_Store):
    """JAX arrays, kept as they are (immutable) and stacked at the end."""

    def __init__(self, first: Any, records: int) -> None:
        super().__init__(first, records)
        self.arrays: list = []
        self.array_type = sys.modules["jax"].Array

    def put(self, r: int, a: Any, name: str, step: int) -> None:
        if not isinstance(a, self.array_type):
            raise TypeError(f"weights()[{name!r}] changed from a JAX array to {type(a).__name__}")
        if a.shape != self.shape or a.dtype != self.dtype:
            self.check(a, name, step)
        self.arrays.append(a)

    def numpy(self) -> np.ndarray:
        deleted = [i for i, a in enumerate(self.arrays) if a.is_deleted()]
        if deleted:
            raise ValueError(
                f"weights() returned JAX arrays that were deleted later (record {deleted[0]}): "
                "a jitted step that donates its parameters frees them; do not donate them"
            )
        return _jax_stack(self.arrays)


_STORES = {"numpy": _NumpyStore, "cupy": _NumpyStore, "torch": _TorchStore, "jax": _JaxStore}


def _make_stores(weights: Any, records: int) -> dict[str, _Store]:
    if not isinstance(weights, Mapping) or not weights:
        raise TypeError(
            "weights() must return a non-empty mapping of names to arrays, got "
            f"{type(weights).__name__}"
        )
    stores = {}
    for name, a in weights.items():
        if not isinstance(name, str):
            raise TypeError(f"weights() names must be strings, got {name!r}")
        kind = _kind(a)
        if not kind:
            raise TypeError(
                f"weights()[{name!r}] must be a NumPy array, torch tensor or JAX array, "
                f"got {type(a).__name__}"
            )
        stores[name] = _STORES[kind](a, records)
    return stores


# --------------------------------------------------------------------------- to NumPy, once


def _torch_to_numpy(tensor: Any) -> np.ndarray:
    """A NumPy copy; bfloat16 (which NumPy lacks) as float32 holding the same values."""
    torch = sys.modules["torch"]
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.numpy()


def _jax_stack(arrays: list) -> np.ndarray:
    """np.stack of JAX arrays, bfloat16 as float32. About 3 us per array, paid once at the
    end (np.asarray of each costs about twice that; stacking on the device first needs a
    compilation per shape: seconds, for a run that trains in a tenth of one)."""
    out = np.stack(arrays)
    return out.astype(np.float32) if out.dtype.name == "bfloat16" else out


__all__ = ["Recorder", "dtype_name"]
