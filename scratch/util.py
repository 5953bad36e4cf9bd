"""The text tools of chapters 2-4 (common/util.py): words to ids, counts, similarity.

`preprocess` turns a sentence into a corpus of word ids; `create_co_matrix` and `ppmi`
are the count-based method of chapter 2; `create_contexts_target` and `convert_one_hot`
make word2vec's training data (chapter 3); `cos_similarity`, `most_similar` and
`analogy` query the word vectors. Each gives the book's values; the loops the book
writes element by element run as whole-array operations here (the same numbers, in a
fraction of the time on the PTB corpus). `most_similar` and `analogy` print as the book
does and also return what they printed, as (word, similarity) pairs.

`clip_grads` lives in scratch/trainer.py, beside the Trainer that uses it; it is
re-exported here, where the book keeps it.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

from scratch import word_ids
from scratch.trainer import clip_grads

COS_EPS = 1e-8  # cos_similarity's guard against dividing by a zero vector
PPMI_EPS = 1e-8  # ppmi's guard against log2(0)


def preprocess(text: str) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """(corpus, word_to_id, id_to_word) of `text` (§2.3.1).

    Lower-cased, a space put before every '.', split on single spaces; ids in order of
    first appearance. `corpus` is an int64 array of the words' ids.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = text.lower().replace(".", " .").split(" ")
    word_to_id: dict[str, int] = {}
    id_to_word: dict[int, str] = {}
    for word in words:
        if word not in word_to_id:
            new_id = len(word_to_id)
            word_to_id[word] = new_id
            id_to_word[new_id] = word
    corpus = np.array([word_to_id[w] for w in words])
    return corpus, word_to_id, id_to_word


def create_co_matrix(corpus: np.ndarray, vocab_size: int, window_size: int = 1) -> np.ndarray:
    """The co-occurrence matrix (vocab_size, vocab_size) int32 (§2.3.4): entry [w, c]
    counts how often c stands within `window_size` words of w."""
    vocab_size = word_ids.positive_int(vocab_size, "vocab_size")
    window_size = word_ids.positive_int(window_size, "window_size", " (words on each side)")
    corpus = word_ids.ids(corpus, "corpus", vocab_size, ndim=1)
    co_matrix = np.zeros((vocab_size, vocab_size), dtype=np.int32)
    for i in range(1, window_size + 1):  # the word i to the left and i to the right
        np.add.at(co_matrix, (corpus[i:], corpus[:-i]), 1)  # right word, its left neighbour
        np.add.at(co_matrix, (corpus[:-i], corpus[i:]), 1)  # left word, its right neighbour
    return co_matrix


def cos_similarity(x: np.ndarray, y: np.ndarray, eps: float = COS_EPS) -> float:
    """x . y / (|x| |y|), each vector normalised first with `eps` added to its norm
    (§2.3.5), so a zero vector gives 0 instead of a division by zero."""
    nx = x / (np.sqrt(np.sum(x**2)) + eps)
    ny = y / (np.sqrt(np.sum(y**2)) + eps)
    return np.dot(nx, ny)


def most_similar(
    query: str,
    word_to_id: dict[str, int],
    id_to_word: dict[int, str],
    word_matrix: np.ndarray,
    top: int = 5,
) -> list[tuple[str, float]] | None:
    """Print the `top` words whose vectors are closest to `query`'s by cosine similarity
    (§2.3.6), as the book does; also return them as (word, similarity) pairs. A query
    not in the vocabulary is reported ("... is not found") and gives None."""
    if query not in word_to_id:
        print(f"{query} is not found")
        return None
    top = word_ids.positive_int(top, "top")
    print("\n[query] " + query)
    query_vec = word_matrix[word_to_id[query]]
    vocab_size = len(id_to_word)
    similarity = np.zeros(vocab_size)
    for i in range(vocab_size):
        similarity[i] = cos_similarity(word_matrix[i], query_vec)
    found = []
    for i in (-1 * similarity).argsort():
        if id_to_word[i] == query:
            continue
        print(f" {id_to_word[i]}: {similarity[i]}")
        found.append((id_to_word[i], float(similarity[i])))
        if len(found) >= top:
            break
    return found


