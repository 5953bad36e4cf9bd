"""The Penn Treebank corpus as the book reads it (dataset/ptb.py), from files you provide.

`load_data("train" | "valid" | "test", path=...)` reads `ptb.train.txt` (and the file of
`data_type`) from a folder: `path`, else the folder named by the environment variable
SCRATCH_PARITY_PTB. Nothing is downloaded: the book fetches the three files from
https://raw.githubusercontent.com/tomsercu/lstm/master/data/ and a missing file is an
error that says so.

The book's vocabulary rules: every line's end becomes the word `<eos>`, the text is split
on whitespace, and ids are given in order of first appearance in the *training* file,
so the valid and test corpora use the training vocabulary (a word it lacks is an error).
The book caches the ids in .npy and .pkl files beside the data; this reads the text each
time (about a second for the training file) and writes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ENV = "SCRATCH_PARITY_PTB"
URL = "https://raw.githubusercontent.com/tomsercu/lstm/master/data/"
FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}


def words(text: str) -> list[str]:
    """The book's tokenisation: each newline becomes `<eos>`, then split on whitespace."""
    return text.replace("\n", "<eos>").strip().split()


def vocabulary(train_words: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """(word_to_id, id_to_word), ids in order of first appearance."""
    word_to_id: dict[str, int] = {}
    id_to_word: dict[int, str] = {}
    for word in train_words:
        if word not in word_to_id:
            new_id = len(word_to_id)
            word_to_id[word] = new_id
            id_to_word[new_id] = word
    return word_to_id, id_to_word


def to_ids(text_words: list[str], word_to_id: dict[str, int], source: str) -> np.ndarray:
    """The words' ids (int64); ValueError naming `source` and the first unknown word."""
    try:
        return np.array([word_to_id[w] for w in text_words])
    except KeyError as err:
        raise ValueError(f"{source} has the word {err.args[0]!r}, not in the vocabulary") from None


def folder(path: str | os.PathLike | None) -> Path:
    """The data folder: `path`, else $SCRATCH_PARITY_PTB; ValueError when neither is set."""
    if path is None:
        path = os.environ.get(ENV)
        if not path:
            raise ValueError(
                f"path: no PTB folder given and ${ENV} is not set. Put ptb.train.txt, "
                f"ptb.valid.txt and ptb.test.txt (from {URL}) in a folder and pass "
                f"path=FOLDER or set {ENV}=FOLDER"
            )
    return Path(path)


def read(where: Path, data_type: str) -> str:
    """The text of `data_type`'s file in `where`; FileNotFoundError saying where to get it."""
    file = where / FILES[data_type]
    if not file.is_file():
        raise FileNotFoundError(
            f"path: {file} is missing. The PTB folder must hold {', '.join(FILES.values())}; "
            f"download them from {URL} (the book's dataset/ptb.py fetches them from there)"
        )
    return file.read_text(encoding="utf-8")


def load_data(
    data_type: str = "train", *, path: str | os.PathLike | None = None
) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """(corpus, word_to_id, id_to_word) of the PTB `data_type` ("train", "valid" (or
    "val"), "test"), with the training file's vocabulary."""
    if data_type == "val":  # the book's alias
        data_type = "valid"
    if data_type not in FILES:
        raise ValueError(f"data_type must be one of train, valid (val), test; got {data_type!r}")
    where = folder(path)
    train_words = words(read(where, "train"))
    word_to_id, id_to_word = vocabulary(train_words)
    if data_type == "train":
        return to_ids(train_words, word_to_id, FILES["train"]), word_to_id, id_to_word
    corpus = to_ids(words(read(where, data_type)), word_to_id, FILES[data_type])
    return corpus, word_to_id, id_to_word
