"""`Recorder`: the weights and losses of a training run, taken the way every adapter takes
them, as cheaply as each framework's arrays allow (`python -m comparisons bench --record`
measures it: a few percent of a torch step, a third to a half of a jitted JAX step at the
book's size when every step is recorded).

The weights are taken before the first step, after every `record_every` steps and after
the last (`record_steps`). What a record costs depends on the framework's arrays:

- NumPy arrays and torch tensors change in place as the run goes on, so each record is
  copied when it is taken: into one preallocated NumPy buffer per weight (torch tensors
  on the CPU too, through a view: cheaper than a torch copy), or into a preallocated
  tensor on the tensor's device (CUDA, bfloat16).
- JAX arrays are immutable, so a record keeps them as they are. Converting each to NumPy
  costs 3-6 us (more than a quarter of a small net's jitted step), so full runs of records
  are stacked on the device, `CHUNK` records in one call of a jitted function (about
  0.4 us per array), each chunk coming to NumPy when the next is stacked. That function is
  compiled once per process for each set of shapes (tens to a few hundred ms, like the
  user's own step); a run with fewer records than a chunk converts them one by one.
  A step that donates its parameters (`donate_argnums`) frees the records it was handed:
  the recorder sees this after the first step and from then on converts each record
  as it is taken (slower, still right).

Losses: a Python float per step for NumPy and CPU torch losses (`.item()`), the detached
tensor for a GPU loss (stacked at the end); a JAX loss on the CPU is converted when the
next one arrives, while that step computes (nearly free), one on an accelerator is
stacked on the device like the records.

Used by `NetBase.train`'s training loop (adapters/contract.py) and by
`comparisons.parity.record` for a user's own model; it knows nothing about either.
"""

from __future__ import annotations

import math
import numbers
import operator
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from adapters.trajectory import Trajectory, raise_if_diverged, record_steps
from scratch.xp import to_numpy as any_to_numpy

# The attribute by which a torch view names the parameter it was taken of (set by
# comparisons.parity.from_torch): (weakref to the parameter, its name in the module).
VIEW_OF = "_parity_view_of"
CHUNK = {"records": 32, "losses": 128}  # JAX records / losses stacked per device call
LAGGED = ("cpu",)  # JAX platforms whose losses are converted one step late (_LaggedLosses)


