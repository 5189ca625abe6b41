"""The metrics: Kalibra's ten in its default order, then ours (task_attribution); helpers to build them by
name."""

from __future__ import annotations

from kalibra_action.metrics.base import FieldSpec, Metric, StatsOptions
from kalibra_action.metrics.cost import CostMetric
from kalibra_action.metrics.cost_quality import CostQualityMetric
from kalibra_action.metrics.duration import DurationMetric
from kalibra_action.metrics.error_rate import ErrorRateMetric
from kalibra_action.metrics.span_breakdown import SpanBreakdownMetric
from kalibra_action.metrics.steps import StepsMetric
from kalibra_action.metrics.success_rate import SuccessRateMetric
from kalibra_action.metrics.task_attribution import TaskAttributionMetric
from kalibra_action.metrics.token_efficiency import TokenEfficiencyMetric
from kalibra_action.metrics.token_usage import TokenUsageMetric
from kalibra_action.metrics.trace_breakdown import TraceBreakdownMetric

METRICS: dict[str, type[Metric]] = {m.name: m for m in (
    SuccessRateMetric, CostMetric, DurationMetric, StepsMetric, ErrorRateMetric, TokenUsageMetric,
    TokenEfficiencyMetric, CostQualityMetric, TraceBreakdownMetric, SpanBreakdownMetric,
    TaskAttributionMetric)}
DEFAULT_METRICS: tuple[str, ...] = tuple(METRICS)


def all_fields() -> dict[str, FieldSpec]:
    """Every gateable field of every metric (for gate validation and did-you-mean)."""
    out: dict[str, FieldSpec] = {}
    for cls in METRICS.values():
        out.update(cls.fields)
    return out


def metric_for_field(field: str) -> str | None:
    """Name of the metric that publishes `field`, or None."""
    return next((name for name, cls in METRICS.items() if field in cls.fields), None)


def make_metric(name: str, *, noise_threshold: float | None = None,
                options: StatsOptions | None = None, **config: object) -> Metric:
    """Instantiate a metric by name; ValueError for an unknown name."""
    cls = METRICS.get(name)
    if cls is None:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return cls(noise_threshold=noise_threshold, options=options or StatsOptions(), **config)


__all__ = ["DEFAULT_METRICS", "METRICS", "FieldSpec", "Metric", "StatsOptions", "all_fields",
           "make_metric", "metric_for_field"]
