"""The notebooks' exercises: `check("torch-2", answer)` says, in English and Japanese,
whether a reader's answer is right, and gives a hint when it is not (`right` is the
judgement alone).

Every judgement is computed from the code, never recited (two_layer_net.py: notebooks 1-3,
word2vec.py: notebook 4, rnnlm.py: notebook 5). The notebooks keep the authors' answers in
cells tagged `solution`; tests/learn/test_notebooks.py runs them, so the answers stay right
as the code changes.
"""

from __future__ import annotations

from comparisons.rosetta.exercises import rnnlm, two_layer_net, word2vec
from comparisons.rosetta.exercises.exercise import Exercise

__all__ = ["EXERCISES", "check", "right"]

EXERCISES: dict[str, Exercise] = {
    **two_layer_net.EXERCISES,
    **word2vec.EXERCISES,
    **rnnlm.EXERCISES,
}


def right(exercise: str, answer: object) -> bool:
    """Whether `answer` is right for `exercise` ("numpy-1" ... "rnnlm-3"); `...` (the
    notebook's placeholder) is not. ValueError for an exercise that does not exist."""
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of {', '.join(EXERCISES)}, got {exercise!r}")
    return answer is not ... and EXERCISES[exercise].judge(answer)


def check(exercise: str, answer: object) -> None:
    """Say, in English and Japanese, whether `answer` is right for `exercise`, why when
    it is, with a hint when it is not; `...` (the notebook's placeholder) is no answer
    yet. Prints only, so that a notebook cell shows nothing else."""
    item = EXERCISES.get(exercise)
    if right(exercise, answer):
        print(f"{exercise}: right. {item.why['en']}")
        print(f"{exercise}: 正解です。{item.why['ja']}")
    elif answer is ...:
        print(f"{exercise}: no answer yet: replace ... with yours and run the cell again.")
        print(
            f"{exercise}: まだ解答がありません。... をあなたの解答に置き換えて、もう一度実行して"
            "ください。"
        )
    else:
        print(f"{exercise}: not right yet. Hint: {item.hint['en']}")
        print(f"{exercise}: まだ正しくありません。ヒント: {item.hint['ja']}")
