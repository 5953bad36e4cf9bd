"""The command line: `python -m comparisons [train|check|rosetta|drift|bench] [options]`.

This module turns arguments into configs (RunConfig, BenchConfig, ...) and hands them to
the modules that do the work; it is imported by nothing but `comparisons/__main__.py`.
Every option is checked here, once, before any work: a bad option or value is one line
on stderr and exit status 2, with nothing written.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import adapters
from adapters import OptimizerSpec, checks, data_parallel
from comparisons import bench, model_commands, outdir
from comparisons.run import BOOK_LR, RunConfig, memory_needed, reference_device

COMMANDS = ("train", "check", "rosetta", "drift", "bench")
RECORD_REPEATS = 15  # bench --record: its paired ratios need more runs than a row's median
DESCRIPTION = """\
The book's TwoLayerNet (Deep Learning from Scratch 2, chapter 1) in NumPy, PyTorch and
JAX, from the same weights on the same batches, compared step by step.

train is the default command: its options work without the word `train`, so
`scratch-parity --epochs 30` is `scratch-parity train --epochs 30`.
`scratch-parity COMMAND --help` lists a command's options."""

EXTRAS = {"torch": "torch", "jax": "jax", "matplotlib": "plot"}  # module -> pip extra
DEVICE_WORDS = {"gpu": "cuda", "cuda0": "cuda:0", "cpu0": "cpu"}  # what people type instead


