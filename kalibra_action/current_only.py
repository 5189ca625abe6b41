"""The report when there is no baseline to compare with: the current traces alone, no gates evaluated.

Used by the action when `baseline-artifact` finds nothing and `if-no-baseline` is `warn` or `skip`. The
current side is resolved exactly as a comparison would resolve it (the `current` input, else the config's
`current:`), and the gates are parsed so that a typo still fails the step, but none is evaluated: there is
no baseline to take a delta against. The report says so, says why, and shows plain descriptive numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kalibra_action import __version__
from kalibra_action.report import format as fmt
from kalibra_action.report.escape import md

Status = Callable[[str], None]
TITLE = "No baseline — current traces only, no gates evaluated"


@dataclass(frozen=True)
class CurrentOnly:
    """The current population's description, and why it stands alone."""

    reason: str  # why there is no baseline (one sentence)
    policy: str  # "warn" | "skip"
    label: str
    files: tuple[str, ...]
    format: str
    filters: tuple[str, ...]
    count: int
    total_before_filter: int
    tasks: int
    successes: int
    known_outcomes: int  # traces whose outcome is known (success or failure)
    median_cost: float | None
    median_tokens: float | None
    median_duration: float | None
    gates: tuple[str, ...] = ()  # configured, not evaluated
    warnings: tuple[str, ...] = ()
    looked_for: Mapping[str, str] = field(default_factory=dict)  # artifact, workflow, branch

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.known_outcomes if self.known_outcomes else None


def _median(values: np.ndarray) -> float | None:
    measured = values[~np.isnan(values)] if values.size else values
    return float(np.median(measured)) if measured.size else None


def describe(pop: Any, *, reason: str, policy: str, gates: tuple[str, ...] = (),
             looked_for: Mapping[str, str] | None = None) -> CurrentOnly:
    """A CurrentOnly from a loaded Population."""
    outcome = np.asarray(pop.outcome)
    return CurrentOnly(
        reason=reason, policy=policy, label=pop.label, files=tuple(pop.files), format=pop.format,
        filters=tuple(pop.filters), count=len(pop), total_before_filter=pop.total_before_filter,
        tasks=len(set(np.asarray(pop.task).tolist())) if len(pop) else 0,
        successes=int((outcome == 1).sum()), known_outcomes=int((outcome >= 0).sum()),
        median_cost=_median(np.asarray(pop.cost, dtype=float)),
        median_tokens=_median(np.asarray(pop.tokens, dtype=float)),
        median_duration=_median(np.asarray(pop.duration, dtype=float)),
        gates=tuple(gates), warnings=tuple(pop.warnings), looked_for=dict(looked_for or {}))


def load_current(*, config_path: str, current: str | None, require: tuple[str, ...], base_dir: Any,
                 status: Status | None = None, roots: Any = None) -> tuple[Any, tuple[str, ...]]:
    """The current population as the comparison would load it, and the gate expressions it would check.

    InputError (exit 2) for a bad config, a bad gate, or unreadable traces, as in a comparison.
    """
    from kalibra_action.run import (
        RunRequest,
        load_request_config,
        load_side,
        request_gates,
        request_gates_from,
        resolve_side,
    )

    say = status or (lambda _msg: None)
    req = RunRequest(config_path=config_path, config_required=not current, current=current,
                     require=request_gates_from(require, "action"), base_dir=base_dir, roots=roots)
    config = load_request_config(req)
    if config.path:
        say(f"Using config {config.path}")
    gates = request_gates(config, req)  # a typo in a gate still fails the step
    side = resolve_side("current", current, config, req)
    return load_side(side, say), tuple(g.expr for g in gates)


# ---- rendering ---------------------------------------------------------------------------------------------

def summary_line(report: CurrentOnly) -> str:
    """The `summary` output: one line."""
    return (f"NO BASELINE: {report.count} current traces reported alone, "
            f"{len(report.gates)} gates not evaluated — {report.reason}")[:1000]


