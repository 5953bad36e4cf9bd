"""Helpers shared by the test files (as equinox's tests/helpers.py): which frameworks are
installed, skipping a test that needs one that is not, and the pairs and modes to
parametrise over. The frameworks and their modes come from the package, never restated.

Fixtures and hooks live in tests/conftest.py; this module holds plain functions.
"""

from __future__ import annotations

import itertools

import pytest

import adapters

FRAMEWORKS = adapters.FRAMEWORKS
INSTALLED = adapters.available()
PAIRS = list(itertools.combinations(FRAMEWORKS, 2))


def need(*frameworks: str) -> None:
    """Skip (a failure under --require-all-frameworks) unless all are installed."""
    missing = [fw for fw in frameworks if fw not in INSTALLED]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")


def modes(framework: str) -> tuple[str, ...]:
    """The execution modes of `framework`'s Net, its default first."""
    return adapters.net_class(framework).MODES


def framework_modes(frameworks=FRAMEWORKS) -> list[tuple[str, str]]:
    """Every (framework, mode) of `frameworks`, in the package's order, to parametrise
    over. A framework that is not installed gets one entry, mode "-", so that its test
    is collected and `need` skips it (a failure under --require-all-frameworks)."""
    return [(fw, mode) for fw in frameworks for mode in (modes(fw) if fw in INSTALLED else ("-",))]
