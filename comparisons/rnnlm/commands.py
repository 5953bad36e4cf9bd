"""The language models' own part of `train`, `check` and `bench` with
`--model simple_rnnlm|rnnlm|better_rnnlm` (comparisons/model_commands.py runs the
commands): `train`'s config, SGD and the settings of adapters.rnnlm.DEFAULT_RUNS unless
the user says otherwise, and the perplexity table `train` prints.
"""

from __future__ import annotations

import argparse

from adapters import OptimizerSpec
from comparisons import model_commands


def train_config(args: argparse.Namespace, given: set[str], frameworks: list[str]):
    """`train`'s RnnlmConfig: SGD at the model's lr unless an optimizer option is given,
    the model's default sizes where none is; the sizes checked against the corpus."""
    from comparisons.rnnlm.run import MODEL_DEFAULT, RnnlmConfig, run_data

    optimizer = None  # SGD at the model's lr: the book's choice for ch05 and ch06
    if {"optimizer", "lr", "flavor"} & given:
        name = args.optimizer if "optimizer" in given else "sgd"
        lr = args.lr if "lr" in given else None  # None: the optimizer's book default
        optimizer = OptimizerSpec(name, lr, flavor=args.flavor, **model_commands.hyper(args))
    config = RnnlmConfig(
        model=args.model,
        frameworks=tuple(frameworks),
        optimizer=optimizer,
        epochs=args.epochs if "epochs" in given else None,
        batch_size=args.batch_size if "batch_size" in given else None,
        hidden_size=args.hidden_size if "hidden_size" in given else None,
        max_grad=args.max_grad if "max_grad" in given else MODEL_DEFAULT,
        dtype=args.dtype,
        device=args.device,
        seed=args.seed,
    )
    if args.device != "cpu" and "numpy" in frameworks:
        raise ValueError(f"--device {args.device}: the language models' reference runs on the CPU")
    run_data(config)  # the sizes against the corpus (time_size, batch_size), before any work
    return config


def train_table(results) -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """What `train` prints after the verdicts: the perplexity of every run per epoch."""
    from comparisons.rnnlm import report

    return ("perplexity per epoch:", *report.epoch_table(results))
