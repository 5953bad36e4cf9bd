"""A pytest plugin for cross-framework test suites, so a missing framework cannot hide.

Installed with this package (entry point `pytest11`: `scratch_parity`), it gives every
test suite in the environment:

- the `framework` fixture: each of numpy, torch and jax in turn, skipped (with the
  reason) where that framework is not installed;
- the `crossframework` marker, for a test that compares frameworks;
- the option `--require-all-frameworks`: the session fails at once when numpy, torch or
  jax is missing, and a `crossframework` test that skips fails instead. Pass it in CI,
  where every framework is installed: a cross-framework test that silently skips is the
  classic way such suites rot.

Loading the plugin imports no framework (`adapters.available` only looks them up).
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters import FRAMEWORKS, available

OPTION = "--require-all-frameworks"


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


def pytest_report_header(config: pytest.Config) -> str:
    installed = available()
    required = " (all required)" if config.getoption("require_all_frameworks") else ""
    return f"frameworks: {', '.join(installed) or 'none'} installed{required}"


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [fw for fw in FRAMEWORKS if fw not in available()]
    if session.config.getoption("require_all_frameworks") and missing:
        raise pytest.UsageError(
            f"{OPTION}: {', '.join(missing)} not installed "
            "(pip install 'scratch-parity[all]'), so cross-framework tests would skip"
        )


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
        report.longrepr = f"cross-framework test skipped under {OPTION}: {report.longrepr}"
    return report


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    """Each of numpy, torch and jax in turn; skipped where it is not installed."""
    if request.param not in available():
        pytest.skip(f"{request.param} not installed")
    return request.param