class UsageError(Exception):
    """A bad option or value: reported on one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        raise UsageError(message)


def _install_hint(module: str) -> str:
    return f"pip install 'scratch-parity[{EXTRAS[module]}]'"


# --------------------------------------------------------------------------- option types


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


def _device(text: str) -> str:
    """cpu, cuda or cuda:N; a near miss gets a suggestion (gpu: did you mean cuda?)."""
    kind, colon, index = text.partition(":")
    if text == "cpu" or kind == "cuda" and (not colon or index.isascii() and index.isdigit()):
        return text
    guess = DEVICE_WORDS.get(text.lower()) or next(
        iter(difflib.get_close_matches(text.lower(), ["cpu", "cuda"], n=1)), None
    )
    hint = f" (did you mean {guess!r}?)" if guess else ""
    raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}{hint}")


def _split(text: str, expected: str) -> list[str]:
    """The comma-separated names in `text`, stripped; an empty one (`numpy,,torch`, a
    trailing comma) is refused, as a typo may hide there."""
    names = [n.strip() for n in text.split(",")]
    if "" in names:
        raise argparse.ArgumentTypeError(
            f"expected {expected}, got {text!r}" + (" (an empty name)" if any(names) else "")
        )
    return names


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    """A comma-separated list of `allowed` names, none twice."""
    names = _split(text, f"a comma-separated list of {what}s")
    for name in names:
        if name not in allowed:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {name!r} (choose from {', '.join(allowed)})"
            )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a {what} is listed twice in {text!r}")
    return names


def _frameworks(text: str) -> list[str]:
    names = _names(text, adapters.FRAMEWORKS, "framework")
    for name in names:
        if name not in adapters.available():
            raise argparse.ArgumentTypeError(
                f"framework {name!r} is not installed; installed: {', '.join(adapters.available())}"
                f" ({_install_hint(name)})"
            )
    return sorted(names, key=adapters.FRAMEWORKS.index)  # the reference (numpy) first


def _concept_ids(text: str) -> list:
    from comparisons import rosetta

    ids = _split(text, "ID[,ID] (see rosetta --list)")
    try:
        return [rosetta.concept(i) for i in dict.fromkeys(ids)]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _rosetta_frameworks(text: str) -> tuple[str, ...]:
    from comparisons import rosetta

    names = [n.strip() for n in text.split(",")]
    unknown = [n for n in names if n not in rosetta.FRAMEWORKS]
    if unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected distinct names from {','.join(rosetta.FRAMEWORKS)}, got {text!r}"
        )
    return tuple(names)


def _rosetta_width(text: str) -> int:
    from comparisons import rosetta

    value = _positive_int(text)
    if not rosetta.MIN_WIDTH <= value <= rosetta.MAX_WIDTH:
        raise argparse.ArgumentTypeError(
            f"expected {rosetta.MIN_WIDTH} to {rosetta.MAX_WIDTH} columns, got {value}"
        )
    return value


def _out_file(text: str) -> Path:
    """A file that can be written, checked now (adapters/files.py: a device or a FIFO is
    written through, a symlink followed, a folder that takes no new files refused)."""
    from adapters import files

    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file name, got {text!r}")
    try:
        return files.check_writable(Path(text), "--out")
    except ValueError as err:  # argparse says "argument --out:" first
        raise argparse.ArgumentTypeError(str(err).removeprefix("--out").lstrip(": ")) from None


def _precisions(text: str) -> tuple[str, ...]:
    if text.strip() == "none":
        return ()
    try:
        names = _names(text, checks.DTYPE_NAMES, "precision")
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"{err}, or none") from None
    return tuple(sorted(names, key=checks.DTYPE_NAMES.index))


def _check_dtype(text: str) -> str:
    if text not in ("float64", "float32"):
        raise argparse.ArgumentTypeError(
            f"check runs in float64 or float32, not {text!r}: lower precisions are compared "
            "in train's precision matrix (--precisions)"
        )
    return text


def _repeats(text: str) -> int:
    value = _positive_int(text)
    if value > bench.MAX_REPEATS:
        raise argparse.ArgumentTypeError(f"at most {bench.MAX_REPEATS}, got {value}")
    return value


def _sizes(text: str) -> tuple[str, ...]:
    return tuple(_names(text, tuple(bench.SIZES), "size"))


def _bench_dtypes(text: str) -> tuple[str, ...]:
    return tuple(_names(text, bench.DTYPES, "dtype"))


# --------------------------------------------------------------------------- the parser


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=model_commands.CHAPTER_1,
        choices=list(adapters.MODELS),
        help="the book's model to compare (default: two_layer_net, chapter 1's; the "
        "word2vec models of chapters 3-4 and the language models of chapters 5-6 run on a "
        "corpus of their own)",
    )


def _frameworks_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--frameworks",
        type=_frameworks,
        default=None,
        help="comma-separated, from numpy,torch,jax (default: every installed one)",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="scratch-parity",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser(
        "train", help="the book's run in every framework: table, plots, report (default)"
    )
    _model_option(train)
    _frameworks_option(train)
    train.add_argument(
        "--dtype",
        default="float64",
        choices=list(checks.DTYPE_NAMES),
        help="float64 (default), float32, float16, or bfloat16 (torch and jax only)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument(
        "--optimizer",
        default="sgd",
        choices=list(adapters.BOOK_DEFAULTS),
        help="the book's optimizer (default: sgd, as ch01)",
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default: 1.0 for sgd, ch01's run; else the book's default)",
    )
    train.add_argument(
        "--momentum", type=float, default=None, help="momentum/nesterov (default: 0.9)"
    )
    train.add_argument(
        "--decay-rate", type=float, default=None, help="rmsprop's decay rate (default: 0.99)"
    )
    train.add_argument("--beta1", type=float, default=None, help="adam's beta1 (default: 0.9)")
    train.add_argument("--beta2", type=float, default=None, help="adam's beta2 (default: 0.999)")
    train.add_argument(
        "--flavor",
        default="book",
        choices=["book", "stock"],
        help="book: the book's update rules in every framework; stock: torch.optim / "
        "optax with their own defaults (default: book)",
    )
    train.add_argument(
        "--epochs", type=_epochs, default=300, help=f"at most {MAX_EPOCHS} (default: 300)"
    )
    train.add_argument(
        "--batch-size", type=_positive_int, default=30, help="at most 300 (default: 30)"
    )
    train.add_argument(
        "--hidden-size",
        type=_hidden,
        default=10,
        help=f"hidden units, at most {MAX_HIDDEN} (default: 10)",
    )
    train.add_argument(
        "--device",
        type=_device,
        default="cpu",
        help="cpu, cuda or cuda:N; numpy stays on the CPU without CuPy (default: cpu)",
    )
    train.add_argument(
        "--seed", type=int, default=1984, help="one RandomState for data, weights and batches "
        "(default: 1984, the book's)",
    )  # fmt: skip
    train.add_argument(
        "--max-grad",
        type=_positive_float,
        default=None,
        help="clip the gradients' global norm to this (default: no clipping)",
    )
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
        "processes; jax: N devices), against the reference in one process (default: 1)",
    )
    train.add_argument(
        "--allow-uneven",
        action="store_true",
        help="with --data-parallel N, run a batch size N does not divide (the run drifts)",
    )
    train.add_argument(
        "--precisions",
        type=_precisions,
        default=checks.DTYPE_NAMES,
        help="the precision matrix of the report: comma-separated from "
        f"{','.join(checks.DTYPE_NAMES)}, or none (default: all)",
    )
    train.add_argument(
        "--out",
        type=_out_dir,
        default=Path("comparison-output"),
        help="where the plots and reports go (default: comparison-output)",
    )
    train.add_argument("--json", action="store_true", help="machine-readable results on stdout")

    check = sub.add_parser("check", help="quick pass/fail parity check; exit 1 on a mismatch")
    _model_option(check)
    _frameworks_option(check)
    check.add_argument(
        "--dtype",
        type=_check_dtype,
        default="float64",
        metavar="{float64,float32}",
        help="float64 (default) or float32; the lower precisions are compared in train's "
        "precision matrix (--precisions)",
    )
    check.add_argument("--quiet", action="store_true", help="only the verdict")

    rosetta = sub.add_parser(
        "rosetta", help="each piece of chapters 1-6 in NumPy (the book), PyTorch and JAX"
    )
    rosetta.add_argument("--list", action="store_true", help="the concept ids and titles")
    rosetta.add_argument(
        "--concept", type=_concept_ids, default=None, help="ID[,ID] (see --list; default: all)"
    )
    rosetta.add_argument(
        "--frameworks",
        type=_rosetta_frameworks,
        default=("numpy", "torch", "jax"),
        help="comma-separated, from numpy,torch,jax (default: all three)",
    )
    rosetta.add_argument(
        "--format",
        default="text",
        choices=["text", "markdown", "html"],
        help="text (the terminal, default), markdown, or html (a whole page)",
    )
    rosetta.add_argument("--lang", default="en", choices=["en", "ja"], help="en or ja (日本語)")
    rosetta.add_argument(
        "--width",
        type=_rosetta_width,
        default=None,
        help="columns, 80 to 1000 (default: the terminal's)",
    )
    rosetta.add_argument(
        "--out",
        type=_out_file,
        default=None,
        metavar="FILE",
        help="write to FILE, not stdout: a file is replaced whole, a device, a FIFO or "
        "/dev/stdout is written through, a symlink is followed",
    )

    drift = sub.add_parser("drift", help="stock torch.optim / optax vs the book's optimizers")
    _frameworks_option(drift)
    drift.add_argument("--quiet", action="store_true", help="no progress output")
    drift.add_argument("--json", action="store_true", help="machine-readable rows on stdout")

    b = sub.add_parser("bench", help="time every framework and mode against hand-written loops")
    _model_option(b)
    b.add_argument("--json", action="store_true", help="machine-readable results on stdout")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="comma-separated, from book,medium,large (default: book, 2 to 6 minutes on 2 "
        "CPU cores, by the machine and its load; book,medium,large on cuda)",
    )
    b.add_argument(
        "--dtypes",
        type=_bench_dtypes,
        default=None,
        help="comma-separated, from float64,float32 (default: both; float64 with --data-parallel)",
    )
    _frameworks_option(b)
    b.add_argument(
        "--device",
        type=_device,
        default="cpu",
        help="cpu, or cuda[:N] for torch and JAX; numpy stays on the CPU without CuPy "
        "(default: cpu)",
    )
    b.add_argument(
        "--repeats",
        type=_repeats,
        default=None,
        help=f"timed runs per row, at most {bench.MAX_REPEATS} (default: "
        f"{bench.DEFAULT_REPEATS}; {RECORD_REPEATS} with --record, whose ratios are a few "
        "percent; 1 with --data-parallel --steps)",
    )
    b.add_argument(
        "--steps", type=_positive_int, default=None, help="steps at every size (a quick run)"
    )
    b.add_argument(
        "--data-parallel",
        action="store_true",
        help="instead: seconds per step with 1 and 2 workers in every framework (or "
        "--frameworks) and mode, at the book's and the medium size (or --sizes), in float64 "
        "(or --dtypes), on the CPU, and the all-reduce's share of a step (a few minutes; "
        "--steps 300 for a quick run)",
    )
    b.add_argument(
        "--record",
        action="store_true",
        help="instead: what comparisons.parity.record adds to a torch loop and a jitted JAX "
        "step at the book's size, at record_every 1 and 100 (about a minute)",
    )
    b.add_argument(
        "--book-code",
        metavar="DIR",
        default=None,
        help="instead, with --model other than two_layer_net: the NumPy reference against the "
        "book's own code from DIR (a checkout of oreilly-japan/deep-learning-from-scratch-2) "
        "on the model's default run, CPU time per step (comparisons/book_measure.py)",
    )
    parser.commands = {"train": train, "check": check, "bench": b}  # given_options reads them
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        guess = difflib.get_close_matches(argv[0], COMMANDS, n=1)
        hint = f": did you mean {guess[0]!r}?" if guess else f" (choose from {', '.join(COMMANDS)})"
        raise UsageError(f"unknown command {argv[0]!r}{hint}")
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["train", *argv]
    return build_parser().parse_args(argv)


# --------------------------------------------------------------------------- one rule each


def memory_available() -> int | None:
    """Bytes the kernel says a new allocation can get now (MemAvailable), None if unknown."""
    return data_parallel.memory_available()


def check_memory(need: int, what: str) -> None:
    """UsageError when `need` bytes (estimated before anything is allocated) exceed what
    the machine has available."""
    have = memory_available()
    if have is not None and need > have:
        raise UsageError(
            f"{what} needs about {need / 2**30:.1f} GiB of memory, more than the "
            f"{have / 2**30:.1f} GiB available here"
        )


def frameworks_for(args: argparse.Namespace, dtype: str | None) -> list[str]:
    """--frameworks, or every installed one (that has `dtype`, when one is given)."""
    if args.frameworks is not None:
        return args.frameworks
    names = adapters.available()
    if dtype is not None:  # bfloat16: those that have it (NumPy has not)
        names = [fw for fw in names if dtype in adapters.net_class(fw).DTYPES]
        if not names:
            raise UsageError(f"--dtype {dtype}: no installed framework supports it")
    return names


def check_device(frameworks: list[str], device: str) -> None:
    """The one rule, for train and bench alike: every framework runs on `device`, except
    the reference (numpy), which stays on the CPU beside torch/JAX when it cannot follow
    (comparisons.run.reference_device)."""
    others = [fw for fw in frameworks if fw != "numpy"]
    for fw in frameworks:
        where = reference_device(fw, device)
        if fw == "numpy" and where != device and others:
            continue  # the CPU reference, compared with torch/jax on the GPU
        if not adapters.net_class(fw).device_available(device):
            hint = " (it needs CuPy; with torch or jax beside it, it stays on the CPU)"
            raise UsageError(
                f"--device {device!r} is not available to {fw}" + (hint if fw == "numpy" else "")
            )


def check_fits(spec: OptimizerSpec, max_grad: float | None, dtype: str) -> None:
    """The optimizer's settings and --max-grad must be numbers `dtype` can hold (torch
    cannot even represent lr 1e5 in float16): refused before any training."""
    values = {"--" + k.replace("_", "-"): v for k, v in spec.hyper.items()}  # decay_rate
    try:
        checks.check_fits({**values, "--max-grad": max_grad or 0.0}, dtype)
    except ValueError as err:
        raise UsageError(f"{err}: choose a smaller value or a wider --dtype") from None


def need_module(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{what} needs {module}, which is not installed: {_install_hint(module)}")


def need_a_second_framework(frameworks: list[str], command: str) -> None:
    if not [fw for fw in frameworks if fw != "numpy"] or len(frameworks) < 2:
        raise UsageError(
            f"{command} compares frameworks with each other: it needs two of numpy, torch, "
            f"jax (have {', '.join(frameworks)}; {_install_hint('torch')} or "
            f"{_install_hint('jax')})"
        )


# --------------------------------------------------------------------------- configs


def train_config(args: argparse.Namespace) -> RunConfig:
    """The RunConfig the options describe; UsageError for a bad combination."""
    frameworks = frameworks_for(args, args.dtype)
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
    for fw in frameworks:
        if args.dtype not in adapters.net_class(fw).DTYPES:
            hint = " (NumPy has no bfloat16: --frameworks torch,jax)" if fw == "numpy" else ""
            raise UsageError(f"--dtype {args.dtype} is not supported by {fw}{hint}")
    check_device(frameworks, args.device)
    for fw in frameworks:
        where = reference_device(fw, args.device)
        workers, what = adapters.net_class(fw).max_workers(where)
        try:
            data_parallel.check(
                args.data_parallel, args.allow_uneven, args.batch_size, workers, f"{what} ({fw})"
            )
        except ValueError as err:
            text = str(err).replace("data_parallel", "--data-parallel")
            for library in ("uneven=True (--allow-uneven)", "uneven=True"):  # the option once
                text = text.replace(library, "--allow-uneven")
            raise UsageError(text) from None
    check_fits(spec, args.max_grad, args.dtype)  # the float64 calibration run holds more
    need_module("matplotlib", "train (its plots)")
    try:
        outdir.check(args.out)  # unusable or not the run's own: refused before any work
    except ValueError as err:
        raise UsageError(str(err)) from None
    config = RunConfig(
        frameworks=tuple(frameworks),
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
    check_memory(
        memory_needed(config, args.precisions),
        f"--hidden-size {args.hidden_size} for --epochs {args.epochs}",
    )
    return config


def bench_config(args: argparse.Namespace) -> bench.BenchConfig:
    """The BenchConfig the options describe; UsageError for a bad combination."""
    if args.data_parallel and "jax" not in sys.modules:
        # this command's own JAX gets 2 host devices, set before JAX starts, so that its
        # mesh runs in this process (a library caller's JAX is never changed: see
        # adapters/jax_sharding.py)
        os.environ.setdefault("JAX_NUM_CPU_DEVICES", "2")
    if args.book_code is not None:
        raise UsageError(
            "--book-code times the models of chapters 3-6 against the book's own code: "
            "give --model (simple_cbow, ..., better_rnnlm)"
        )
    frameworks = frameworks_for(args, None)
    check_device(frameworks, args.device)
    if args.record:
        _check_bench_record(args, frameworks)
    if args.data_parallel and args.device != "cpu":
        raise UsageError(
            "--data-parallel times CPU workers (torch's gloo processes, JAX's host devices): "
            "drop --device"
        )
    sizes = args.sizes
    if sizes is None:
        sizes = tuple(bench.SIZES) if args.device != "cpu" else bench.DEFAULT_SIZES
        sizes = ("book", "medium") if args.data_parallel else sizes
    dtypes = args.dtypes or (("float64",) if args.data_parallel else bench.DTYPES)
    repeats = args.repeats or bench.DEFAULT_REPEATS
    if args.repeats is None and args.record:
        repeats = RECORD_REPEATS
    if args.repeats is None and args.data_parallel and args.steps is not None:
        repeats = 1  # a quick run
    config = bench.BenchConfig(
        sizes, tuple(dtypes), tuple(frameworks), args.device, repeats, args.steps
    )
    steps = "" if args.steps is None else f" with --steps {args.steps}"
    check_memory(bench.memory_needed(config), f"bench at size {', '.join(sizes)}{steps}")
    return config


def _check_bench_record(args: argparse.Namespace, frameworks: list[str]) -> None:
    """bench --record times float64 torch and JAX loops at the book's size, on the CPU."""
    if args.data_parallel:
        raise UsageError("--record and --data-parallel are two benchmarks: choose one")
    if not {"torch", "jax"} & set(frameworks):
        raise UsageError("--record times torch and JAX loops: add torch or jax to --frameworks")
    if args.sizes is not None or args.dtypes not in (None, bench.DTYPES) or args.device != "cpu":
        raise UsageError(
            "--record times the book's size in float64 on the CPU: drop --sizes, --dtypes "
            "and --device"
        )


