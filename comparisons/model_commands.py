"""The command line's `train`, `check` and `bench` for a `--model` of a later chapter:
what they do alike for every model family, and where each family's own part lives.

Chapter 1's TwoLayerNet is comparisons/ itself (run.py, check.py, bench.py). Every other
model's family has a package here named after its adapters' family
(adapters/word2vec/ -> comparisons/word2vec/) holding `run.py` (`run(config,
progress=...)`), `report.py` (`draw`, `markdown`, `html_report`, `payload`, `table`,
`verdicts`), `check.py` (`run_check`), `bench.py` (`bench_rows`, `format_rows`) and
`commands.py`, which says what is the family's own: `train_config(args, given,
frameworks) -> config` (ValueError for what it cannot take) and `train_table(results) ->
(title, head, rows)`, the table `train` prints after the verdicts. A new family plugs in
by adding that package; `commands(model)` gives what comparisons/cli.py calls.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
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


def family(model: str) -> str:
    """The name of `model`'s family: its package in adapters/ and in comparisons/."""
    return FAMILIES[check_model(model)].rpartition(".")[2]  # adapters.word2vec -> word2vec


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def commands(model: str) -> Commands:
    """The commands of `model`'s family (not for chapter 1's net)."""
    return Commands(family(model))


class Commands:
    """`options(command, args, given) -> config` (ValueError for what the family cannot
    take, before any work) and `main(command, args, config) -> exit status` of one family,
    as comparisons/cli.py calls them; `given` is the set of options the user typed: the
    others take the family's defaults, not chapter 1's."""

    def __init__(self, name: str) -> None:
        self.package = f"comparisons.{name}"
        self.own = importlib.import_module(f"{self.package}.commands")

    def options(self, command: str, args: argparse.Namespace, given: set[str]) -> Any:
        """The config of `command` for args.model; ValueError for what it cannot take.
        The family's `train_config` checks what only it knows; the output folder is
        checked last."""
        model = args.model
        refused = [_flag(d) for d in NOT_HERE[command] if d in given]
        if refused:
            raise ValueError(f"{', '.join(refused)} does not apply to --model {model}")
        frameworks = args.frameworks or adapters.available()
        if command in ("train", "check") and args.dtype not in DTYPES:
            raise ValueError(f"--dtype {args.dtype}: --model {model} runs in float64 or float32")
        if command == "bench":
            dtypes, repeats = tuple(args.dtypes), args.repeats or 3
            return {"frameworks": frameworks, "dtypes": dtypes, "repeats": repeats}
        if command == "check":
            if len(frameworks) < 2:
                raise ValueError("check compares frameworks: it needs two of numpy, torch, jax")
            return {"frameworks": frameworks, "dtype": args.dtype}
        from comparisons import outdir

        config = self.own.train_config(args, given, frameworks)
        outdir.check(args.out)
        return config

    def main(self, command: str, args: argparse.Namespace, config: Any) -> int:
        """Run `command`; its exit status."""
        if command == "check":
            run_check = importlib.import_module(f"{self.package}.check").run_check
            say = (lambda _m: None) if args.quiet else print
            return 0 if run_check(args.model, config["frameworks"], config["dtype"], say) else 1
        if command == "bench":
            bench = importlib.import_module(f"{self.package}.bench")
            say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
            frameworks, dtypes, repeats = config["frameworks"], config["dtypes"], config["repeats"]
            rows = bench.bench_rows(args.model, frameworks, dtypes, repeats, say)
            print(json.dumps(rows, indent=2) if args.json else bench.format_rows(rows))
            return 0
        return self.train(args, config)

    def train(self, args: argparse.Namespace, config: Any) -> int:
        """The family's side-by-side run, its report set written to args.out, the tables
        on stdout."""
        from comparisons import outdir
        from comparisons.text import text_table

        run = importlib.import_module(f"{self.package}.run").run
        report = importlib.import_module(f"{self.package}.report")
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
            title, head, body = self.own.train_table(results)
            print(report.table(results), "", *report.verdicts(results), "", sep="\n")
            print(title)
            print(text_table(head, body))
            print(f"\nplots and report: {args.out}/report.html")
        return 0 if results.passed else 1


def hyper(args: argparse.Namespace) -> dict[str, float]:
    """The optimizer's hyper-parameters the user gave (--momentum, --decay-rate, ...)."""
    given = {k: getattr(args, k) for k in HYPER}
    return {k: v for k, v in given.items() if v is not None}
