"""dataset/ptb.py's reading rules, on small files written here (nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import ptb, small_corpus

TRAIN = " the cat sat \n the dog sat on the mat \n"
VALID = " the dog sat \n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "ptb.train.txt").write_text(TRAIN)
    (tmp_path / "ptb.valid.txt").write_text(VALID)
    (tmp_path / "ptb.test.txt").write_text(" the mat \n")
    return tmp_path


def test_training_file_gives_the_vocabulary_with_eos_in_first_seen_order(folder):
    corpus, word_to_id, id_to_word = ptb.load_data(path=folder)
    assert list(word_to_id) == ["the", "cat", "sat", "<eos>", "dog", "on", "mat"]
    assert corpus.tolist() == [0, 1, 2, 3, 0, 4, 2, 5, 0, 6, 3]
    assert id_to_word == {i: w for w, i in word_to_id.items()}


def test_valid_and_test_use_the_training_vocabulary(folder):
    valid, word_to_id, _ = ptb.load_data("valid", path=folder)
    assert valid.tolist() == [0, 4, 2, 3] and len(word_to_id) == 7
    assert ptb.load_data("val", path=folder)[0].tolist() == valid.tolist()  # the book's alias
    assert ptb.load_data("test", path=str(folder))[0].tolist() == [0, 6, 3]


def test_the_folder_comes_from_the_environment_when_not_given(folder, monkeypatch):
    monkeypatch.setenv(ptb.ENV, str(folder))
    assert ptb.load_data()[0].size == 11


def test_a_folder_without_the_files_says_where_to_get_them(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"path: .*ptb.train.txt is missing.*tomsercu"):
        ptb.load_data(path=tmp_path)
    (tmp_path / "ptb.train.txt").write_text(TRAIN)
    with pytest.raises(FileNotFoundError, match="ptb.test.txt is missing"):
        ptb.load_data("test", path=tmp_path)
    monkeypatch.delenv(ptb.ENV, raising=False)
    with pytest.raises(ValueError, match=f"path: no PTB folder given and \\${ptb.ENV}"):
        ptb.load_data()


def test_bad_data_type_and_unknown_words_are_named(folder):
    with pytest.raises(ValueError, match="data_type must be one of train, valid"):
        ptb.load_data("training", path=folder)
    (folder / "ptb.test.txt").write_text(" the unicorn \n")
    with pytest.raises(ValueError, match="ptb.test.txt has the word 'unicorn'"):
        ptb.load_data("test", path=folder)


def test_the_small_corpus_is_ptb_text_with_every_word_in_use():
    text = small_corpus.text(sentences=3)
    assert text.count("\n") == 3 and all(line.startswith(" ") for line in text.splitlines())
    corpus, word_to_id, id_to_word = small_corpus.load_data()
    assert corpus.dtype == np.int64 and np.bincount(corpus).min() > 0
    assert "<eos>" in word_to_id and {"cat", "dog", "fish", "park"} <= set(word_to_id)
    assert np.array_equal(small_corpus.load_data()[0], corpus)  # the same text every time
