"""The command line: `python -m comparisons [train|check|rosetta|bench] [options]`.

With no subcommand it runs `train`: the book's run in every installed framework, side by
side. A bad option or value is one line on stderr and exit status 2, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import adapters
from adapters import OptimizerSpec, data_parallel

COMMANDS = ("train", "check", "rosetta", "bench", "drift")


class UsageError(Exception):
    """A bad option or value: reported on one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


MAX_EPOCHS = 100_000  # 30 million steps of the book's run; the schedule alone is 240 MB
MAX_HIDDEN = 65_536


def _epochs(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"at most {MAX_EPOCHS}, got {value}")
    return value


def _hidden(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_HIDDEN:
        raise argparse.ArgumentTypeError(f"at most {MAX_HIDDEN}, got {value}")
    return value


def _out_dir(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory name, got an empty string")
    return Path(text)


def _frameworks(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of frameworks")
    for name in names:
        if name not in adapters.FRAMEWORKS:
            raise argparse.ArgumentTypeError(
                f"unknown framework {name!r} (choose from {', '.join(adapters.FRAMEWORKS)})"
            )
        if name not in adapters.available():
            raise argparse.ArgumentTypeError(
                f"framework {name!r} is not installed; installed: {', '.join(adapters.available())}"
                f" (pip install 'scratch-parity[{name}]')"
            )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a framework is listed twice in {text!r}")
    return sorted(names, key=adapters.FRAMEWORKS.index)  # the reference (numpy) first


PRECISIONS = adapters.checks.DTYPE_NAMES  # the precision matrix's, highest first


def _precisions(text: str) -> tuple[str, ...]:
    if text.strip() == "none":
        return ()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of precisions, or none")
    for name in names:
        if name not in PRECISIONS:
            raise argparse.ArgumentTypeError(
                f"unknown precision {name!r} (choose from {', '.join(PRECISIONS)}, or none)"
            )
    return tuple(sorted(set(names), key=PRECISIONS.index))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--frameworks",
        type=_frameworks,
        default=None,
        help="comma-separated, from numpy,torch,jax (default: every installed one)",
    )
    p.add_argument(
        "--dtype",
        default="float64",
        choices=list(adapters.checks.DTYPE_NAMES),
        help="float64 (default), float32, float16, or bfloat16 (torch and jax only)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> Parser:
    parser = Parser(prog="scratch-parity", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")

    train = sub.add_parser("train", help="the side-by-side run (the default)")
    _common(train)
    train.add_argument(
        "--optimizer",
        default="sgd",
        choices=list(adapters.BOOK_DEFAULTS),
        help="default: sgd, as ch01",
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="default: 1.0 for sgd (ch01's run), else the book's default",
    )
    train.add_argument("--momentum", type=float, default=None)
    train.add_argument("--decay-rate", type=float, default=None)
    train.add_argument("--beta1", type=float, default=None)
    train.add_argument("--beta2", type=float, default=None)
    train.add_argument("--flavor", default="book", choices=["book", "stock"])
    train.add_argument("--epochs", type=_epochs, default=300)
    train.add_argument("--batch-size", type=_positive_int, default=30)
    train.add_argument("--hidden-size", type=_hidden, default=10)
    train.add_argument("--device", default="cpu")
    train.add_argument("--seed", type=int, default=1984)
    train.add_argument("--max-grad", type=_positive_float, default=None)
    train.add_argument(
        "--tf32",
        action="store_true",
        help="let torch and jax use TF32 for float32 matmuls on GPUs that have it (needs "
        "--dtype float32); the report then names TF32 as the cause of the drift",
    )
    train.add_argument(
        "--data-parallel",
        type=_positive_int,
        default=1,
        metavar="N",
        help="train every framework with each batch split over N workers (torch: DDP "
        "processes; jax: N devices), against the reference in one process",
    )
    train.add_argument(
        "--allow-uneven",
        action="store_true",
        help="with --data-parallel N, run a batch size N does not divide (the run drifts)",
    )
    train.add_argument(
        "--precisions",
        type=_precisions,
        default=PRECISIONS,
        help="the precision matrix of the report: comma-separated from "
        f"{','.join(PRECISIONS)} (default: all), or none",
    )
    train.add_argument("--out", type=_out_dir, default=Path("comparison-output"))
    train.add_argument("--json", action="store_true", help="machine-readable results on stdout")

    check = sub.add_parser("check", help="quick pass/fail parity check; exit 1 on a mismatch")
    _common(check)

    rosetta = sub.add_parser(
        "rosetta", help="the book's code and its torch/JAX twins, side by side"
    )
    rosetta.add_argument("--width", type=_positive_int, default=None)

    drift = sub.add_parser("drift", help="stock torch.optim / optax vs the book's optimizers")
    _common(drift)
    drift.add_argument("--json", action="store_true")

    bench = sub.add_parser("bench", help="time every framework and mode")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quiet", action="store_true")
    bench.add_argument(
        "--sizes",
        default=None,
        help="comma-separated, from book,medium,large (default: book,medium; large too on cuda)",
    )
    bench.add_argument(
        "--dtypes", default=None, help="comma-separated, from float64,float32 (default: both)"
    )
    bench.add_argument(
        "--frameworks",
        type=_frameworks,
        default=None,
        help="comma-separated, from numpy,torch,jax (default: every installed one)",
    )
    bench.add_argument(
        "--device", default="cpu", help="cpu, or cuda[:N] for torch and JAX (numpy stays on cpu)"
    )
    bench.add_argument(
        "--repeats", type=_positive_int, default=None, help="timed runs per row (default: 5)"
    )
    bench.add_argument(
        "--steps", type=_positive_int, default=None, help="steps at every size (a quick run)"
    )
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["train", *argv]
    args = build_parser().parse_args(argv)
    if getattr(args, "frameworks", "unset") is None:
        args.frameworks = adapters.available()
        dtype = getattr(args, "dtype", None)
        if dtype is not None:  # bfloat16: those that have it (NumPy has not)
            args.frameworks = [
                fw for fw in args.frameworks if dtype in adapters.base.adapter_module(fw).DTYPES
            ]
            if not args.frameworks:
                raise UsageError(f"--dtype {dtype}: no installed framework supports it")
    return args


def train_config(args: argparse.Namespace):
    """The RunConfig the options describe; UsageError for a bad combination."""
    from comparisons.run import BOOK_LR, RunConfig, reference_device

    hyper = {k: getattr(args, k) for k in ("momentum", "decay_rate", "beta1", "beta2")}
    hyper = {k: v for k, v in hyper.items() if v is not None}
    lr = args.lr if args.lr is not None else (BOOK_LR if args.optimizer == "sgd" else None)
    try:
        spec = OptimizerSpec(args.optimizer, lr, flavor=args.flavor, **hyper)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    if args.batch_size > 300:
        raise UsageError(f"--batch-size {args.batch_size} exceeds the 300 spiral points")
    if not 0 <= args.seed < 2**32:
        raise UsageError(f"--seed must lie in [0, 2**32), got {args.seed}")
    if args.tf32 and args.dtype != "float32":
        raise UsageError(
            f"--tf32 applies to float32 matmuls: add --dtype float32 (got {args.dtype})"
        )
    for fw in args.frameworks:
        module = adapters.base.adapter_module(fw)
        if args.dtype not in module.DTYPES:
            hint = " (NumPy has no bfloat16: --frameworks torch,jax)" if fw == "numpy" else ""
            raise UsageError(f"--dtype {args.dtype} is not supported by {fw}{hint}")
        if not module.device_available(args.device):
            # the reference without CuPy stays on the CPU, beside torch/jax on the GPU
            beside = [f for f in args.frameworks if f != "numpy"]
            if fw == "numpy" and beside and reference_device(fw, args.device) == "cpu":
                continue
            raise UsageError(f"--device {args.device!r} is not available to {fw}")
    for fw in args.frameworks:
        where = reference_device(fw, args.device)
        workers, what = adapters.net_class(fw).max_workers(where)
        try:
            data_parallel.check(
                args.data_parallel, args.allow_uneven, args.batch_size, workers, f"{what} ({fw})"
            )
        except ValueError as err:
            text = str(err).replace("data_parallel", "--data-parallel")
            raise UsageError(text.replace("uneven=True", "--allow-uneven")) from None
    for folder in (args.out, *args.out.parents):
        if folder.exists() and not folder.is_dir():
            raise UsageError(
                f"--out {str(args.out)!r}: {str(folder)!r} exists and is not a directory"
            )
    return RunConfig(
        frameworks=tuple(args.frameworks),
        optimizer=spec,
        epochs=args.epochs,
        batch_size=args.batch_size,
        hidden_size=args.hidden_size,
        dtype=args.dtype,
        device=args.device,
        seed=args.seed,
        max_grad=args.max_grad,
        tf32=args.tf32,
        data_parallel=args.data_parallel,
        uneven=args.allow_uneven,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from adapters.files import atomic_write_text
    from comparisons import plots, report
    from comparisons.run import format_table, run, table_rows, uneven_note

    config = args.config
    talk = not args.quiet
    progress = (lambda msg: print(msg, file=sys.stderr)) if talk else None
    book_lines = print if talk and not args.json else None
    try:
        results = run(config, progress=progress, book_lines=book_lines)
    except (adapters.DivergenceError, data_parallel.WorkerError) as err:  # nothing written
        print(f"scratch-parity: {err}", file=sys.stderr)
        return 1
    if args.precisions:
        from comparisons.precision import precision_matrix

        results.matrix = precision_matrix(config, precisions=args.precisions, progress=progress)

    out: Path = args.out
    if talk:
        print(f"writing plots and reports to {out}/ ...", file=sys.stderr)
    plots.loss_curves(results, out / "loss_curves.png")
    plots.difference_curves(results, out / "differences.png")
    plots.decision_boundaries(results, out / "decision_boundaries.png")
    atomic_write_text(out / "report.md", report.markdown(results))
    atomic_write_text(out / "report.html", report.html_report(results, out))

    rows = table_rows(results)
    if args.json:
        payload = {
            "config": {
                "frameworks": list(config.frameworks),
                "optimizer": config.optimizer.name,
                "hyper": config.optimizer.hyper,
                "flavor": config.optimizer.flavor,
                "epochs": config.epochs,
                "batch_size": config.batch_size,
                "hidden_size": config.hidden_size,
                "dtype": config.dtype,
                "device": config.device,
                "seed": config.seed,
                "max_grad": config.max_grad,
                "tf32": config.tf32,
                "data_parallel": config.data_parallel,
                "uneven": config.uneven,
            },
            "results": rows,
            "verdicts": [r.report.to_dict() for r in results.results if r.report is not None],
            "tf32_note": results.tf32_note,
            "uneven_note": uneven_note(results),
            "precision_matrix": None if results.matrix is None else results.matrix.to_dict(),
            "passed": results.passed and (results.matrix is None or results.matrix.passed),
            "settings": {k: str(v) for k, v in results.settings.items()},
            "out": str(out),
        }
        print(json.dumps(payload, indent=2))
    else:
        print()
        print(format_table(rows))
        print()
        for r in results.results[1:]:
            print(r.report.summary())
        if results.tf32_note:
            print(results.tf32_note)
        if uneven_note(results):
            print(uneven_note(results))
        if results.matrix is not None:
            print("\nprecision matrix (the same run in every precision, against float64):\n")
            print(results.matrix.table())
        print(f"\nplots and report: {out}/report.html")
    return 0 if results.passed and (results.matrix is None or results.matrix.passed) else 1


def cmd_check(args: argparse.Namespace) -> int:
    from comparisons.check import run_check

    if args.dtype not in ("float64", "float32"):
        raise UsageError(
            f"check runs in float64 or float32, not {args.dtype}: lower precisions are "
            "compared in train's precision matrix (--precisions)"
        )

    say = (lambda _m: None) if args.quiet else print
    return 0 if run_check(list(args.frameworks), args.dtype, say) else 1


def cmd_rosetta(args: argparse.Namespace) -> int:
    from comparisons import rosetta

    try:
        text = rosetta.render_terminal(args.width)
    except ValueError as err:  # a width too narrow for three columns
        raise UsageError(str(err)) from None
    print(text)
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from comparisons.drift import drift_rows, format_drift

    if args.dtype != "float64":
        raise UsageError("drift compares in float64 only")
    say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    rows = drift_rows(list(args.frameworks), say=say)
    print(json.dumps(rows, indent=2) if args.json else format_drift(rows))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from comparisons import bench

    return bench.main(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse(argv)
        if args.command == "train":
            args.config = train_config(args)  # every check, before any work
        handler = {
            "train": cmd_train,
            "check": cmd_check,
            "rosetta": cmd_rosetta,
            "drift": cmd_drift,
            "bench": cmd_bench,
        }[args.command]
        return handler(args)
    except UsageError as err:
        print(f"scratch-parity: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
