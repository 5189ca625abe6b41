"""The template context: a Result turned into sorted, capped rows (still raw text — templates escape it)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kalibra_action.report import format as fmt
from kalibra_action.report import mermaid, story
from kalibra_action.report.history import view as history_view
from kalibra_action.report.json import to_dict
from kalibra_action.result import Direction, GateResult, GateStatus, Observation, Result, SideInfo

# Observations shown in sections of their own, not as rows of the metric table.
BREAKDOWNS = ("trace_breakdown", "span_breakdown", "task_attribution")

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
    """The unit of a gate field: from the metric registry, else (no metric publishes it) from its name."""
    from kalibra_action.metrics import all_fields

    spec = all_fields().get(name)
    if spec is not None:
        return spec.unit
    base = name.removesuffix("_lo").removesuffix("_hi").removesuffix("_mde")
    if base.endswith("_pct"):
        return "%"
    if base in ("success_rate_delta", "error_rate_delta"):
        return "pp"
    return ""


def _gate(g: GateResult, per_task: Mapping | None = None) -> dict:
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
    notes += _naive_count_notes(g, per_task or {})
    return {
        "expr": g.expr, "field": g.field, "op": g.op, "threshold": g.threshold, "source": g.source,
        "status": g.status.value, "label": label, "icon": icon, "passed": g.passed,
        "actual": actual, "ci": fmt.ci(g.ci, unit) if g.ci else "", "reason": g.warning or "",
        "notes": notes, "underpowered": g.underpowered, "mde": g.mde,
    }


def _naive_count_notes(g: GateResult, pt: Mapping) -> list[str]:
    """A gate on Kalibra's naive `regressions` count: how many are significant, how many chance explains."""
    if g.field != "regressions" or pt.get("significant") is None:
        return []
    expected = pt.get("expected")
    exp = f"≈{fmt.num(expected, 1)} expected" if expected is not None else ""
    if g.status is GateStatus.FAIL and pt["significant"] == 0:
        return ["the count is within what chance produces" + (f" ({exp})" if exp else "")
                + "; consider `significant_regressions <= 0`"]
    sig = f"{pt['significant']} significant at FDR {fmt.num(pt['fdr'], 2)}" if pt.get("fdr") is not None \
        else f"{pt['significant']} significant"
    return [sig + (f", {exp} by chance" if exp else "")]


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


def _pair(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return None
    return float(value[0]), float(value[1])


def _excludes_zero(ci: tuple[float, float] | None) -> bool | None:
    return None if ci is None else (ci[0] > 0 or ci[1] < 0)


def _ci_of(obs: Observation) -> tuple[float, float] | None:
    """The CI shown: BCa (metadata ci_95_bca) when present, else the gate field's, else Kalibra's ci_95."""
    bca = _pair(obs.metadata.get("ci_95_bca"))
    if bca is not None:
        return bca
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
            "notes": _metric_notes(obs, unit),
        })
    return rows


def _metric_notes(obs: Observation, unit: str) -> list[str]:
    """Mean vs median when they disagree in significance; the paired per-task change when present."""
    md = obs.metadata
    notes = []
    mean_ci = _pair(md.get("mean_ci_95"))
    median_sig = _excludes_zero(_ci_of(obs))
    mean_sig = _excludes_zero(mean_ci)
    if median_sig is not None and mean_sig is not None and median_sig != mean_sig:
        mean = f"mean {fmt.delta(md.get('mean_delta_pct'), '%')} {fmt.ci(mean_ci, '%')}"
        notes.append(f"{mean} is significant but the median's change is not: the distribution shifted "
                     "away from its median" if mean_sig else
                     f"{mean} is not significant although the median's change is")
    paired_ci = _pair(md.get("paired_ci_95"))
    if md.get("paired_ratio_pct") is not None:
        tasks = md.get("paired_tasks")
        n = f" over {fmt.num(tasks)} tasks" if isinstance(tasks, int) and tasks else ""
        ci = f" {fmt.ci(paired_ci, '%')}" if paired_ci else ""
        notes.append(f"paired by task{n}: {fmt.delta(md.get('paired_ratio_pct'), '%')}{ci} "
                     "(geometric mean of per-task ratios)")
    return notes + _task_weighted_note(obs)


