"""Strict JSON report: Kalibra's keys plus ours; NaN and infinities become null, numpy becomes plain.

Its shape is docs/report.schema.json, versioned by `schema_version`: a field is only ever added (a minor
change, the same version); renaming or removing one, or changing its type, raises SCHEMA_VERSION.
"""

from __future__ import annotations

import dataclasses
import json
import math
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from kalibra_action import __version__
from kalibra_action.result import FieldValue, GateResult, Observation, Result, SideInfo

if TYPE_CHECKING:
    from kalibra_action.current_only.model import CurrentOnly

SCHEMA_VERSION = 1


def plain(value: Any) -> Any:
    """A JSON-safe copy: NaN/±inf → None, numpy scalars/arrays → Python, tuples/sets → lists."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(plain(k)) if not isinstance(k, str) else k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return plain(tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return plain(float(value))
    except (TypeError, ValueError):
        return str(value)


def _side(side: SideInfo) -> dict:
    return {
        "source": side.label,
        "count": side.count,
        "label": side.label,
        "files": list(side.files),
        "format": side.format,
        "filters": list(side.filters),
        "total_before_filter": side.total_before_filter,
        "warnings": list(side.warnings),
    }


def _observation(obs: Observation) -> dict:
    return {
        "name": obs.name,
        "description": obs.description,
        "direction": obs.direction.value,
        "delta": obs.delta,
        "baseline": obs.baseline,
        "current": obs.current,
        "metadata": obs.metadata,
        "warnings": list(obs.warnings),
        "fields": {k: _field(v) for k, v in obs.fields.items()},
    }


def _field(fv: FieldValue) -> dict:
    return {
        "value": fv.value,
        "ci": fv.ci,
        "significant": fv.significant,
        "tested": fv.tested,
        "mde": fv.mde,
        "missing": fv.missing,
    }


def _gate(g: GateResult) -> dict:
    return {
        "expr": g.expr,
        "passed": g.passed,
        "actual": g.actual,
        "warning": g.warning,
        "status": g.status.value,
        "field": g.field,
        "op": g.op,
        "threshold": g.threshold,
        "ci": g.ci,
        "mde": g.mde,
        "underpowered": g.underpowered,
        "source": g.source,
    }


def to_dict(result: Result) -> dict:
    """The report as plain JSON-safe data (also the `data` variable of every template)."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "direction": result.direction.value,
        "passed": result.passed,
        "baseline": _side(result.baseline),
        "current": _side(result.current),
        "warnings": list(result.warnings),
        "metrics": {name: _observation(obs) for name, obs in result.observations.items()},
        "gates": [_gate(g) for g in result.gates],
        "fields": {k: _field(v) for k, v in result.field_values().items()},
        "settings": result.settings,
        "history": result.history,
        "exit_code": result.exit_code,
        "version": __version__,
    }
    return plain(data)


def to_json(result: Result, *, indent: int | None = 2) -> str:
    """Strict JSON text (never NaN or Infinity)."""
    return json.dumps(to_dict(result), indent=indent, allow_nan=False, ensure_ascii=False)


def current_only_json(report: CurrentOnly) -> str:
    """The JSON report: the same top-level shape as a comparison's where it applies, `baseline` null."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "status": "no_baseline",
        "passed": True,
        "exit_code": 0,
        "no_baseline": {"reason": report.reason, "policy": report.policy, **dict(report.looked_for)},
        "baseline": None,
        "current": {"source": report.label, "label": report.label, "count": report.count,
                    "files": list(report.files), "format": report.format, "filters": list(report.filters),
                    "total_before_filter": report.total_before_filter, "warnings": list(report.warnings)},
        "current_stats": {"traces": report.count, "tasks": report.tasks, "successes": report.successes,
                          "known_outcomes": report.known_outcomes,
                          "success_rate": plain(report.success_rate),
                          "median_cost": plain(report.median_cost),
                          "median_tokens": plain(report.median_tokens),
                          "median_duration_s": plain(report.median_duration)},
        "gates": [],
        "gates_not_evaluated": list(report.gates),
        "warnings": list(report.warnings),
        "version": __version__,
    }
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False)
