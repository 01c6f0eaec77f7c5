"""Shared pytest setup: each area keeps its fixtures in its own tests/<area>_fixtures.py module."""

from __future__ import annotations

import os

# Headless by default: nothing in the suite may open a window on a developer's real display.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
