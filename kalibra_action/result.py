"""The result model: plain data produced by metrics, gates and the engine; renderers only format it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Direction(StrEnum):
    UPGRADE = "upgrade"
    SAME = "same"
    DEGRADATION = "degradation"
    INCONCLUSIVE = "inconclusive"
    NA = "n/a"


@dataclass
class FieldValue:
    """One gateable number a metric produced.

    value is None when there is no data; missing says what is missing.
    tested: the field is a significance-tested change (Kalibra's *_delta* fields);
    significant then tells whether the change is distinguishable from zero.
    vacuous: a None value means "nothing to gate" rather than missing data (e.g. the share of a fall in
    tokens when tokens did not fall), so a gate on it passes, saying why.
    """

    value: float | None
    tested: bool = False
    significant: bool | None = None
    ci: tuple[float, float] | None = None
    mde: float | None = None
    missing: str | None = None
    vacuous: bool = False


@dataclass
class Observation:
    """Result of one metric (Kalibra's JSON keys) plus its gateable fields."""

    name: str
    description: str
    direction: Direction = Direction.NA
    delta: float | None = None
    baseline: dict = field(default_factory=dict)
    current: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    fields: dict[str, FieldValue] = field(default_factory=dict)


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass
class GateResult:
    expr: str
    field: str
    op: str
    threshold: float
    status: GateStatus
    passed: bool  # after the on_inconclusive policy
    actual: float | None
    warning: str | None = None  # why it is inconclusive or failed for want of data
    ci: tuple[float, float] | None = None
    mde: float | None = None
    underpowered: bool = False
    source: str = "config"  # "config" | "cli" | "action"


@dataclass
class SideInfo:
    """Provenance of one side: where its traces came from."""

    label: str
    files: list[str]
    count: int
    format: str
    filters: list[str] = field(default_factory=list)
    total_before_filter: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class Result:
    direction: Direction
    observations: dict[str, Observation]
    baseline: SideInfo
    current: SideInfo
    warnings: list[str] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    passed: bool = True
    settings: dict = field(default_factory=dict)  # resamples, seed, on_inconclusive, config path
    history: dict | None = None  # pooled baseline runs: provenance, flaky tasks, MDE, trend (issue 12)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def field_values(self) -> dict[str, FieldValue]:
        out: dict[str, FieldValue] = {}
        for obs in self.observations.values():
            out.update(obs.fields)
        return out
