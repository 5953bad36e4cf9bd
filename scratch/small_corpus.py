"""A small corpus this project writes itself, in the PTB's format: the default data of the
word2vec runs (nothing to download, a few seconds of training).

Sentences are made from a handful of patterns ("the cat eats fish", "you go to the park",
"the dog is big") whose slots are filled from word groups (animals, foods, places,
people, sizes, colours), one sentence a line, so each line ends in `<eos>` as PTB's do.
Words of a group stand in the same contexts, so a trained CBOW puts them near each other:
`most_similar("cat", ...)` finds the other animals, as the book's PTB vectors find
"i" near "we" and "you" (§4.4.1).

Drawn from its own `np.random.RandomState(seed)`: the same text every time, and NumPy's
global generator untouched.
"""

from __future__ import annotations

import numpy as np

from scratch import ptb, word_ids

GROUPS = {
    "animal": ("cat", "dog", "fox", "bird", "horse", "cow", "sheep"),
    "food": ("fish", "meat", "bread", "rice", "apples", "cheese"),
    "place": ("park", "school", "river", "city", "market", "station"),
    "person": ("you", "i", "he", "she", "we", "they"),
    "size": ("big", "small", "old", "young", "happy"),
    "colour": ("red", "blue", "green", "white"),
    "eat": ("eats", "likes", "wants", "finds"),
    "go": ("go", "walk", "run", "drive"),
    "greeting": ("hello", "goodbye"),
}
PATTERNS = (
    "the {animal} {eat} {food}",
    "the {animal} {eat} the {colour} {food}",
    "{person} {go} to the {place}",
    "{person} {go} to the {place} with the {animal}",
    "the {animal} is {size}",
    "the {animal} in the {place} is {size}",
    "{person} say {greeting} and {person} say {greeting}",
    "{person} see the {size} {animal} at the {place}",
)


def text(sentences: int = 1200, seed: int = 0) -> str:
    """`sentences` lines of PTB-style text: one sentence a line, written as PTB writes
    them, with a space before the first word and after the last (the book's reader turns
    each newline into `<eos>` and relies on those spaces to keep it a word of its own)."""
    sentences = word_ids.positive_int(sentences, "sentences")
    rng = np.random.RandomState(seed)
    lines = []
    for _ in range(sentences):
        pattern = PATTERNS[rng.randint(len(PATTERNS))]
        lines.append(f" {_fill(pattern, rng)} \n")
    return "".join(lines)


def _fill(pattern: str, rng: np.random.RandomState) -> str:
    out = []
    for token in pattern.split():
        if token.startswith("{"):
            group = GROUPS[token[1:-1]]
            token = group[rng.randint(len(group))]
        out.append(token)
    return " ".join(out)


def load_data(
    sentences: int = 1200, seed: int = 0
) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """(corpus, word_to_id, id_to_word) of `text(sentences, seed)`, with the PTB reader's
    rules (scratch/ptb.py): `<eos>` at each line's end, ids in order of first appearance."""
    all_words = ptb.words(text(sentences, seed))
    word_to_id, id_to_word = ptb.vocabulary(all_words)
    return ptb.to_ids(all_words, word_to_id, "the small corpus"), word_to_id, id_to_word