def _task_weighted_note(obs: Observation) -> list[str]:
    """Success rate with each task counted once, beside the pooled one (fields of issue 10's contract)."""
    change = obs.fields.get("task_weighted_success_rate_delta")
    if change is None or story.number(change.value) is None:
        return []
    rate = story.number(getattr(obs.fields.get("task_weighted_success_rate"), "value", None))
    level = f"{fmt.pct(rate, 1, signed=False)}, " if rate is not None else ""
    ci = f" {fmt.ci(change.ci, 'pp')}" if change.ci else ""
    return [f"task-weighted (each task counts once): {level}change {fmt.pp(change.value)}{ci}; "
            "`success_rate_delta` gates on the pooled change"]


_PAIRED = "t-interval over per-task changes"
_CLUSTER = "cluster-robust over tasks"
_CI_METHODS = {"bca": "BCa bootstrap", "percentile": "percentile bootstrap",
               "newcombe": "Newcombe score interval", "adjusted-wald": "adjusted Wald interval",
               "paired-tasks": _PAIRED, "paired_tasks": _PAIRED, "cluster-tasks": _CLUSTER}


def ci_methods(result: Result) -> str:
    """One line naming how the 95 % CIs were computed (empty when no metric says)."""
    parts: dict[str, list[str]] = {}
    for name, obs in result.observations.items():
        method = obs.metadata.get("ci_method") if name not in BREAKDOWNS else None
        if isinstance(method, str) and method:
            label = _CI_METHODS.get(method, method)
            tasks = obs.metadata.get("ci_tasks")
            if isinstance(tasks, int) and not isinstance(tasks, bool):
                if method.startswith("paired"):
                    label = f"t-interval over {tasks} per-task changes"
                elif method == "cluster-tasks":
                    label = f"cluster-robust over {tasks} tasks (runs of a task as one cluster)"
            parts.setdefault(label, []).append(LABELS.get(name, name))
    return "; ".join(f"{', '.join(names)}: {label}" for label, names in parts.items())


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


def _verdict_text(verdict: str | None, naive: str, untestable: bool) -> tuple[str, int]:
    """(verdict shown, group): 0 significant drop, 1 drop not significant, 2 significant rise,
    3 rise not significant, 4 no change."""
    if verdict == "regressed":
        return "regressed", 0
    if verdict == "improved":
        return "improved", 2
    group = {"regressed": 1, "improved": 3}.get(naive, 4)
    if verdict is None:
        return ("not tested" if group < 4 else "unchanged"), group
    if group < 4:
        return ("not significant (untestable)" if untestable or verdict == "untestable"
                else "not significant"), group
    return ("untestable" if verdict == "untestable" else "unchanged"), group


def _per_task_row(item: Mapping) -> dict:
    """One row of the per-task table from a `per_task` entry (or an older regressions/improvements entry)."""
    bs, bn = _count(item.get("baseline"))
    cs, cn = _count(item.get("current"))
    delta = story.number(item.get("delta_pp"))
    if delta is None and bs is not None and cs is not None and bn and cn:
        delta = (cs / cn - bs / bn) * 100
    naive = item.get("naive")
    if naive not in ("regressed", "improved", "unchanged"):
        naive = "unchanged" if not delta else "regressed" if delta < 0 else "improved"
    verdict = item.get("verdict")
    if verdict not in ("regressed", "improved", "unchanged", "untestable"):
        sig = item.get("significant")
        verdict = None if sig is None else naive if sig else "unchanged"
    untestable = bool(item.get("untestable")) or verdict == "untestable"
    text, group = _verdict_text(verdict, naive, untestable)
    if item.get("flaky") is True:  # its pass rate varies between the base branch's runs (issue 12)
        text += " · 🎲 flaky"
    p, q = story.number(item.get("p")), story.number(item.get("q"))
    ci = story.interval(item.get("delta_ci_pp"))
    return {
        "task_id": item.get("task_id", ""),
        "baseline": f"{bs}/{bn}" if bn is not None else fmt.NA,
        "current": f"{cs}/{cn}" if cn is not None else "missing",
        "change": fmt.change(delta), "p": fmt.pvalue(p), "q": fmt.pvalue(q),
        "verdict": text, "group": group, "significant": group in (0, 2), "untestable": untestable,
        "badge": {0: "▼", 1: "▽", 2: "▲", 3: "△"}.get(group, "—"),
        "ci": story.task_ci(item), **story.median_changes(item),
        "_delta": delta if delta is not None else 0.0, "_p": p if p is not None else 2.0, "_ci": ci,
        "_runs": min(bn or 0, cn or 0),
    }