def check_frameworks(args: argparse.Namespace) -> list[str]:
    frameworks = frameworks_for(args, args.dtype)
    need_a_second_framework(frameworks, "check")
    return frameworks


def drift_frameworks(args: argparse.Namespace) -> list[str]:
    frameworks = frameworks_for(args, None)
    if frameworks == ["numpy"] or not frameworks:
        raise UsageError(
            "drift compares torch.optim / optax with the book's optimizers: it needs torch "
            f"or jax ({_install_hint('torch')} or {_install_hint('jax')})"
        )
    return frameworks


# --------------------------------------------------------------------------- the commands


def cmd_train(args: argparse.Namespace, config: RunConfig) -> int:
    from comparisons import plots, report, text
    from comparisons.run import run, table_rows, uneven_note

    talk = not args.quiet
    progress = (lambda msg: print(msg, file=sys.stderr)) if talk else None
    book_lines = print if talk and not args.json else None
    try:
        results = run(config, progress=progress, book_lines=book_lines)
    except (adapters.DivergenceError, data_parallel.DataParallelError) as err:  # nothing written
        print(f"scratch-parity: {err}", file=sys.stderr)
        return 1
    if args.precisions:
        from comparisons.precision import precision_matrix

        results.matrix = precision_matrix(
            config, precisions=args.precisions, progress=progress, twins=results.twins
        )

    out: Path = args.out
    if talk:
        print(f"writing plots and reports to {out}/ ...", file=sys.stderr)
    # the report embeds these bytes: never files another run may have replaced
    images, notes = plots.draw_all(results)  # notes: what a plot had to leave out
    outdir.write_set(
        out,
        {
            **images,
            "report.md": report.markdown(results, notes).encode("utf-8"),
            "report.html": report.html_report(results, images, notes).encode("utf-8"),
        },
        say=progress,
    )

    rows = table_rows(results)
    passed = results.passed and (results.matrix is None or results.matrix.passed)
    if args.json:
        payload = {
            "config": config.to_dict(),
            "results": rows,
            "verdicts": [r.report.to_dict() for r in results.results if r.report is not None],
            "tf32_note": results.tf32_note,
            "uneven_note": uneven_note(results),
            "precision_matrix": None if results.matrix is None else results.matrix.to_dict(),
            "passed": passed,
            "settings": {k: str(v) for k, v in results.settings.items()},
            "plot_notes": notes,
            "out": str(out),
        }
        print(json.dumps(payload, indent=2))
    else:
        print()
        print(text.text_table(text.RESULT_HEAD, [text.result_cells(r) for r in rows]))
        print()
        for r in results.results[1:]:
            print(r.report.summary())
        if results.tf32_note:
            print(results.tf32_note)
        for note in notes:
            print(note)
        if uneven_note(results):
            print(uneven_note(results))
        if results.matrix is not None:
            print("\nprecision matrix (the same run in every precision, against float64):\n")
            print(results.matrix.table())
        print(f"\nplots and report: {out}/report.html")
    return 0 if passed else 1


