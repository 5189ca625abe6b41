"""The comment's History section: which base-branch runs the baseline pooled, the flaky tasks, the MDE the
pool reached, and a trend row per headline metric (a sparkline of the base branch's runs, then this PR).

Everything here comes from `Result.history` (kalibra_action/history). Run sources and task names are
untrusted and pass through the template's `md` filter; commits are checked hex when read from a summary,
and are cut to 7 characters here. The sparkline is built from numbers only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kalibra_action.report import format as fmt

SPARKS = "▁▂▃▄▅▆▇█"
MAX_LISTED = 20
HEADLINES = (("success_rate", "Success rate", lambda v: fmt.num(v, 1) + "%"),
             ("tokens", "Median tokens", lambda v: fmt.num(v, 0)),
             ("cost", "Median cost", fmt.money),
             ("duration", "Median duration", fmt.seconds))


def sparkline(values: list[float | None]) -> str:
    """One block character per value, scaled between the smallest and the largest; `·` for no value."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append("·")
        elif hi == lo:
            out.append(SPARKS[3])
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, int((v - lo) / (hi - lo) * len(SPARKS)))])
    return "".join(out)


def _value(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _trend(runs: list[Mapping], current: Mapping) -> list[dict]:
    """Per headline metric: the pooled runs' values oldest first, their range, and this PR's value."""
    rows = []
    for key, title, show in HEADLINES:
        base = [_value(r.get(key)) for r in runs]
        now = _value(current.get(key))
        seen = [v for v in base if v is not None]
        if not seen and now is None:
            continue
        low, high = (show(min(seen)), show(max(seen))) if seen else (fmt.NA, fmt.NA)
        rows.append({"title": title, "spark": sparkline([*base, now]),
                     "range": low if low == high else f"{low} – {high}",
                     "runs": len(seen), "current": show(now) if now is not None else fmt.NA})
    return rows


def _mde_sentence(mde: Mapping | None, runs: int) -> str:
    """'Pooling 8 runs: this PR can detect a 22 pp drop per task (1 run: 47 pp).'"""
    if not isinstance(mde, Mapping):
        return ""
    pooled, one = _value(mde.get("pooled")), _value(mde.get("one_run"))

    def drop(v: float | None) -> str:
        return f"{v:.0f} pp" if v is not None else "none (too few runs)"

    return (f"Pooling {runs} run{'s' if runs != 1 else ''}: this PR can detect a {drop(pooled)} drop per "
            f"task; with 1 run: {drop(one)} (80 % power, normal approximation).").replace("a none", "no")


def view(history: Mapping | None) -> dict:
    """What the History block shows; `present` is false without several baseline runs."""
    if not isinstance(history, Mapping):
        return {"present": False}
    runs = [r for r in history.get("runs", []) if isinstance(r, Mapping)]
    pooled = [r for r in runs if r.get("pooled")]
    excluded = [r for r in runs if not r.get("pooled")]
    commits = [str(c)[:7] for c in dict.fromkeys(history.get("commits", []))]  # a commit of two runs once
    return {
        "present": True,
        "runs_pooled": len(pooled), "runs_given": len(runs), "traces_pooled": history.get("traces_pooled"),
        "commits": commits[:MAX_LISTED], "commits_more": max(0, len(commits) - MAX_LISTED),
        "n_commits": len(commits),
        "excluded": [{"name": f"run {r['run_id']}" if r.get("run_id") else r.get("source"),
                      "reason": r.get("reason")}
                     for r in excluded[:MAX_LISTED]],
        "excluded_more": max(0, len(excluded) - MAX_LISTED),
        "flaky": list(history.get("flaky_tasks", []))[:MAX_LISTED],
        "n_flaky": history.get("n_flaky", 0),
        "flaky_regressions": list(history.get("flaky_regressions", []))[:MAX_LISTED],
        "n_flaky_regressions": history.get("n_flaky_regressions", 0),
        "flaky_counts": bool(history.get("flaky_counts")),
        "mde": _mde_sentence(history.get("mde_pp"), len(pooled)),
        "trend": _trend(pooled, history.get("current") or {}),
    }
