"""Shared test fixtures: paths to the example data and the repository root on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "data" / "kalibra-examples"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def examples() -> Path:
    """Kalibra's example traces and configs (MIT), copied into tests/data."""
    return EXAMPLES