def cmd_check(args: argparse.Namespace, frameworks: list[str]) -> int:
    from comparisons.check import run_check

    say = (lambda _m: None) if args.quiet else print
    return 0 if run_check(frameworks, args.dtype, say) else 1


def cmd_rosetta(args: argparse.Namespace) -> int:
    from comparisons import rosetta

    if args.list:
        text = rosetta.render_list(args.lang)
    elif args.format == "text":
        text = rosetta.render_text(args.concept, args.frameworks, args.lang, args.width)
    elif args.format == "markdown":
        text = rosetta.render_markdown(args.concept, args.frameworks, args.lang)
    else:
        text = rosetta.render_html(args.concept, args.frameworks, args.lang, page=True)
    if args.out is not None:
        from adapters.files import atomic_write_text

        try:
            atomic_write_text(args.out, text if text.endswith("\n") else text + "\n", what="--out")
        except (OSError, ValueError) as err:  # a full disk: the previous file is kept
            why = err.strerror if isinstance(err, OSError) and err.strerror else err
            print(f"scratch-parity: cannot write {str(args.out)!r}: {why}", file=sys.stderr)
            return 1
        return 0
    return _print_quietly(text)


def _can_encode(stream, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _print_quietly(text: str) -> int:
    """`text` on stdout, with one note on stderr when its encoding cannot show all of it.
    comparisons.streams does the rest for every command: what the encoding cannot hold
    is replaced or escaped (\\u65e5), and a reader that closed the pipe ends it quietly."""
    if not _can_encode(sys.stdout, text):
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        print(
            f"scratch-parity: stdout is {encoding}: characters it cannot show are escaped "
            "(PYTHONIOENCODING=utf-8 shows them)",
            file=sys.stderr,
        )
    sys.stdout.write(text + "\n")
    return 0


def cmd_drift(args: argparse.Namespace, frameworks: list[str]) -> int:
    from comparisons.drift import drift_rows, format_drift

    say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    rows = drift_rows(frameworks, say=say)
    print(json.dumps(rows, indent=2) if args.json else format_drift(rows))
    return 0


def cmd_bench(args: argparse.Namespace, config: bench.BenchConfig) -> int:
    """The table (or --json) on stdout, the progress bar on stderr."""
    if args.data_parallel:
        return cmd_bench_data_parallel(args, config)
    if args.record:
        return cmd_bench_record(args, config)
    results = bench.bench_results(config, None if args.quiet else bench.show_progress)
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    print(json.dumps(results, indent=2) if args.json else bench.format_table(results))
    return 0


def cmd_bench_data_parallel(args: argparse.Namespace, config: bench.BenchConfig) -> int:
    """bench --data-parallel: N=1 against N=2 workers, per step (comparisons/
    data_parallel_measure.py; the torch ranks start before the clock does)."""
    from comparisons import data_parallel_measure, text

    say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    say(f"timing 1 and 2 workers in {', '.join(config.frameworks)} (a few minutes) ...")
    rows = data_parallel_measure.timing(
        steps=config.steps,
        sizes=config.sizes,
        frameworks=config.frameworks,
        dtypes=config.dtypes,
        repeats=config.repeats,
    )
    if args.json:
        keys = ("size", "dtype", "run", "n1_seconds", "n2_seconds", "allreduce_seconds")
        keys += ("comm_share",)
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=2))
        return 0
    head = ("size", "dtype", "framework/mode", "N=1 per step", "N=2 per step", "N=2 / N=1")
    head += ("all-reduce", "its share of an N=2 step")
    body = [
        (
            size, dtype, run, text.duration(one), text.duration(two), f"{two / one:.2f}",
            "-" if run.startswith("numpy") else text.duration(comm),
            "-" if run.startswith("numpy") else f"{100 * share:.1f}%",
        )
        for size, dtype, run, one, two, comm, share in rows
    ]  # fmt: skip
    print(text.text_table(head, body))
    return 0


