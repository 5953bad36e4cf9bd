"""A pytest plugin for cross-framework test suites, so a missing framework cannot hide.

Installed with this package (entry point `pytest11`: `scratch_parity`), it is loaded by
every pytest run in the environment, so it imports nothing of this package (`scratch`,
`adapters`, `comparisons`: a project may have its own modules by those names) and no
framework. It gives:

- the `framework` fixture: each of numpy, torch and jax in turn, skipped (with the
  reason) where that framework is not installed (a framework is installed when its
  module is: `jax` for JAX; optax is needed only by the tests that use it);
- the `crossframework` marker, for a test that compares frameworks;
- the option `--require-all-frameworks`: the session fails at once when numpy, torch or
  jax is missing, and a `crossframework` test that skips fails instead. Pass it in CI,
  where every framework is installed: a cross-framework test that silently skips is the
  classic way such suites rot.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from scratch_parity import FRAMEWORKS

OPTION = "--require-all-frameworks"


def installed() -> list[str]:
    """The frameworks whose module can be imported here (none is imported)."""
    return [fw for fw in FRAMEWORKS if importlib.util.find_spec(fw) is not None]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scratch-parity", "cross-framework parity")
    group.addoption(
        OPTION,
        action="store_true",
        default=False,
        help=(
            "fail the session when numpy, torch or jax is not installed, and fail every "
            "crossframework-marked test that skips"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"crossframework: compares frameworks; a skip is a failure under {OPTION}",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    if not config.getoption("require_all_frameworks"):
        return None  # other projects' runs are left as they were
    return f"frameworks: {', '.join(installed()) or 'none'} installed (all required)"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not session.config.getoption("require_all_frameworks"):
        return
    missing = [fw for fw in FRAMEWORKS if fw not in installed()]
    if missing:
        raise pytest.UsageError(
            f"{OPTION}: {', '.join(missing)} not installed "
            "(pip install 'scratch-parity[all]'), so cross-framework tests would skip"
        )


def skip_text(longrepr: Any, root: Path) -> str:
    """A skip's report as pytest's summary prints it: "tests/test.py:54: skipped: why",
    the path relative to `root` where it lies below it."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, line, message = longrepr
        path = Path(str(path))
        if path.is_absolute() and path.is_relative_to(root):
            path = path.relative_to(root)
        reason = str(message).removeprefix("Skipped: ")
        return f"{path}:{line}: skipped: {reason}"
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    skipped = report.skipped and not hasattr(report, "wasxfail")  # an xfail is no skip
    if (
        skipped
        and item.config.getoption("require_all_frameworks")
        and item.get_closest_marker("crossframework")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"cross-framework test skipped under {OPTION}: "
            f"{skip_text(report.longrepr, item.config.rootpath)}"
        )
    return report


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    """Each of numpy, torch and jax in turn; skipped where it is not installed."""
    if request.param not in installed():
        pytest.skip(f"{request.param} not installed")
    return request.param
