"""Named intermediate activations of a model, to find its first diverging layer.

Compare two implementations layer by layer, with the reference's layers in the order
they run, and `Report.first_failure()` is the first layer at which they part:

    ref = activations(numpy_forward, x)            # tap("affine1", ...) inside
    got = torch_activations(model, torch.from_numpy(x))
    print(compare(ref, got).summary())             # "... first diverging: affine2"

- `torch_activations(module, *inputs)`: forward hooks on the module's named submodules
  (its leaves, or the `names` given) record each one's output, in the order they ran;
- `tap(name, x)` marks a value inside a plain function (NumPy or JAX): it returns `x`
  unchanged, and records it while `activations(fn, *args)` runs `fn`. Outside
  `activations` it does nothing, so the same function trains at full speed.

Every activation comes back as a NumPy array (torch detached and on the CPU).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from contextvars import ContextVar
from typing import Any

import numpy as np

from comparisons.parity.arrays import framework_of, to_numpy

_taps: ContextVar[dict[str, np.ndarray] | None] = ContextVar("parity_taps", default=None)


def tap(name: str, x: Any) -> Any:
    """`x`, recorded under `name` while `activations` runs the function calling this.

    Outside `activations` this is the identity: leave the taps in the model. Under
    `activations` a traced JAX value (inside `jax.jit`, `lax.scan` or `vmap`) cannot be
    recorded: ValueError naming the tap.
    """
    taps = _taps.get()
    if taps is None:
        return x
    if not isinstance(name, str) or not name:
        raise TypeError(f"tap: name must be a non-empty string, got {name!r}")
    if name in taps:
        raise ValueError(f"tap: name {name!r} recorded twice in one call; give each a name")
    try:
        taps[name] = np.array(to_numpy(x), copy=True)  # a copy: later in-place ops stay out
    except Exception as err:  # a JAX tracer refuses conversion
        raise ValueError(
            f"tap({name!r}): the value is traced ({type(x).__name__}), so it has no numbers "
            "yet; record it outside jax.jit, lax.scan and vmap"
        ) from err
    return x


def activations(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
    """Run `fn(*args, **kwargs)` once and return the values it `tap`ped, in tap order.

    For a JAX function, `jax.jit` is disabled for the call so that every tap sees
    numbers. ValueError when `fn` tapped nothing.
    """
    if not callable(fn):
        raise TypeError(f"activations: fn must be callable, got {type(fn).__name__}")
    taps: dict[str, np.ndarray] = {}
    token = _taps.set(taps)
    jax = sys.modules.get("jax")
    try:
        with jax.disable_jit() if jax is not None else nullcontext():
            fn(*args, **kwargs)
    finally:
        _taps.reset(token)
    if not taps:
        raise ValueError(
            f"activations: fn {getattr(fn, '__name__', fn)!r} recorded nothing; "
            "wrap the values to compare in tap(name, value)"
        )
    return taps


def torch_activations(
    module: Any, *inputs: Any, names: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Run `module(*inputs)` once (no gradients) and return its submodules' outputs.

    Forward hooks on the leaf submodules (those without children), or on the submodules
    named in `names` (as `module.named_modules()` names them, e.g. "encoder.0"), record
    each output in the order they ran: for a model whose `forward` follows its
    declaration, module order. A submodule run twice (one `nn.ReLU` reused) is recorded
    as `relu`, then `relu#2`. A tuple of tensors is recorded as `name.0`, `name.1`, ...
    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"torch_activations: module must be a torch.nn.Module, got {type(module).__name__}"
        )
    named = dict(module.named_modules())
    if names is None:
        chosen = [n for n, m in named.items() if n and not any(True for _ in m.children())]
    else:
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError("torch_activations: names must be a list of submodule names")
        unknown = [n for n in names if n not in named or not n]
        if unknown:
            raise ValueError(
                f"torch_activations: names {unknown} are not submodules of "
                f"{type(module).__name__}; it has {[n for n in named if n]}"
            )
        chosen = list(names)
    if not chosen:
        raise ValueError(
            f"torch_activations: {type(module).__name__} has no submodules to hook; "
            "pass names= or compare its output"
        )
    recorded: dict[str, Any] = {}
    calls = dict.fromkeys(chosen, 0)

    def hook_for(name: str) -> Callable[..., None]:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            calls[name] += 1
            key = name if calls[name] == 1 else f"{name}#{calls[name]}"
            if isinstance(output, tuple | list):
                for i, part in enumerate(output):
                    if framework_of(part) == "torch":
                        recorded[f"{key}.{i}"] = part.detach().clone()
            elif framework_of(output) == "torch":
                recorded[key] = output.detach().clone()  # a copy: in-place ops stay out

        return hook

    handles = [named[n].register_forward_hook(hook_for(n)) for n in chosen]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return {k: to_numpy(v) for k, v in recorded.items()}