def cmd_bench_record(args: argparse.Namespace, config: bench.BenchConfig) -> int:
    """bench --record: record()'s cost on a user's own loop (comparisons/record_measure.py)."""
    from comparisons import record_measure, text

    frameworks = tuple(f for f in config.frameworks if f in record_measure.LOOPS)
    if not args.quiet:
        print("timing record() on torch and JAX loops (about a minute) ...", file=sys.stderr)
    rows = record_measure.timing(frameworks, steps=args.steps, repeats=config.repeats)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = ("framework", "record_every", "bare per step", "recorded per step", "ratio")
    head += ("target", "", "first call's extra", "+ grads per step", "grads add", "weights add")
    body = [
        (
            r["framework"], str(r["record_every"]), text.duration(r["bare_per_step_s"]),
            text.duration(r["recorded_per_step_s"]), f"{r['ratio']:.2f}",
            f"<= {r['limit']:.2f}", "met" if r["ratio"] <= r["limit"] else "MISSED",
            "-" if r["first_record_extra_s"] <= 0 else text.duration(r["first_record_extra_s"]),
            text.duration(r["grads_per_step_s"]), _signed(r["grads_extra_per_step_s"]),
            _signed(r["weights_extra_per_step_s"]),
        )
        for r in rows
    ]  # fmt: skip
    print(text.text_table(head, body))
    return 0


