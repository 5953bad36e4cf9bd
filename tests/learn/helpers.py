"""What the learning-path tests share: the book's data and weights, framework state."""

from __future__ import annotations

import contextlib

import numpy as np

from comparisons import parity
from scratch import init_weights, spiral
from scratch.trainer import shuffled_batches


def book_start(epochs: int = 1):
    """x (300, 2), one-hot t (300, 3), the book's weights and `epochs` of its batches,
    all from one RandomState(1984) as ch01/train_custom_loop.py draws them."""
    rng = np.random.RandomState(1984)
    x, t = spiral.load_data(rng=rng)
    w = init_weights(2, 10, 3, rng=rng)
    return x, t, w, shuffled_batches(len(x), 30, epochs, rng)


def book_rng_after_data() -> np.random.RandomState:
    """The book's generator right after load_data: the next draws are W1, W2."""
    rng = np.random.RandomState(1984)
    spiral.load_data(rng=rng)
    return rng


def agree(quantity: str, ref: dict, other: dict, **override) -> None:
    """The parity table's float64 tolerance for `quantity`; AssertionError with the table."""
    parity.assert_close(ref, other, dtype="float64", quantity=quantity, **override)


@contextlib.contextmanager
def framework_state():
    """torch's generator forked (nn.Linear draws its throwaway init from it) and JAX in
    float64 (jax_enable_x64), both put back on exit."""
    import jax
    import torch

    with torch.random.fork_rng(devices=[]), jax.enable_x64(True):
        yield


def rendered(concepts, chapters: tuple[int, ...], snippet_test: str) -> dict[str, dict[str, str]]:
    """The Rosetta's `concepts` of a later chapter checked as chapter 1's are wired: each in
    the catalogue, in one of `chapters`, titled and explained in en and ja, its text naming
    its own chapter and its snippet test in `snippet_test`; then their code as shown,
    {concept id: {framework: code}}."""
    from comparisons import rosetta
    from comparisons.rosetta.catalogue import section_key

    for c in concepts:
        chapter = section_key(c)[0]
        assert rosetta.concept(c.id) is c and chapter in chapters, c.id
        assert set(c.title) == set(c.differs) == {"en", "ja"}
        for lang, head in (("en", f"chapter {chapter} in"), ("ja", f"本の第{chapter}章を")):
            text = rosetta.render_text([c], lang=lang, width=200)
            assert head in text.splitlines()[0], text.splitlines()[0]  # its own chapter
            assert f"{snippet_test}::test_{c.id}_snippets_agree_with_the_reference" in text
    return {c.id: {fw: rosetta.code(c, fw) for fw in rosetta.FRAMEWORKS} for c in concepts}
