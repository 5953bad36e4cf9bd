"""The learning view: each piece of the book's chapters 1-6 in NumPy, PyTorch and JAX.

`python -m comparisons rosetta` shows, concept by concept in the book's order
(`catalogue.CONCEPTS`, sorted by section: chapter 1's layers, loss, backward pass,
optimizers, data, training loop, bit precision and GPU; chapters 2-4's nearest words,
shared weights, Embedding and negative sampling; chapters 5-6's truncated BPTT, RNN, loss
over time, LSTM, dropout and weight tying), the book's code and the minimal idiomatic
PyTorch and JAX that does the same (`snippets/`, run by the tests against the reference)
side by side, step by step, what differs and why (English and Japanese), and where the
adapters prove it at scale. `ladder/` climbs from the book's NumPy to idiomatic PyTorch
and JAX one change at a time (chapter 1's network); `exercises` judges the notebooks'
exercises (`check`), and `notebooks` runs the notebooks and stores their outputs
(`make notebooks`).
"""

from comparisons.rosetta.catalogue import CONCEPTS, FRAMEWORKS, IDS, LANGS, Concept, concept
from comparisons.rosetta.render import (
    MAX_WIDTH,
    MIN_WIDTH,
    code,
    render_html,
    render_list,
    render_markdown,
    render_text,
)

__all__ = [
    "CONCEPTS",
    "FRAMEWORKS",
    "IDS",
    "LANGS",
    "MAX_WIDTH",
    "MIN_WIDTH",
    "Concept",
    "code",
    "concept",
    "render_html",
    "render_list",
    "render_markdown",
    "render_text",
]
