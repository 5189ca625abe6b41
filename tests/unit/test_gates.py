"""Gate parsing and every verdict branch of the gate policy."""

from __future__ import annotations

import pytest

from kalibra_action.errors import InputError
from kalibra_action.gates import (
    DEFAULT_ON_INCONCLUSIVE,
    INCONCLUSIVE_PASSES,
    ON_INCONCLUSIVE,
    Gate,
    check_gate_count,
    did_you_mean,
    evaluate_gate,
    evaluate_gates,
    gate_key,
    parse_gate,
    parse_gates,
    split_gate,
)
from kalibra_action.limits import MAX_GATES
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


# ── Every comparison at its boundary ──────────────────────────────────────────
# Written for mutation testing (docs/mutation.md): an operator flipped (`<` for `<=`), swapped for another
# one, or a limit off by one must change at least one verdict below. The expected verdicts are the plain
# meaning of each operator, worked out by hand in the tables.
# threshold 2; value 1 (below), 2 (on), 3 (above) → does the untested field pass?
OP_TABLE = {
    "<=": (True, True, False),
    "<": (True, False, False),
    ">=": (False, True, True),
    ">": (False, False, True),
    "=": (False, True, False),
}


@pytest.mark.parametrize("op", sorted(OP_TABLE))
def test_each_operator_below_on_and_above_its_threshold(op: str) -> None:
    gate = parse_gate(f"n {op} 2", None)
    got = tuple(evaluate_gate(gate, FieldValue(v)).passed for v in (1.0, 2.0, 3.0))
    assert got == OP_TABLE[op]


def test_value_is_left_threshold_right() -> None:
    """`n <= 2` with n = 1 passes and with n = 3 fails: the value is compared to the threshold, not back."""
    gate = parse_gate("n <= 2", None)
    assert evaluate_gate(gate, FieldValue(1.0)).status is GateStatus.PASS
    assert evaluate_gate(gate, FieldValue(3.0)).status is GateStatus.FAIL


def test_double_equals_is_stored_as_single() -> None:
    assert split_gate("n == 2") == ("n", "=", 2.0)
    assert split_gate("n = 2") == ("n", "=", 2.0)
    assert split_gate("n >= 2")[1] == ">="


@pytest.mark.parametrize(("text", "fix"), [("n => 1", "use '>='"), ("n =< 1", "use '<='"),
                                           ("n != 1", "use one of >= <= > < ="),
                                           ("n <> 1", "use one of >= <= > < =")])
def test_wrong_operators_name_the_fix(text: str, fix: str) -> None:
    with pytest.raises(ValueError) as info:
        split_gate(text)
    assert str(info.value).endswith(fix)


def test_parse_errors_name_the_problem_exactly() -> None:
    with pytest.raises(ValueError) as info:
        split_gate(" ")
    assert str(info.value) == "empty gate expression (expected: field OP number, e.g. regressions <= 0)"
    with pytest.raises(ValueError) as info:
        split_gate("X")  # no operator character at all (not even a letter of one)
    assert str(info.value).startswith("no operator in 'X'")
    with pytest.raises(ValueError) as info:
        split_gate("n")
    assert str(info.value).startswith("no operator in 'n'")
    with pytest.raises(ValueError) as info:
        split_gate("a b <= 1")
    assert str(info.value).startswith("cannot parse 'a b <= 1'")
    with pytest.raises(ValueError) as info:
        split_gate("<= 1")
    assert str(info.value) == "missing field name in '<= 1' (expected: field <= number)"
    with pytest.raises(ValueError) as info:
        split_gate("n <= ")
    assert str(info.value) == "missing threshold in 'n <=' (expected: n <= number)"
    with pytest.raises(ValueError) as info:
        split_gate("n <= x")
    assert str(info.value) == "threshold 'x' in 'n <= x' is not a number (e.g. n <= 5)"
    with pytest.raises(ValueError) as info:
        split_gate("n <= 1e999")
    assert str(info.value) == "threshold '1e999' in 'n <= 1e999' must be a finite number"


def test_threshold_keeps_its_sign_and_the_field_its_name() -> None:
    assert split_gate("  cost_delta_pct>=-0.25  ") == ("cost_delta_pct", ">=", -0.25)


@pytest.mark.parametrize(("source", "index", "key"), [
    ("config", None, "require"), ("config", 0, "require[0]"), ("config", 3, "require[3]"),
    ("cli", None, "--require"), ("cli", 2, "--require"), ("action", None, "inputs.require"),
])
def test_gate_key_names_where_the_gate_came_from(source: str, index: int | None, key: str) -> None:
    assert gate_key(source, index) == key


def test_gate_count_limit_is_inclusive() -> None:
    check_gate_count(MAX_GATES, "config")  # exactly the limit is allowed
    with pytest.raises(InputError) as info:
        check_gate_count(MAX_GATES + 1, "cli")
    assert info.value.key == "--require"
    assert info.value.message == f"{MAX_GATES + 1:,} gates, more than the limit of {MAX_GATES:,}"
    assert info.value.hint == "a gate list needs a few gates on the fields that matter"


def test_parse_gates_counts_only_non_empty_expressions() -> None:
    exprs = ["n <= 1"] * MAX_GATES + ["", "   "]
    assert len(parse_gates(exprs, None)) == MAX_GATES
    with pytest.raises(InputError) as info:
        parse_gates(["n <= 1"] * (MAX_GATES + 1), None)
    assert info.value.key == "require"  # the default source is kalibra.yml


def test_sources_default_to_the_config() -> None:
    assert parse_gate("n <= 1", None).source == "config"
    assert parse_gates(["n <= 1"], None)[0].source == "config"
    with pytest.raises(InputError) as info:
        parse_gate("n <= x", None)
    assert info.value.key == "require"


