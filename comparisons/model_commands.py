"""Which module runs the command line's `train`, `check` and `bench` for a `--model`,
and what those commands do alike for every model family.

Chapter 1's TwoLayerNet is comparisons/ itself (run.py, check.py, bench.py). Every other
model's family has a package here named after its adapters' family
(adapters/word2vec/ -> comparisons/word2vec/) whose `commands` module has
`options(command, args, given) -> config` (ValueError for what it cannot take) and
`main(command, args, config) -> exit status`: a new family plugs in by adding that.

The family's package holds `run.py` (`run(config, progress=...)`), `report.py` (`draw`,
`markdown`, `html_report`, `payload`, `table`, `verdicts`), `check.py` (`run_check`) and
`bench.py` (`bench_rows`, `format_rows`); `options` and `main` below drive them, so a
family's `commands` module says only what is its own: the config of its `train`, and the
table `train` prints after the verdicts.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import adapters
from adapters.models import FAMILIES, check_model

CHAPTER_1 = "two_layer_net"
# options of chapter 1's run that mean nothing for the later models
NOT_HERE = {
    "train": ("tf32", "data_parallel", "allow_uneven", "precisions"),
    "check": (),
    "bench": ("sizes", "steps", "data_parallel", "record", "device"),
}
DTYPES = ("float64", "float32")
HYPER = ("momentum", "decay_rate", "beta1", "beta2")  # the optimizer options beside --lr


def commands(model: str) -> ModuleType:
    """The `commands` module of `model`'s family (not for chapter 1's net)."""
    return importlib.import_module(f"comparisons.{family(model)}.commands")


def family(model: str) -> str:
    """The name of `model`'s family: its package in adapters/ and in comparisons/."""
    return FAMILIES[check_model(model)].rpartition(".")[2]  # adapters.word2vec -> word2vec


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def options(
    command: str,
    args: argparse.Namespace,
    given: set[str],
    train_config: Callable[[argparse.Namespace, set[str], list[str]], Any],
) -> Any:
    """The config of `command` for args.model; ValueError for what it cannot take.
    `train_config(args, given, frameworks)` makes the family's `train` config (it checks
    what only the family knows); the output folder is checked last."""
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

    config = train_config(args, given, frameworks)
    outdir.check(args.out)
    return config


def hyper(args: argparse.Namespace) -> dict[str, float]:
    """The optimizer's hyper-parameters the user gave (--momentum, --decay-rate, ...)."""
    given = {k: getattr(args, k) for k in HYPER}
    return {k: v for k, v in given.items() if v is not None}


def main(
    command: str,
    args: argparse.Namespace,
    config: Any,
    extra_table: Callable[[Any], tuple[str, tuple[str, ...], list[tuple[str, ...]]]],
) -> int:
    """Run `command` of args.model's family; its exit status. `extra_table(results)` is
    the family's table `train` prints after the verdicts: (title, head, rows)."""
    package = f"comparisons.{family(args.model)}"
    if command == "check":
        run_check = importlib.import_module(f"{package}.check").run_check
        say = (lambda _m: None) if args.quiet else print
        return 0 if run_check(args.model, config["frameworks"], config["dtype"], say) else 1
    if command == "bench":
        bench = importlib.import_module(f"{package}.bench")
        say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
        frameworks, dtypes, repeats = config["frameworks"], config["dtypes"], config["repeats"]
        rows = bench.bench_rows(args.model, frameworks, dtypes, repeats, say)
        print(json.dumps(rows, indent=2) if args.json else bench.format_rows(rows))
        return 0
    return train(args, config, package, extra_table)


def train(args: argparse.Namespace, config: Any, package: str, extra_table: Callable) -> int:
    """The family's side-by-side run (`package`.run), its report set (`package`.report)
    written to args.out, the tables on stdout."""
    from comparisons import outdir
    from comparisons.text import text_table

    run = importlib.import_module(f"{package}.run").run
    report = importlib.import_module(f"{package}.report")
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
        title, head, body = extra_table(results)
        print(report.table(results), "", *report.verdicts(results), "", sep="\n")
        print(title)
        print(text_table(head, body))
        print(f"\nplots and report: {args.out}/report.html")
    return 0 if results.passed else 1
