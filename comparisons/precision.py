"""The book's speed-up section, §1.5.2 "bit precision": how far each precision drifts.

The book's run is trained in every supported dtype of every framework from the same
float64 initial weights (rounded to the dtype) and batches, and compared with the
float64 reference: the largest weight difference at the end, the final loss, and
whether the net still classifies the spiral as well. One more row is what the book
does when it saves parameters: train in float32, store the weights as float16, load
them back into a float32 net.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import adapters
from comparisons.run import RunConfig, accuracy, book_data

DTYPES = ("float64", "float32", "float16", "bfloat16")


def precision_rows(
    frameworks: list[str], config: RunConfig | None = None, say: Callable[[str], None] = print
) -> list[dict]:
    """One row per (dtype, framework) that the framework supports, plus the book's
    float16-storage row. Each trains in the framework's default mode."""
    config = config or RunConfig()
    x, t, w, schedule = book_data(config)
    ref_net = adapters.build(frameworks[0], w)
    ref = ref_net.train(
        x, t, schedule, config.optimizer, max_grad=config.max_grad, record_every=schedule.shape[0]
    )
    ref_w = ref.final_weights()
    max_iters = len(x) // config.batch_size
    rows = []

    def row(dtype, fw, net, traj, note=""):
        final = traj.final_weights() if traj is not None else net.weights()
        dw = max(float(np.max(np.abs(final[k].astype(np.float64) - ref_w[k]))) for k in ref_w)
        loss = float(np.mean(traj.losses[-max_iters:])) if traj is not None else float("nan")
        rows.append(
            {
                "dtype": dtype,
                "framework": fw,
                "max_abs_dweights_vs_float64": dw,
                "final_loss": loss,
                "accuracy": accuracy(net, x, t),
                "note": note,
            }
        )

    for dtype in DTYPES:
        for fw in frameworks:
            module = adapters.base.adapter_module(fw)
            if dtype not in module.DTYPES:
                continue
            say(f"precision: {fw} {dtype} ...")
            net = adapters.build(fw, w, dtype=dtype, device=config.device)
            try:
                traj = net.train(
                    x,
                    t,
                    schedule,
                    config.optimizer,
                    max_grad=config.max_grad,
                    record_every=schedule.shape[0],
                )
            except adapters.DivergenceError as err:
                traj = err.trajectory
                row(dtype, fw, net, traj, note=f"diverged at step {err.step}")
                continue
            row(dtype, fw, net, traj)

    # the book's save_params: float32 training, float16 storage, float32 compute again
    say("precision: float16 storage of float32 weights ...")
    f32 = adapters.build(frameworks[0], w, dtype="float32")
    f32.train(
        x, t, schedule, config.optimizer, max_grad=config.max_grad, record_every=schedule.shape[0]
    )
    stored = {k: v.astype(np.float16) for k, v in f32.weights().items()}
    loaded = adapters.build(
        frameworks[0], {k: v.astype(np.float32) for k, v in stored.items()}, dtype="float32"
    )
    row(
        "float16 storage, float32 compute",
        frameworks[0],
        loaded,
        None,
        note="train float32, save as float16 (as the book's save_params), load as float32",
    )
    return rows


def format_precision(rows: list[dict]) -> str:
    """A markdown table."""
    out = [
        "| dtype | framework | max abs dW vs float64 | final loss | accuracy | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        loss = "-" if np.isnan(r["final_loss"]) else f"{r['final_loss']:.4f}"
        out.append(
            f"| {r['dtype']} | {r['framework']} | {r['max_abs_dweights_vs_float64']:.2e}"
            f" | {loss} | {100 * r['accuracy']:.1f}% | {r['note']} |"
        )
    return "\n".join(out)
