"""The language models' runs shared by the tests: each model's default run (228 steps of
adapters.rnnlm.DEFAULT_RUNS on the default corpus) and a short one (its first 2 epochs),
their data drawn as the book's code draws it (adapters.rnnlm.book_data). Cached: read-only."""

from __future__ import annotations

import dataclasses
import functools

import adapters
from adapters import OptimizerSpec, Trajectory
from adapters.rnnlm import DEFAULT_RUNS, RnnlmData, default_data

MODELS = ("simple_rnnlm", "rnnlm", "better_rnnlm")
SHORT = 38  # steps: two epochs of 19 blocks


@functools.cache
def default_run(model: str, dtype: str = "float64") -> RnnlmData:
    return default_data(model, dtype)


@functools.cache
def short_run(model: str, dtype: str = "float64") -> RnnlmData:
    d = default_run(model, dtype)
    masks = None if d.masks is None else d.masks[:SHORT]
    return dataclasses.replace(d, schedule=d.schedule[:SHORT], masks=masks)


def optimizer(model: str) -> OptimizerSpec:
    return OptimizerSpec("sgd", DEFAULT_RUNS[model]["lr"])


def train(framework: str, d: RnnlmData, mode: str | None = None, **kw) -> Trajectory:
    """`d`'s run in `framework` (and `mode`), with the model's default lr and max_grad."""
    net = adapters.build(
        framework, d.weights, model=d.model, dtype=str(d.weights["embed_W"].dtype), **d.config
    )
    kw.setdefault("max_grad", DEFAULT_RUNS[d.model]["max_grad"])
    return net.train(d.xs, d.ts, d.schedule, optimizer(d.model), masks=d.masks, mode=mode, **kw)
