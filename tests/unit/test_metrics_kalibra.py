"""Differential tests: our metrics vs Kalibra 0.2.4's on Kalibra's example files (same traces).

Point estimates, counts, p-values and gate fields must be equal. Bootstrap CIs differ by design
(10,000 seeded numpy resamples vs Kalibra's 1,000), so each CI is checked twice: against a brute-force
numpy bootstrap (20,000 resamples) of the same values, within 2 pp or 10 % of the width; and against
Kalibra's reported CI within the same tolerance plus Kalibra's own Monte-Carlo error (its distance
from the brute-force CI), which reaches ~28 pp on the gappy n = 40 span durations of the crewai files.
Directions must match unless a CI bound lies within that tolerance of 0 (a coin-flip verdict).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kalibra_action.metrics import DEFAULT_METRICS, METRICS, make_metric
from kalibra_action.result import FieldValue
from kalibra_action.traces.population import Population, PopulationBuilder, SpanRow

kalibra = pytest.importorskip("kalibra")
from kalibra.commands.compare import _resolve_where_field  # noqa: E402
from kalibra.config import FieldsConfig  # noqa: E402
from kalibra.engine import resolve_metrics  # noqa: E402
from kalibra.loader import load_traces  # noqa: E402
from kalibra.metrics.span_breakdown import _group_spans, _span_stats  # noqa: E402
from kalibra.metrics.trace_breakdown import _extract_task_id  # noqa: E402

EX = Path(__file__).resolve().parents[1] / "data" / "kalibra-examples"
CASES = {
    "demo": (EX / "demo_data/baseline.jsonl", EX / "demo_data/current.jsonl", None, None),
    "otel_genai": (EX / "otel_genai/traces.jsonl", None, "variant", "task.id"),
    "cost_explosion": (EX / "crewai/scenario_cost_explosion.jsonl", None, "variant", "task.id"),
    "redistribution": (EX / "crewai/scenario_redistribution.jsonl", None, "variant", "task.id"),
}
OUTCOME = {"success": 1, "failure": 0, None: -1}


def to_population(traces: list, label: str, task_field: str | None) -> Population:
    """Kalibra Trace objects → our columnar Population (same values, no re-parsing)."""
    b = PopulationBuilder(label)
    for t in traces:
        spans = [SpanRow(s.span_id, s.parent_id, s.name, s.cost, s.input_tokens, s.output_tokens,
                         s.start_ns, s.end_ns, s.error) for s in t.spans]
        b.add_trace(t.trace_id, _extract_task_id(t, task_field), OUTCOME[t.outcome], cost=t._cost,
                    input_tokens=t._input_tokens, output_tokens=t._output_tokens,
                    duration=t._duration_s, spans=spans)
    return b.build()


def load_case(name: str) -> tuple[list, list, str | None]:
    first, second, where, task = CASES[name]
    fields = FieldsConfig.from_dict({"task_id": task}) if task else None
    if second is not None:
        return load_traces(first, fields=fields), load_traces(second, fields=fields), task
    traces = load_traces(first, fields=fields)
    pick = [[t for t in traces if str(_resolve_where_field(t, where)) == v] for v in ("baseline", "current")]
    return pick[0], pick[1], task


KALIBRA_METRICS = [n for n in DEFAULT_METRICS if n != "task_attribution"]  # the ones Kalibra has


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest) -> dict:
    kb, kc, task = load_case(request.param)
    assert kb and kc
    ours_b, ours_c = to_population(kb, "baseline", task), to_population(kc, "current", task)
    theirs: dict = {}
    for m in resolve_metrics(None):
        if m.name == "trace_breakdown" and task:
            m.task_id_field = task
        theirs[m.name] = (m, m.compare(kb, kc))
    ours = {n: make_metric(n).compare(ours_b, ours_c) for n in KALIBRA_METRICS}
    return {"name": request.param, "theirs": theirs, "ours": ours, "kb": kb, "kc": kc}


def close(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def tol(ci: tuple) -> float:
    return max(2.0, 0.1 * (ci[1] - ci[0]))


def brute_ci(b: list, c: list, r: int = 20_000) -> tuple[float, float] | None:
    """Plain numpy percentile bootstrap of the % change of medians with Kalibra's undefined rules."""
    if len(b) < 2 or len(c) < 2:
        return None
    rng = np.random.default_rng(7)
    b, c = np.asarray(b, float), np.asarray(c, float)
    mb = np.median(b[rng.integers(0, b.size, (r, b.size))], axis=1)
    mc = np.median(c[rng.integers(0, c.size, (r, c.size))], axis=1)
    ok = (mb != 0) | (mc == 0)
    d = np.sort(np.where(mb == 0, 0.0, (mc - mb) / np.where(mb == 0, 1, mb) * 100)[ok])
    if d.size < 0.8 * r:
        return None
    return float(d[int(d.size * 0.025)]), float(d[min(d.size - 1, int(d.size * 0.975))])


