"""The recurrent language models of chapters 5-6 (SimpleRnnlm, Rnnlm, BetterRnnlm) as Nets
in NumPy (the reference), PyTorch and JAX: `adapters.build(framework, weights,
model="rnnlm")`.

contract.py holds the neutral part (names, sizes, the LSTM gate order, input checks, the
public methods and the training loop); data.py draws a run's weights, blocks and dropout
masks as the book's code does, and holds the default run; numpy_adapter.py,
torch_adapter.py and jax_adapter.py hold the math, mirrored definition by definition,
each with its weight map both ways.
"""

from adapters.rnnlm.contract import MODELS, weight_names
from adapters.rnnlm.data import DEFAULT_RUNS, RnnlmData, book_data, default_corpus, default_data

__all__ = [
    "DEFAULT_RUNS",
    "MODELS",
    "RnnlmData",
    "book_data",
    "default_corpus",
    "default_data",
    "weight_names",
]
