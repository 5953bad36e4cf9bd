"""Short word2vec runs shared by the tests: each model's data drawn as the book's code
draws it (adapters.word2vec.book_data), small enough to train in every framework and
mode in a few seconds."""

from __future__ import annotations

import functools

from adapters.word2vec import Word2vecData, book_data
from scratch import small_corpus
from scratch.util import preprocess

MODELS = ("simple_cbow", "simple_skip_gram", "cbow", "skip_gram")
BOOK_TEXT = "You say goodbye and I say hello."  # ch03/train.py's data


@functools.cache
def short_run(model: str, dtype: str = "float64") -> Word2vecData:
    """60 steps: ch03's sentence (batch 3) for the simple models; for cbow and skip_gram
    60 sentences of the small corpus, window 2, hidden 5, batch 20. Cached: read-only."""
    if model.startswith("simple"):
        corpus = preprocess(BOOK_TEXT)[0]
        return book_data(model, corpus, hidden_size=5, batch_size=3, max_epoch=30, dtype=dtype)
    corpus = small_corpus.load_data(sentences=60, seed=3)[0]
    return book_data(
        model, corpus, hidden_size=5, batch_size=20, max_epoch=3, window_size=2, dtype=dtype
    )
