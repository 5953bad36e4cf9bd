"""How `bench --model M` times a later chapter's model (comparisons/word2vec/bench.py,
comparisons/rnnlm/bench.py): its family names the runs of each dtype (the book's code as
scratch reproduces it, then `build` + `Net.train` in every framework and mode); here they
are timed alike, one row each.

The first call of each run is timed on its own (JAX compiles then); a row's time is the
median of `repeats` runs, interleaved so the load of a shared machine falls on every row
alike.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

BOOK = "book's code"
REFERENCE = "numpy/eager"
Runners = dict[str, Callable[[], None]]  # a row's name -> one whole run


def _timed(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_rows(
    model: str,
    dtypes: tuple[str, ...],
    repeats: int,
    say: Callable[[str], None],
    runners: Callable[[str], tuple[int, Runners]],
    *,
    speedup_vs_numpy: bool = False,
) -> list[dict]:
    """One row per (dtype, run): seconds per step, first call, the runs' median, and the
    times against BOOK's (`vs_book`). `runners(dtype)` gives the run's steps and its
    runs, BOOK first; with `speedup_vs_numpy` each row also says how many times faster
    a step is than REFERENCE's (None without that row)."""
    rows = []
    for dtype in dtypes:
        steps, named = runners(dtype)
        first = {}
        for name, fn in named.items():
            say(f"{model} {dtype}: first call of {name} ...")
            first[name] = _timed(fn)
        runs: dict[str, list[float]] = {name: [] for name in named}
        for r in range(repeats):
            say(f"{model} {dtype}: repeat {r + 1}/{repeats}")
            for name, fn in named.items():
                runs[name].append(_timed(fn))
        book = statistics.median(runs[BOOK])
        reference = statistics.median(runs[REFERENCE]) if REFERENCE in runs else None
        for name in named:
            median = statistics.median(runs[name])
            row = {
                "model": model,
                "dtype": dtype,
                "run": name,
                "steps": steps,
                "first_call_s": first[name],
                "run_s": median,
                "per_step_s": median / steps,
                "vs_book": median / book,
            }
            if speedup_vs_numpy:
                row["speedup_vs_numpy"] = None if reference is None else reference / median
            rows.append({**row, "runs_s": runs[name]})
    return rows
