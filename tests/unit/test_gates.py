"""Gate parsing and every verdict branch of the gate policy."""

from __future__ import annotations

import pytest

from kalibra_action.errors import InputError
from kalibra_action.gates import Gate, evaluate_gate, evaluate_gates, parse_gate, parse_gates, split_gate
from kalibra_action.metrics.base import FieldSpec
from kalibra_action.result import FieldValue, GateStatus

KNOWN = {
    "cost_delta_pct": FieldSpec("cost change", tested=True, unit="%"),
    "cost_delta_pct_hi": FieldSpec("upper bound", unit="%"),
    "regressions": FieldSpec("tasks that got worse"),
    "success_rate_delta": FieldSpec("success change", tested=True, unit="pp"),
}


@pytest.mark.parametrize(("expr", "field", "op", "threshold"), [
    ("regressions <= 0", "regressions", "<=", 0.0),
    ("regressions<=0", "regressions", "<=", 0.0),
    ("  cost_delta_pct   >   -2.5 ", "cost_delta_pct", ">", -2.5),
    ("success_rate_delta >= -2", "success_rate_delta", ">=", -2.0),
    ("regressions < 1e1", "regressions", "<", 10.0),
    ("regressions = 3", "regressions", "=", 3.0),
    ("regressions == 3", "regressions", "=", 3.0),
    ("regressions >= +.5", "regressions", ">=", 0.5),
])
def test_parse_gate_syntax(expr: str, field: str, op: str, threshold: float) -> None:
    gate = parse_gate(expr, KNOWN, source="cli")
    assert (gate.field, gate.op, gate.threshold, gate.source) == (field, op, threshold, "cli")
    assert gate.expr == expr.strip()


