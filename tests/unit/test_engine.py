"""engine.compare with small Populations and fake metrics put in the registry (monkeypatched)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from kalibra_action import engine
from kalibra_action import metrics as registry
from kalibra_action.engine import CompareOptions, compare, rollup
from kalibra_action.errors import InputError
from kalibra_action.gates import parse_gate
from kalibra_action.metrics.base import FieldSpec, Metric, StatsOptions
from kalibra_action.result import Direction, FieldValue, GateStatus, Observation
from kalibra_action.traces.population import OUTCOME_FAILURE, OUTCOME_SUCCESS, Population, PopulationBuilder


def population(label: str, costs: list[float], *, successes: int | None = None,
               warnings: tuple[str, ...] = (), filters: tuple[str, ...] = ()) -> Population:
    b = PopulationBuilder(label=label, files=(f"{label}.jsonl",), format="flat", filters=filters,
                          total_before_filter=len(costs) + 2, warnings=list(warnings))
    ok = len(costs) if successes is None else successes
    for i, c in enumerate(costs):
        b.add_trace(f"{label}-{i}", f"task-{i % 3}", OUTCOME_SUCCESS if i < ok else OUTCOME_FAILURE, cost=c)
    return b.build()


class FakeCost(Metric):
    """Mean-cost change; significant when the means differ by more than `spread` (a config knob)."""

    name = "cost"
    description = "fake cost"
    noise_threshold = 3.0
    higher_is_better = False
    fields: ClassVar[dict[str, FieldSpec]] = {
        "cost_delta_pct": FieldSpec("cost change", tested=True, unit="%"),
        "total_cost": FieldSpec("total cost", unit="$"),
        "avg_cost": FieldSpec("average cost", unit="$"),
    }

    def compare(self, baseline: Population, current: Population) -> Observation:
        b, c = float(np.mean(baseline.cost)), float(np.mean(current.cost))
        delta = (c - b) / b * 100
        spread = float(self.config.get("spread", 1.0))  # type: ignore[arg-type]
        ci = (delta - spread, delta + spread)
        significant = not (ci[0] <= 0 <= ci[1])
        return Observation(
            name=self.name, description=self.description, direction=self.classify(delta, ci), delta=delta,
            metadata={"noise": self.noise_threshold, "resamples": self.options.resamples},
            fields={"cost_delta_pct": FieldValue(delta, tested=True, significant=significant, ci=ci, mde=2.0),
                    "total_cost": FieldValue(float(np.sum(current.cost)))},  # avg_cost left out on purpose
        )


class FakeSuccess(Metric):
    name = "success_rate"
    description = "fake success"
    fields: ClassVar[dict[str, FieldSpec]] = {
        "success_rate_delta": FieldSpec("success change", tested=True, unit="pp"),
        "success_rate": FieldSpec("success rate", unit="%"),
    }

    def compare(self, baseline: Population, current: Population) -> Observation:
        b = float(np.mean(baseline.outcome == OUTCOME_SUCCESS)) * 100
        c = float(np.mean(current.outcome == OUTCOME_SUCCESS)) * 100
        d = c - b
        return Observation(name=self.name, description=self.description, direction=self.classify(d), delta=d,
                           fields={"success_rate_delta": FieldValue(d, tested=True, significant=abs(d) > 5),
                                   "success_rate": FieldValue(c)})


class FakeBreakdown(Metric):
    name = "trace_breakdown"
    description = "fake breakdown"
    fields: ClassVar[dict[str, FieldSpec]] = {"regressions": FieldSpec("tasks that got worse")}

    def compare(self, baseline: Population, current: Population) -> Observation:
        return Observation(name=self.name, description=self.description, direction=Direction.DEGRADATION,
                           fields={"regressions": FieldValue(1.0)})


FAKES: dict[str, type[Metric]] = {"success_rate": FakeSuccess, "cost": FakeCost,
                                  "trace_breakdown": FakeBreakdown}


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def make_metric(name: str, *, noise_threshold: float | None = None,
                    options: StatsOptions | None = None, **config: object) -> Metric:
        return FAKES[name](noise_threshold=noise_threshold, options=options or StatsOptions(), **config)

    monkeypatch.setattr(registry, "METRICS", FAKES, raising=False)
    monkeypatch.setattr(registry, "DEFAULT_METRICS", tuple(FAKES), raising=False)
    monkeypatch.setattr(registry, "make_metric", make_metric, raising=False)


KNOWN = {f: spec for cls in FAKES.values() for f, spec in cls.fields.items()}
BASE = [1.0] * 40
UP = [1.2] * 40  # +20 % cost


def opts(*gates: str, **kw: object) -> CompareOptions:
    return CompareOptions(gates=tuple(parse_gate(g, KNOWN) for g in gates), **kw)  # type: ignore[arg-type]


def test_runs_defaults_in_registry_order_and_collects_fields() -> None:
    res = compare(population("b", BASE), population("c", UP), CompareOptions())
    assert list(res.observations) == ["success_rate", "cost", "trace_breakdown"]
    values = res.field_values()
    assert values["cost_delta_pct"].value == pytest.approx(20.0)
    assert res.settings == {"resamples": 10_000, "seed": 42, "on_inconclusive": "warn",
                            "metrics": ["success_rate", "cost", "trace_breakdown"]}
    assert res.passed and res.gates == []


def test_explicit_metric_order_kept() -> None:  # names are checked where read: config.check_metric
    res = compare(population("b", BASE), population("c", UP),
                  CompareOptions(metrics=("cost", "success_rate")))
    assert list(res.observations) == ["cost", "success_rate"]



def test_rollup_excludes_breakdowns() -> None:
    # cost went up (degradation), success unchanged (same); breakdown's degradation is ignored
    res = compare(population("b", BASE), population("c", UP), CompareOptions())
    assert res.observations["cost"].direction is Direction.DEGRADATION
    assert res.direction is Direction.DEGRADATION
    same = compare(population("b", BASE), population("c", BASE), CompareOptions())
    assert same.observations["trace_breakdown"].direction is Direction.DEGRADATION
    assert same.direction is Direction.SAME


@pytest.mark.parametrize(("directions", "expected"), [
    ([], Direction.NA),
    ([Direction.NA], Direction.NA),
    ([Direction.SAME, Direction.NA], Direction.SAME),
    ([Direction.SAME, Direction.UPGRADE], Direction.UPGRADE),
    ([Direction.SAME, Direction.DEGRADATION], Direction.DEGRADATION),
    ([Direction.UPGRADE, Direction.DEGRADATION], Direction.INCONCLUSIVE),
    ([Direction.UPGRADE, Direction.INCONCLUSIVE], Direction.INCONCLUSIVE),
])
def test_rollup_rules(directions: list[Direction], expected: Direction) -> None:
    obs = {f"m{i}": Observation(name=f"m{i}", description="", direction=d) for i, d in enumerate(directions)}
    obs["span_breakdown"] = Observation(name="span_breakdown", description="",
                                        direction=Direction.INCONCLUSIVE)
    assert rollup(obs) is expected


def test_gates_pass_fail_and_overall_passed() -> None:
    res = compare(population("b", BASE), population("c", UP),
                  opts("cost_delta_pct <= 30", "total_cost <= 40"))
    assert [g.status for g in res.gates] == [GateStatus.PASS, GateStatus.FAIL]
    assert res.gates[1].actual == 48.0
    assert not res.passed and res.exit_code == 1


def test_noise_floor_does_not_override_threshold() -> None:
    """+2.5 % cost, significant, noise floor 3 %: `cost_delta_pct <= 1` fails (Kalibra bug 5)."""
    res = compare(population("b", BASE), population("c", [1.025] * 40),
                  opts("cost_delta_pct <= 1", metrics=("cost",), metric_config={"cost": {"spread": 0.5}}))
    assert res.observations["cost"].direction is Direction.SAME  # Kalibra's direction keeps its noise rule
    [gate] = res.gates
    assert (gate.status, gate.passed) == (GateStatus.FAIL, False)
    assert "noise floor (3)" in (gate.warning or "")


def test_noise_threshold_override_reaches_metric() -> None:
    res = compare(population("b", BASE), population("c", [1.025] * 40),
                  opts("cost_delta_pct <= 1", metrics=("cost",), noise_thresholds={"cost": 1.0},
                       metric_config={"cost": {"spread": 0.5}}, stats=StatsOptions(resamples=500, seed=1)))
    assert res.observations["cost"].metadata == {"noise": 1.0, "resamples": 500}
    assert res.observations["cost"].direction is Direction.DEGRADATION
    assert res.gates[0].warning is None
    assert res.settings["resamples"] == 500 and res.settings["seed"] == 1


@pytest.mark.parametrize(("policy", "passed"), [("warn", True), ("pass", True), ("fail", False)])
def test_inconclusive_policy(policy: str, passed: bool) -> None:
    res = compare(population("b", BASE), population("c", UP),
                  opts("cost_delta_pct <= 5", metric_config={"cost": {"spread": 50}}, on_inconclusive=policy))
    [gate] = res.gates
    assert gate.status is GateStatus.INCONCLUSIVE and gate.passed is passed and res.passed is passed
    assert gate.ci == pytest.approx((-30.0, 70.0)) and gate.mde == 2.0
    assert res.settings["on_inconclusive"] == policy


def test_field_the_metric_did_not_produce_fails_gate() -> None:
    res = compare(population("b", BASE), population("c", UP), opts("avg_cost <= 100"))
    [gate] = res.gates
    assert gate.status is GateStatus.FAIL and not res.passed
    assert "metric cost produced no value for avg_cost" in (gate.warning or "")


def test_gate_on_metric_not_enabled() -> None:
    with pytest.raises(InputError) as info:
        compare(population("b", BASE), population("c", UP), opts("regressions <= 0", metrics=("cost",)))
    msg = str(info.value)
    assert "'regressions'" in msg and "metric 'trace_breakdown'" in msg and "not enabled" in msg
    assert info.value.key == "require"
    cli = CompareOptions(metrics=("cost",), gates=(parse_gate("regressions <= 0", KNOWN, source="cli"),))
    with pytest.raises(InputError) as info:
        compare(population("b", BASE), population("c", UP), cli)
    assert info.value.key == "--require"


def test_gate_on_unknown_field() -> None:
    gate = parse_gate("cost_delta <= 1", None)
    with pytest.raises(InputError, match=r"unknown field 'cost_delta'.*did you mean 'cost_delta_pct'"):
        compare(population("b", BASE), population("c", UP), CompareOptions(gates=(gate,)))


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_empty_population_is_input_error(side: str) -> None:
    empty = PopulationBuilder(label="x", filters=("variant == nope",)).build()
    pops = {"baseline": population("b", BASE), "current": population("c", UP)}
    pops[side] = empty
    with pytest.raises(InputError, match=f"{side} has no traces after the filters variant == nope"):
        compare(pops["baseline"], pops["current"], CompareOptions())


def test_dataset_warnings() -> None:
    res = compare(population("b", [1.0] * 10), population("c", [1.0] * 200), CompareOptions())
    assert any(w.startswith("baseline has only 10 traces") for w in res.warnings)
    assert not any(w.startswith("current has only") for w in res.warnings)
    assert any("10 vs 200" in w for w in res.warnings)
    res = compare(population("b", BASE), population("c", BASE), CompareOptions())
    assert res.warnings == []


def test_familywise_warning_counts_tested_gates_only() -> None:
    three = opts("cost_delta_pct <= 30", "cost_delta_pct >= -30", "success_rate_delta >= -5",
                 "regressions <= 3")
    res = compare(population("b", BASE), population("c", UP), three)
    [fw] = [w for w in res.warnings if "by chance" in w]
    assert fw.startswith("3 gates test significance at α=0.05") and "~14%" in fw
    assert "reported as inconclusive, not skipped" in fw
    two = opts("cost_delta_pct <= 30", "success_rate_delta >= -5", "regressions <= 3", "total_cost <= 99")
    res = compare(population("b", BASE), population("c", UP), two)
    assert not any("by chance" in w for w in res.warnings)


def test_side_info_and_population_warnings() -> None:
    b = population("base", BASE, warnings=("2 duplicate traces dropped",), filters=("variant == a",))
    res = compare(b, population("cur", UP), CompareOptions())
    assert res.baseline.label == "base" and res.baseline.files == ["base.jsonl"]
    assert (res.baseline.count, res.baseline.total_before_filter, res.baseline.format) == (40, 42, "flat")
    assert res.baseline.filters == ["variant == a"]
    assert res.baseline.warnings == ["2 duplicate traces dropped"]
    assert res.current.count == 40 and res.current.warnings == []
    assert "baseline: 2 duplicate traces dropped" in res.warnings


def test_gate_sources_and_order_preserved() -> None:
    gates = (parse_gate("regressions <= 0", KNOWN, source="config"),
             parse_gate("success_rate >= 50", KNOWN, source="cli"))
    res = compare(population("b", BASE), population("c", UP, successes=10), CompareOptions(gates=gates))
    assert [(g.expr, g.source, g.passed) for g in res.gates] == [
        ("regressions <= 0", "config", False), ("success_rate >= 50", "cli", False)]
    assert engine.side_info(population("z", [1.0])).count == 1
