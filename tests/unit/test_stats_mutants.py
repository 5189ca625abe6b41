"""Hand-derived fixtures that pin what the broader statistics tests leave loose, one per place where a
single changed operator, constant or comparison would otherwise go unnoticed (docs/mutation.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalibra_action.stats import bootstrap as S


def test_pct_delta_by_hand():
    assert S.pct_delta(4.0, 5.0) == 25.0 and S.pct_delta(4.0, 3.0) == -25.0
    assert S.pct_delta(0.0, 0.0) == 0.0 and S.pct_delta(0.0, 1.0) is None
    assert math.isnan(np.nan) and S.pct_delta(3.0, 4.0) == 33.3  # rounded to 1 decimal
