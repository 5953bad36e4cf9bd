"""One exercise of the notebooks: the judge of a reader's answer, and what `check` says
in English and Japanese when it is right (why) and while it is not (a hint)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Exercise:
    judge: Callable[[object], bool]  # the reader's answer -> right or not
    why: dict[str, str]  # said once the answer is right
    hint: dict[str, str]  # said while it is not


def number(answer: object) -> float | None:
    """A reader's numeric answer as a float; None for anything else (a bool included)."""
    if isinstance(answer, bool) or not isinstance(answer, int | float | np.integer | np.floating):
        return None
    return float(answer)
