"""The same weights in every framework: named mappings in your layout, and back.

A parity check starts from identical weights. Keep them once, as a mapping of names to
NumPy arrays in your layout (the book's: W is (in, out), forward is `x @ W + b`), and
let each framework take them in one line:

    w = init_weights()                                       # {"W1": (in, out), ...}
    to_torch(model, w, names=TORCH_NAMES)                    # in place, transposing
    params = to_jax(params, w)                               # a new pytree
    from_torch(model, names=TORCH_NAMES), from_jax(params)   # and back: record, compare

`names` maps your names to the framework's: a torch parameter's name in
`module.named_parameters()` ("affine1.weight"), a JAX leaf's path with "." between the
keys ("affine1.W", "0.1"). Without it the framework's own names are used. Every
parameter or leaf must be named: a weight left out of a parity check is not checked.

Layout: `torch.nn.Linear` stores its weight as (out, in) and computes x @ W.T + b; its
weight is transposed to (in, out) on the way out and back on the way in. Every other
parameter, and every JAX leaf, keeps its shape.

`from_torch`'s views follow in-place updates (`optimizer.step()`, `p -= lr * p.grad`
under no_grad, `p.data.copy_(...)`). A step that rebinds a parameter's storage
(`p.data = p.data - lr * p.grad`) leaves a view taken before it on the old memory: each
view remembers its parameter, and `record` refuses one that no longer aliases it.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from adapters.precision import import_jax
from adapters.recording import VIEW_OF
from comparisons.parity.arrays import to_numpy


def from_torch(module: Any, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The module's parameters by your names, in your (in, out) layout, as detached torch
    tensors: views, not copies, so they follow the module as it trains in place (what
    `record`'s `weights()` wants); `np.array(t)` keeps a copy. Each view remembers its
    parameter: `record` raises a ValueError naming both when a step has rebound the
    parameter's storage (`p.data = ...`) since the view was taken."""
    params = _torch_params(module)
    chosen = _resolve(names, list(params), "parameter", type(module).__name__)
    out = {}
    for mine, theirs in chosen.items():
        p, linear = params[theirs]
        view = p.detach().T if linear else p.detach()  # Linear's (out, in) -> (in, out)
        setattr(view, VIEW_OF, (weakref.ref(p), theirs))  # checked at each record
        out[mine] = view
    return out


