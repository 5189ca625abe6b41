"""Helpers shared by the metrics: field specs and values, no-data observations, value extraction."""

from __future__ import annotations

import numpy as np

from kalibra_action.metrics.base import FieldSpec
from kalibra_action.result import Direction, FieldValue, Observation
from kalibra_action.stats import excludes_zero, mde_from_ci


def tested_specs(name: str, description: str, unit: str) -> dict[str, FieldSpec]:
    """Specs of a tested field F plus its untested companions F_lo, F_hi, F_mde."""
    return {
        name: FieldSpec(description, tested=True, unit=unit),
        f"{name}_lo": FieldSpec(f"Lower 95 % confidence bound of {name}", unit=unit),
        f"{name}_hi": FieldSpec(f"Upper 95 % confidence bound of {name}", unit=unit),
        f"{name}_mde": FieldSpec(f"Minimum detectable |{name}| at 80 % power", unit=unit),
    }


def tested_fields(name: str, value: float | None, ci: tuple[float, float] | None, *,
                  significant: bool | None = None, missing: str | None = None,
                  no_ci: str | None = None, mde: float | None = None) -> dict[str, FieldValue]:
    """FieldValues of F, F_lo, F_hi, F_mde. significant defaults to "the CI excludes 0"; mde
    defaults to 2.80 × the standard error implied by the CI's width."""
    if value is None and missing is None:
        missing = "no data"
    if significant is None and value is not None:
        significant = excludes_zero(ci)
    if mde is None:
        mde = mde_from_ci(ci)
    why = missing if value is None else (no_ci or "no confidence interval could be computed")
    lo, hi = (ci if ci is not None else (None, None))
    return {
        name: FieldValue(value, tested=True, significant=significant if value is not None else None,
                         ci=ci, mde=mde, missing=missing if value is None else None),
        f"{name}_lo": FieldValue(lo, missing=None if lo is not None else why),
        f"{name}_hi": FieldValue(hi, missing=None if hi is not None else why),
        f"{name}_mde": FieldValue(mde, missing=None if mde is not None else why),
    }


def plain_field(value: float | None, missing: str = "no data") -> FieldValue:
    """An untested field; `missing` is kept only when value is None."""
    return FieldValue(value, missing=None if value is not None else missing)


def no_data(metric: object, reason: str, warning: str, fields: dict[str, FieldValue]) -> Observation:
    """An n/a observation (Kalibra's shape: metadata.no_data_reason plus one warning)."""
    return Observation(name=metric.name, description=metric.description,  # type: ignore[attr-defined]
                       direction=Direction.NA, warnings=[warning],
                       metadata={"no_data_reason": reason}, fields=fields)


def measured(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Measured (non-NaN) values, with infinite ones dropped; returns (values, n_infinite)."""
    v = values[~np.isnan(values)]
    fin = np.isfinite(v)
    n_inf = int(v.shape[0] - np.count_nonzero(fin))
    return (v[fin] if n_inf else v), n_inf


def sides_missing(what: str, have: str, b: tuple[int, int], c: tuple[int, int],
                  unit: str = "traces") -> str:
    """'no cost data in current (0 of 120 traces have a cost)' for each side with no data."""
    parts = [f"{label} (0 of {total} {unit} {have})"
             for label, (got, total) in (("baseline", b), ("current", c)) if got == 0]
    return f"no {what} in " + " and ".join(parts)
