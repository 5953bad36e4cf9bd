"""What `comparisons.parity.record` costs a user's loop: `python -m comparisons bench --record`.

The book's TwoLayerNet (2-10-3, batch 30, SGD lr 1.0, float64, the benchmark's "book"
problem) trained the way a person writes it, with no adapter: a torch `nn.Sequential`
with `F.cross_entropy` and `torch.optim.SGD`, eager, on one thread (as the benchmark's
torch baseline); a jitted JAX step with optax's SGD.
Each loop is timed bare and under `record(step, weights, schedule, ...)` at
`record_every` 1 and 100 (the torch weights taken as docs/own-model.md's example takes them:
`from_torch`'s views, made once), the runs interleaved (bare, every 1, every 100, bare,
...) so a shared machine's load falls on all of them alike. A row's times are the best
of the runs and its ratio the ratio of the bests: the cost is a few microseconds a step,
and on a shared machine a run's time varies by more than that (a JAX step read 21 to
41 us on this project's machine from one minute to the next), only ever upwards. The
median of the paired runs' ratios (the benchmark's way for the adapters) is in the JSON
beside it.

Each row also times `record(..., grads=...)` at the same `record_every`: the gradients of
the step just taken, recorded with the weights (issue 22's target: they add no more than
the weights do, `grads_extra_per_step_s <= weights_extra_per_step_s`). The torch loop
zeroes its gradients in place (`zero_grad(set_to_none=False)`), so each parameter keeps
one gradient tensor and `grads` hands over views of them made once, as `weights` hands
over `from_torch`'s views: the recorder then takes both the same way. With torch's
default (`set_to_none=True`) every step's gradients are new tensors, and each record
converts them afresh (a few microseconds a tensor more, and the `grads` function builds
its views every time).

`first` is the first `record` call in the process at `record_every=1`, timed apart: for
JAX it compiles the functions that stack records on the device (once per set of weight
shapes, as the user's own step compiles once); the timed runs come after it, as the bare
loop's runs come after its own compilation.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable

import numpy as np

from comparisons.bench import SIZES, make_problem, paired_ratio
from comparisons.parity import from_torch, pinned_precision, record, to_jax, to_torch

RECORD_EVERY = (1, 100)
# the targets (issue 13): record's cost on top of the bare loop, by framework and record_every
LIMITS = {("torch", 1): 1.10, ("torch", 100): 1.05, ("jax", 1): 1.25, ("jax", 100): 1.05}
TORCH_NAMES = {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight", "b2": "2.bias"}


def torch_loop(problem) -> tuple[Callable, Callable, Callable, Callable]:
    """(reset, step, weights, grads) of a torch loop as a user writes it."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from torch's
        # global generator; reset() overwrites it with the problem's weights anyway
        model = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 3)).double()
    x, t = torch.from_numpy(problem.x), torch.from_numpy(problem.t)
    opt = torch.optim.SGD(model.parameters(), lr=problem.lr)

    def reset() -> None:
        to_torch(model, problem.weights, TORCH_NAMES)

    def step(rows: np.ndarray):
        rows = torch.from_numpy(rows)
        loss = F.cross_entropy(model(x[rows]), t[rows])
        opt.zero_grad(set_to_none=False)  # one gradient tensor per parameter, zeroed in place
        loss.backward()
        opt.step()
        return loss

    views = from_torch(model, TORCH_NAMES)  # views: they follow the model as it trains
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # made once; backward adds into it
    params = dict(model.named_parameters())
    grad_views = {  # nn.Linear's (out, in) gradient -> (in, out), as from_torch
        k: params[v].grad.T if params[v].ndim == 2 else params[v].grad
        for k, v in TORCH_NAMES.items()
    }
    return reset, step, lambda: views, lambda: grad_views


