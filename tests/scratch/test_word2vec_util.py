"""common/util.py's text tools (chapters 2-4): the book's printed results on its sentence."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import util
from scratch.trainer import clip_grads

TEXT = "You say goodbye and I say hello."  # the book's sentence (§2.3.1)
# §2.3.4's co-occurrence matrix of TEXT with window_size 1, as the book prints it
BOOK_C = np.array(
    [
        [0, 1, 0, 0, 0, 0, 0],
        [1, 0, 1, 0, 1, 1, 0],
        [0, 1, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 1, 0, 0],
        [0, 1, 0, 1, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0],
    ]
)


@pytest.fixture(scope="module")
def book():
    return util.preprocess(TEXT)


def test_preprocess_gives_the_books_ids(book):
    corpus, word_to_id, id_to_word = book
    assert corpus.tolist() == [0, 1, 2, 3, 4, 1, 5, 6]
    assert id_to_word == {0: "you", 1: "say", 2: "goodbye", 3: "and", 4: "i", 5: "hello", 6: "."}
    assert word_to_id == {w: i for i, w in id_to_word.items()}


def test_co_matrix_is_the_books_and_counts_wider_windows(book):
    corpus, word_to_id, _ = book
    C = util.create_co_matrix(corpus, len(word_to_id))
    assert C.dtype == np.int32 and np.array_equal(C, BOOK_C)
    wide = util.create_co_matrix(corpus, len(word_to_id), window_size=2)
    assert wide[0].tolist() == [0, 1, 1, 0, 0, 0, 0]  # "you": "say" and "goodbye"
    assert np.array_equal(wide, wide.T) and wide.sum() == 2 * (7 + 6)  # pairs at 1 and 2


def test_cos_similarity_and_most_similar_print_the_books_values(book, capsys):
    corpus, word_to_id, id_to_word = book
    C = util.create_co_matrix(corpus, len(word_to_id))
    assert util.cos_similarity(C[0], C[4]) == 0.7071067691154799  # you, i (§2.3.5)
    found = util.most_similar("you", word_to_id, id_to_word, C, top=5)
    # the book prints goodbye, i, hello, say, and (§2.3.6); ties come in the order
    # argsort leaves them, which has changed with NumPy (its own code now prints this)
    assert capsys.readouterr().out.splitlines() == [
        "",
        "[query] you",
        " goodbye: 0.7071067691154799",
        " hello: 0.7071067691154799",
        " i: 0.7071067691154799",
        " and: 0.0",
        " say: 0.0",
    ]
    assert found[:3] == [(w, 0.7071067691154799) for w in ("goodbye", "hello", "i")]
    assert util.most_similar("cat", word_to_id, id_to_word, C) is None
    assert capsys.readouterr().out == "cat is not found\n"


def test_ppmi_is_the_books_matrix(book):
    corpus, word_to_id, _ = book
    M = util.ppmi(util.create_co_matrix(corpus, len(word_to_id)))
    assert M.dtype == np.float32
    assert np.round(M[1].astype(float), 3).tolist() == [1.807, 0, 0.807, 0, 0.807, 0.807, 0]
    assert round(float(M[5, 6]), 3) == 2.807 and np.array_equal(M, M.T)  # §2.4.1
    want = np.log2(BOOK_C[0, 1] * 14 / (BOOK_C[:, 0].sum() * BOOK_C[:, 1].sum()) + 1e-8)
    assert M[0, 1] == np.float32(want)  # the book's formula, element by element


def test_ppmi_of_a_word_never_seen_is_zero_without_a_warning(recwarn):
    C = np.array([[0, 2, 0], [2, 0, 0], [0, 0, 0]])  # word 2 never co-occurs
    M = util.ppmi(C)
    assert M[2].tolist() == [0, 0, 0] and not recwarn.list


def test_ppmi_verbose_prints_the_books_progress(capsys):
    util.ppmi(np.ones((10, 10), dtype=np.int32), verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2.0% done" and lines[-1] == "100.0% done" and len(lines) == 50


def test_contexts_and_target_are_the_books(book):
    corpus, _, _ = book
    contexts, target = util.create_contexts_target(corpus, window_size=1)
    assert contexts.tolist() == [[0, 2], [1, 3], [2, 4], [3, 1], [4, 5], [1, 6]]  # §3.3.1
    assert target.tolist() == [1, 2, 3, 4, 1, 5]
    contexts, target = util.create_contexts_target(corpus, window_size=2)
    assert contexts.tolist() == [[0, 1, 3, 4], [1, 2, 4, 1], [2, 3, 1, 5], [3, 4, 5, 6]]
    assert target.tolist() == [2, 3, 4, 1]
    target[0] = 99
    assert corpus[2] == 2  # a copy, not a view of the corpus


def test_convert_one_hot_of_ids_and_of_contexts(book):
    corpus, _, _ = book
    contexts, target = util.create_contexts_target(corpus)
    one_hot = util.convert_one_hot(target, 7)
    assert one_hot.dtype == np.int32 and one_hot.shape == (6, 7)
    assert np.array_equal(one_hot.argmax(axis=1), target) and one_hot.sum() == 6
    three = util.convert_one_hot(contexts, 7)
    assert three.shape == (6, 2, 7) and np.array_equal(three.argmax(axis=2), contexts)


def test_analogy_ranks_by_dot_product_and_skips_the_question(capsys):
    word_to_id = {"man": 0, "king": 1, "woman": 2, "queen": 3, "car": 4}
    id_to_word = {i: w for w, i in word_to_id.items()}
    W = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1], [0.1, 0.2, -1.0]])
    found = util.analogy("man", "king", "woman", word_to_id, id_to_word, W, top=2)
    assert [w for w, _ in found] == ["queen", "car"]
    np.testing.assert_allclose(found[0][1], 2 / np.sqrt(2), rtol=1e-15)  # (0,1,1).(0,1,1)/|.|
    assert capsys.readouterr().out.startswith("\n[analogy] man:king = woman:?\n queen: ")
    assert util.analogy("man", "king", "robot", word_to_id, id_to_word, W) is None


def test_normalize_leaves_its_argument_alone():
    x = np.array([[3.0, 4.0], [0.0, 2.0]])
    assert util.normalize(x).tolist() == [[0.6, 0.8], [0.0, 1.0]]
    assert x.tolist() == [[3.0, 4.0], [0.0, 2.0]]


def test_clip_grads_is_re_exported_where_the_book_keeps_it():
    assert util.clip_grads is clip_grads


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: util.create_contexts_target(np.arange(9), 0), "window_size must be an int >= 1"),
        (lambda: util.create_contexts_target(np.arange(4), 2), "needs at least 5"),
        (lambda: util.create_contexts_target(np.array([0, -1, 2]), 1), "corpus holds .* -1"),
        (lambda: util.create_co_matrix(np.array([0, 7, 1]), 7), "corpus holds the word id 7"),
        (lambda: util.create_co_matrix(np.arange(5), 5, window_size=-1), "window_size"),
        (lambda: util.convert_one_hot(np.array([[0, 3]]), 3), r"outside the vocabulary \[0, 3\)"),
        (lambda: util.convert_one_hot(np.array([0.0, 1.0]), 3), "integer word ids"),
        (lambda: util.ppmi(np.ones((2, 3), dtype=int)), "square co-occurrence matrix"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
