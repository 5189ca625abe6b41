"""Every comparison in the gate policy at its boundary: the value on, just below and just above it.

Written for mutation testing (docs/mutation.md): an operator flipped (`<` for `<=`), swapped for another
one, or a limit off by one must change at least one verdict here. The expected verdicts are the plain
meaning of each operator, worked out by hand in the tables.
"""

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
    gate_key,
    parse_gate,
    parse_gates,
    split_gate,
)
from kalibra_action.limits import MAX_GATES
from kalibra_action.result import FieldValue, GateStatus

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
    assert f"{MAX_GATES + 1:,} gates, more than the limit of {MAX_GATES:,}" in str(info.value)


def test_parse_gates_counts_only_non_empty_expressions() -> None:
    exprs = ["n <= 1"] * MAX_GATES + ["", "   "]
    assert len(parse_gates(exprs, None)) == MAX_GATES
    with pytest.raises(InputError):
        parse_gates(["n <= 1"] * (MAX_GATES + 1), None)


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