def check_ci(ours: tuple | None, theirs: tuple | None, brute: tuple | None) -> bool:
    """True when a CI bound is borderline (within tolerance of 0), after asserting the bounds agree."""
    assert (ours is None) == (theirs is None) == (brute is None), (ours, theirs, brute)
    if ours is None:
        return False
    for i in (0, 1):
        assert abs(ours[i] - brute[i]) <= tol(brute), ("vs brute force", ours, brute)
        slack = tol(theirs) + abs(theirs[i] - brute[i])
        assert abs(ours[i] - theirs[i]) <= slack, ("vs kalibra", ours, theirs, brute)
    return any(abs(x) <= max(tol(brute), abs(t - b)) for x, t, b in zip(brute, theirs, brute, strict=True))


def kalibra_values(traces: list, metric: str) -> list[float]:
    """The values Kalibra bootstraps for a continuous metric (its own definitions)."""
    ok = [t for t in traces if metric not in ("token_efficiency", "cost_quality") or t.outcome == "success"]
    get = {"cost": lambda t: t.total_cost, "cost_quality": lambda t: t.total_cost,
           "duration": lambda t: t.duration, "token_usage": lambda t: t.total_tokens,
           "token_efficiency": lambda t: t.total_tokens,
           "steps": lambda t: float(len(t.leaf_spans())) if t.spans else None}[metric]
    return [float(v) for v in map(get, ok) if v is not None]


def test_registry_order_matches_kalibra() -> None:
    """Kalibra's ten metrics first, in its order; ours (issue 10: task_attribution) after them."""
    assert list(METRICS)[:len(KALIBRA_METRICS)] == [m.name for m in resolve_metrics(None)]
    assert list(METRICS)[len(KALIBRA_METRICS):] == ["task_attribution"]


@pytest.mark.parametrize("metric", KALIBRA_METRICS)
def test_same_numbers_as_kalibra(case: dict, metric: str) -> None:
    km, theirs = case["theirs"][metric]
    ours = case["ours"][metric]
    assert ours.name == theirs.name
    assert ours.delta == theirs.delta
    for side in ("baseline", "current"):
        t, o = getattr(theirs, side), getattr(ours, side)
        assert set(t) <= set(o)
        for k, v in t.items():
            assert close(o[k], v), (side, k, o[k], v)
    assert set(theirs.metadata) <= set(ours.metadata)
    borderline = False
    if metric in ("cost", "duration", "steps", "token_usage", "token_efficiency", "cost_quality") \
            and "ci_95" in theirs.metadata:
        brute = brute_ci(kalibra_values(case["kb"], metric), kalibra_values(case["kc"], metric))
        borderline = check_ci(ours.metadata["ci_95"], theirs.metadata["ci_95"], brute)
    if metric == "span_breakdown":  # CI-dependent counts: checked in test_span_breakdown_per_span
        assert ours.metadata["matched"] == theirs.metadata.get("matched", ours.metadata["matched"])
        return
    for k in ("pvalue", "significant", "n_regressions", "n_improvements", "n_mixed"):
        if k in theirs.metadata:
            assert ours.metadata[k] == theirs.metadata[k], k
    if metric == "trace_breakdown":
        strip = [[{k: e[k] for k in ("task_id", "baseline", "current")} for e in m["regressions"]]
                 for m in (ours.metadata, theirs.metadata)]
        assert strip[0] == strip[1]
    # every gate field Kalibra publishes has the same value here
    for field, value in km.threshold_fields(theirs).items():
        fv = ours.fields[field]
        assert isinstance(fv, FieldValue) and close(fv.value, value), (field, fv, value)
    if not borderline:
        assert ours.direction.value == theirs.direction.value


def test_span_breakdown_per_span(case: dict) -> None:
    _, theirs = case["theirs"]["span_breakdown"]
    ours = case["ours"]["span_breakdown"]
    if "per_span" not in theirs.metadata:
        assert "per_span" not in ours.metadata
        return
    assert ours.metadata["per_span"].keys() == theirs.metadata["per_span"].keys()
    gb, gc = _group_spans(case["kb"]), _group_spans(case["kc"])
    raw_key = {"duration": "durations", "tokens": "tokens", "cost": "costs"}
    any_borderline = False
    for name, t in theirs.metadata["per_span"].items():
        o = ours.metadata["per_span"][name]
        assert o["deltas"] == t["deltas"], name
        assert all(close(o[s][k], v) for s in ("baseline", "current") for k, v in t[s].items())
        borderline = False
        for dim, ci in t["ci_95"].items():
            rb, rc = _span_stats(gb[name])[1][raw_key[dim]], _span_stats(gc[name])[1][raw_key[dim]]
            borderline |= check_ci(o["ci_95"][dim], ci, brute_ci(rb, rc))
        any_borderline |= borderline
        if not borderline:
            assert o["direction"] == t["direction"], name
    if not any_borderline:
        assert ours.direction.value == theirs.direction.value
        assert ours.fields["span_regressions"].value == theirs.metadata["n_regressions_for_gate"]


def test_every_declared_field_is_filled(case: dict) -> None:
    for name, obs in case["ours"].items():
        assert set(obs.fields) == set(METRICS[name].fields), name
        for fname, fv in obs.fields.items():
            assert (fv.value is None) == (fv.missing is not None), (fname, fv)
