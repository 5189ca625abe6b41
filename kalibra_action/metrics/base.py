"""The metric interface: compare(baseline, current) → Observation (plain data, no text formatting)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from kalibra_action.result import Direction, Observation
from kalibra_action.traces.population import Population


@dataclass(frozen=True)
class FieldSpec:
    """A gateable field a metric publishes. tested: a significance-tested change (a *_delta* field)."""

    description: str
    tested: bool = False
    unit: str = ""  # "%", "pp", "$", "s", "" (count)


@dataclass(frozen=True)
class StatsOptions:
    """Knobs shared by all metrics."""

    resamples: int = 10_000
    seed: int = 42
    alpha: float = 0.05


class Metric(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    noise_threshold: ClassVar[float] = 0.5
    higher_is_better: ClassVar[bool] = True
    fields: ClassVar[dict[str, FieldSpec]] = {}

    def __init__(self, noise_threshold: float | None = None, options: StatsOptions | None = None,
                 **config: object) -> None:
        if noise_threshold is not None:
            self.noise_threshold = noise_threshold  # type: ignore[misc]
        self.options = options or StatsOptions()
        self.config = config

    @abstractmethod
    def compare(self, baseline: Population, current: Population) -> Observation:
        """Compare two populations."""

    def classify(self, delta: float | None, ci: tuple[float, float] | None = None, *,
                 require_ci: bool = False) -> Direction:
        """Kalibra's direction rule: CI containing 0 or |delta| within the noise floor is SAME."""
        if delta is None:
            return Direction.NA
        if require_ci and ci is None:
            return Direction.INCONCLUSIVE
        if ci is not None and ci[0] <= 0 <= ci[1]:
            return Direction.SAME
        if abs(delta) <= self.noise_threshold:
            return Direction.SAME
        if (delta > 0) == self.higher_is_better:
            return Direction.UPGRADE
        return Direction.DEGRADATION
