"""The word2vec models of chapters 3-4 (SimpleCBOW, SimpleSkipGram, CBOW, SkipGram) as
Nets in NumPy (the reference), PyTorch and JAX: `adapters.build(framework, weights,
model="cbow", window_size=...)`.

contract.py holds the neutral part (names, shapes, input checks, the public methods and
the training loop); data.py draws a run's weights, batches and negative samples as the
book's code does; numpy_adapter.py, torch_adapter.py and jax_adapter.py hold the math,
mirrored definition by definition.
"""

from adapters.word2vec.contract import MODELS, SAMPLE_SIZE, WEIGHT_NAMES
from adapters.word2vec.data import Word2vecData, book_data, sample_negatives

__all__ = [
    "MODELS",
    "SAMPLE_SIZE",
    "WEIGHT_NAMES",
    "Word2vecData",
    "book_data",
    "sample_negatives",
]