def to_torch(
    module: Any, weights: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> Any:
    """Copy `weights` (your names, your layout) into the module's parameters, in place;
    each keeps its dtype and device. Returns the module."""
    params = _torch_params(module)
    t = sys.modules["torch"]
    chosen = _resolve(names, list(params), "parameter", type(module).__name__)
    _check_keys(weights, chosen)
    with t.no_grad():
        for mine, theirs in chosen.items():
            p, linear = params[theirs]
            value = to_numpy(weights[mine])
            want = tuple(p.shape)[::-1] if linear else tuple(p.shape)  # in your layout
            if value.shape != want:
                raise ValueError(_shape_error(mine, theirs, value.shape, want, linear))
            value = value.T if linear else value  # (in, out) -> Linear's (out, in)
            p.copy_(t.from_numpy(np.ascontiguousarray(value)))
    return module


def from_jax(tree: Any, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The pytree's leaves by your names (default: their key paths), as they are."""
    leaves, _ = _jax_leaves(tree)
    chosen = _resolve(names, list(leaves), "leaf", "the pytree")
    return {mine: leaves[theirs] for mine, theirs in chosen.items()}


def to_jax(tree: Any, weights: Mapping[str, Any], names: Mapping[str, str] | None = None) -> Any:
    """A new pytree shaped like `tree` holding `weights` as JAX arrays.

    The leaves of `tree` give the structure and the shapes (arrays, or anything with a
    `.shape`, e.g. `jax.ShapeDtypeStruct`). A float64 array becomes float32 unless x64 is
    on: build under `pinned_precision("jax")` for float64.
    """
    leaves, treedef = _jax_leaves(tree)
    j = sys.modules["jax"]
    chosen = _resolve(names, list(leaves), "leaf", "the pytree")
    _check_keys(weights, chosen)
    by_path = {theirs: mine for mine, theirs in chosen.items()}
    new = []
    for path, leaf in leaves.items():
        value = to_numpy(weights[by_path[path]])
        if value.shape != tuple(leaf.shape):
            raise ValueError(_shape_error(by_path[path], path, value.shape, tuple(leaf.shape)))
        new.append(j.numpy.asarray(value))
    return j.tree_util.tree_unflatten(treedef, new)


def _torch_params(module: Any) -> dict[str, tuple[Any, bool]]:
    """name -> (parameter, whether it is an nn.Linear weight stored (out, in))."""
    t = sys.modules.get("torch")  # a torch module exists only once torch is imported
    if t is None or not isinstance(module, t.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    params = {}
    linear = t.nn.Linear
    for prefix, sub in module.named_modules():
        # sub._parameters: what sub.named_parameters(recurse=False) walks, at half the cost
        # (from_torch runs at every record of `record`)
        for name, p in sub._parameters.items():
            if p is not None:
                full = f"{prefix}.{name}" if prefix else name
                params[full] = (p, name == "weight" and isinstance(sub, linear))
    if not params:
        raise ValueError(f"module {type(module).__name__} has no parameters")
    return params


def _jax_leaves(tree: Any) -> tuple[dict[str, Any], Any]:
    """path -> leaf (paths like "affine1.W" or "0.1"), and the tree's structure."""
    j = import_jax()  # a pytree of NumPy arrays needs no jax yet
    flat, treedef = j.tree_util.tree_flatten_with_path(tree)
    if not flat:
        raise ValueError("tree has no leaves")
    return {".".join(_key_text(k) for k in path): leaf for path, leaf in flat}, treedef


def _key_text(key: Any) -> str:
    for attr in ("key", "idx", "name"):  # DictKey, SequenceKey / FlattenedIndexKey, GetAttrKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _resolve(
    names: Mapping[str, str] | None, available: list[str], kind: str, owner: str
) -> dict[str, str]:
    """Your name -> the framework's, checked: every one exists, each named once, all named."""
    if names is None:
        return {n: n for n in available}
    if (
        type(names) is dict
        and len(names) == len(available)
        and set(names.values()) == set(available)
        and all(type(k) is str for k in names)
    ):
        return names  # every one named once (the checks below, in one pass)
    if not isinstance(names, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in names.items()
    ):
        raise TypeError("names must be a mapping of your names to the framework's (str -> str)")
    unknown = [v for v in names.values() if v not in available]
    if unknown:
        raise ValueError(f"names: {owner} has no {kind} {unknown}; it has {available}")
    if len(set(names.values())) != len(names):
        raise ValueError(f"names: a {kind} is named twice in {dict(names)}")
    left_out = [a for a in available if a not in names.values()]
    if left_out:
        raise ValueError(
            f"names: every {kind} must be named (a weight left out is not checked); "
            f"{owner}'s {left_out} are not"
        )
    return dict(names)


def _check_keys(weights: Mapping[str, Any], chosen: dict[str, str]) -> None:
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a mapping of names to arrays, got {type(weights)}")
    if set(weights) != set(chosen):
        missing = [k for k in chosen if k not in weights]
        extra = [k for k in weights if k not in chosen]
        raise ValueError(f"weights: missing {missing}, not expected {extra}")


def _shape_error(
    mine: str, theirs: str, got: tuple[int, ...], want: tuple[int, ...], linear: bool = False
) -> str:
    layout = " (an nn.Linear weight, taken in the (in, out) layout)" if linear else ""
    return f"weights[{mine!r}] for {theirs}: shape {got}, expected {want}{layout}"