def convert_one_hot(corpus: np.ndarray, vocab_size: int) -> np.ndarray:
    """One-hot rows of the ids (§3.1.3), int32: (N,) -> (N, V), (N, C) -> (N, C, V)."""
    vocab_size = word_ids.positive_int(vocab_size, "vocab_size")
    corpus = word_ids.ids(corpus, "corpus", vocab_size)
    if corpus.ndim not in (1, 2):
        raise ValueError(f"corpus must be 1-D (N,) or 2-D (N, C), got shape {corpus.shape}")
    one_hot = np.zeros((*corpus.shape, vocab_size), dtype=np.int32)  # (..., V)
    np.put_along_axis(one_hot, corpus[..., None], 1, axis=-1)
    return one_hot


def ppmi(C: np.ndarray, verbose: bool = False, eps: float = PPMI_EPS) -> np.ndarray:
    """Positive pointwise mutual information of a co-occurrence matrix, float32 (§2.4.1):
    max(0, log2(C[i, j] N / (S[i] S[j]) + eps)), N the total count, S the column sums.

    Computed a row at a time with the book's formula (the same float64 operations, so
    the same values); `verbose` prints the book's progress lines.
    """
    C = np.asarray(C)
    if C.ndim != 2 or C.shape[0] != C.shape[1] or C.dtype.kind not in "iuf":
        raise ValueError(
            f"C must be a square co-occurrence matrix of counts, got shape {C.shape} "
            f"dtype {C.dtype}"
        )
    M = np.zeros_like(C, dtype=np.float32)
    N = np.sum(C)
    S = np.sum(C, axis=0)
    total = C.shape[0] * C.shape[1]
    report_every = total // 100 + 1
    with np.errstate(divide="ignore", invalid="ignore"):  # a word never seen: 0 below
        for i in range(C.shape[0]):
            pmi = np.log2(C[i] * N / (S * S[i]) + eps)  # (V,)
            M[i] = np.where(pmi > 0, pmi, 0)  # the book's max(0, pmi): NaN gives 0
            if verbose:  # the book counts elements and reports every total // 100 + 1
                first = -(-(i * C.shape[1] + 1) // report_every) * report_every
                for cnt in range(first, (i + 1) * C.shape[1] + 1, report_every):
                    print(f"{100 * cnt / total:.1f}% done")
    return M


def create_contexts_target(
    corpus: np.ndarray, window_size: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(contexts (N, 2 window_size), target (N,)) of a corpus (§3.3.1): each word that
    has `window_size` words on both sides, and those words, left to right."""
    window_size = word_ids.positive_int(window_size, "window_size", " (words on each side)")
    corpus = word_ids.ids(corpus, "corpus", ndim=1)
    if len(corpus) <= 2 * window_size:
        raise ValueError(
            f"corpus has {len(corpus)} words: a window_size of {window_size} needs at least "
            f"{2 * window_size + 1}"
        )
    n = len(corpus) - 2 * window_size
    offsets = [t for t in range(-window_size, window_size + 1) if t != 0]
    contexts = np.stack([corpus[window_size + t : window_size + t + n] for t in offsets], axis=1)
    target = corpus[window_size:-window_size].copy()
    return contexts, target  # (N, 2 window_size), (N,)


def normalize(x: np.ndarray) -> np.ndarray:
    """x divided by its L2 norm (a vector) or each row by its own (a matrix). The book
    divides in place; this returns a new array and leaves `x` as it was."""
    if x.ndim == 2:
        s = np.sqrt((x * x).sum(1))
        return x / s.reshape((s.shape[0], 1))
    if x.ndim == 1:
        return x / np.sqrt((x * x).sum())
    raise ValueError(f"normalize: x must be 1-D or 2-D, got shape {x.shape}")


def analogy(
    a: str,
    b: str,
    c: str,
    word_to_id: dict[str, int],
    id_to_word: dict[int, str],
    word_matrix: np.ndarray,
    top: int = 5,
    answer: str | None = None,
) -> list[tuple[str, float]] | None:
    """a : b = c : ? (§4.4.1): print the `top` words closest to normalize(b - a + c) by
    dot product with the (unnormalised) word vectors, skipping a, b and c, as the book
    does; also return them. A word not in the vocabulary is reported and gives None."""
    for word in (a, b, c):
        if word not in word_to_id:
            print(f"{word} is not found")
            return None
    top = word_ids.positive_int(top, "top")
    print(f"\n[analogy] {a}:{b} = {c}:?")
    a_vec, b_vec, c_vec = (word_matrix[word_to_id[w]] for w in (a, b, c))
    query_vec = normalize(b_vec - a_vec + c_vec)
    similarity = np.dot(word_matrix, query_vec)
    if answer is not None:
        score = np.dot(word_matrix[word_to_id[answer]], query_vec)
        print(f"==>{answer}:{score!s}")  # str(), as the book: float32 prints its 8 digits
    found = []
    for i in (-1 * similarity).argsort():
        if np.isnan(similarity[i]) or id_to_word[i] in (a, b, c):
            continue
        print(f" {id_to_word[i]}: {similarity[i]}")
        found.append((id_to_word[i], float(similarity[i])))
        if len(found) >= top:
            break
    return found


def eval_perplexity(
    model, corpus: np.ndarray, batch_size: int = 10, time_size: int = 35, *, verbose: bool = True
) -> float:
    """exp(mean loss) of a language model over `corpus` (§5.5.3), read as the book's
    common/util.py reads it: batch_size rows starting (len(corpus) - 1) // batch_size
    apart, time_size words a block, each target the next word; dropout off
    (`train_flg=False`) for a model that has it. The model's recurrent state carries on
    from block to block (and from whatever it held before: `reset_state()` first, as the
    book's scripts do). Prints the book's progress unless `verbose` is False.
    """
    corpus = word_ids.ids(corpus, "corpus", getattr(model, "vocab_size", None), ndim=1)
    for name, value in (("batch_size", batch_size), ("time_size", time_size)):
        word_ids.positive_int(value, name)
    corpus_size = len(corpus)
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    if max_iters < 1:
        raise ValueError(
            f"time_size {time_size} is too long for the corpus: one block reads batch_size * "
            f"time_size = {batch_size * time_size} words and their targets, but the corpus "
            f"holds {corpus_size}"
        )
    jump = (corpus_size - 1) // batch_size
    dropout = "train_flg" in inspect.signature(model.forward).parameters
    if verbose:
        print("evaluating perplexity ...")
    total_loss = 0
    starts = np.arange(batch_size)[:, None] * jump + np.arange(time_size)  # (batch, time)
    for iters in range(max_iters):
        where = starts + iters * time_size
        xs = corpus[where % corpus_size].astype(np.int32)  # the book's int32 blocks
        ts = corpus[(where + 1) % corpus_size].astype(np.int32)
        loss = model.forward(xs, ts, train_flg=False) if dropout else model.forward(xs, ts)
        total_loss += loss
        if verbose:
            sys.stdout.write(f"\r{iters} / {max_iters}")
            sys.stdout.flush()
    if verbose:
        print("")
    return float(np.exp(total_loss / max_iters))


__all__ = [
    "analogy",
    "clip_grads",
    "convert_one_hot",
    "cos_similarity",
    "create_co_matrix",
    "create_contexts_target",
    "eval_perplexity",
    "most_similar",
    "normalize",
    "ppmi",
    "preprocess",
]