def jax_loop(problem) -> tuple[Callable, Callable, Callable, Callable]:
    """(reset, step, weights, grads) of a jitted JAX step with optax, as a user writes
    it (the step hands back its gradients). Built and run under pinned_precision("jax")
    (x64 on)."""
    from adapters.precision import import_jax

    jax = import_jax()
    jnp = jax.numpy
    import optax

    x, t = jnp.asarray(problem.x), jnp.asarray(problem.t)
    opt = optax.sgd(problem.lr)
    state: dict = {}

    def loss_fn(params, rows):
        h = jax.nn.sigmoid(x[rows] @ params["W1"] + params["b1"])
        scores = h @ params["W2"] + params["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(scores, t[rows]).mean()

    @jax.jit
    def update(params, opt_state, rows):
        loss, grads = jax.value_and_grad(loss_fn)(params, rows)
        updates, opt_state = opt.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss, grads

    def reset() -> None:
        state["params"] = to_jax(problem.weights, problem.weights)
        state["opt"] = opt.init(state["params"])

    def step(rows: np.ndarray):
        state["params"], state["opt"], loss, state["grads"] = update(
            state["params"], state["opt"], rows
        )
        return loss

    def block() -> None:
        jax.block_until_ready(state["params"])

    step.block = block  # the bare loop waits for its last step, as record does
    return reset, step, lambda: state["params"], lambda: state["grads"]


LOOPS = {"torch": torch_loop, "jax": jax_loop}


def _threads(framework: str, problem) -> contextlib.AbstractContextManager:
    """torch on the threads its adapter and the benchmark's torch baseline use for a net
    this small (one; restored after): on two busy cores a second thread makes a step of
    the book's net ten times slower, and the ratio would measure that."""
    if framework != "torch":
        return contextlib.nullcontext()
    from adapters.torch_adapter import tiny_net_threads

    return tiny_net_threads((2, problem.size.hidden, 3), problem.size.batch, "cpu")


def time_framework(framework: str, problem, repeats: int) -> list[dict]:
    """One row per record_every: per-step times bare and recorded, their ratio, and
    the first record call's time."""
    with pinned_precision(framework, "float64"), _threads(framework, problem):
        reset, step, weights, grads = LOOPS[framework](problem)
        schedule = problem.schedule
        block = getattr(step, "block", lambda: None)

        def bare() -> None:
            for rows in schedule:
                step(rows)
            block()

        def recorded(every: int, **kw) -> Callable[[], object]:
            return lambda: record(
                step, weights, schedule, framework=framework, record_every=every, **kw
            )

        reset()
        bare()  # the step's own compilation / first optimizer step
        reset()
        start = time.perf_counter()
        recorded(1)()
        first = time.perf_counter() - start
        reset()
        recorded(1, grads=grads)()  # the gradients' stacking compiles here, for JAX
        cases = {"bare": bare} | {every: recorded(every) for every in RECORD_EVERY}
        cases |= {("grads", every): recorded(every, grads=grads) for every in RECORD_EVERY}
        runs: dict = {name: [] for name in cases}
        for _ in range(repeats):
            for name, fn in cases.items():
                reset()
                start = time.perf_counter()
                fn()
                runs[name].append(time.perf_counter() - start)
    steps = problem.steps
    bare = min(runs["bare"])
    return [
        {
            "framework": framework,
            "record_every": every,
            "bare_per_step_s": bare / steps,
            "recorded_per_step_s": min(runs[every]) / steps,
            "ratio": min(runs[every]) / bare,
            "paired_median_ratio": paired_ratio(runs[every], runs["bare"]),
            "limit": LIMITS[(framework, every)],
            "grads_per_step_s": min(runs["grads", every]) / steps,
            # what the weights add to the bare loop, and what the gradients add to that
            "weights_extra_per_step_s": (min(runs[every]) - bare) / steps,
            "grads_extra_per_step_s": (min(runs["grads", every]) - min(runs[every])) / steps,
            "first_record_s": first,
            # what the first call costs beyond a timed run: JAX's stacking compiles there
            # (against the median run: the first is one run, not the best of many)
            "first_record_extra_s": first - statistics.median(runs[1]),
        }
        for every in RECORD_EVERY
    ]


def timing(
    frameworks: tuple[str, ...] = ("torch", "jax"), steps: int | None = None, repeats: int = 5
) -> list[dict]:
    """The rows for every framework asked for (numpy has no `record` cost of interest:
    its loop is the reference itself)."""
    problem = make_problem(SIZES["book"], steps)
    rows = []
    for framework in frameworks:
        rows += time_framework(framework, problem, repeats)
    return rows


__all__ = ["LIMITS", "RECORD_EVERY", "timing"]
