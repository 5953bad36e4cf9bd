"""Adapters: the book's models in NumPy (the reference), PyTorch and JAX.

`build(framework, weights, model=...)` returns a `Net` with the same methods in every
framework (NumPy in, NumPy out); weights in the book's layout, by the book's names, are
the one exchange format. `MODELS` lists the models in the book's chapter order (chapter
1's TwoLayerNet by default; the word2vec models of chapters 3-4 in adapters/word2vec/, the
language models of chapters 5-6 in adapters/rnnlm/);
`net_class(framework, model)` says what a framework can do without building anything.

Layout: contract.py (NetBase and its one training loop), checks.py (the input rules),
optimizer_spec.py, trajectory.py, recording.py (the Recorder), precision.py
(pinned_precision), weights_file.py and files.py; one file per framework
(numpy_adapter.py, torch_adapter.py, jax_adapter.py), imported when first asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from scratch_parity import FRAMEWORKS
from scratch_parity.neighbours import check_siblings

check_siblings("adapters", "scratch")  # before the first import of it below

from adapters.contract import NetBase
from adapters.models import MODELS, check_config, check_model, config_of, family_net
from adapters.optimizer_spec import BOOK_DEFAULTS, OptimizerSpec
from adapters.precision import pinned_precision
from adapters.trajectory import DivergenceError, Trajectory
from adapters.weights_file import load_weights, save_weights
from scratch.two_layer_net import WEIGHT_NAMES, Weights

_REQUIRES = {"numpy": ("numpy",), "torch": ("torch",), "jax": ("jax", "optax")}
_EXTRA = {"numpy": "", "torch": "torch", "jax": "jax"}

Net = NetBase  # the protocol every framework's Net implements


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


def net_class(framework: str, model: str = "two_layer_net") -> type[NetBase]:
    """The `Net` class of `model` in `framework` (its module imported on first use): what
    it can do, as class attributes and static methods: `DTYPES`, `DEVICES`, `MODES` (the
    first is the default), `TF32`, `device_available(device)`, `tf32_capable(device)`.
    The one public way to ask. An unknown model is a ValueError listing MODELS."""
    if not isinstance(framework, str) or framework not in FRAMEWORKS:
        raise _framework_error(framework)
    check_model(model)
    if framework not in available():
        raise _framework_error(framework)
    return family_net(framework, model)


def build(
    framework: str,
    weights: Weights,
    *,
    model: str = "two_layer_net",
    dtype: str = "float64",
    device: str = "cpu",
    **model_config: Any,
) -> NetBase:
    """The `model` of `framework` holding `weights` (book layout, the book's names), as a
    `Net`. `model` is one of MODELS (ValueError listing them otherwise); `model_config`
    holds what that model takes beside its weights (TypeError naming any other key):

    - two_layer_net: `tf32=True` (float32 only; torch and JAX) lets float32 matmuls use
      TF32 on GPUs that have it, as JAX does by default there: the trap parity mode
      otherwise pins shut.
    - cbow, skip_gram: `window_size` (words on each side; the book's 5). simple_cbow,
      simple_skip_gram: none.
    - better_rnnlm: `dropout_ratio` (the book's 0.5; the masks themselves come with the
      data, adapters.rnnlm.book_data). simple_rnnlm, rnnlm: none.
    """
    cls = net_class(framework, model)
    check_config(model, config_of(model, cls), model_config)
    return cls(weights, dtype=dtype, device=device, **model_config)


__all__ = [
    "BOOK_DEFAULTS",
    "FRAMEWORKS",
    "MODELS",
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
    "pinned_precision",
    "save_weights",
]
