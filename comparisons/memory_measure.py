"""Measure the memory estimate the command line checks before a run
(`comparisons.run.memory_needed`) against real runs: `python -m comparisons.memory_measure`
(`peaks` measures any command: the bench's estimate is checked with it too).

Each run is `python -m comparisons train ...` in a fresh process that reports its own
peak resident memory and that of every worker process it started (VmHWM, the worker's
read as its group closes; not ru_maxrss, which counts the pages of the process a child
was forked from, before it started Python). The groups of workers run one after the other (torch's
ranks, then JAX's process for each mode), so the measured total is the process's peak
plus the largest group's; the estimate must hold it.

A script, not a test (tests/comparisons/test_memory_estimate.py runs one small case): the
larger runs take a minute or more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from comparisons.run import RunConfig, memory_needed

MiB = 2**20
ROOT = Path(__file__).resolve().parent.parent

# the child: the command line, with each worker's peak taken as its group closes
_CHILD = """
import json, sys
from adapters import data_parallel_workers as workers
groups = []
close = workers.WorkerGroup.close
def measured_close(self, graceful=True):
    peaks = []
    for p in [] if self.closed else self._procs:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                peaks.extend(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))
        except OSError:
            pass
    if peaks:
        groups.append(peaks)
    return close(self, graceful)
workers.WorkerGroup.close = measured_close
from comparisons import cli
status = cli.main(sys.argv[1:])
with open("/proc/self/status") as f:  # not ru_maxrss: it counts the forked parent's pages
    own = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))
print(json.dumps({"status": status, "own": own, "groups": groups}), file=sys.stderr)
"""

CASES = [  # (config, precisions)
    (RunConfig(epochs=2), ("float32", "float16")),
    (RunConfig(epochs=2, data_parallel=2), ()),
    (RunConfig(epochs=100, hidden_size=1000, data_parallel=2), ()),
    (RunConfig(frameworks=("numpy",), epochs=2000, hidden_size=1000), ()),
    (RunConfig(frameworks=("numpy", "torch"), epochs=2, hidden_size=3000), ()),
    (RunConfig(frameworks=("numpy", "torch"), epochs=300, hidden_size=300, data_parallel=2), ()),
]


def argv(config: RunConfig, precisions: tuple[str, ...]) -> list[str]:
    """The command line of `config` (the fields the cases vary)."""
    out = ["--frameworks", ",".join(config.frameworks), "--epochs", str(config.epochs)]
    out += ["--hidden-size", str(config.hidden_size), "--dtype", config.dtype]
    out += ["--data-parallel", str(config.data_parallel)]
    return out + ["--precisions", ",".join(precisions) or "none"]


def measure(config: RunConfig, precisions: tuple[str, ...] = ()) -> dict:
    """One run's estimate and measured peaks, in bytes: `estimate`, `own` (the process),
    `groups` (each group's workers' peaks), `total` (the process and its largest group)."""
    with tempfile.TemporaryDirectory() as out:
        report = peaks([*argv(config, precisions), "--quiet", "--out", str(Path(out) / "o")])
    report["estimate"] = memory_needed(config, precisions)
    return report


def peaks(command: list[str]) -> dict:
    """`python -m comparisons COMMAND...` in a fresh process: its exit `status` and peaks
    in bytes, `own` (the process), `groups` (each group's workers), `total` (the process
    and its largest group)."""
    cmd = [sys.executable, "-c", _CHILD, *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    last = (done.stderr.strip().splitlines() or [""])[-1]
    if not last.startswith("{"):
        raise RuntimeError(f"{' '.join(command)}: {done.stderr[-2000:]}")
    report = json.loads(last)
    report["total"] = report["own"] + max(map(sum, report["groups"]), default=0)
    return report


def main() -> None:
    print("estimate vs measured peak (the process + its workers), MiB:")
    for config, precisions in CASES:
        r = measure(config, precisions)
        largest = max(r["groups"], key=sum, default=[])
        workers = " + ".join(f"{w / MiB:.0f}" for w in largest) or "-"
        print(
            f"  {','.join(config.frameworks):17s} hidden {config.hidden_size:5d} epochs "
            f"{config.epochs:5d} x{config.data_parallel} matrix {bool(precisions)!s:5s}  "
            f"estimate {r['estimate'] / MiB:6.0f}  measured {r['total'] / MiB:6.0f} "
            f"({r['own'] / MiB:.0f} + workers {workers})  ratio {r['estimate'] / r['total']:.2f}"
        )


if __name__ == "__main__":
    main()
