"""`OptimizerSpec`: which optimizer, with which settings, in which flavor; framework-neutral.

The names, the hyper-parameters and their defaults are the book's (common/optimizer.py),
read from `scratch.optimizers` itself: its `OPTIMIZERS` registry and each constructor's
signature. Nothing here restates them.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from scratch import optimizers as book_optimizers

BOOK_DEFAULTS: dict[str, dict[str, float]] = {
    name: {p.name: p.default for p in inspect.signature(cls).parameters.values()}
    for name, cls in book_optimizers.OPTIMIZERS.items()
}  # {"sgd": {"lr": 0.01}, ..., "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}}
FLAVORS = ("book", "stock")


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
        return book_optimizers.OPTIMIZERS[self.name](**self.hyper)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        return f"OptimizerSpec({self.name!r}, {args}, flavor={self.flavor!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OptimizerSpec) and (
            (self.name, self.hyper, self.flavor) == (other.name, other.hyper, other.flavor)
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.hyper.items())), self.flavor))


__all__ = ["BOOK_DEFAULTS", "FLAVORS", "OptimizerSpec"]
