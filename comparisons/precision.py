"""The precision matrix: the book's run in float64, float32, float16 and bfloat16.

The book ends chapter 1 (§1.5.1) with lower bit precision as a way to go faster: float32
for computing, float16 for storing the weights. This module trains the book's run in
every precision every installed framework supports, from the same weights on the same
batches, and shows for each how far its weights drift from the float64 reference and
whether the trained net still classifies as well. One more row stores the float32
reference's trained weights in float16 and computes with them in float32, as the
book's `save_params` does.

Within a precision the frameworks are also compared with each other: with the reference
at that precision (NumPy: float64, float32, float16), within CALIBRATION_FACTOR times
that reference's own drift from float64. NumPy has no bfloat16; there the first
framework that has it (torch) stands in for the reference.

`reference_error` measures the reference's own error against float64 in one forward and
backward pass: the numbers the tolerance table's rows are calibrated on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

import adapters
from adapters import checks
from comparisons import parity, rounding
from comparisons.run import (
    RunConfig,
    accuracy,
    book_data,
    reference_device,
    reference_twins,
    train,
    verdict_of,
)
from comparisons.text import MATRIX_HEAD, STORAGE, matrix_cells, text_table
from scratch.two_layer_net import WEIGHT_NAMES, Weights


@dataclass
class PrecisionRow:
    """One framework at one precision (or the float16-storage case)."""

    precision: str  # one of checks.DTYPE_NAMES, or STORAGE
    framework: str
    mode: str
    accuracy: float | None  # the net's own predictions, in its own precision
    loss: float | None  # the epsilon-free loss of the trained weights, evaluated in float64
    drift: float | None  # max |W - W_float64 reference| after the run
    # "reference", "stand-in", "PASS", "FAIL" (either with " (calibrated)": judged against
    # the reference's rounding twins), "-", "refused" or "diverged at step N"
    verdict: str
    seconds: float
    report: parity.TrajectoryReport | None = None
    weights: Weights | None = None
    note: str = ""


@dataclass
class PrecisionMatrix:
    """The rows, float64 first; `passed` when every compared run agrees."""

    rows: list[PrecisionRow]
    steps: int

    @property
    def reference(self) -> PrecisionRow:
        return self.rows[0]

    @property
    def passed(self) -> bool:
        return all(not r.verdict.startswith("FAIL") for r in self.rows)

    def row(self, precision: str, framework: str) -> PrecisionRow:
        for r in self.rows:
            if (r.precision, r.framework) == (precision, framework):
                return r
        raise KeyError(f"no {framework} row at {precision}")

    def table(self) -> str:
        return format_matrix(self.to_dict()["rows"])

    def to_dict(self) -> dict:
        ref_acc = self.reference.accuracy
        rows = []
        for r in self.rows:
            rows.append(
                {
                    "precision": r.precision,
                    "framework": r.framework,
                    "mode": r.mode,
                    "accuracy": r.accuracy,
                    "accuracy_change": (
                        None if r.accuracy is None or ref_acc is None else r.accuracy - ref_acc
                    ),
                    "loss": r.loss,
                    "max_abs_dweights_vs_float64": r.drift,
                    "verdict": r.verdict,
                    "vs": None if r.report is None else r.report.a_name,
                    "seconds": r.seconds,
                    "note": r.note,
                }
            )
        return {"steps": self.steps, "passed": self.passed, "rows": rows}


def _exact_loss(weights: Weights, x: np.ndarray, t: np.ndarray) -> float:
    """The epsilon-free mean cross-entropy of `weights` on (x, t), in float64."""
    w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    with np.errstate(over="ignore"):  # exp(-a) = inf for a < -709: z = 0, the limit
        z = 1 / (1 + np.exp(-(x @ w["W1"] + w["b1"])))
    s = z @ w["W2"] + w["b2"]
    s = s - s.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(t)), t].mean())


def _drift(weights: Weights, ref: Weights) -> float:
    return max(
        float(np.max(np.abs(np.asarray(weights[k], np.float64) - ref[k]))) for k in WEIGHT_NAMES
    )


def precision_matrix(
    config: RunConfig,
    frameworks: Iterable[str] | None = None,
    precisions: Iterable[str] = checks.DTYPE_NAMES,
    *,
    progress: Callable[[str], None] | None = None,
    twins: rounding.Twins | None = None,
) -> PrecisionMatrix:
    """Train the book's run (as `config` says, its dtype aside) in every precision each
    framework supports; compare each with float64 and with its precision's reference.
    A float64 comparison the table fails is judged again against the float64 reference's
    rounding twins (comparisons/rounding.py): `twins`, the main run's when they are of the
    same run, or made here when needed."""
    say = progress or (lambda _msg: None)
    frameworks = list(config.frameworks if frameworks is None else frameworks)
    precisions = [checks.check_dtype(p) for p in precisions]
    if "float64" not in precisions:
        precisions.insert(0, "float64")  # the yardstick of every drift
    precisions.sort(key=checks.DTYPE_NAMES.index)
    x, t, weights, schedule = book_data(config)
    rows: list[PrecisionRow] = []
    ref64: adapters.Trajectory | None = None
    ref64_weights: Weights | None = None
    ref32_weights: Weights | None = None
    for precision in precisions:
        ref_d: adapters.Trajectory | None = None
        for fw in frameworks:
            net_class = adapters.net_class(fw)
            device = reference_device(fw, config.device)
            if precision not in net_class.DTYPES or not net_class.device_available(device):
                continue
            mode = net_class.MODES[0]
            say(f"precision matrix: {fw}/{mode} in {precision} ...")
            net = adapters.build(fw, weights, dtype=precision, device=device)
            try:
                traj = train(net, config, x, t, schedule, mode)
            except adapters.DivergenceError as err:
                rows.append(
                    PrecisionRow(
                        precision, fw, mode, None, None, None,
                        f"diverged at step {err.step}", 0.0, note=str(err),
                    )
                )  # fmt: skip
                continue
            except ValueError as err:  # a setting this precision cannot hold (lr 1e6 in float16)
                rows.append(
                    PrecisionRow(
                        precision, fw, mode, None, None, None, "refused", 0.0, note=str(err)
                    )
                )
                continue
            trained = net.weights()
            report, verdict = None, "reference"
            if precision == "float64" and ref64 is None:
                ref64, ref64_weights = traj, {k: np.asarray(v) for k, v in trained.items()}
                float64 = dataclasses.replace(config, dtype="float64")
                if twins is None or twins.key != (float64, fw, mode):
                    twins = reference_twins(float64, x, t, weights, schedule, fw, mode, say)
            elif ref_d is None:
                verdict = "reference" if fw == frameworks[0] else "stand-in"
            elif precision == "float64":
                report = rounding.judge(ref_d, traj, twins)
                verdict = verdict_of(report)
            else:  # without a float64 reference (it diverged) the static row judges
                calibration = None if ref64 is None else (ref64, ref_d)
                report = parity.compare_trajectories(ref_d, traj, calibration=calibration)
                verdict = "PASS" if report.passed else "FAIL"
            if ref_d is None:
                ref_d = traj
            if precision == "float32" and fw == frameworks[0]:
                ref32_weights = trained
            rows.append(
                PrecisionRow(
                    precision=precision,
                    framework=fw,
                    mode=mode,
                    accuracy=accuracy(net, x, t),
                    loss=_exact_loss(trained, x, t),
                    drift=None if ref64_weights is None else _drift(trained, ref64_weights),
                    verdict=verdict,
                    seconds=traj.seconds,
                    report=report,
                    weights=trained,
                    note="NumPy has no bfloat16: this run stands in for the reference"
                    if verdict == "stand-in"
                    else "",
                )
            )
    if ref32_weights is not None and ref64_weights is not None:
        rows.append(storage_row(ref32_weights, ref64_weights, x, t, frameworks[0], config))
    return PrecisionMatrix(rows, steps=int(schedule.shape[0]))


def storage_row(
    trained32: Weights,
    ref64: Weights,
    x: np.ndarray,
    t: np.ndarray,
    framework: str,
    config: RunConfig,
) -> PrecisionRow:
    """The book's save_params: float32 weights written as float16, read back and used in
    float32 (§1.5.1). Only the storage rounds; the arithmetic is float32."""
    try:
        stored = {
            k: checks.cast(np.asarray(v), "float16", f"weights[{k!r}]")
            for k, v in trained32.items()
        }
    except ValueError as err:  # lr 1e6 trains float32 weights beyond float16's 65504
        return PrecisionRow(
            STORAGE, framework, "float32", None, None, None, "does not fit", 0.0,
            note=f"the float32 run's weights cannot be stored in float16: {err}",
        )  # fmt: skip
    net = adapters.build(
        framework, stored, dtype="float32", device=reference_device(framework, config.device)
    )
    loaded = net.weights()
    rounding = _drift(loaded, {k: np.asarray(v, np.float64) for k, v in trained32.items()})
    return PrecisionRow(
        precision=STORAGE,
        framework=framework,
        mode="float32",
        accuracy=accuracy(net, x, t),
        loss=_exact_loss(loaded, x, t),
        drift=_drift(loaded, ref64),
        verdict="-",
        seconds=0.0,
        weights=loaded,
        note=f"the float32 run's weights stored in float16 (rounding moved them by up to "
        f"{rounding:.2g}), then computed with in float32",
    )


def format_matrix(rows: list[dict]) -> str:
    return text_table(MATRIX_HEAD, [matrix_cells(r) for r in rows])


# --------------------------------------------------------------------------- calibration


def reference_error(framework: str, dtype: str, *, trained: Weights | None = None) -> dict:
    """How far `framework` in `dtype` is from the float64 reference in one pass over the
    book's 300 points, at the book's initial weights and at `trained` ones (the float64
    reference's after the book's run when None): max |error| of the forward outputs
    (scores and every activation), the loss and the gradients.

    With framework "numpy" this is the reference's own error, on which the float32 and
    float16 rows of parity.TOLERANCES are calibrated.
    """
    config = RunConfig()
    x, t, weights, schedule = book_data(config)
    if trained is None:
        ref = adapters.build("numpy", weights)
        ref.train(x, t, schedule, config.optimizer, record_every=schedule.shape[0])
        trained = ref.weights()
    out: dict[str, dict[str, float]] = {}
    for label, w in (("initial", weights), ("trained", trained)):
        exact = adapters.build("numpy", w)
        other = adapters.build(framework, w, dtype=dtype)
        f_exact = {"predict": exact.predict(x), **exact.activations(x, t)}
        f_other = {"predict": other.predict(x), **other.activations(x, t)}
        g_exact, g_other = exact.gradients(x, t), other.gradients(x, t)
        loss_other = other.loss(x, t)
        if framework == "numpy":  # the book's loss has the 1e-7 inside the log: take it out
            loss_other += parity.book_loss_gap(f_other["softmax"], t)
        out[label] = {
            "forward": max(float(np.max(np.abs(f_other[k] - f_exact[k]))) for k in f_exact),
            "loss": abs(loss_other - _exact_loss(w, x, t)),
            "gradient": max(float(np.max(np.abs(g_other[k] - g_exact[k]))) for k in g_exact),
        }
    return out


__all__ = [
    "STORAGE",
    "PrecisionMatrix",
    "PrecisionRow",
    "format_matrix",
    "precision_matrix",
    "reference_error",
    "storage_row",
]
