"""The learning view: each piece of the book's chapter 1 in NumPy, PyTorch and JAX.

`python -m comparisons rosetta` shows, concept by concept (`catalogue.CONCEPTS`: the data,
the weights, the layers, the loss, the backward pass, the optimizers, clipping, the
training step and loop, prediction, bit precision, the GPU), the book's code and the
minimal idiomatic PyTorch and JAX that does the same (`snippets/`, run by the tests
against the reference), what differs and why (English and Japanese), and where the
adapters prove it at scale. `ladder/` climbs from the book's NumPy to idiomatic PyTorch
and JAX one change at a time.
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
