"""The current traces described on their own: plain data, no baseline, no gate evaluated.

Built from a loaded Population (kalibra_action.current_only.load); rendered by the templates
(report/templates/current_only.md.j2 through kalibra_action.report.render) and written as JSON by
kalibra_action.report.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
