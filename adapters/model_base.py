"""`ModelNet`: what the Net of every later chapter's model shares, whatever its family.

A family's contract (adapters/word2vec/contract.py, ...) subclasses it with its own input
checks and public methods (`loss`, `gradients`, `train` with the family's data); a
framework's Net subclasses that. `ModelNet` holds the rest, written once:

- construction: `model_config` checked against `CONFIG` (TypeError naming unknown keys),
  dtype and device checked, the weights checked by the family (`_check_weights`) and cast
  to the dtype before the framework sees them (`_load`);
- `weights()`: NumPy copies in the book's layout, by the book's names;
- `_run` and `_trajectory`: the training loop on adapters/recording.py's Recorder around a
  framework's `Training` (chapter 1's, adapters/contract.py), timed; `_finish` turns the
  losses and records into the Trajectory, with a divergence reported as
  `DivergenceError` and the net left at the last finite record (a run made as one
  program, JAX's "scan", calls `_finish` itself).

The random draws of a model (negative samples, dropout masks) are never made here or by
a twin: the family draws them with the reference, in the book's order, and hands them
to every framework as data.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from adapters import checks
from adapters.contract import NUMPY_DEFAULTS, Training, numpy_defaults
from adapters.models import check_config
from adapters.optimizer_spec import OptimizerSpec
from adapters.recording import Recorder
from adapters.trajectory import DivergenceError, Trajectory, raise_if_diverged, record_steps


class ModelNet:
    """The neutral base of a later chapter's Net (see the module docstring).

    Class attributes a framework's Net sets: `framework`, `model`, `DTYPES`, `DEVICES`,
    `MODES` (the first is the default), `CONFIG` (model_config keys and defaults),
    `device_available(device)`. It implements `_load`, `_weights` and its family's
    underscored methods.
    """

    framework: str = ""
    model: str = ""
    DTYPES: tuple[str, ...] = ("float64", "float32")
    DEVICES: tuple[str, ...] = ("cpu",)
    MODES: tuple[str, ...] = ("eager",)
    TF32: bool = False  # parity mode pins TF32 off; these models do not offer it
    CONFIG: dict[str, Any] = {}

    @staticmethod
    def device_available(device: str) -> bool:
        raise NotImplementedError

    @staticmethod
    def tf32_capable(device: str) -> bool:
        return False

    @numpy_defaults
    def __init__(
        self, weights: dict, *, dtype: str = "float64", device: str = "cpu", **config: Any
    ) -> None:
        check_config(self.model, self.CONFIG, config)
        self.config = self._check_config({**self.CONFIG, **config})
        self.dtype = checks.check_dtype(dtype, self.DTYPES)
        checks.check_device(device, self.DEVICES, self.framework)
        if not self.device_available(device):
            raise ValueError(f"device {device!r} is not available to {self.framework} here")
        self.device = device
        arrays = self._check_weights(weights)
        self._load({k: checks.cast(v, self.dtype, f"weights[{k!r}]") for k, v in arrays.items()})

    @numpy_defaults
    def weights(self) -> dict[str, np.ndarray]:
        """The current weights in the book's layout, by the book's names (NumPy copies)."""
        return self._weights()

    def _check_mode(self, mode: Any) -> str:
        if mode is None:
            return self.MODES[0]
        if not isinstance(mode, str) or mode not in self.MODES:
            raise ValueError(
                f"mode must be one of {', '.join(self.MODES)} for {self.framework}; got {mode!r}"
            )
        return mode

    def _check_training(
        self, optimizer: Any, max_grad: Any, record_every: Any, mode: Any
    ) -> tuple[OptimizerSpec, float | None, int, str]:
        """The settings every `train` takes, checked once."""
        if not isinstance(optimizer, OptimizerSpec):
            raise TypeError(
                f"optimizer must be an adapters.OptimizerSpec, got {type(optimizer).__name__}"
            )
        max_grad = checks.check_max_grad(max_grad)
        settings = {f"{optimizer.name} {k}": v for k, v in optimizer.hyper.items()}
        checks.check_fits({**settings, "max_grad": max_grad or 0.0}, self.dtype)
        record_every = checks.check_positive_int(record_every, "record_every")
        return optimizer, max_grad, record_every, self._check_mode(mode)

    def _run(self, inputs: Any) -> Trajectory:
        """The loop below around the framework's `_training(inputs)`; `inputs` is the
        family's checked TrainInputs (`steps`, `record_every`, `mode`, `optimizer`)."""
        return self._trajectory(
            inputs.steps, inputs.record_every, inputs.mode, inputs.optimizer,
            self._training(inputs),
        )  # fmt: skip

    def _trajectory(
        self,
        steps: int,
        record_every: int,
        mode: str,
        optimizer: OptimizerSpec,
        training: contextlib.AbstractContextManager[Training],
    ) -> Trajectory:
        """Run `training`'s steps under a Recorder; the Trajectory of the run."""
        record_every = min(record_every, steps)
        start = time.perf_counter()
        # a run that blows up overflows on its way to inf and NaN: reported once, below
        with np.errstate(**{**NUMPY_DEFAULTS, "over": "ignore", "invalid": "ignore"}):
            recorder = Recorder(steps, record_every)
            with training as run:
                recorder.start(run.weights())
                recorder.run(run.step, run.weights, range(steps))
                gap = run.loss_gap()
            losses, weights = recorder.result()
        seconds = time.perf_counter() - start
        return self._finish(losses, weights, gap, record_every, mode, optimizer, seconds)

    def _finish(
        self,
        losses: np.ndarray,
        weights: dict[str, np.ndarray],
        gap: np.ndarray | None,
        record_every: int,
        mode: str,
        optimizer: OptimizerSpec,
        seconds: float,
    ) -> Trajectory:
        """The Trajectory of a finished run (NumPy losses (steps,) and records {name:
        (records, *shape)} at `record_steps`); DivergenceError when it blew up, the net
        then left at the last finite record."""
        traj = Trajectory(
            losses=np.asarray(losses, dtype=np.float64),
            record_steps=record_steps(len(losses), record_every),
            weights=weights,
            framework=self.framework,
            mode=mode,
            dtype=self.dtype,
            seconds=seconds,
            optimizer=optimizer,
            loss_gap=gap,
        )
        try:
            return raise_if_diverged(traj)
        except DivergenceError as error:
            if error.trajectory.record_steps.size:
                self._load(error.trajectory.final_weights())  # the last finite record
            raise

    # -- what the family checks
    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return config

    def _check_weights(self, weights: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError

    # -- what each framework implements
    def _training(self, inputs: Any) -> contextlib.AbstractContextManager[Training]:
        raise NotImplementedError

    def _load(self, weights: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _weights(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in self.weights().items())
        return f"<{self.framework} {self.model} ({shapes}) {self.dtype} on {self.device}>"


def model_nets(
    base: type[ModelNet], class_names: dict[str, str], configs: dict[str, dict[str, Any]]
) -> dict[str, type[ModelNet]]:
    """One Net class per model of a family on a framework's `base` (`NETS` of its module),
    named after the book's class (`class_names`): the model's name and its config keys
    (`configs`, with their defaults) are class attributes, so `adapters.build` can check
    them."""
    return {
        model: type(
            f"{class_name}Net",
            (base,),
            {
                "model": model,
                "CONFIG": dict(configs[model]),
                "__module__": base.__module__,
                "__doc__": f"The {class_name} of the book in {base.framework}.",
            },
        )
        for model, class_name in class_names.items()
    }


__all__ = ["ModelNet", "model_nets"]
