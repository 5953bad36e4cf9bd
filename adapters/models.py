"""The models the adapters build, in the book's chapter order, and where each one lives.

`MODELS` names them. A model belongs to a *family*: a package of adapters with a neutral
contract module and one module per framework, mirrored definition by definition
(chapter 1's TwoLayerNet is the family of `adapters/` itself; the word2vec models of
chapters 3-4 are `adapters/word2vec/`, the language models of chapters 5-6
`adapters/rnnlm/`). A family's framework module has `NETS`, the Net
class of each of its models, and every Net class says which `model_config` keys it takes
(`CONFIG`, with their defaults), so `build` can check them before any work.

Adding a family: a package `adapters/<family>/` with `contract.py` (the neutral Net base
of the family: input checks, the public methods, the training loop on
adapters/recording.py's Recorder) and `numpy_adapter.py`, `torch_adapter.py`,
`jax_adapter.py` each defining `NETS`; then its models here, in the book's order.
"""

from __future__ import annotations

import importlib
from typing import Any

MODELS = (
    "two_layer_net",
    "simple_cbow",
    "simple_skip_gram",
    "cbow",
    "skip_gram",
    "simple_rnnlm",
    "rnnlm",
    "better_rnnlm",
)
FAMILIES = {  # model -> the package of its adapters
    "two_layer_net": "adapters",
    "simple_cbow": "adapters.word2vec",
    "simple_skip_gram": "adapters.word2vec",
    "cbow": "adapters.word2vec",
    "skip_gram": "adapters.word2vec",
    "simple_rnnlm": "adapters.rnnlm",
    "rnnlm": "adapters.rnnlm",
    "better_rnnlm": "adapters.rnnlm",
}
TWO_LAYER_NET_CONFIG = {"tf32": False}  # chapter 1's Net takes tf32 beside dtype and device


def check_model(model: Any) -> str:
    """`model` when it is one of MODELS; else ValueError listing them."""
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    return model


def family_net(framework: str, model: str) -> type:
    """The Net class of `model` in `framework` (its family's module imported on first
    use); `framework` is checked by the caller (adapters.net_class)."""
    module = importlib.import_module(f"{FAMILIES[model]}.{framework}_adapter")
    if model == "two_layer_net":
        return module.Net  # chapter 1's adapters, one model each
    return module.NETS[model]


def config_of(model: str, net: type) -> dict[str, Any]:
    """The model_config keys `model` takes, with their defaults."""
    return dict(TWO_LAYER_NET_CONFIG) if model == "two_layer_net" else dict(net.CONFIG)


def check_config(model: str, allowed: dict[str, Any], given: dict[str, Any]) -> None:
    """TypeError naming every key of `given` that `model` does not take (before any work)."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "none"
        raise TypeError(
            f"model {model!r} got unknown config key(s) {', '.join(unknown)}; it takes: {takes}"
        )
