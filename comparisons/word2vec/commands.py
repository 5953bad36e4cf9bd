"""The word2vec models' part of the command line: `train`, `check` and `bench` with
`--model simple_cbow|simple_skip_gram|cbow|skip_gram`.

comparisons/cli.py parses the options and hands them here (comparisons/model_commands.py
finds this module from the model's family): `options(command, args, given)` turns them
into a config, raising ValueError (the CLI's one-line usage error, exit status 2) for an
option this family does not take or a bad value, before any work; `main(command, args,
config)` runs the command and returns its exit status. `given` is the set of options the
user typed: the others take this family's defaults, not chapter 1's.
"""

from __future__ import annotations

import argparse
import json
import sys

import adapters
from adapters import OptimizerSpec

# options of `train` that belong to chapter 1's run and mean nothing for these models
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
        dtypes = tuple(args.dtypes)
        return {"frameworks": frameworks, "dtypes": dtypes, "repeats": args.repeats or 3}
    if command == "check":
        if len(frameworks) < 2:
            raise ValueError("check compares frameworks: it needs two of numpy, torch, jax")
        return {"frameworks": frameworks, "dtype": args.dtype}
    from comparisons import outdir
    from comparisons.word2vec.run import DEFAULTS, Word2vecConfig, corpus_of

    name = args.optimizer if "optimizer" in given else "adam"  # Adam: ch03/ch04's choice
    hyper = {k: getattr(args, k) for k in ("momentum", "decay_rate", "beta1", "beta2")}
    hyper = {k: v for k, v in hyper.items() if v is not None}
    spec = OptimizerSpec(name, args.lr, flavor=args.flavor, **hyper)
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
    outdir.check(args.out)
    return config


def main(command: str, args: argparse.Namespace, config) -> int:
    if command == "check":
        from comparisons.word2vec.check import run_check

        say = (lambda _m: None) if args.quiet else print
        return 0 if run_check(args.model, config["frameworks"], config["dtype"], say) else 1
    if command == "bench":
        from comparisons.word2vec.bench import bench_rows, format_rows

        say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
        frameworks, dtypes, repeats = config["frameworks"], config["dtypes"], config["repeats"]
        rows = bench_rows(args.model, frameworks, dtypes, repeats, say)
        print(json.dumps(rows, indent=2) if args.json else format_rows(rows))
        return 0
    return train(args, config)


def train(args: argparse.Namespace, config) -> int:
    from comparisons import outdir
    from comparisons.word2vec import report
    from comparisons.word2vec.run import run

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
        head, body = report.neighbour_table(results)
        print(report.table(results), "", *report.verdicts(results), "", sep="\n")
        print("nearest words by the trained W_in:")
        from comparisons.text import text_table

        print(text_table(head, body))
        print(f"\nplots and report: {args.out}/report.html")
    return 0 if results.passed else 1
