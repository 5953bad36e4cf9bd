"""The language models' part of the command line: `train`, `check` and `bench` with
`--model simple_rnnlm|rnnlm|better_rnnlm`.

comparisons/cli.py parses the options and hands them here (comparisons/model_commands.py
finds this module from the model's family, and does what every family's commands do
alike): `options(command, args, given)` turns them into a config, raising ValueError (the
CLI's one-line usage error, exit status 2) for an option this family does not take or a
bad value, before any work; `main(command, args, config)` runs the command and returns
its exit status. `given` is the set of options the user typed: the others take this
family's defaults (adapters.rnnlm.DEFAULT_RUNS), not chapter 1's.
"""

from __future__ import annotations

import argparse

from adapters import OptimizerSpec
from comparisons import model_commands


def options(command: str, args: argparse.Namespace, given: set[str]):
    """The config of `command` for args.model; ValueError for what it cannot take."""
    return model_commands.options(command, args, given, train_config)


def main(command: str, args: argparse.Namespace, config) -> int:
    return model_commands.main(command, args, config, epoch_table)


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


def epoch_table(results) -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """What `train` prints after the verdicts: the perplexity of every run per epoch."""
    from comparisons.rnnlm import report

    return ("perplexity per epoch:", *report.epoch_table(results))
