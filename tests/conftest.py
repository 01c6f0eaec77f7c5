"""Shared pytest setup: each area keeps its fixtures in its own tests/<area>_fixtures.py module."""

from __future__ import annotations

import os

import pytest

# Headless by default: nothing in the suite may open a window on a developer's real display.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# MuJoCo picks its GL backend when first imported; headless, that must be EGL (the robot env's default too).
os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """In CI every test runs: a skip there means an install step is missing, so it is reported as a failure.

    On a developer's machine without Xvfb, adb or chromium the affected tests still skip with the reason;
    `.ci/run` (via scripts/test.sh) installs all of them, so nothing may hide behind a skip.
    """
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where scripts/test.sh installs everything the suite needs: {reason}"
