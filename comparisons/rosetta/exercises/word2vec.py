"""The exercises of notebook 4, word2vec (chapters 3-4): "word2vec-1" ... "word2vec-3".
The rows a fancy-index `+=` loses are counted on the notebook's batch, the weight the
sampler gives a rare word is read from the book's UnigramSampler, and the arrays a CBOW
lists are counted on a CBOW built as the notebook builds it.
"""

from __future__ import annotations

import functools

import numpy as np

from comparisons.rosetta.exercises.exercise import Exercise, number
from scratch import small_corpus
from scratch.cbow import CBOW
from scratch.negative_sampling_layer import UnigramSampler
from scratch.trainer import remove_duplicate
from scratch.util import create_contexts_target


@functools.cache
def _corpus():
    """The notebook's corpus and its CBOW contexts (window 2)."""
    corpus, word_to_id, _ = small_corpus.load_data()
    contexts, _ = create_contexts_target(corpus, window_size=2)
    return corpus, len(word_to_id), contexts


def _rows_lost(answer: object) -> bool:
    _, vocab_size, contexts = _corpus()
    idx = contexts[:100, 0]  # the ids the first context layer reads
    dout = np.random.RandomState(0).randn(len(idx), 3)  # 100 different rows
    dW = np.zeros((vocab_size, 3))
    dW[idx] += dout  # the slip the book warns of
    kept = {tuple(row) for row in dW[np.unique(idx)]}  # the rows of dout still there
    return number(answer) == sum(tuple(row) not in kept for row in dout)


def _rare_word_factor(answer: object) -> bool:
    corpus, vocab_size, _ = _corpus()
    counts = np.bincount(corpus, minlength=vocab_size)
    sampler = UnigramSampler(corpus, 0.75, 5, rng=np.random.RandomState(0))
    rare = counts.argmin()
    factor = sampler.word_p[rare] / (counts[rare] / counts.sum())
    given = number(answer)
    return given is not None and abs(given - factor) <= 1e-3 * factor


def _arrays_listed(answer: object) -> bool:
    corpus, vocab_size, _ = _corpus()
    model = CBOW(vocab_size, 20, 2, corpus, rng=np.random.RandomState(1984))
    before = len(model.params)
    after = len(remove_duplicate(model.params, model.grads)[0])
    try:
        pair = tuple(number(a) for a in answer)  # type: ignore[union-attr]
    except TypeError:
        return False
    return pair == (before, after)


EXERCISES: dict[str, Exercise] = {
    "word2vec-1": Exercise(
        _rows_lost,
        why={
            "en": "Every id that occurs k times in idx keeps one of its k rows (the last "
            "write wins): len(idx) - len(np.unique(idx)) rows are lost, most of them of the "
            "commonest words. np.add.at adds all k.",
            "ja": "idx に k 回現れる ID は、k 行のうち1行しか残りません（最後に書いた行が"
            "勝ちます）。失われるのは len(idx) - len(np.unique(idx)) 行で、その多くは"
            "よく現れる単語の行です。np.add.at は k 行すべてを足します。",
        },
        hint={
            "en": "Answer with a count of rows. For an id that occurs k times in idx, how "
            "many of its k rows of dout are still in dW after `dW[idx] += dout`?",
            "ja": "行の数で答えてください。idx に k 回現れる ID について、"
            "`dW[idx] += dout` の後の dW には dout の k 行のうち何行が残っているでしょうか。",
        },
    ),
    "word2vec-2": Exercise(
        _rare_word_factor,
        why={
            "en": "The power 0.75 flattens the distribution: the rarest word is drawn more "
            "often than its count alone would give, by that factor, and 'the' less often, "
            "so rare words also serve as negative examples (§4.2.6).",
            "ja": "0.75 乗は分布を平らにします。最も少ない単語は出現回数だけから決まる確率の"
            "その倍率だけ多く選ばれ、'the' はより少なく選ばれるので、まれな単語も負例として"
            "使われます（4.2.6節）。",
        },
        hint={
            "en": "Answer with a number, the ratio of two probabilities of one word. "
            "np.bincount(corpus) gives the counts: the plain probability is count / total; "
            "the sampler's is in sampler.word_p (count ** 0.75, normalised).",
            "ja": "ある1語の2つの確率の比を数で答えてください。np.bincount(corpus) が出現"
            "回数です。そのままの確率は 回数 / 合計、サンプラーの確率は sampler.word_p "
            "（回数の 0.75 乗を正規化したもの）にあります。",
        },
    ),
    "word2vec-3": Exercise(
        _arrays_listed,
        why={
            "en": "10 and 2: each of the 2 * window_size = 4 context layers lists W_in and "
            "each of the 1 + 5 EmbeddingDot layers of the negative-sampling loss lists "
            "W_out; remove_duplicate keeps each array once and adds up its gradients, so "
            "the optimizer updates each weight once.",
            "ja": "10 と 2 です。2 * window_size = 4 個のコンテキストのレイヤがそれぞれ W_in "
            "を、Negative Sampling の損失の 1 + 5 個の EmbeddingDot レイヤがそれぞれ W_out "
            "を持ちます。remove_duplicate は各配列を1つだけ残して勾配を足し合わせるので、"
            "最適化手法は各重みを1度だけ更新します。",
        },
        hint={
            "en": "Answer with a pair (before, after). Which layers list W_in, and how many "
            "EmbeddingDot layers does NegativeSamplingLoss make (sample_size is 5)?",
            "ja": "(前, 後) の組で答えてください。W_in を持つのはどのレイヤでしょう。"
            "NegativeSamplingLoss は EmbeddingDot レイヤをいくつ作るでしょう"
            "（sample_size は 5）。",
        },
    ),
}