@pytest.mark.parametrize(("expr", "needle"), [
    ("", "empty gate"),
    ("   ", "empty gate"),
    ("regressions", "no operator"),
    ("<= 5", "missing field"),
    ("regressions <=", "missing threshold"),
    ("regressions <= five", "not a number"),
    ("regressions <= 5%", "not a number"),
    ("regressions <= nan", "finite"),
    ("regressions <= inf", "finite"),
    ("regressions <= -Infinity", "finite"),
    ("regressions != 0", "unsupported operator '!='"),
    ("regressions => 0", "use '>='"),
    ("regressions =< 0", "use '<='"),
    ("cost delta <= 5", "cannot parse"),
    ("regressions <= 1 <= 2", "not a number"),
])
def test_split_gate_rejects(expr: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        split_gate(expr)


def test_parse_gate_error_is_one_line_input_error_with_key() -> None:
    with pytest.raises(InputError) as info:
        parse_gate("regressions <= lots", KNOWN, source="config", index=2)
    assert info.value.key == "require[2]"
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("require[2]: threshold 'lots'")


def test_unknown_field_did_you_mean() -> None:
    with pytest.raises(InputError, match=r"unknown field 'cost_delta' .*did you mean 'cost_delta_pct'"):
        parse_gate("cost_delta <= 5", KNOWN)
    with pytest.raises(InputError) as info:
        parse_gate("zzz <= 5", KNOWN, source="action")
    assert "did you mean" not in str(info.value)
    assert info.value.key == "inputs.require"


def test_known_none_checks_syntax_only() -> None:
    assert parse_gate("anything <= 1", None).field == "anything"


def test_parse_gates_skips_empty_and_collects_errors() -> None:
    gates = parse_gates(["regressions <= 0", "", "cost_delta_pct <= 5"], KNOWN, source="config")
    assert [g.field for g in gates] == ["regressions", "cost_delta_pct"]
    with pytest.raises(InputError) as info:
        parse_gates(["regresions <= 0", "regressions <= 0", "cost_delta_pct <= x"], KNOWN, source="config")
    text = str(info.value)
    assert text.startswith("2 invalid gates")
    assert "require[0]" in text and "require[2]" in text and "\n" not in text
    with pytest.raises(InputError, match=r"^--require: unknown field"):
        parse_gates(["nope <= 1"], KNOWN, source="cli")


def g(expr: str, source: str = "config") -> Gate:
    return parse_gate(expr, KNOWN, source=source)


def test_untested_pass_and_fail() -> None:
    fv = FieldValue(2.0)
    assert evaluate_gate(g("regressions <= 2"), fv).status is GateStatus.PASS
    res = evaluate_gate(g("regressions < 2"), fv)
    assert (res.status, res.passed, res.actual, res.warning) == (GateStatus.FAIL, False, 2.0, None)
    assert evaluate_gate(g("regressions = 2"), fv).passed
    assert not evaluate_gate(g("regressions > 2"), fv).passed
    assert evaluate_gate(g("regressions >= 2"), fv).passed


def test_untested_bound_field_is_plain_comparison() -> None:
    res = evaluate_gate(g("cost_delta_pct_hi <= 30"), FieldValue(31.0))
    assert res.status is GateStatus.FAIL


@pytest.mark.parametrize("fv", [None, FieldValue(None), FieldValue(float("nan")), FieldValue(float("inf"))])
def test_no_data_fails(fv: FieldValue | None) -> None:
    res = evaluate_gate(g("regressions <= 0"), fv)
    assert (res.status, res.passed, res.actual) == (GateStatus.FAIL, False, None)
    assert res.warning and res.warning.startswith("no data for regressions")


def test_no_data_names_what_is_missing() -> None:
    fv = FieldValue(None, tested=True, missing="baseline cost is $0, the % change is undefined")
    res = evaluate_gate(g("cost_delta_pct <= 10"), fv)
    assert not res.passed
    assert "baseline cost is $0" in (res.warning or "")
    [absent] = evaluate_gates([g("regressions <= 0")], {})
    assert "no metric produced 'regressions'" in (absent.warning or "")


def test_tested_point_value_satisfies_threshold_passes_even_if_not_significant() -> None:
    fv = FieldValue(-1.0, tested=True, significant=False, ci=(-5.0, 3.0), mde=4.0)
    res = evaluate_gate(g("cost_delta_pct <= 5"), fv)
    assert (res.status, res.passed, res.warning) == (GateStatus.PASS, True, None)


def test_tested_significant_violation_fails() -> None:
    fv = FieldValue(12.0, tested=True, significant=True, ci=(8.0, 16.0), mde=3.0)
    res = evaluate_gate(g("cost_delta_pct <= 5"), fv)
    assert (res.status, res.passed) == (GateStatus.FAIL, False)
    assert res.ci == (8.0, 16.0) and res.mde == 3.0


def test_noise_floor_never_overrides_explicit_threshold() -> None:
    """Kalibra bug 5: a significant +2.5 % rise must fail `cost_delta_pct <= 1` despite a 3 % noise floor."""
    fv = FieldValue(2.5, tested=True, significant=True, ci=(1.5, 3.5), mde=0.8)
    [res] = evaluate_gates([g("cost_delta_pct <= 1")], {"cost_delta_pct": fv},
                           noise={"cost_delta_pct": 3.0})
    assert (res.status, res.passed) == (GateStatus.FAIL, False)
    assert "noise floor" in (res.warning or "") and "not statistically significant" not in (res.warning or "")


@pytest.mark.parametrize(("policy", "passed"), [("warn", True), ("pass", True), ("fail", False)])
def test_inconclusive_follows_policy(policy: str, passed: bool) -> None:
    fv = FieldValue(8.0, tested=True, significant=False, ci=(-2.0, 18.0), mde=11.0)
    [res] = evaluate_gates([g("cost_delta_pct <= 5")], {"cost_delta_pct": fv}, on_inconclusive=policy)
    assert res.status is GateStatus.INCONCLUSIVE
    assert res.passed is passed
    w = res.warning or ""
    assert "not statistically significant" in w
    assert "95% CI [-2, +18]" in w and "MDE 11" in w
    assert f"under on_inconclusive={policy}" in w
    assert ("passes" in w) is passed


def test_inconclusive_without_ci() -> None:
    fv = FieldValue(8.0, tested=True, significant=None)
    res = evaluate_gate(g("cost_delta_pct <= 5"), fv)
    assert res.status is GateStatus.INCONCLUSIVE and res.passed
    assert "could not be assessed (no confidence interval)" in (res.warning or "")


def test_underpowered_flag() -> None:
    fv = FieldValue(0.5, tested=True, significant=False, ci=(-6.0, 7.0), mde=6.5)
    assert evaluate_gate(g("cost_delta_pct <= 5"), fv).underpowered
    assert evaluate_gate(g("cost_delta_pct >= -5"), fv).underpowered
    assert not evaluate_gate(g("cost_delta_pct <= 10"), fv).underpowered
    no_mde = FieldValue(0.5, tested=True, significant=False)
    assert not evaluate_gate(g("cost_delta_pct <= 5"), no_mde).underpowered
    untested = FieldValue(0.5, mde=6.5)
    assert not evaluate_gate(g("regressions <= 1"), untested).underpowered


def test_actual_rounded_and_metadata_carried() -> None:
    res = evaluate_gate(g("regressions <= 5", source="action"), FieldValue(1.234567))
    assert res.actual == 1.2346
    assert (res.expr, res.field, res.op, res.threshold, res.source) == (
        "regressions <= 5", "regressions", "<=", 5.0, "action")


def test_evaluate_keeps_order() -> None:
    values = {"regressions": FieldValue(0.0),
              "cost_delta_pct": FieldValue(1.0, tested=True, significant=True)}
    out = evaluate_gates([g("regressions <= 0"), g("cost_delta_pct <= 0"), g("regressions >= 1")], values)
    assert [r.passed for r in out] == [True, False, False]
