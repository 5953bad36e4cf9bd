"""One call on a GPU machine: the GPU parity suite, the book's run on the GPU in every
precision (TF32 trap included), and the benchmark; a summary table at the end.

    python -m comparisons.gpu_check [--out DIR] [--quick]

Everything here also runs without a GPU (each part then says what it skipped and why),
so the script itself is tested on the CPU. `--out DIR` writes gpu_check.json and the
pytest log there. Exit status 1 when a parity test or a comparison fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from comparisons.run import RunConfig, book_data, text_table

ROOT = Path(__file__).resolve().parents[1]
SGD = OptimizerSpec("sgd", 1.0)


def devices() -> dict:
    """What each framework sees on this machine."""
    out: dict[str, object] = {"machine": platform.machine(), "python": platform.python_version()}
    for fw in adapters.available():
        module = adapters.net_class(fw)
        cuda = module.device_available("cuda")
        entry: dict[str, object] = {"cuda": cuda}
        if cuda:
            entry["tf32 units"] = module.tf32_capable("cuda")
        if fw == "torch" and cuda:
            import torch

            entry["name"] = torch.cuda.get_device_name(0)
            entry["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
            entry["version"] = torch.__version__
        if fw == "jax":
            import jax

            entry["devices"] = [str(d) for d in jax.devices()]
            entry["version"] = jax.__version__
        out[fw] = entry
    return out


def gpu_tests(log: Path | None) -> dict:
    """pytest on tests/gpu in a subprocess: counts and the exit status."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/gpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if log is not None:
        log.write_text(proc.stdout + proc.stderr)
    tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or ["(no output)"]
    return {
        "returncode": proc.returncode,
        "summary": tail[0],
        "seconds": time.perf_counter() - start,
    }


def gpu_runs(epochs: int) -> list[dict]:
    """The book's run on cuda in each framework and precision, against the float64 CPU
    reference: max |dW| at the end, accuracy, time, and the parity verdict (float32 and
    below calibrated on the reference's own drift at that precision, where it has one)."""
    x, t, w, schedule = book_data(RunConfig(epochs=epochs))
    refs = {
        d: adapters.build("numpy", w, dtype=d).train(x, t, schedule, SGD, record_every=10)
        for d in ("float64", "float32", "float16")
    }
    rows = []
    cases = [(d, False) for d in ("float64", "float32", "float16", "bfloat16")]
    cases.insert(2, ("float32", True))  # the TF32 trap
    for fw in adapters.available():
        module = adapters.net_class(fw)
        if not module.device_available("cuda"):
            rows.append({"framework": fw, "skipped": "no cuda device (or no CuPy) for it"})
            continue
        for dtype, tf32 in cases:
            if dtype not in module.DTYPES or (tf32 and not module.TF32):
                continue
            net = adapters.build(fw, w, dtype=dtype, device="cuda", tf32=tf32)
            first = time.perf_counter()
            traj = net.train(x, t, schedule, SGD, record_every=10)
            total = time.perf_counter() - first
            ref = refs.get(dtype, refs["float64"])
            calibration = (
                None if dtype == "float64" or dtype not in refs else (refs["float64"], ref)
            )
            report = parity.compare_trajectories(ref, traj, calibration=calibration)
            vs64 = parity.compare_trajectories(refs["float64"], traj)
            rows.append(
                {
                    "framework": fw,
                    "mode": traj.mode,
                    "dtype": dtype + (" +TF32" if tf32 else ""),
                    "max_dW_vs_cpu_float64": vs64.max_weight_error,
                    "accuracy": float((net.predict(x).argmax(axis=1) == t).mean()),
                    "seconds": total,
                    "vs": f"numpy {ref.dtype} (cpu)",
                    "parity": "PASS" if report.passed else "FAIL",
                    "tf32_capable": bool(tf32 and module.tf32_capable("cuda")),
                }
            )
    return rows


def bench(quick: bool) -> dict | None:
    """The benchmark on cuda (torch and JAX; the CPU reference at the book's size)."""
    from comparisons.bench import BenchConfig, bench_results

    fws = [fw for fw in ("torch", "jax") if fw in adapters.available()]
    if not any(adapters.net_class(fw).device_available("cuda") for fw in fws):
        return None
    sizes = ("book", "medium") if quick else ("book", "medium", "large")
    config = BenchConfig(sizes=sizes, frameworks=tuple(fws), device="cuda", repeats=3)
    return bench_results(config)


def summary(report: dict) -> str:
    lines = ["== devices", json.dumps(report["devices"], indent=1)]
    t = report["tests"]
    lines += ["", f"== tests/gpu: {t['summary']} (exit {t['returncode']}, {t['seconds']:.0f} s)"]
    lines += ["", "== the book's run on cuda vs the CPU reference"]
    head = ("framework", "mode", "dtype", "max |dW| vs f64", "accuracy", "time [s]", "parity")
    body = []
    for r in report["runs"]:
        if "skipped" in r:
            body.append((r["framework"], "-", "-", "-", "-", "-", "skipped: " + r["skipped"]))
            continue
        body.append(
            (
                r["framework"],
                r["mode"],
                r["dtype"],
                f"{r['max_dW_vs_cpu_float64']:.2e}",
                f"{100 * r['accuracy']:.1f}%",
                f"{r['seconds']:.3f}",
                r["parity"] + (" (TF32 on: the cause of the drift)" if r["tf32_capable"] else ""),
            )
        )
    lines.append(text_table(head, body) if body else "(no frameworks)")
    if report["bench"] is None:
        lines += ["", "== bench: skipped (no cuda device for torch or jax)"]
    else:
        from comparisons.bench import format_table

        lines += ["", "== bench on cuda", format_table(report["bench"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m comparisons.gpu_check", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="write gpu_check.json and the log")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and sizes")
    parser.add_argument("--skip-tests", action="store_true", help="leave out tests/gpu")
    args = parser.parse_args(argv)
    if args.out is not None:
        os.makedirs(args.out, exist_ok=True)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    report: dict = {"devices": devices()}
    say("running tests/gpu ...")
    report["tests"] = (
        {"returncode": 0, "summary": "skipped (--skip-tests)", "seconds": 0.0}
        if args.skip_tests
        else gpu_tests(None if args.out is None else args.out / "gpu_tests.log")
    )
    say("the book's run on cuda ...")
    report["runs"] = gpu_runs(30 if args.quick else 300)
    say("bench ...")
    report["bench"] = bench(args.quick)
    text = summary(report)
    print(text)
    if args.out is not None:
        from adapters.files import atomic_write_text

        atomic_write_text(args.out / "gpu_check.json", json.dumps(report, indent=2, default=str))
        atomic_write_text(args.out / "gpu_check.txt", text + "\n")
    failed = report["tests"]["returncode"] not in (0, 5) or any(
        r.get("parity") == "FAIL" and not r.get("tf32_capable") for r in report["runs"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
