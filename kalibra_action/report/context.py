"""The template context: a Result turned into sorted, capped rows (still raw text — templates escape it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kalibra_action.report import format as fmt
from kalibra_action.report.json import to_dict
from kalibra_action.result import Direction, GateResult, GateStatus, Observation, Result, SideInfo

BREAKDOWNS = ("trace_breakdown", "span_breakdown")

LABELS = {
    "success_rate": "Success rate",
    "cost": "Cost (median)",
    "duration": "Duration (median)",
    "steps": "Steps (median)",
    "error_rate": "Error rate",
    "token_usage": "Tokens (median)",
    "token_efficiency": "Tokens per success",
    "cost_quality": "Cost per success",
}
# metric → (key in Observation.baseline/current, formatter, unit of the delta)
HEADLINE = {
    "success_rate": ("rate", fmt.rate, "pp"),
    "error_rate": ("rate", lambda v: fmt.pct(v, 2, signed=False), "pp"),
    "cost": ("median", fmt.money, "%"),
    "duration": ("median", fmt.seconds, "%"),
    "steps": ("median", fmt.num, "%"),
    "token_usage": ("median", lambda v: fmt.num(v, 0), "%"),
    "token_efficiency": ("tokens_per_success", lambda v: fmt.num(v, 0), "%"),
    "cost_quality": ("cost_per_success", fmt.money, "%"),
}
DIRECTION = {
    Direction.UPGRADE: ("▲", "improved"),
    Direction.SAME: ("—", "unchanged"),
    Direction.DEGRADATION: ("▼", "regressed"),
    Direction.INCONCLUSIVE: ("⚠", "inconclusive"),
    Direction.NA: ("–", "n/a"),
}
_SPAN_ORDER = {"regressed": 0, "mixed": 1, "improved": 2, "unchanged": 3}


@dataclass(frozen=True)
class Caps:
    """How many items each long list may show (None = all)."""

    items: int | None = None

    def cut(self, rows: list) -> tuple[list, int]:
        if self.items is None or len(rows) <= self.items:
            return rows, 0
        return rows[: self.items], len(rows) - self.items


def field_unit(name: str) -> str:
    """The unit of a gate field: from the metric registry when present, else from its name."""
    try:
        from kalibra_action.metrics import all_fields

        spec = all_fields().get(name)
        if spec is not None:
            return spec.unit
    except (ImportError, AttributeError):
        pass
    base = name.removesuffix("_lo").removesuffix("_hi").removesuffix("_mde")
    if base.endswith("_pct"):
        return "%"
    if base in ("success_rate_delta", "error_rate_delta"):
        return "pp"
    return ""


def _gate(g: GateResult) -> dict:
    unit = field_unit(g.field)
    actual = fmt.delta(g.actual, unit) if unit in ("%", "pp") else fmt.value(g.actual, unit)
    if g.status is GateStatus.PASS:
        label, icon = "PASS", "✅"
    elif g.status is GateStatus.FAIL:
        label, icon = "FAIL", "❌"
    else:
        label, icon = "INCONCLUSIVE", "⚠️" if g.passed else "❌"
    notes = []
    if g.mde is not None:
        notes.append(f"MDE ±{fmt.num(abs(g.mde), 1)}{' pp' if unit == 'pp' else unit if unit == '%' else ''}")
    if g.underpowered:
        notes.append("underpowered: the threshold is below what this sample can detect")
    if g.status is GateStatus.INCONCLUSIVE and not g.passed:
        notes.append("counted as a failure (on_inconclusive: fail)")
    return {
        "expr": g.expr, "field": g.field, "op": g.op, "threshold": g.threshold, "source": g.source,
        "status": g.status.value, "label": label, "icon": icon, "passed": g.passed,
        "actual": actual, "ci": fmt.ci(g.ci, unit) if g.ci else "", "reason": g.warning or "",
        "notes": notes, "underpowered": g.underpowered,
    }


def verdict(result: Result) -> dict:
    counts = {s.value: sum(1 for g in result.gates if g.status is s) for s in GateStatus}
    n = len(result.gates)
    if not result.passed:
        failed = sum(1 for g in result.gates if not g.passed)
        state, icon, title = "failed", "❌", f"FAILED — {failed} of {n} gate{'s' if n != 1 else ''} failed"
    elif counts["inconclusive"]:
        k = counts["inconclusive"]
        state, icon = "inconclusive", "⚠️"
        title = f"PASSED with {k} inconclusive gate{'s' if k != 1 else ''}"
    elif n:
        state, icon, title = "passed", "✅", f"PASSED — all {n} gate{'s' if n != 1 else ''} passed"
    else:
        badge, word = DIRECTION[result.direction]
        state, icon, title = "no_gates", badge, f"No gates — overall {word}"
    return {"state": state, "icon": icon, "title": title, "counts": counts, "total": n}


def _ci_of(obs: Observation) -> tuple[float, float] | None:
    for fv in obs.fields.values():
        if fv.tested and fv.ci is not None:
            return fv.ci
    ci = obs.metadata.get("ci_95")
    return tuple(ci) if isinstance(ci, list | tuple) and len(ci) == 2 else None


def metric_rows(result: Result) -> list[dict]:
    rows = []
    for name, obs in result.observations.items():
        if name in BREAKDOWNS:
            continue
        key, show, unit = HEADLINE.get(name, ("median", fmt.num, "%"))
        badge, word = DIRECTION[obs.direction]
        rows.append({
            "name": name, "label": LABELS.get(name, name), "description": obs.description,
            "baseline": show(obs.baseline.get(key)), "current": show(obs.current.get(key)),
            "delta": fmt.delta(obs.delta, unit), "ci": fmt.ci(_ci_of(obs), unit),
            "direction": obs.direction.value, "badge": badge, "word": word,
        })
    return rows


def _count(side: Any) -> tuple[int | None, int | None]:
    if not isinstance(side, Mapping):
        return None, None
    return side.get("success"), side.get("total")


def _task_row(item: Mapping) -> dict:
    bs, bn = _count(item.get("baseline"))
    cs, cn = _count(item.get("current"))
    br = bs / bn if bs is not None and bn else None
    cr = cs / cn if cs is not None and cn else None
    drop = (br - cr) if br is not None and cr is not None else 0.0
    return {
        "task_id": item.get("task_id", ""),
        "baseline": f"{bs}/{bn}" if bn is not None else fmt.NA,
        "current": f"{cs}/{cn}" if cn is not None else "missing",
        "change": fmt.pp(-drop * 100, 0) if br is not None and cr is not None else fmt.NA,
        "significant": item.get("significant"), "_drop": drop, "_n": bn or 0,
    }


def task_rows(result: Result, key: str = "regressions") -> list[dict]:
    obs = result.observations.get("trace_breakdown")
    items = obs.metadata.get(key, []) if obs else []
    rows = [_task_row(i) for i in items if isinstance(i, Mapping)]
    sign = -1 if key == "regressions" else 1
    rows.sort(key=lambda r: (sign * r["_drop"], -r["_n"], str(r["task_id"])))
    return rows


def span_rows(result: Result, verbose: bool = False) -> list[dict]:
    obs = result.observations.get("span_breakdown")
    if not obs:
        return []
    keys = ("regressions", "mixed", "improvements") if verbose else ("regressions", "mixed")
    rows = []
    for key in keys:
        for item in obs.metadata.get(key, []) or []:
            if not isinstance(item, Mapping):
                continue
            d = item.get("deltas") or {}
            direction = item.get("direction") or {"mixed": "mixed", "improvements": "improved"}.get(
                key, "regressed")
            worst = max((v for v in (d.get("duration_pct"), d.get("cost_pct"), d.get("tokens_pct"))
                         if isinstance(v, int | float)), default=0)
            rows.append({
                "name": item.get("span_name", ""), "direction": direction,
                "badge": {"regressed": "▼", "improved": "▲", "mixed": "⚠"}.get(direction, "—"),
                "duration": fmt.pct(d.get("duration_pct"), 0), "cost": fmt.pct(d.get("cost_pct"), 0),
                "tokens": fmt.pct(d.get("tokens_pct"), 0), "errors": fmt.pp(d.get("error_rate_pp")),
                "_worst": worst,
            })
    rows.sort(key=lambda r: (_SPAN_ORDER.get(r["direction"], 9), -r["_worst"], str(r["name"])))
    return rows


def _side(title: str, side: SideInfo, caps: Caps) -> dict:
    files, more = caps.cut(list(side.files))
    return {
        "title": title, "label": side.label, "files": files, "files_more": more,
        "n_files": len(side.files), "count": side.count, "format": side.format,
        "filters": list(side.filters), "total_before_filter": side.total_before_filter,
        "warnings": list(side.warnings),
    }


def build(result: Result, *, caps: Caps = Caps(), extra: Mapping | None = None,
          verbose: bool = False) -> dict[str, Any]:
    """Everything a template sees. Lists are sorted worst first and cut to `caps`."""
    regressed = task_rows(result)
    improved = task_rows(result, "improvements")
    spans = span_rows(result, verbose)
    warnings = list(dict.fromkeys(result.warnings))  # the engine already folds in each side's warnings
    seen = set(warnings)
    for obs in result.observations.values():
        warnings += [f"{obs.name}: {w}" for w in dict.fromkeys(obs.warnings) if w not in seen]
    tb = result.observations.get("trace_breakdown")
    sb = result.observations.get("span_breakdown")
    shown = {}
    for name, rows in (("regressed", regressed), ("improved", improved), ("spans", spans),
                       ("warnings", warnings)):
        shown[name], shown[name + "_more"] = caps.cut(rows)
    return {
        "result": result,
        "data": to_dict(result),
        "verdict": verdict(result),
        "gates": [_gate(g) for g in result.gates],
        "metrics": metric_rows(result),
        "tasks": {
            "present": tb is not None, "metadata": tb.metadata if tb else {},
            "regressed": shown["regressed"], "regressed_more": shown["regressed_more"],
            "n_regressed": len(regressed), "improved": shown["improved"],
            "improved_more": shown["improved_more"], "n_improved": len(improved),
        },
        "spans": {
            "present": sb is not None, "metadata": sb.metadata if sb else {},
            "rows": shown["spans"], "more": shown["spans_more"], "total": len(spans),
        },
        "warnings": shown["warnings"], "warnings_more": shown["warnings_more"],
        "sides": [_side("Baseline", result.baseline, caps), _side("Current", result.current, caps)],
        "settings": {k: ", ".join(map(str, v)) if isinstance(v, list | tuple) else v
                     for k, v in result.settings.items() if v is not None},
        "extra": dict(extra or {}),
        "verbose": verbose,
        "truncated": caps.items is not None,
    }