def _signed(seconds: float) -> str:
    """A per-step time that noise can make negative: "-0.2 us" rather than nonsense."""
    from comparisons import text

    return ("-" if seconds < 0 else "") + text.duration(abs(seconds))


def main(argv: list[str] | None = None) -> int:
    from comparisons import streams  # broken pipes, full disks, Ctrl-C: one line each

    return streams.run_main(_main, sys.argv[1:] if argv is None else list(argv))


def given_options(argv: list[str], args: argparse.Namespace) -> set[str]:
    """The options (dests) the user typed on the command line, abbreviations included:
    `argv` parsed again with every default of the command replaced by a marker."""
    probe = build_parser()
    unset = object()
    probe.commands[args.command].set_defaults(**dict.fromkeys(vars(args), unset))
    if not argv or argv[0] not in COMMANDS:
        argv = ["train", *argv]
    return {k for k, v in vars(probe.parse_args(argv)).items() if v is not unset}


def model_command(args: argparse.Namespace, argv: list[str]) -> Callable[[], int]:
    """train, check or bench of a model other than chapter 1's, by its family's module
    (comparisons/model_commands.py), its options checked (UsageError for a bad one)."""
    if args.command == "bench" and args.book_code is not None:
        return book_code_command(args, argv)
    family = model_commands.commands(args.model)
    try:
        config = family.options(args.command, args, given_options(argv, args))
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    return lambda: family.main(args.command, args, config)


