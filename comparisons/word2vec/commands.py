"""The word2vec models' own part of `train`, `check` and `bench` with
`--model simple_cbow|simple_skip_gram|cbow|skip_gram` (comparisons/model_commands.py runs
the commands): `train`'s config, Adam and each model's DEFAULTS unless the user says
otherwise, and the nearest-words table `train` prints.
"""

from __future__ import annotations

import argparse

from adapters import OptimizerSpec
from comparisons import model_commands


def train_config(args: argparse.Namespace, given: set[str], frameworks: list[str]):
    """`train`'s Word2vecConfig: Adam unless --optimizer says otherwise, the model's
    default sizes where none is given; the batch checked against the training pairs."""
    from comparisons.word2vec.run import DEFAULTS, Word2vecConfig, corpus_of

    model = args.model
    name = args.optimizer if "optimizer" in given else "adam"  # Adam: ch03/ch04's choice
    spec = OptimizerSpec(name, args.lr, flavor=args.flavor, **model_commands.hyper(args))
    config = Word2vecConfig(
        model=model,
        frameworks=tuple(frameworks),
        optimizer=spec,
        epochs=args.epochs if "epochs" in given else None,
        batch_size=args.batch_size if "batch_size" in given else None,
        hidden_size=args.hidden_size if "hidden_size" in given else None,
        dtype=args.dtype,
        device=args.device,
        seed=args.seed,
        max_grad=args.max_grad,
    )
    pairs = len(corpus_of(model)[0]) - 2 * DEFAULTS[model].window_size
    if config.resolved().batch_size > pairs:
        raise ValueError(f"--batch-size {config.batch_size} exceeds the {pairs} training pairs")
    if args.device != "cpu" and "numpy" in frameworks:
        raise ValueError(f"--device {args.device}: the word2vec reference runs on the CPU only")
    return config


def train_table(results) -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """What `train` prints after the verdicts: each query word's nearest words."""
    from comparisons.word2vec import report

    return ("nearest words by the trained W_in:", *report.neighbour_table(results))