def test_several_errors_are_joined_in_one_line() -> None:
    with pytest.raises(InputError) as info:
        parse_gates(["a <= x", "b", "c <= 1"], None, source="cli")
    assert str(info.value) == ("2 invalid gates: --require: threshold 'x' in 'a <= x' is not a number "
                               "(e.g. a <= 5); --require: no operator in 'b' (expected: field OP number, "
                               "OP one of >= <= > < =)")


def test_parse_gates_one_error_is_raised_as_itself() -> None:
    with pytest.raises(InputError) as info:
        parse_gates(["n <= 1", "n <= x"], None, source="config")
    assert info.value.key == "require[1]"
    assert not str(info.value).startswith("1 invalid")


def test_parse_gate_strips_the_expression_and_keeps_its_source() -> None:
    gate = parse_gate("  n < 4 ", {"n": object()}, source="action", index=1)
    assert gate == Gate(expr="n < 4", field="n", op="<", threshold=4.0, source="action")


def test_did_you_mean_takes_the_closest_and_needs_similarity() -> None:
    assert did_you_mean("regresions", ["cost", "regressions", "regress"]) == " (did you mean 'regressions'?)"
    # 'ab' vs 'abcd': ratio 2*2/6 = 0.67 ≥ 0.6 → offered; 'ab' vs 'abcde': 4/7 = 0.57 < 0.6 → not
    assert did_you_mean("ab", ["abcd"]) == " (did you mean 'abcd'?)"
    assert did_you_mean("ab", ["abcde"]) == ""


def test_on_inconclusive_policies() -> None:
    assert ON_INCONCLUSIVE == ("warn", "fail", "pass")
    assert DEFAULT_ON_INCONCLUSIVE == "warn"
    assert dict(INCONCLUSIVE_PASSES) == {"warn": True, "fail": False, "pass": True}


def _tested(value: float, **kw: object) -> FieldValue:
    return FieldValue(value, tested=True, **kw)


def test_underpowered_boundary_is_strict() -> None:
    """underpowered ⇔ |threshold| < MDE: on the MDE itself the gate is not underpowered."""
    fv = _tested(9.0, significant=False, mde=5.0)
    assert not evaluate_gate(parse_gate("d <= 5", None), fv).underpowered
    assert evaluate_gate(parse_gate("d <= 4.99", None), fv).underpowered
    drop = _tested(-9.0, significant=False, mde=5.0)
    assert evaluate_gate(parse_gate("d >= -4.99", None), drop).underpowered
    assert not evaluate_gate(parse_gate("d >= -5", None), drop).underpowered


def test_noise_note_boundary_is_inclusive() -> None:
    """The note appears when |value| ≤ noise, on both signs, and not above it."""
    gate = parse_gate("d <= -10", None)
    for value, noted in ((3.0, True), (-3.0, True), (3.01, False), (-3.01, False), (2.99, True)):
        res = evaluate_gate(gate, _tested(value, significant=True), noise=3.0)
        assert res.status is GateStatus.FAIL
        assert (res.warning is not None) is noted, value
    res = evaluate_gate(gate, _tested(2.5, significant=True), noise=3.0)
    assert res.warning == ("d = +2.5 is within the metric's noise floor (3) but significant; "
                           "the explicit threshold is honoured")
    assert evaluate_gate(gate, _tested(2.5, significant=True), noise=None).warning is None


def test_significant_none_is_inconclusive_not_fail() -> None:
    res = evaluate_gate(parse_gate("d <= 0", None), _tested(1.0, significant=None), on_inconclusive="fail")
    assert (res.status, res.passed) == (GateStatus.INCONCLUSIVE, False)
    assert res.warning == ("d = +1 does not meet 'd <= 0' but significance could not be assessed "
                           "(no confidence interval); inconclusive: fails under on_inconclusive=fail")


def test_inconclusive_message_lists_ci_then_mde() -> None:
    fv = _tested(1.5, significant=False, ci=(-0.25, 3.125), mde=2.0)
    res = evaluate_gate(parse_gate("d <= 1", None), fv, on_inconclusive="pass")
    assert res.warning == ("d = +1.5 does not meet 'd <= 1' but the change is not statistically significant "
                           "(95% CI [-0.25, +3.125]; MDE 2); inconclusive: passes under on_inconclusive=pass")
    only_mde = evaluate_gate(parse_gate("d <= 1", None), _tested(1.5, significant=False, mde=2.0))
    assert only_mde.warning is not None and "(MDE 2);" in only_mde.warning


def test_failed_tested_gate_carries_ci_and_mde_and_rounds_actual() -> None:
    fv = _tested(-7.123456, significant=True, ci=(-9.0, -5.0), mde=1.0)
    res = evaluate_gate(parse_gate("d >= -2", None), fv)  # |−2| ≥ MDE 1: not underpowered
    assert (res.status, res.passed, res.actual, res.ci, res.mde, res.underpowered) == (
        GateStatus.FAIL, False, -7.1235, (-9.0, -5.0), 1.0, False)


def test_untested_field_never_inconclusive() -> None:
    fv = FieldValue(1.0, significant=False)
    res = evaluate_gate(parse_gate("n <= 0", None), fv, on_inconclusive="pass")
    assert (res.status, res.passed, res.warning) == (GateStatus.FAIL, False, None)


def test_missing_value_names_the_reason_given() -> None:
    res = evaluate_gate(parse_gate("n <= 0", None), FieldValue(None, missing="why"))
    assert res.warning == "no data for n: why"
    res = evaluate_gate(parse_gate("n <= 0", None), FieldValue(float("-inf")))
    assert res.warning == "no data for n: no metric produced 'n'"
