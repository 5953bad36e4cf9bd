"""Are `scratch`, `adapters` and `comparisons` this distribution's packages?

Their names are generic. `adapters` is also the import name of AdapterHub's library, and
pip installs two distributions that claim one name into the same folder, each overwriting
the other's files, without a word. A project's own `scratch.py` or `adapters/` (in the
current directory, which Python searches first) shadows them too. Either way the first
sign would be an AttributeError or ImportError deep in unrelated code. These checks turn
it into one ImportError that names the clash and the way out, at the first import:

- `check_install()` (run by `scratch`, which every package of this one imports first):
  no other distribution installed beside ours claims one of our names.
- `check_siblings(importer, *names)` (run by `adapters` and `comparisons`): each package
  they import resolves to the folder they came from, not to someone else's.

From a checkout the first check reads one directory listing; installed, it reads the
names each distribution beside ours declares, once (7 ms for the 71 distributions of this
project's own .venv).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

PACKAGES = ("scratch", "adapters", "comparisons", "scratch_parity")
DISTRIBUTION = "scratch_parity"  # the normalised name in our .dist-info folder's name
HOME = Path(__file__).resolve().parent.parent  # the folder holding our four packages
HOW = (
    "install scratch-parity in a virtual environment of its own "
    "(python3 -m venv .venv && .venv/bin/pip install scratch-parity), "
    "or uninstall the other one and reinstall scratch-parity"
)

_checked = False


def foreign_claims(folder: Path) -> dict[str, list[str]]:
    """{our package name: ["other-dist 1.0", ...]} for the distributions installed in
    `folder` (their *.dist-info / *.egg-info) that declare one of our package names."""
    claims: dict[str, list[str]] = {}
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith((".dist-info", ".egg-info"))]
    except OSError:
        return claims
    for entry in entries:
        stem = entry.name.rsplit(".", 1)[0]  # "adapters-1.1.0"
        if stem.split("-", 1)[0].lower().replace("-", "_") == DISTRIBUTION:
            continue
        for name in _declared(Path(entry.path)) & set(PACKAGES):
            claims.setdefault(name, []).append(stem.replace("-", " ", 1))
    return claims


def _declared(info: Path) -> set[str]:
    """The top-level names a distribution declares: top_level.txt where it has one, else
    the first component of every path its RECORD lists."""
    try:
        return set((info / "top_level.txt").read_text(encoding="utf-8").split())
    except OSError:
        pass
    try:
        record = (info / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {line.split("/", 1)[0] for line in record.splitlines() if "/" in line.split(",", 1)[0]}


def check_install() -> None:
    """ImportError when another distribution installed beside ours claims one of our
    package names (pip lets the two overwrite each other's files). Runs once."""
    global _checked
    if _checked:
        return
    claims = foreign_claims(HOME)
    if claims:
        clash = "; ".join(f"{name!r} also by {', '.join(d)}" for name, d in sorted(claims.items()))
        raise ImportError(
            f"scratch-parity shares package names with another distribution in {HOME} "
            f"({clash}): pip lets them overwrite each other's files, so neither works; {HOW}"
        )
    _checked = True


def check_siblings(importer: str, *names: str) -> None:
    """ImportError when one of `names` would be imported from anywhere but the folder
    `importer` came from (a local `adapters/` or `scratch.py`, another distribution)."""
    for name in names:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module else None
        if origin is None:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            origin = spec.origin if spec is not None else None
        if origin is None:
            raise ImportError(
                f"{importer} needs the package {name!r} of scratch-parity, and it is missing "
                f"from {HOME}: reinstall scratch-parity"
            )
        where = Path(origin).resolve()
        if where.parent.parent != HOME:  # HOME/<name>/__init__.py
            raise ImportError(
                f"{importer} needs scratch-parity's {name!r}, but the name {name!r} is taken "
                f"by {where} ({_whose(where)}); rename yours or run from another directory, "
                f"or {HOW}"
            )


def _whose(path: Path) -> str:
    folder = path.parent.parent if path.name == "__init__.py" else path.parent
    package = path.parent.name if path.name == "__init__.py" else path.stem
    owners = foreign_claims(folder).get(package)
    if owners:
        return f"installed by {', '.join(owners)}"
    return "a module of your own, found first on sys.path"
