"""The story the report tells first: which tasks broke (with their CIs), and where the aggregate change
came from.

Reads the fields of issue 10's contract when the metrics provide them — per task `delta_ci_pp` and
`medians`, the `task_attribution` observation (`decomposition`, `savings_from_broken`) and the
`success_rate` observation's `mix_shift` — and degrades to what is there when they are absent (older
data, or a metric that was not run): a missing number prints as `n/a`, a missing section is left out.
Values stay raw text here; the templates escape them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from kalibra_action.report import format as fmt
from kalibra_action.result import Result

TOP_REGRESSED = 10  # regressed tasks shown unfolded directly under the gates
CHART_OPEN_MAX = 25  # the per-task range chart is folded only when it has more rows than this
BAR_WIDTH = 25  # characters of one range bar; odd, so zero has a column of its own
MEDIAN_METRICS = ("tokens", "cost", "duration")
DECOMPOSED = ("success_rate", "tokens", "cost", "duration")
GROUPS = ("regressed", "unchanged", "improved", "new", "missing")
_LABELS = {"success_rate": "Success rate", "tokens": "Tokens", "cost": "Cost", "duration": "Duration"}
_SCALES = (10, 25, 50, 100)


def number(value: Any) -> float | None:
    """A finite float, else None (bools, strings, NaN and infinities from hostile JSON are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def interval(value: Any) -> tuple[float, float] | None:
    """A [lo, hi] pair of finite numbers with lo <= hi, else None."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    lo, hi = number(value[0]), number(value[1])
    return (lo, hi) if lo is not None and hi is not None and lo <= hi else None


def _mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def median_changes(item: Mapping) -> dict[str, str]:
    """A task's change in median tokens, cost and duration per trace (`medians.*.delta_pct`) as text."""
    medians = _mapping(item.get("medians"))
    return {m: fmt.pct(number(_mapping(medians.get(m)).get("delta_pct")), 0) for m in MEDIAN_METRICS}


def task_ci(item: Mapping) -> str:
    """The 95 % CI of a task's pass-rate change in pp (`delta_ci_pp`), `n/a` when the metric gave none."""
    return fmt.ci(interval(item.get("delta_ci_pp")), "", 0)


def _scale(rows: list[dict]) -> float:
    """The chart's half width in pp: the smallest of 10/25/50/100 that holds every interval and point."""
    reach = max((abs(v) for r in rows for v in (r["_delta"], *(r["_ci"] or ()))), default=0.0)
    return next((s for s in _SCALES if reach <= s), 100)


def range_bar(delta: float, ci: tuple[float, float] | None, scale: float, width: int = BAR_WIDTH) -> str:
    """One row of the chart as text: `·` empty, `│` zero, `━` the 95 % CI, `●` the change.

    Plain characters in the text colour read the same in light and dark themes; in a code span they are
    monospaced, so the rows line up. Values beyond the scale are clamped to its edge.
    """
    half = width // 2

    def col(x: float) -> int:
        return max(0, min(width - 1, half + round(x / scale * half)))

    cells = ["·"] * width
    cells[half] = "│"
    if ci is not None:
        for i in range(col(ci[0]), col(ci[1]) + 1):
            cells[i] = "━"
    cells[col(delta)] = "●"
    return "".join(cells)


def chart(rows: list[dict]) -> tuple[list[dict], float]:
    """The range chart's rows, regressed first (as `rows` are ordered), and its half width in pp.

    Every task that changed, and an unchanged one when it has a CI: its interval says how large a change
    it could still hide (without one it would be a bare dot at zero).
    """
    shown = [r for r in rows if r["group"] < 4 or r["_ci"] is not None]
    scale = _scale(shown)
    out = [{"task_id": r["task_id"], "badge": r["badge"], "change": r["change"], "ci": r["ci"],
            "bar": range_bar(r["_delta"], r["_ci"], scale)} for r in shown]
    return out, scale


def caption(scale: float) -> str:
    """The chart's axis: its ends and zero."""
    return f"−{scale:g} pp ← 0 → +{scale:g} pp"


def headline(result: Result) -> list[str]:
    """Plain statements for the top of the report: savings that come from broken tasks, a task-mix shift.

    Each is the metric's own sentence (`text`, untrusted: templates escape it), which already says what to
    do about it; without one (older data) a sentence is built from the numbers, with the advice.
    """
    lines = []
    attribution = result.observations.get("task_attribution")
    broken = _mapping(attribution.metadata.get("savings_from_broken")) if attribution else {}
    if broken.get("flag") is True:
        lines.append(_text(broken) or f"{_broken_text(broken)} — the savings come from the tasks that "
                     "broke: check for truncated or skipped work")
    sr = result.observations.get("success_rate")
    mix = _mapping(sr.metadata.get("mix_shift")) if sr else {}
    if mix.get("flag") is True:
        lines.append(_text(mix) or (
            f"pooled change {fmt.pp(mix.get('pooled_delta_pp'))}, task-weighted "
            f"{fmt.pp(mix.get('task_weighted_delta_pp'))} — the task mix differs between the sides, so the "
            "pooled success rate moves with it: read the task-weighted change"))
    return lines


def _text(flag: Mapping) -> str:
    """A flag's own sentence, when it is a non-empty string."""
    text = flag.get("text")
    return text if isinstance(text, str) and text.strip() else ""


def _broken_text(broken: Mapping) -> str:
    share = fmt.num(number(broken.get("share_pct")), 0)
    return (f"{broken.get('metric', 'the saving')}: {share} % of the drop comes from the "
            f"{fmt.num(number(broken.get('n_regressed')))} regressed tasks")


def _value_format(metric: str, aggregate: Mapping) -> Callable[[Any], str]:
    """How the decomposed quantity prints: success rate as a rate (a fraction, or % when above 1)."""
    if metric == "cost":
        return fmt.money
    if metric == "duration":
        return fmt.seconds
    if metric == "success_rate":
        values = [number(aggregate.get(k)) for k in ("baseline", "current")]
        if all(v is not None and abs(v) <= 1 for v in values):
            return fmt.rate
        return lambda v: fmt.pct(v, 1, signed=False)
    return lambda v: fmt.num(v, 0)


def _change_format(metric: str, aggregate: Mapping) -> Callable[[Any], str]:
    """How a change (or a group's contribution) prints, in the unit of the decomposed quantity."""
    if metric == "success_rate":
        values = [number(aggregate.get(k)) for k in ("baseline", "current")]
        factor = 100 if all(v is not None and abs(v) <= 1 for v in values) else 1
        return lambda v: fmt.pp(None if number(v) is None else number(v) * factor)
    if metric == "cost":
        return lambda v: fmt.delta(number(v), "$")
    if metric == "duration":
        return lambda v: fmt.delta(number(v), "s", 2)
    return lambda v: fmt.delta(number(v), "", 0)


def decomposition(result: Result) -> list[dict]:
    """Rows of "where the change came from": per decomposed metric, the aggregate change and each task
    group's contribution with its share (from `task_attribution.metadata.decomposition`)."""
    attribution = result.observations.get("task_attribution")
    data = _mapping(attribution.metadata.get("decomposition")) if attribution else {}
    rows = []
    for metric in DECOMPOSED:
        part = _mapping(data.get(metric))
        aggregate = _mapping(part.get("aggregate"))
        if not aggregate:
            continue
        show, change = _value_format(metric, aggregate), _change_format(metric, aggregate)
        groups = _mapping(part.get("groups"))
        cells = {}
        for g in GROUPS:
            group = _mapping(groups.get(g))
            tasks = number(group.get("tasks"))
            if not group or not tasks:
                cells[g] = "—"
                continue
            share = number(group.get("share_pct"))
            cells[g] = (f"{change(group.get('contribution'))}"
                        + (f" ({fmt.num(share, 0)} %)" if share is not None else "")
                        + f" · {fmt.num(tasks)} task{'s' if tasks != 1 else ''}")
        rows.append({
            "metric": metric, "label": _LABELS[metric], "quantity": str(part.get("quantity") or ""),
            "baseline": show(aggregate.get("baseline")), "current": show(aggregate.get("current")),
            "change": change(aggregate.get("change")),
            "change_pct": fmt.pct(number(aggregate.get("change_pct")), 0), **cells,
        })
    return rows
