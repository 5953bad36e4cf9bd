"""Print one SHA-256 per framework, mode and dtype of a short stretch of the book's run.

`python -m tests.adapters.trajectory_hashes` (from the repository root) trains 1 epoch
(10 steps) of the book's run with SGD in every installed framework and mode, in float64
and float32, and prints a JSON object {"numpy/eager/float64": hash, ...}
hashing the losses, the loss gap, the record steps and every recorded weight, bit for
bit. tests/adapters/test_determinism.py runs it in a second process beside its own.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

import adapters
from adapters import OptimizerSpec
from comparisons.run import RunConfig, book_data


def trajectory_hash(traj: adapters.Trajectory) -> str:
    h = hashlib.sha256()
    for a in (traj.losses, traj.record_steps, traj.loss_gap):
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    for name in sorted(traj.weights):
        h.update(name.encode())
        h.update(np.ascontiguousarray(traj.weights[name]).tobytes())
    return h.hexdigest()


def hashes() -> dict[str, str]:
    """{"numpy/eager/float64": hash, ...}: every installed framework, mode and dtype."""
    x, t, w, schedule = book_data(RunConfig(epochs=1))
    out = {}
    for framework in adapters.available():
        for mode in adapters.net_class(framework).MODES:
            for dtype in ("float64", "float32"):
                net = adapters.build(framework, w, dtype=dtype)
                traj = net.train(x, t, schedule, OptimizerSpec("sgd", 1.0), mode=mode)
                out[f"{framework}/{mode}/{dtype}"] = trajectory_hash(traj)
    return out


def main() -> None:
    print(json.dumps(hashes(), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