def book_code_command(args: argparse.Namespace, argv: list[str]) -> Callable[[], int]:
    """bench --model M --book-code DIR: scratch against the book's own code (float32, the
    NumPy reference only), the folder checked before any work."""
    from comparisons import book_measure

    allowed = {"command", "model", "book_code", "repeats", "json", "quiet"}
    refused = sorted("--" + d.replace("_", "-") for d in given_options(argv, args) - allowed)
    if refused:
        raise UsageError(
            f"--book-code times the NumPy reference against the book's code in float32: "
            f"drop {', '.join(refused)}"
        )
    try:
        book_measure.check_book_code(args.book_code, (args.model,))
    except ValueError as err:
        raise UsageError(str(err)) from None
    repeats = args.repeats or book_measure.DEFAULT_REPEATS

    def command() -> int:
        if not args.quiet:
            print(f"timing {args.model}: the book's code and scratch, {repeats} runs each ...",
                  file=sys.stderr)  # fmt: skip
        row = book_measure.timing(args.model, args.book_code, repeats)
        print(json.dumps([row], indent=2) if args.json else book_measure.format_rows([row]))
        return 0

    return command


def _main(argv: list[str]) -> int:
    from comparisons import streams

    try:
        args = parse(argv)
        command = checked(args, argv)  # every check, before any work
        if args.command != "rosetta" or args.out is None:  # all but rosetta --out print
            streams.need_stdout()
        return command()
    except UsageError as err:
        print(f"scratch-parity: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except data_parallel.DataParallelError as err:  # check, bench: a worker died
        print(f"scratch-parity: {err}", file=sys.stderr)
        return 1


def checked(args: argparse.Namespace, argv: list[str]) -> Callable[[], int]:
    """The command the options describe, every option checked (UsageError for a bad one)."""
    if getattr(args, "model", model_commands.CHAPTER_1) != model_commands.CHAPTER_1:
        return model_command(args, argv)
    if args.command == "train":
        config = train_config(args)
        return lambda: cmd_train(args, config)
    if args.command == "check":
        frameworks = check_frameworks(args)
        return lambda: cmd_check(args, frameworks)
    if args.command == "rosetta":
        return lambda: cmd_rosetta(args)
    if args.command == "drift":
        frameworks = drift_frameworks(args)
        return lambda: cmd_drift(args, frameworks)
    config = bench_config(args)
    return lambda: cmd_bench(args, config)
