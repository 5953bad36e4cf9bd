"""The exercises of notebook 5, the recurrent language models (chapters 5-6):
"rnnlm-1" ... "rnnlm-3". Where a block starts is read from the trainer's own blocks, the
perplexity of a model that knows nothing is computed by the book's loss layer, and the
gate order from the adapters' weight map.
"""

from __future__ import annotations

import functools

import numpy as np

from comparisons.rosetta.exercises.exercise import Exercise, number
from scratch import small_corpus
from scratch.time_layers import TimeSoftmaxWithLoss
from scratch.trainer import rnnlm_batches


@functools.cache
def _text():
    """The notebook's words: the first 1000 of the small corpus, and its vocabulary size
    as ch05/train.py sizes it."""
    train = small_corpus.load_data()[0][:1000]
    return train[:-1], int(train.max()) + 1


def _block_start(answer: object) -> bool:
    xs, _ = _text()
    blocks = rnnlm_batches(len(xs), 10, 5, 20)  # (steps, batch_size, time_size)
    return number(answer) == blocks[19][2][0]


def _uniform_perplexity(answer: object) -> bool:
    _, vocab_size = _text()
    scores = np.zeros((2, 3, vocab_size))  # every word the same score: probability 1 / V
    loss = TimeSoftmaxWithLoss().forward(scores, np.arange(6).reshape(2, 3) % vocab_size)
    given = number(answer)
    return given is not None and abs(given - np.exp(loss)) <= 1e-6 * np.exp(loss)


def _gate_blocks(answer: object) -> bool:
    from adapters.rnnlm.contract import book_to_framework_gates

    order = book_to_framework_gates(np.arange(4.0)).tolist()  # one element a block
    try:
        given = [number(a) for a in answer]  # type: ignore[union-attr]
    except TypeError:
        return False
    return given == order


EXERCISES: dict[str, Exercise] = {
    "rnnlm-1": Exercise(
        _block_start,
        why={
            "en": "293: row 3 starts at offset 2 * (999 // 10) = 198 and every block moves it "
            "on by time_size = 5, so the 20th starts at 198 + 19 * 5. An epoch is 19 blocks, "
            "but time_idx does not restart: the 20th block reads on.",
            "ja": "293 です。3行目はオフセット 2 * (999 // 10) = 198 から始まり、ミニバッチ"
            "ごとに time_size = 5 ずつ進むので、20番目は 198 + 19 * 5 から始まります。"
            "1エポックは19個のミニバッチですが、time_idx は0に戻らず、20番目も続きを読みます。",
        },
        hint={
            "en": "Answer with a position in xs. Row i starts at offset i * (len(xs) // "
            "batch_size), and each block moves every row on by time_size.",
            "ja": "xs の中の位置で答えてください。i 行目はオフセット "
            "i * (len(xs) // batch_size) から始まり、ミニバッチごとにどの行も time_size "
            "ずつ進みます。",
        },
    ),
    "rnnlm-2": Exercise(
        _uniform_perplexity,
        why={
            "en": "vocab_size: every word has probability 1 / V, so the mean loss is log V and "
            "the perplexity exp(log V) = V. The trained models above start near it and end "
            "near 3, as if choosing between about three words.",
            "ja": "vocab_size です。どの単語の確率も 1 / V なので損失の平均は log V、"
            "パープレキシティは exp(log V) = V です。上で学習したモデルはこの値の近くから"
            "始まり、3 の近くで終わります。約3語の中から選んでいるのと同じです。",
        },
        hint={
            "en": "Answer with a number. Each word gets probability 1 / vocab_size; the "
            "perplexity is exp of the mean of -log p over the positions (§5.5.2).",
            "ja": "数で答えてください。どの単語の確率も 1 / vocab_size です。パープレキシティ"
            "は各位置の -log p の平均の exp です（5.5.2節）。",
        },
    ),
    "rnnlm-3": Exercise(
        _gate_blocks,
        why={
            "en": "[2, 0, 1, 3]: nn.LSTM's i, f, g, o are the book's blocks 2, 0, 1 and 3 "
            "(the book orders them f, g, i, o). Left as they are, only o lands where it "
            "belongs, and nothing fails: each other gate does another's job.",
            "ja": "[2, 0, 1, 3] です。nn.LSTM の i, f, g, o は本のブロック 2, 0, 1, 3 です"
            "（本の順は f, g, i, o）。そのままにすると正しい位置に収まるのは o だけですが、"
            "エラーは出ず、ほかのゲートは別のゲートの仕事をします。",
        },
        hint={
            "en": "Answer with a list of four block numbers, one for each of nn.LSTM's i, f, g, "
            "o. [0, 1, 2, 3] is the book's order left as it is. Where does the book keep its "
            "input gate i?",
            "ja": "nn.LSTM の i, f, g, o それぞれについて、ブロックの番号4つのリストで答えて"
            "ください。[0, 1, 2, 3] は本の順のままです。本は入力ゲート i をどこに置いて"
            "いるでしょうか。",
        },
    ),
}
