"""stats/distributions.py pinned where scipy's broad comparisons leave room: exact small cases worked out
with fractions (binomial and hypergeometric masses by counting), closed forms, and each boundary of a
branch on both sides. Fast by design: mutation testing runs these for every mutant of the module."""

from __future__ import annotations

import math
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from kalibra_action.stats import distributions as D


def binom_exact(k: int, n: int, p: Fraction) -> Fraction:
    return comb(n, k) * p**k * (1 - p) ** (n - k)


def test_binom_pmf_by_counting():
    # C(5, k) (1/3)^k (2/3)^(5−k), exactly, for every k
    for k in range(6):
        assert D.binom_pmf(k, 5, 1 / 3) == pytest.approx(float(binom_exact(k, 5, Fraction(1, 3))), rel=1e-14)
