"""The distribution's own name, for the two things that must not depend on its three
packages (`scratch`, `adapters`, `comparisons`) being importable:

- `scratch_parity.pytest_plugin`, the pytest plugin every pytest run in the environment
  loads (a project with its own `scratch.py`, `adapters/` or `comparisons.py` must still
  start pytest, and get its own modules);
- `scratch_parity.neighbours`, which says clearly when another distribution or a local
  folder holds one of those three names, instead of letting the wrong module fail later.

Nothing here imports NumPy or any framework.
"""

FRAMEWORKS = ("numpy", "torch", "jax")  # the reference first, then the twins
