"""compare(baseline, current, options) → Result: run the metrics, evaluate the gates, add provenance.

The engine reads no environment and makes no text beyond warnings; the CLI and the action build the same
CompareOptions and call compare().
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kalibra_action import metrics as metric_registry
from kalibra_action.errors import InputError
from kalibra_action.gates import DEFAULT_ON_INCONCLUSIVE, Gate, did_you_mean, evaluate_gates, gate_key
from kalibra_action.history import summarize
from kalibra_action.history.pool import PooledBaseline
from kalibra_action.metrics.base import FieldSpec, Metric, StatsOptions
from kalibra_action.result import Direction, FieldValue, Observation, Result, SideInfo
from kalibra_action.traces.population import Population

MIN_TRACES = 30
MAX_SIZE_RATIO = 10
FAMILYWISE_MIN_GATES = 3
# Per-item breakdowns inform but do not drive the overall direction (as in Kalibra).
ROLLUP_EXCLUDE = frozenset({"trace_breakdown", "span_breakdown", "task_attribution"})


@dataclass(frozen=True)
class CompareOptions:
    metrics: tuple[str, ...] | None = None  # None = the registry's defaults, in registry order
    gates: tuple[Gate, ...] = ()
    noise_thresholds: Mapping[str, float] = field(default_factory=dict)
    stats: StatsOptions = field(default_factory=StatsOptions)
    on_inconclusive: str = DEFAULT_ON_INCONCLUSIVE  # one of gates.ON_INCONCLUSIVE, checked by config
    metric_config: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    history: PooledBaseline | None = None  # several baseline runs: per-task counts pooled over them


def _select(names: tuple[str, ...] | None) -> list[str]:
    """The metrics to run; the names were checked where they were read (config.check_metric)."""
    return list(metric_registry.DEFAULT_METRICS) if names is None else list(dict.fromkeys(names))


def _check_gate_fields(gates: tuple[Gate, ...], active: list[Metric]) -> None:
    """Every gate's field must come from an enabled metric (Kalibra validates against the active ones)."""
    enabled = {f for m in active for f in m.fields}
    provider = {f: name for name, cls in metric_registry.METRICS.items() for f in cls.fields}
    for gate in gates:
        if gate.field in enabled:
            continue
        if gate.field in provider:
            metric = provider[gate.field]
            raise InputError(f"gate '{gate.expr}': field '{gate.field}' comes from metric '{metric}', "
                             "which is not enabled", key=gate_key(gate.source),
                             hint=f"add {metric} to metrics or drop the gate")
        near = did_you_mean(gate.field, enabled)
        raise InputError(f"gate '{gate.expr}': unknown field '{gate.field}'{near}", key=gate_key(gate.source))


def _dataset_warnings(n_b: int, n_c: int, gates: tuple[Gate, ...], specs: Mapping[str, FieldSpec],
                      alpha: float) -> list[str]:
    out = []
    for side, n in (("baseline", n_b), ("current", n_c)):
        if n < MIN_TRACES:
            out.append(f"{side} has only {n} traces; at least {MIN_TRACES} are recommended "
                       "for reliable results")
    if n_b and n_c and max(n_b, n_c) / min(n_b, n_c) > MAX_SIZE_RATIO:
        out.append(f"the sides differ a lot in size ({n_b:,} vs {n_c:,} traces); "
                   "confidence intervals are lopsided, read the changes with care")
    tested = sum(1 for g in gates if g.field in specs and specs[g.field].tested)
    if tested >= FAMILYWISE_MIN_GATES:
        chance = (1 - (1 - alpha) ** tested) * 100
        out.append(f"{tested} gates test significance at α={alpha:g} each: with no real change up to "
                   f"~{chance:.0f}% of runs could flag at least one by chance; gates whose change is not "
                   "significant are reported as inconclusive, not skipped")
    return out


def rollup(observations: Mapping[str, Observation]) -> Direction:
    """Overall direction: any inconclusive or mixed → inconclusive; breakdown metrics excluded."""
    seen = {o.direction for name, o in observations.items()
            if o.direction != Direction.NA and name not in ROLLUP_EXCLUDE and o.name not in ROLLUP_EXCLUDE}
    if not seen:
        return Direction.NA
    if Direction.INCONCLUSIVE in seen or {Direction.UPGRADE, Direction.DEGRADATION} <= seen:
        return Direction.INCONCLUSIVE
    for d in (Direction.DEGRADATION, Direction.UPGRADE):
        if d in seen:
            return d
    return Direction.SAME