def _rows(report: CurrentOnly) -> list[tuple[str, str]]:
    rate = report.success_rate
    success = (f"{fmt.rate(rate)} ({fmt.num(report.successes)} of {fmt.num(report.known_outcomes)})"
               if rate is not None else "n/a (no trace has a known outcome)")
    traces = fmt.num(report.count)
    if report.total_before_filter > report.count:
        traces += f" of {fmt.num(report.total_before_filter)} read"
    rows = [("Traces", traces), ("Tasks", fmt.num(report.tasks)), ("Success rate", success),
            ("Cost (median)", fmt.money(report.median_cost)),
            ("Tokens (median)", fmt.num(report.median_tokens, 0)),
            ("Duration (median)", fmt.seconds(report.median_duration))]
    return rows


def render_markdown(report: CurrentOnly, *, extra: Mapping[str, Any] | None = None) -> str:
    """The comment / job summary for a run with no baseline; every untrusted string goes through `md`."""
    extra = extra or {}
    icon = "⚠️" if report.policy == "warn" else "ℹ️"
    lines: list[str] = []
    if extra.get("marker"):
        lines.append(str(extra["marker"]))
    lines += [f"## {icon} Kalibra · {TITLE}", ""]
    lines.append(f"**No baseline:** {md(report.reason, 1000)}.")
    looked = report.looked_for
    if looked.get("artifact"):
        lines += ["", f"Looked for artifact <code>{md(looked['artifact'])}</code> from the newest successful "
                      f"run of workflow <code>{md(looked.get('workflow', ''))}</code> on branch "
                      f"<code>{md(looked.get('branch', ''))}</code>. The gates are evaluated again once "
                      "a run there uploads it."]
    lines += ["", f"**Current:** {md(report.label)} ({fmt.num(report.count)} traces)", "",
              "| | Current |", "|---|---|"]
    lines += [f"| {name} | {md(value)} |" for name, value in _rows(report)]
    if report.gates:
        shown = ", ".join(f"<code>{md(g)}</code>" for g in report.gates[:20])
        more = f" … {len(report.gates) - 20} more" if len(report.gates) > 20 else ""
        lines += ["", f"**Gates not evaluated ({len(report.gates)}):** {shown}{more}"]
    if report.warnings:
        lines += ["", f"<details><summary>Warnings ({len(report.warnings)})</summary>", ""]
        lines += [f"- ⚠️ {md(w, 500)}" for w in report.warnings[:20]]
        if len(report.warnings) > 20:
            lines.append(f"- … {len(report.warnings) - 20} more in the JSON report")
        lines += ["", "</details>"]
    files = ", ".join(md(f) for f in report.files[:20])
    if len(report.files) > 20:
        files += f" … {len(report.files) - 20} more"
    lines += ["", "<details><summary>Provenance</summary>", "", "| | Current |", "|---|---|",
              f"| Source | {md(report.label)} |", f"| Files | {files} |", f"| Format | {md(report.format)} |",
              f"| Filters | {', '.join(md(f) for f in report.filters) or 'none'} |", "", "</details>", ""]
    run_url = str(extra.get("run_url") or "")
    footer = f"<sub>kalibra-action {md(__version__)}</sub>"
    if run_url.startswith("https://"):
        safe = run_url.replace(" ", "%20").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")
        footer = f"[Workflow run]({safe}) · {footer}"
    lines.append(footer)
    return "\n".join(lines) + "\n"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def to_json(report: CurrentOnly) -> str:
    """The JSON report: the same top-level shape as a comparison's where it applies, `baseline` null."""
    data = {
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
                          "success_rate": _finite(report.success_rate),
                          "median_cost": _finite(report.median_cost),
                          "median_tokens": _finite(report.median_tokens),
                          "median_duration_s": _finite(report.median_duration)},
        "gates": [],
        "gates_not_evaluated": list(report.gates),
        "warnings": list(report.warnings),
        "version": __version__,
    }
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False)
