"""The language models' part of the command line: `train`, `check` and `bench` with
`--model simple_rnnlm|rnnlm|better_rnnlm`.

comparisons/cli.py parses the options and hands them here (comparisons/model_commands.py
finds this module from the model's family): `options(command, args, given)` turns them
into a config, raising ValueError (the CLI's one-line usage error, exit status 2) for an
option this family does not take or a bad value, before any work; `main(command, args,
config)` runs the command and returns its exit status. `given` is the set of options the
user typed: the others take this family's defaults (adapters.rnnlm.DEFAULT_RUNS), not
chapter 1's.
"""

from __future__ import annotations

import argparse
import json
import sys

import adapters
from adapters import OptimizerSpec

# options that belong to chapter 1's run and mean nothing for these models
NOT_HERE = {
    "train": ("tf32", "data_parallel", "allow_uneven", "precisions"),
    "check": (),
    "bench": ("sizes", "steps", "data_parallel", "record", "device"),
}
DTYPES = ("float64", "float32")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def options(command: str, args: argparse.Namespace, given: set[str]):
    """The config of `command` for args.model; ValueError for what it cannot take."""
    model = args.model
    refused = [_flag(d) for d in NOT_HERE[command] if d in given]
    if refused:
        raise ValueError(f"{', '.join(refused)} does not apply to --model {model}")
    frameworks = args.frameworks or adapters.available()
    if command in ("train", "check") and args.dtype not in DTYPES:
        raise ValueError(f"--dtype {args.dtype}: --model {model} runs in float64 or float32")
    if command == "bench":
        return {
            "frameworks": frameworks,
            "dtypes": tuple(args.dtypes),
            "repeats": args.repeats or 3,
        }
    if command == "check":
        if len(frameworks) < 2:
            raise ValueError("check compares frameworks: it needs two of numpy, torch, jax")
        return {"frameworks": frameworks, "dtype": args.dtype}
    from comparisons import outdir
    from comparisons.rnnlm.run import MODEL_DEFAULT, RnnlmConfig, run_data

    optimizer = None  # SGD at the model's lr: the book's choice for ch05 and ch06
    if {"optimizer", "lr", "flavor"} & given:
        name = args.optimizer if "optimizer" in given else "sgd"
        hyper = {k: getattr(args, k) for k in ("momentum", "decay_rate", "beta1", "beta2")}
        hyper = {k: v for k, v in hyper.items() if v is not None}
        lr = args.lr if "lr" in given else None  # None: the optimizer's book default
        optimizer = OptimizerSpec(name, lr, flavor=args.flavor, **hyper)
    config = RnnlmConfig(
        model=model,
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
    outdir.check(args.out)
    return config


def main(command: str, args: argparse.Namespace, config) -> int:
    if command == "check":
        from comparisons.rnnlm.check import run_check

        say = (lambda _m: None) if args.quiet else print
        return 0 if run_check(args.model, config["frameworks"], config["dtype"], say) else 1
    if command == "bench":
        from comparisons.rnnlm.bench import bench_rows, format_rows

        say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
        frameworks, dtypes, repeats = config["frameworks"], config["dtypes"], config["repeats"]
        rows = bench_rows(args.model, frameworks, dtypes, repeats, say)
        print(json.dumps(rows, indent=2) if args.json else format_rows(rows))
        return 0
    return train(args, config)


def train(args: argparse.Namespace, config) -> int:
    from comparisons import outdir
    from comparisons.rnnlm import report
    from comparisons.rnnlm.run import run
    from comparisons.text import text_table

    talk = not args.quiet
    progress = (lambda msg: print(msg, file=sys.stderr)) if talk else None
    try:
        results = run(config, progress=progress)
    except adapters.DivergenceError as err:  # nothing written
        print(f"scratch-parity: {err}", file=sys.stderr)
        return 1
    images, notes = report.draw(results)
    outdir.write_set(
        args.out,
        {
            **images,
            "report.md": report.markdown(results, notes).encode("utf-8"),
            "report.html": report.html_report(results, images, notes).encode("utf-8"),
        },
        say=progress,
    )
    if args.json:
        print(json.dumps(report.payload(results, notes, str(args.out)), indent=2))
    else:
        print(report.table(results), "", *report.verdicts(results), "", sep="\n")
        print("perplexity per epoch:")
        print(text_table(*report.epoch_table(results)))
        print(f"\nplots and report: {args.out}/report.html")
    return 0 if results.passed else 1
