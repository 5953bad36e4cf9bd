"""Adapters: the same TwoLayerNet in NumPy (the reference), PyTorch and JAX.

`build(framework, weights)` returns a `Net` with the same methods in every framework
(NumPy in, NumPy out); `Weights` in the book's layout are the one exchange format.
"""

from adapters.base import (
    BOOK_DEFAULTS,
    FRAMEWORKS,
    DivergenceError,
    NetBase,
    OptimizerSpec,
    Trajectory,
    available,
    build,
    net_class,
)
from adapters.weights_file import load_weights, save_weights
from scratch.two_layer_net import WEIGHT_NAMES, Weights

Net = NetBase  # the protocol every framework's Net implements

__all__ = [
    "BOOK_DEFAULTS",
    "FRAMEWORKS",
    "WEIGHT_NAMES",
    "DivergenceError",
    "Net",
    "OptimizerSpec",
    "Trajectory",
    "Weights",
    "available",
    "build",
    "load_weights",
    "net_class",
    "save_weights",
]
