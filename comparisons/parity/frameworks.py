"""torch and jax, imported only when a helper needs them, and without side effects.

`comparisons.parity` imports NumPy alone; the helpers for torch modules and JAX pytrees
import their framework when called. Importing jax draws from NumPy's global generator,
so `jax()` puts that generator back as it was (DESIGN.md: no global side effects).
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np


def torch() -> ModuleType:
    """The torch module (ImportError naming the extra to install when it is missing)."""
    try:
        import torch
    except ImportError:
        raise ImportError("torch is not installed: pip install 'scratch-parity[torch]'") from None
    return torch


def jax() -> ModuleType:
    """The jax module, imported with NumPy's global generator left as it was."""
    if "jax" in sys.modules:
        return sys.modules["jax"]
    state = np.random.get_state()  # noqa: NPY002
    try:
        import jax
    except ImportError:
        raise ImportError("jax is not installed: pip install 'scratch-parity[jax]'") from None
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return jax