def per_task_rows(result: Result) -> list[dict]:
    """Every task with its test, regressions first: significant drops, other drops, significant rises,
    other rises, the rest; within a group by p, then the larger change, then the id."""
    obs = result.observations.get("trace_breakdown")
    if obs is None:
        return []
    items = obs.metadata.get("per_task")
    if not isinstance(items, list):  # older data: Kalibra's lists, with the test fields when present
        items = [*(obs.metadata.get("regressions") or []), *(obs.metadata.get("improvements") or [])]
    rows = [_per_task_row(i) for i in items if isinstance(i, Mapping)]
    rows.sort(key=lambda r: (r["group"], r["_p"], r["_delta"] if r["group"] < 2 else -r["_delta"],
                             str(r["task_id"])))
    return rows


def _field_value(obs: Observation, name: str) -> float | None:
    fv = obs.fields.get(name)
    return story.number(fv.value) if fv is not None else None


def _count_of(value: Any) -> int | None:
    """A count given as a number or as a list of ids."""
    if isinstance(value, list):
        return len(value)
    x = story.number(value)
    return int(x) if x is not None else None


def per_task_summary(result: Result, rows: list[dict]) -> dict:
    """The counts the report states about the per-task test (None where the data does not say)."""
    obs = result.observations.get("trace_breakdown")
    if obs is None:
        return {"tested": False}
    md = obs.metadata
    tested = isinstance(md.get("per_task"), list) or "significant_regressions" in obs.fields

    def first(*values: Any) -> int | None:
        return next((v for v in values if v is not None), None)

    naive = first(_count_of(_field_value(obs, "regressions")), _count_of(md.get("n_regressions")),
                  _count_of(md.get("regressions")))
    naive_up = first(_count_of(_field_value(obs, "improvements")), _count_of(md.get("n_improvements")),
                     _count_of(md.get("improvements")))
    sig = first(_count_of(_field_value(obs, "significant_regressions")),
                _count_of(md.get("n_significant_regressions")),
                sum(r["group"] == 0 for r in rows) if tested else None)
    sig_up = first(_count_of(_field_value(obs, "significant_improvements")),
                   _count_of(md.get("n_significant_improvements")),
                   sum(r["group"] == 2 for r in rows) if tested else None)
    untestable = first(_count_of(_field_value(obs, "untestable_tasks")), _count_of(md.get("n_untestable")),
                       _count_of(md.get("untestable")),
                       sum(r["untestable"] for r in rows) if tested else None)
    runs = [r["_runs"] for r in rows if r["untestable"] and r["_runs"]]
    runs_needed = _count_of(md.get("runs_for_30pp"))
    return {
        "tested": tested,
        "naive": naive, "naive_improved": naive_up,
        "significant": sig if tested else None, "significant_improved": sig_up if tested else None,
        "expected": first(story.number(md.get("expected_regressions")),
                          _field_value(obs, "expected_regressions")),
        "fdr": story.number(md.get("fdr")),
        "untestable": untestable or 0,
        "typical_runs": int(statistics.median_low(runs)) if runs else None,
        "runs_for_30pp": runs_needed,
        "missing": first(_count_of(_field_value(obs, "missing_tasks")), _count_of(md.get("missing"))) or 0,
        "new": first(_count_of(_field_value(obs, "new_tasks")), _count_of(md.get("new"))) or 0,
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


def _significant(rows: list[dict], group: int, caps: Caps) -> tuple[list[dict], int]:
    """The significant drops (group 0) or rises (group 2), the largest change first, cut to `caps`."""
    chosen = sorted((r for r in rows if r["group"] == group),
                    key=lambda r: (-abs(r["_delta"]), r["_p"], str(r["task_id"])))
    return caps.cut(chosen)


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
    all_tasks = per_task_rows(result)
    summary = per_task_summary(result, all_tasks)
    changed = [r for r in all_tasks if r["group"] < (4 if verbose else 3)]
    spans = span_rows(result, verbose)
    headline = story.headline(result)
    warnings = list(dict.fromkeys(result.warnings))  # the engine already folds in each side's warnings
    seen = set(warnings) | set(headline)  # a flag the headline states at the top is not repeated below
    for obs in result.observations.values():
        warnings += [f"{obs.name}: {w}" for w in dict.fromkeys(obs.warnings) if w not in seen]
    tb = result.observations.get("trace_breakdown")
    sb = result.observations.get("span_breakdown")
    shown = {}
    for name, rows in (("regressed", regressed), ("improved", improved), ("spans", spans),
                       ("warnings", warnings), ("rows", changed)):
        shown[name], shown[name + "_more"] = caps.cut(rows)
    bars = mermaid.MAX_BARS if caps.items is None else min(mermaid.MAX_BARS, caps.items)
    down, down_cut = _significant(all_tasks, 0, caps)
    ups = _significant(all_tasks, 2, caps)
    ranges, scale = story.chart(all_tasks)
    shown["ranges"], shown["ranges_more"] = caps.cut(ranges)
    decomposition = story.decomposition(result)
    return {
        "result": result,
        "data": to_dict(result),
        "verdict": verdict(result),
        "gates": [_gate(g, summary) for g in result.gates],
        "metrics": metric_rows(result),
        "ci_methods": ci_methods(result),
        "tasks": {
            "present": tb is not None, "metadata": tb.metadata if tb else {},
            "regressed": shown["regressed"], "regressed_more": shown["regressed_more"],
            "n_regressed": len(regressed), "improved": shown["improved"],
            "improved_more": shown["improved_more"], "n_improved": len(improved),
            "rows": shown["rows"], "rows_more": shown["rows_more"], "n_rows": len(changed),
            "summary": summary, "chart": mermaid.bar_chart(all_tasks, bars) if bars else "",
            "chart_bars": len(mermaid.pick(all_tasks, bars)),
            "n_changed": sum(r["_delta"] != 0 for r in all_tasks),
            "top_regressed": down[:story.TOP_REGRESSED], "more_regressed": down[story.TOP_REGRESSED:],
            "more_regressed_cut": down_cut,
            "sig_improved": ups[0], "sig_improved_more": ups[1],
            "ranges": shown["ranges"], "ranges_more": shown["ranges_more"], "n_ranges": len(ranges),
            "range_scale": story.caption(scale), "range_half": scale,
            "ranges_folded": len(ranges) > story.CHART_OPEN_MAX,
            "has_ci": any(r["_ci"] is not None for r in all_tasks),
            "has_medians": any(r[m] != fmt.NA for r in all_tasks for m in story.MEDIAN_METRICS),
        },
        "story": headline,
        "decomposition": decomposition,
        "decomposition_other": any(r[g] != "—" for r in decomposition
                                   for g in ("new", "missing")),
        "spans": {
            "present": sb is not None, "metadata": sb.metadata if sb else {},
            "rows": shown["spans"], "more": shown["spans_more"], "total": len(spans),
        },
        "history": history_view(result.history),
        "warnings": shown["warnings"], "warnings_more": shown["warnings_more"],
        "sides": [_side("Baseline", result.baseline, caps), _side("Current", result.current, caps)],
        "settings": {k: ", ".join(map(str, v)) if isinstance(v, list | tuple) else v
                     for k, v in result.settings.items() if v is not None},
        "extra": dict(extra or {}),
        "verbose": verbose,
        "truncated": caps.items is not None,
    }
