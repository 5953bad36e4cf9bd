"""Which module runs the command line's `train`, `check` and `bench` for a `--model`.

Chapter 1's TwoLayerNet is comparisons/ itself (run.py, check.py, bench.py). Every other
model's family has a package here named after its adapters' family
(adapters/word2vec/ -> comparisons/word2vec/) whose `commands` module has
`options(command, args, given) -> config` (ValueError for what it cannot take) and
`main(command, args, config) -> exit status`: a new family plugs in by adding that.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from adapters.models import FAMILIES, check_model

CHAPTER_1 = "two_layer_net"


def commands(model: str) -> ModuleType:
    """The `commands` module of `model`'s family (not for chapter 1's net)."""
    family = FAMILIES[check_model(model)].rpartition(".")[2]  # adapters.word2vec -> word2vec
    return importlib.import_module(f"comparisons.{family}.commands")