def side_info(pop: Population) -> SideInfo:
    return SideInfo(label=pop.label, files=list(pop.files), count=len(pop), format=pop.format,
                    filters=list(pop.filters), total_before_filter=pop.total_before_filter,
                    warnings=list(pop.warnings))


def _field_values(metric: Metric, obs: Observation) -> dict[str, FieldValue]:
    """Every field the metric declares, with a 'missing' reason for those it did not produce."""
    out = dict(obs.fields)
    for name in metric.fields:
        if name not in out:
            out[name] = FieldValue(None, tested=metric.fields[name].tested,
                                   missing=f"metric {metric.name} produced no value for {name}")
    return out


def compare(baseline: Population, current: Population, options: CompareOptions) -> Result:
    """Run the selected metrics on both sides, evaluate the gates and build the Result."""
    for side, pop in (("baseline", baseline), ("current", current)):
        if len(pop) == 0:
            filt = f" after the filters {', '.join(pop.filters)}" if pop.filters else ""
            raise InputError(f"{side} has no traces{filt}", key=side,
                             hint="check the path and the where filters")
    names = _select(options.metrics)
    active = [metric_registry.make_metric(n, noise_threshold=options.noise_thresholds.get(n),
                                          options=options.stats, **_metric_config(n, options))
              for n in names]
    _check_gate_fields(options.gates, active)
    specs = {f: spec for m in active for f, spec in m.fields.items()}

    observations: dict[str, Observation] = {}
    values: dict[str, FieldValue] = {}
    noise: dict[str, float] = {}
    for metric in active:
        obs = metric.compare(baseline, current)
        observations[obs.name] = obs
        fvs = _field_values(metric, obs)
        values.update(fvs)
        noise.update(dict.fromkeys(fvs, float(metric.noise_threshold)))
    gates = evaluate_gates(options.gates, values, on_inconclusive=options.on_inconclusive, noise=noise)

    warnings = _dataset_warnings(len(baseline), len(current), options.gates, specs, options.stats.alpha)
    for side, pop in (("baseline", baseline), ("current", current)):
        warnings.extend(f"{side}: {w}" for w in pop.warnings)
    warnings.extend(_history_warnings(options.history))
    return Result(
        direction=rollup(observations), observations=observations,
        baseline=side_info(baseline), current=side_info(current), warnings=warnings, gates=gates,
        passed=all(g.passed for g in gates),
        settings={"resamples": options.stats.resamples, "seed": options.stats.seed,
                  "on_inconclusive": options.on_inconclusive, "metrics": names},
        history=_history(options.history, observations, current),
    )


def _metric_config(name: str, options: CompareOptions) -> dict[str, object]:
    """One metric's settings; the per-task metrics also get the pooled baseline runs (task_attribution
    groups tasks by trace_breakdown's verdicts, so both must test the same counts)."""
    config = dict(options.metric_config.get(name, {}))
    if name in ("trace_breakdown", "task_attribution") and options.history is not None:
        config["history"] = options.history
    return config


def _history_warnings(history: PooledBaseline | None) -> list[str]:
    """One line per baseline run left out of the pool, with the reason, then the pool's notes."""
    if history is None:
        return []
    return [*(f"baseline {f'run {r.run_id}' if r.run_id else r.source} left out of the pool: {r.reason}"
              for r in history.runs if not r.pooled), *history.notes]


def _history(history: PooledBaseline | None, observations: Mapping[str, Observation],
             current: Population) -> dict | None:
    """The report's `history`: the pool's provenance, what the per-task metric made of it, and this
    run's headline values beside the base branch's (the trend)."""
    if history is None:
        return None
    out = history.as_dict()
    out["current"] = summarize(current).headline()
    tb = observations.get("trace_breakdown")
    md = tb.metadata if tb is not None else {}
    out["mde_pp"] = md.get("history_mde")
    out["flaky_regressions"] = md.get("flaky_regressions", [])
    out["n_flaky_regressions"] = md.get("n_flaky_regressions", 0)
    return out