class Recorder:
    """Losses of `steps` steps and weight records at `record_steps(steps, record_every)`.

        recorder = Recorder(steps, record_every)
        recorder.start(weights())              # the initial weights, record 0
        for i in range(steps):
            recorder.step(train_step(i), weights)  # weights() is called only when due
        losses, records = recorder.result()    # NumPy: (steps,) float64, name -> (records, *shape)

    `recorder.run(train_step, weights, range(steps))` is that loop, faster.

    `weights()` returns a mapping of names to NumPy arrays, torch tensors or JAX arrays
    (gradient-tracking tensors are detached); its names, shapes and dtypes must stay the
    same at every record (a declared dtype is `comparisons.parity.record`'s to check). A
    step's loss is a Python number, a 0-d NumPy array or NumPy scalar, a 0-d torch
    tensor or a 0-d JAX array. Bad values are a TypeError/ValueError naming `weights` or
    `step` (for JAX records, found when their chunk is stacked: at most `CHUNK` records
    later, still during the run). Finiteness is judged once, at the end (`trajectory`, or
    `adapters.trajectory.divergence`).

    `grads()`, when given, returns the gradients of the step just taken as `weights()`
    returns the weights; it is recorded with every record but the first (no step has
    been taken then), by the same stores (`gradients()`). `stop_on_non_finite=True`
    ends the run at the first loss that is not finite (`stopped` is its step): at that
    step for Python, NumPy and CPU torch losses, one step later for JAX losses on the
    CPU (converted a step late); losses kept on an accelerator are checked a chunk at a
    time, not synchronised every step: a torch loss within `CHUNK["losses"]` steps, a JAX
    loss within two chunks (a chunk comes to NumPy once the next one is stacked). The
    step named is the non-finite loss's own either way.
    `comparisons.parity.record` stops so; the adapters judge a run at its end, where the
    book's loss and its epsilon-free twin are both known.
    """

    def __init__(
        self,
        steps: int,
        record_every: int = 1,
        *,
        grads: Callable[[], Mapping[str, Any]] | None = None,
        stop_on_non_finite: bool = False,
    ) -> None:
        for name, value in (("steps", steps), ("record_every", record_every)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.steps = int(steps)
        self.record_steps = record_steps(self.steps, min(int(record_every), self.steps))
        self._marks = self.record_steps.tolist() + [-1]  # -1: no record is due any more
        self._next = 0  # index of the next record in record_steps
        self._due = 0  # the step count at which that record is due
        self._taken = 0  # steps whose loss was taken
        self._losses = _Losses(self.steps, stop_on_non_finite)
        self._loss_type: type | None = None
        self._take_loss: Callable[[Any], None] = _refuse_loss
        self._weights: _Weights | None = None
        self._grads = None if grads is None else _Gradients(grads, self._marks[1:-1])
        self.stopped: int | None = None  # the step whose loss was not finite, if stopped

    # -- during the run
    def start(self, weights: Mapping[str, Any]) -> None:
        """Record 0: the weights before the first step."""
        if self._weights is not None:
            raise RuntimeError("Recorder.start: the initial weights are already recorded")
        self._weights = _Weights(weights, self._marks[:-1])
        self._next, self._due = 1, self._marks[1]

    def step(self, loss: Any, weights: Callable[[], Mapping[str, Any]]) -> None:
        """The loss of the next step; then `weights()` (and `grads()`) is recorded if a
        record is due. Nothing is taken once the run has `stopped`."""
        if self.stopped is not None:
            return
        if type(loss) is not self._loss_type:
            self._new_loss_type(loss)
        try:
            self._take_loss(loss)
        except _NonFinite as found:
            self.stopped = self._taken - found.behind
            return
        self._taken += 1
        if self._taken == self._due:
            r = self._next
            self._weights.put(r, weights(), self._due)
            if self._grads is not None:
                self._grads.put(r, self._due)
            self._next, self._due = r + 1, self._marks[r + 1]

    def run(
        self, step: Callable[[Any], Any], weights: Callable[[], Mapping[str, Any]], args: Any
    ) -> None:
        """`self.step(step(a), weights)` for every `a` of `args`, as one loop with its
        per-step work bound to local names: at a small net's step (25 us for a jitted
        JAX one) the attribute lookups and calls of `step` add up to several percent."""
        if self.stopped is not None:
            return
        take, loss_type = self._take_loss, self._loss_type
        put, marks = self._weights.put if self._weights else None, self._marks
        put_grads = None if self._grads is None else self._grads.put
        taken, r, due = self._taken, self._next, self._due
        try:
            for a in args:
                loss = step(a)
                if type(loss) is not loss_type:
                    self._taken = taken
                    self._new_loss_type(loss)
                    take, loss_type = self._take_loss, self._loss_type
                    put = self._weights.put
                take(loss)
                taken += 1
                if taken == due:
                    put(r, weights(), due)
                    if put_grads is not None:
                        put_grads(r, due)
                    r += 1
                    due = marks[r]
        except _NonFinite as found:
            self.stopped = taken - found.behind
        finally:
            self._taken, self._next, self._due = taken, r, due

    def _new_loss_type(self, loss: Any) -> None:
        if self._weights is None:
            raise RuntimeError("Recorder.step: call start(weights) before the first step")
        if self._taken == 0:
            self._weights.after_first_step()  # the step has run: did it free the records?
        self._take_loss = self._losses.taker(loss)
        self._loss_type = type(loss)

    # -- at the end
    def result(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(losses (steps,) float64, {name: (records, *shape)}) as NumPy arrays; bfloat16
        comes out as float32 holding the same values. Every step must have been taken,
        unless the run `stopped`: then the losses taken (up to the non-finite one, or one
        step beyond it) and the records taken before it."""
        done = self._taken == self.steps and self._next == len(self.record_steps)
        if not done and self.stopped is None:
            raise RuntimeError(
                f"Recorder.result: {self._taken} of {self.steps} steps and "
                f"{self._next} of {len(self.record_steps)} records were taken"
            )
        weights = self._weights.numpy()
        if not done:
            weights = {k: v[: self._next] for k, v in weights.items()}
        return self._losses.numpy(), weights

    def gradients(self) -> dict[str, np.ndarray] | None:
        """{name: (records - 1, *shape)}: the gradients taken with records 1, 2, ...;
        None without `grads`. Call after `result`."""
        if self._grads is None:
            return None
        return self._grads.numpy(self._next - 1)

    def trajectory(
        self,
        *,
        framework: str,
        mode: str,
        dtype: str,
        seconds: float,
        optimizer=None,
        loss_gap: np.ndarray | None = None,
        net: bool = True,
        **extra: Any,
    ) -> Trajectory:
        """The run as a `Trajectory` (`extra`: its other fields, e.g. `label`);
        DivergenceError (holding the trajectory up to the step) when a loss or a recorded
        weight is not finite. `net=False`: the run is a model of your own, and the error
        says so (adapters.trajectory.DivergenceError)."""
        losses, weights = self.result()
        traj = Trajectory(
            losses=losses,
            record_steps=self.record_steps[: self._next],
            weights=weights,
            framework=framework,
            mode=mode,
            dtype=dtype,
            seconds=seconds,
            optimizer=optimizer,
            loss_gap=None if loss_gap is None else loss_gap[: len(losses)],
            grads=self.gradients(),
            **extra,
        )
        return raise_if_diverged(traj, net=net)


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
    return _dtype_text(a.dtype)


def _dtype_text(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _to_float32_if_bfloat16(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


# --------------------------------------------------------------------------- losses


def _refuse_loss(loss: Any) -> None:
    raise RuntimeError("Recorder.step: no loss type was set")  # never reached


class _NonFinite(Exception):  # noqa: N818 - a signal inside the Recorder, never raised out
    """A loss that is not finite, found `behind` steps before the step just taken."""

    def __init__(self, behind: int) -> None:
        super().__init__(behind)
        self.behind = behind


class _Losses:
    """The steps' losses, in runs of one kind ("float", "torch", "jax") each kept its
    cheapest way; a new run starts when the loss's kind changes. With `check`, a loss
    that is not finite raises `_NonFinite` once it is kept (the Recorder stops there)."""

    def __init__(self, steps: int, check: bool = False) -> None:
        self.steps = steps
        self.check = check
        self.runs: list[tuple[str, Any]] = []

    def taker(self, loss: Any) -> Callable[[Any], None]:
        """A function that keeps a loss of this type; TypeError for no scalar loss."""
        if isinstance(loss, complex | np.complexfloating) or "complex" in str(
            getattr(loss, "dtype", "")
        ):
            raise TypeError(f"step must return a real loss, got {_describe_type(loss)}")
        if isinstance(loss, bool | np.bool_) or not (
            isinstance(loss, numbers.Real | np.ndarray) or _kind(loss)
        ):
            raise TypeError(
                f"step must return the loss as a number or a 0-d array, got {type(loss).__name__}"
            )
        if isinstance(loss, numbers.Real):  # Python and NumPy scalars
            return self._checked(self._run("float", list).append)
        if getattr(loss, "ndim", 0):
            raise _not_scalar(loss)
        kind = _kind(loss)
        if kind == "jax" and all(d.platform in LAGGED for d in loss.devices()):
            return self._run("jax-cpu", lambda: _LaggedLosses(self.check)).put
        if kind == "jax":
            on_numpy = _chunk_check if self.check else None
            make = lambda: _JaxChunks(1, self.steps, CHUNK["losses"], None, on_numpy)  # noqa: E731
            return self._run("jax", make).put1
        if kind == "torch" and loss.device.type != "cpu":
            kept = self._run("torch", list)  # a GPU loss stays there: no sync per step
            keep, check, chunk = kept.append, self.check, CHUNK["losses"]

            def take(loss: Any) -> None:
                if loss.ndim:
                    raise _not_scalar(loss)
                keep(loss.detach())
                if check and len(kept) % chunk == 0:  # one sync a chunk
                    _chunk_check(_torch_to_numpy(sys.modules["torch"].stack(kept[-chunk:])))

            return take
        keep = self._checked(self._run("float", list).append)
        if kind == "torch":  # .item(): a Python float, cheaper than keeping the tensor

            def take(loss: Any) -> None:
                if loss.ndim:
                    raise _not_scalar(loss)
                keep(loss.item())

            return take

        def take(loss: Any) -> None:  # a 0-d NumPy or CuPy array
            if loss.ndim:
                raise _not_scalar(loss)
            keep(float(loss))

        return take

    def _checked(self, keep: Callable[[Any], None]) -> Callable[[Any], None]:
        """`keep`, raising `_NonFinite` after keeping a loss that is not finite."""
        if not self.check:
            return keep
        isfinite = math.isfinite

        def checked(loss: Any) -> None:
            keep(loss)
            if not isfinite(loss):
                raise _NonFinite(0)

        return checked

    def _run(self, kind: str, make: Callable[[], Any]) -> Any:
        if not self.runs or self.runs[-1][0] != kind:
            self.runs.append((kind, make()))
        return self.runs[-1][1]

    def numpy(self) -> np.ndarray:
        parts = []
        for kind, kept in self.runs:
            if kind == "float":
                parts.append(np.asarray(kept, dtype=np.float64))
            elif kind == "torch":  # one stack on the device, one copy
                parts.append(_torch_to_numpy(sys.modules["torch"].stack(kept)))
            else:
                (losses,) = kept.numpy()  # _JaxChunks, _LaggedLosses
                if losses.ndim != 1:
                    raise TypeError(f"step must return a scalar loss, got shape {losses.shape[1:]}")
                parts.append(losses)
        return np.concatenate(parts).astype(np.float64)


def _chunk_check(losses: np.ndarray, after: int = 0) -> None:
    """`_NonFinite` for the first loss of a chunk that is not finite; `after` losses were
    taken after the chunk's last."""
    bad = np.flatnonzero(~np.isfinite(losses.reshape(-1)))
    if bad.size:
        raise _NonFinite(losses.size - 1 - int(bad[0]) + after)


class _LaggedLosses:
    """JAX losses on the CPU, each converted when the next one arrives: by then the
    step that made it has usually finished, and the conversion (about 1 us) runs while
    the next step computes, in time the loop would spend waiting anyway (measured: 1.01x
    a bare loop; stacking them on the device costs more, because it keeps them alive).
    With `check`, a converted loss that is not finite raises `_NonFinite(1)`."""

    def __init__(self, check: bool = False) -> None:
        self.kept: list[float] = []
        self.last: Any = None
        self.check = check

    def put(self, loss: Any) -> None:
        last, self.last = self.last, loss
        if last is not None:
            self.keep(last)
            if self.check and not math.isfinite(self.kept[-1]):
                raise _NonFinite(1)

    def keep(self, loss: Any) -> None:
        value = np.asarray(loss)
        if value.ndim:
            raise _not_scalar(value)
        self.kept.append(float(value))  # exact: every float dtype fits in a Python float

    def numpy(self) -> list[np.ndarray]:
        if self.last is not None:
            self.keep(self.last)
            self.last = None
        return [np.asarray(self.kept, dtype=np.float64)]


def _not_scalar(loss: Any) -> TypeError:
    return TypeError(f"step must return a scalar loss, got shape {tuple(loss.shape)}")


def _describe_type(value: Any) -> str:
    dtype = getattr(value, "dtype", None)
    return type(value).__name__ + ("" if dtype is None else f" of dtype {_dtype_text(dtype)}")


# --------------------------------------------------------------------------- weights


class _Weights:
    """Every record of the mapping `weights()` returns, by name, in stores by kind.
    `what` is the function named in errors ("weights", or "grads" for gradients)."""

    def __init__(self, first: Any, marks: list[int], what: str = "weights") -> None:
        records = len(marks)
        self.what = what
        if not isinstance(first, Mapping) or not first:
            raise TypeError(
                f"{what}() must return a non-empty mapping of names to arrays, got "
                f"{type(first).__name__}"
            )
        self.names = tuple(first)
        for name in self.names:
            if not isinstance(name, str):
                raise TypeError(f"{what}() names must be strings, got {name!r}")
        self.get = _getter(self.names)
        self.stores: list[tuple[int, _Store]] = []  # (position, store): NumPy, torch
        jax_positions = []
        for i, name in enumerate(self.names):
            a = first[name]
            kind = _kind(a)
            if not kind:
                raise TypeError(
                    f"{what}()[{name!r}] must be a NumPy array, torch tensor or JAX array, "
                    f"got {type(a).__name__}"
                )
            if kind == "jax":
                jax_positions.append(i)
            else:
                store = _torch_store(a) if kind == "torch" else _NumpyStore
                self.stores.append((i, store(name, a, records)))
                self.stores[-1][1].what = what
        self.jax = None
        if jax_positions:
            self.jax_all = len(jax_positions) == len(self.names)
            self.jax_get = _getter(jax_positions)
            self.jax = _JaxRecords(
                [self.names[i] for i in jax_positions],
                [first[self.names[i]] for i in jax_positions],
                marks,
            )
            self.jax.what = what
        for i, store in self.stores:
            store.put(0, first[self.names[i]], 0)

    def put(self, r: int, weights: Any, step: int) -> None:
        """Record `r`, taken after `step` steps."""
        try:
            values = self.get(weights)
            same = len(weights) == len(self.names)
        except (KeyError, TypeError, IndexError):
            same = False
        if not same:
            mapping = isinstance(weights, Mapping)
            raise ValueError(
                f"{self.what}() must return the same names at every record: first "
                f"{sorted(self.names)}, after {step} steps "
                f"{sorted(weights) if mapping else type(weights).__name__}"
            )
        for i, store in self.stores:
            store.put(r, values[i], step)
        if self.jax is not None:
            self.jax.put(values if self.jax_all else self.jax_get(values))

    def after_first_step(self) -> None:
        if self.jax is not None:
            self.jax.after_first_step()

    def numpy(self) -> dict[str, np.ndarray]:
        out = {store.name: store.numpy() for _, store in self.stores}
        if self.jax is not None:
            out.update(self.jax.numpy())
        return {name: out[name] for name in self.names}


class _Gradients:
    """The gradients `grads()` returns at records 1, 2, ... (`marks`: the step counts of
    those records): a `_Weights` of them, made at the first."""

    def __init__(self, grads: Callable[[], Mapping[str, Any]], marks: list[int]) -> None:
        self.grads = grads
        self.marks = marks
        self.records: _Weights | None = None

    def put(self, r: int, step: int) -> None:
        """The gradients taken with record `r` (r >= 1), after `step` steps."""
        values = self.grads()
        if self.records is None:
            self.records = _Weights(values, self.marks, what="grads")
        else:
            self.records.put(r - 1, values, step)

    def numpy(self, taken: int) -> dict[str, np.ndarray]:
        """{name: (taken, *shape)}; the names of the first record's (none if none)."""
        if self.records is None:
            return {}
        return {k: v[:taken] for k, v in self.records.numpy().items()}


def _getter(keys: Any) -> Callable[[Any], tuple]:
    """A function taking `keys` out of a mapping or sequence, as a tuple (C speed)."""
    getter = operator.itemgetter(*keys)
    return getter if len(keys) > 1 else (lambda w: (getter(w),))


class _Store:
    """One NumPy or torch weight's records, copied as they are taken."""

    what = "weights"  # the function named in errors (_Weights sets it)

    def __init__(self, name: str, first: Any, records: int) -> None:
        self.name = name
        self.shape = first.shape
        self.dtype = first.dtype

    def refuse(self, a: Any, step: int, kind: str, is_kind: bool) -> None:
        _check_same(self.name, a, kind, is_kind, self.shape, self.dtype, step, self.what)


def _check_same(
    name: str,
    a: Any,
    kind: str,
    is_kind: bool,
    shape: Any,
    dtype: Any,
    step: int,
    what: str = "weights",
) -> None:
    """TypeError when `a` is no longer a `kind` (`is_kind` False), ValueError when its
    shape or dtype is not the first record's."""
    if not is_kind:
        raise TypeError(f"{what}()[{name!r}] changed from a {kind} to {type(a).__name__}")
    if tuple(a.shape) != tuple(shape) or a.dtype != dtype:
        raise _changed(name, shape, dtype, a.shape, a.dtype, f"after {step} steps", what)


def _changed(
    name: str, shape: Any, dtype: Any, now: Any, now_dtype: Any, when: str, what: str = "weights"
):
    return ValueError(
        f"{what}()[{name!r}] must keep its shape and dtype: {tuple(shape)} "
        f"{_dtype_text(dtype)} at the start, {tuple(now)} {_dtype_text(now_dtype)} {when}"
    )


class _NumpyStore(_Store):
    """NumPy (or CuPy) weights, copied into one preallocated NumPy buffer."""

    def __init__(self, name: str, first: Any, records: int) -> None:
        super().__init__(name, first, records)
        self.buffer = np.empty((records, *self.shape), dtype=np.dtype(first.dtype))

    def put(self, r: int, a: Any, step: int) -> None:
        if type(a) is not np.ndarray or a.shape != self.shape or a.dtype != self.dtype:
            self.refuse(a, step, "NumPy array", _kind(a) in ("numpy", "cupy"))
        self.buffer[r] = a if type(a) is np.ndarray else any_to_numpy(a)

    def numpy(self) -> np.ndarray:
        return self.buffer


def _torch_store(first: Any) -> type[_Store]:
    """A CPU tensor NumPy can hold goes to a NumPy buffer; anything else stays torch."""
    torch = sys.modules["torch"]
    cpu = first.device.type == "cpu" and first.dtype not in (torch.bfloat16,)
    return _TorchCpuStore if cpu else _TorchStore


class _TorchCpuStore(_Store):
    """CPU tensors, copied through a NumPy view into one preallocated NumPy buffer
    (about 1.2 us a weight against 2.3 us for a torch copy into a torch buffer)."""

    def __init__(self, name: str, first: Any, records: int) -> None:
        super().__init__(name, first, records)
        self.tensor_type = sys.modules["torch"].Tensor
        self.buffer = np.empty((records, *self.shape), dtype=first.numpy(force=True).dtype)
        self.last = self.view = None  # the tensor of the last record, and its NumPy view
        self.address = 0
        self.of = None  # the parameter the tensor is a view of (VIEW_OF), if it says so

    def put(self, r: int, a: Any, step: int) -> None:
        # weights() returning the same tensors each time (from_torch's views, made once)
        # reuse the view, while the tensor's memory stays where it was (`p.data = ...`
        # moves it; a view of a freed tensor cannot happen: the view holds the tensor)
        if a is not self.last or a.data_ptr() != self.address or a.shape != self.shape:
            if (
                not isinstance(a, self.tensor_type)
                or a.shape != self.shape
                or a.dtype != self.dtype
            ):
                self.refuse(a, step, "torch tensor", isinstance(a, self.tensor_type))
            self.last, self.view, self.address = a, a.numpy(force=True), a.data_ptr()
            self.of = getattr(a, VIEW_OF, None)
        if self.of is not None:
            _check_aliased(self.name, a, self.of, step)
        self.buffer[r] = self.view  # detached, on the host: a view

    def numpy(self) -> np.ndarray:
        return self.buffer


class _TorchStore(_Store):
    """torch tensors on a GPU (or bfloat16), copied into a preallocated tensor on their
    device, detached; one copy to the host at the end."""

    def __init__(self, name: str, first: Any, records: int) -> None:
        super().__init__(name, first, records)
        torch = sys.modules["torch"]
        self.tensor_type = torch.Tensor
        self.buffer = torch.empty((records, *self.shape), dtype=first.dtype, device=first.device)

    def put(self, r: int, a: Any, step: int) -> None:
        if not isinstance(a, self.tensor_type) or a.shape != self.shape or a.dtype != self.dtype:
            self.refuse(a, step, "torch tensor", isinstance(a, self.tensor_type))
        of = getattr(a, VIEW_OF, None)
        if of is not None:
            _check_aliased(self.name, a, of, step)
        self.buffer[r].copy_(a.detach())

    def numpy(self) -> np.ndarray:
        return _torch_to_numpy(self.buffer)


def _check_aliased(name: str, a: Any, of: tuple, step: int) -> None:
    """ValueError when the view `a` (from_torch's) no longer shares its parameter's memory:
    a step rebound the parameter (`p.data = ...`) and the view shows the old values."""
    parameter, theirs = of[0](), of[1]
    if parameter is not None and parameter.data_ptr() == a.data_ptr():
        return
    raise ValueError(
        f"weights()[{name!r}] after {step} steps is a view from_torch took of the parameter "
        f"{theirs}, and it no longer shares that parameter's memory: the step rebound it "
        "(`p.data = ...`) or replaced the parameter, so the view still holds the old "
        "values. Update in place "
        "(`with torch.no_grad(): p -= lr * p.grad`, or `p.data.copy_(new)`), or take the "
        "views at each record: `weights=lambda: from_torch(model, names)`"
    )


class _JaxRecords:
    """The JAX weights of every record: record 0 as NumPy at once, the rest kept as the
    arrays they are and stacked on the device a chunk at a time (`_JaxChunks`)."""

    what = "weights"  # the function named in errors (_Weights sets it)

    def __init__(self, names: list[str], first: list[Any], marks: list[int]) -> None:
        self.names = names
        self.marks = marks  # record r is taken after marks[r] steps
        self.shapes = [tuple(a.shape) for a in first]
        self.dtypes = [a.dtype for a in first]
        # copies: a NumPy view of a JAX array on the CPU would keep a step from donating it
        self.first = [np.array(a) for a in first]
        self.watch = first  # looked at once, after the first step
        self.chunks = _JaxChunks(len(names), len(marks) - 1, CHUNK["records"], self.check)
        self.put = self.chunks.put  # (values): a record; put_now when the step donates
        self.donated = False
        self.host: list[list[np.ndarray]] = []
        self.array_type = sys.modules["jax"].Array

    def after_first_step(self) -> None:
        """A step that donates its parameters has freed record 0's arrays by now: from
        here on, each record is converted as it is taken."""
        if any(a.is_deleted() for a in self.watch):
            self.put, self.donated = self.put_now, True
        self.watch = []

    def put_now(self, values: tuple) -> None:
        r = len(self.host) + 1
        self.check(values, r)
        self.host.append([np.array(a) for a in values])

    def check(self, values: tuple, r: int) -> None:
        """TypeError/ValueError naming the first weight of record `r` that is not a JAX
        array of its first shape and dtype, or that was freed."""
        step = self.marks[r]
        for name, a, shape, dtype in zip(self.names, values, self.shapes, self.dtypes, strict=True):
            is_jax = isinstance(a, self.array_type)
            _check_same(name, a, "JAX array", is_jax, shape, dtype, step, self.what)
            if a.is_deleted():
                raise ValueError(
                    f"{self.what}()[{name!r}] after {step} steps was deleted before it could be "
                    "recorded: a jitted step that donates its parameters (donate_argnums) "
                    "frees them; donate them at every step or at none"
                )

    def numpy(self) -> dict[str, np.ndarray]:
        if not (self.host or self.chunks.done or self.chunks.flat):  # the first record alone
            return {
                n: _to_float32_if_bfloat16(f[None])
                for n, f in zip(self.names, self.first, strict=True)
            }
        if self.donated:
            rest = [np.stack([h[j] for h in self.host]) for j in range(len(self.names))]
        else:
            rest = self.chunks.numpy()
        out = {}
        for name, dtype, f, column in zip(self.names, self.dtypes, self.first, rest, strict=True):
            if column.dtype != dtype or column.shape[1:] != f.shape:  # a whole chunk
                shape = column.shape[1:]
                raise _changed(name, f.shape, dtype, shape, column.dtype, "later", self.what)
            out[name] = _to_float32_if_bfloat16(np.concatenate([f[None], column]))
        return out


class _JaxChunks:
    """Tuples of `width` JAX arrays, `total` of them, stacked on the device `chunk`
    tuples at a time when there are at least that many, else converted one by one at
    the end. `check(values, k)` names what is wrong with the k-th tuple (counting from
    1); without it the tuples are losses, and a loss that is not 0-d is named."""

    def __init__(
        self,
        width: int,
        total: int,
        chunk: int,
        check: Callable | None,
        on_numpy: Callable[[np.ndarray, int], None] | None = None,
    ) -> None:
        self.width = width
        self.on_numpy = on_numpy  # (losses, taken after them): a chunk of losses as NumPy
        self.chunk = chunk if total >= chunk else 0  # 0: no stacking on the device
        self.limit = width * self.chunk
        self.check = check
        self.flat: list = []  # the pending tuples' arrays, one after the other
        self.done = 0  # tuples stacked so far
        self.stacked: list[tuple[tuple, int]] = []  # (width arrays (chunk, ...), count)

    def put(self, values: tuple) -> None:
        self.flat.extend(values)
        if len(self.flat) == self.limit:
            self.flush()

    def put1(self, value: Any) -> None:  # width 1: a loss
        self.flat.append(value)
        if len(self.flat) == self.limit:
            self.flush()

    def flush(self) -> None:
        flat, self.flat = self.flat, []
        count = len(flat) // self.width
        flat += flat[-self.width :] * (self.chunk - count)  # padded: one compiled shape
        jax = sys.modules["jax"]
        x64 = any(
            getattr(getattr(a, "dtype", None), "itemsize", 0) == 8 for a in flat[: self.width]
        )
        try:
            with jax.enable_x64(x64):  # float64 stays float64 whatever the caller's switch
                out = _stacker(self.width, self.chunk)(*flat)
        except Exception as error:  # noqa: BLE001 - named below, or raised as it is
            raise self.explain(error, flat[: count * self.width]) from error
        self.stacked.append((out, count))
        self.done += count
        if len(self.stacked) > 1:  # the chunk before has been computed by now: to NumPy
            arrays, count = self.stacked[-2]
            self.stacked[-2] = (tuple(np.asarray(a)[:count] for a in arrays), count)
            if self.on_numpy is not None:
                self.on_numpy(self.stacked[-2][0][0], self.stacked[-1][1])

    def numpy(self) -> list[np.ndarray]:
        """`width` NumPy arrays (total, *shape)."""
        if self.chunk and self.flat:
            self.flush()
        parts: list[list[np.ndarray]] = [[] for _ in range(self.width)]
        for arrays, count in self.stacked:
            for j, a in enumerate(arrays):
                parts[j].append(np.asarray(a)[:count])  # (all but the last are NumPy)
        if self.flat:  # too few to stack on the device: one by one
            tuples = self.tuples(self.flat)
            if self.check is not None:
                for k, values in enumerate(tuples, start=self.done + 1):
                    self.check(values, k)
            try:
                for j in range(self.width):
                    parts[j].append(np.stack([values[j] for values in tuples]))
            except Exception as error:  # noqa: BLE001 - named below, or raised as it is
                raise self.explain(error, self.flat) from error
        return [np.concatenate(p) for p in parts]

    def tuples(self, flat: list) -> list[tuple]:
        w = self.width
        return [tuple(flat[i : i + w]) for i in range(0, len(flat), w)]

    def explain(self, error: Exception, flat: list) -> Exception:
        """The named error behind a failed stack; one it does not explain as it is."""
        if self.check is not None:
            try:
                for k, values in enumerate(self.tuples(flat), start=self.done + 1):
                    self.check(values, k)
            except (TypeError, ValueError) as named:
                return named
            return error
        for loss in flat:
            if getattr(loss, "ndim", None) != 0:
                return TypeError(f"step must return a scalar loss, got {_describe(loss)}")
        return error


def _describe(a: Any) -> str:
    shape = getattr(a, "shape", None)
    return f"shape {tuple(shape)}" if shape is not None else type(a).__name__


_STACKERS: dict[tuple[int, int], Callable] = {}


def _stacker(width: int, chunk: int) -> Callable:
    """A jitted function of `width * chunk` arrays (record after record) returning the
    `width` columns stacked, each (chunk, *shape). It refuses, when traced, a column
    whose arrays differ in shape or dtype (no cost per call). JAX compiles it once per
    set of shapes and dtypes."""
    fn = _STACKERS.get((width, chunk))
    if fn is None:
        jax = sys.modules["jax"]

        def stack(*flat: Any) -> tuple:
            columns = [flat[j::width] for j in range(width)]
            for column in columns:
                if len({(a.shape, a.dtype) for a in column}) != 1:
                    raise ValueError("arrays of one weight differ in shape or dtype")
            return tuple(jax.numpy.stack(column) for column in columns)

        fn = _STACKERS.setdefault((width, chunk), jax.jit(stack))
    return fn


# --------------------------------------------------------------------------- to NumPy, once


def _torch_to_numpy(tensor: Any) -> np.ndarray:
    """A NumPy copy; bfloat16 (which NumPy lacks) as float32 holding the same values."""
    torch = sys.modules["torch"]
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.numpy()


__all__ = ["CHUNK", "LAGGED", "Recorder", "dtype_name"]
