"""`where` expressions: parsing (Kalibra bug 14 fixed) and matching rules."""

from __future__ import annotations

import pytest

from kalibra_action.traces.fields import MISSING
from kalibra_action.traces.where import parse_matcher


@pytest.mark.parametrize(("expr", "field", "op", "value"), [
    ("variant == baseline", "variant", "==", "baseline"),
    ("variant = baseline", "variant", "=", "baseline"),
    ("variant != baseline", "variant", "!=", "baseline"),
    ("model =~ gpt-.*", "model", "=~", "gpt-.*"),
    ("model !~ gpt-.*", "model", "!~", "gpt-.*"),
    ("a = x!=y", "a", "=", "x!=y"),  # earliest operator wins (Kalibra took != first)
    ("a == x=~y", "a", "==", "x=~y"),
    ('name == "quoted value"', "name", "==", "quoted value"),
    ("name == 'single'", "name", "==", "single"),
    ("metadata.task == t1", "metadata.task", "==", "t1"),
    ("a==b", "a", "==", "b"),
    ("empty ==", "empty", "==", ""),
])
def test_parse(expr: str, field: str, op: str, value: str) -> None:
    m = parse_matcher(expr)
    assert (m.raw, m.field, m.op, m.value) == (expr, field, op, value)


@pytest.mark.parametrize("expr", ["no operator here", "== value", "x =~ (unclosed", "x !~ [a-"])
def test_parse_errors_are_one_line_value_errors(expr: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_matcher(expr)
    assert "\n" not in str(info.value)
    assert expr in str(info.value) or "regex" in str(info.value)


def test_bad_regex_reason_is_given() -> None:
    with pytest.raises(ValueError, match=r"invalid regex.*missing \)"):
        parse_matcher("x =~ (unclosed")


@pytest.mark.parametrize(("expr", "value", "expected"), [
    ("flag == true", True, True),  # JSON true (Kalibra compared "True")
    ("flag == true", "true", True),
    ("flag == false", True, False),
    ("flag != true", False, True),
    ("x == null", None, True),
    ("n == 3", 3, True),
    ("n == 3", 3.0, True),  # numbers compare numerically
    ("n == 0.5", "0.50", True),
    ("n == 3", "3x", False),
    ("n != 3", 4, True),
    ("flag == 1", True, False),  # a boolean is not the number 1
    ("s == abc", "abc", True),
    ("s == abc", "abcd", False),
    ("s =~ ab.", "abc", True),
    ("s =~ ab", "abc", False),  # whole-string match
    ("s !~ ab", "abc", True),
    ("s =~ tr.e", True, True),  # regex sees the JSON spelling
    ("s == baseline", MISSING, False),
    ("s != baseline", MISSING, False),  # a missing field never matches
    ("s !~ x", MISSING, False),
])
def test_matches(expr: str, value: object, expected: bool) -> None:
    assert parse_matcher(expr).matches(value) is expected


@pytest.mark.parametrize(("expr", "op"), [("cost <= 1", "<="), ("cost >= 1", ">="), ("cost<1", "<"),
                                          ("cost > 1", ">"), ("a ~= x", "~="), ("a === b", "==="),
                                          ("a !== b", "!=="), ("a => 1", "=>"), ("a <> b", "<>"),
                                          ("task in [a, b]", "in"), ("task not in x", "not in"),
                                          ("model IS gpt", "IS"), ("name contains x", "contains")])
def test_operators_where_lacks_are_named_not_misparsed(expr: str, op: str) -> None:
    with pytest.raises(ValueError, match=rf"unsupported operator '{op}'.*supports ==, =~, !~, !=, ="):
        parse_matcher(expr)


@pytest.mark.parametrize(("expr", "field", "op", "value"), [
    ("task == a<b", "task", "==", "a<b"), ("name == x in y", "name", "==", "x in y"),
    ("name =~ .* in .*", "name", "=~", ".* in .*"), ("inner != 1", "inner", "!=", "1"),
    ("contest = x", "contest", "=", "x")])
def test_supported_operators_with_look_alike_text_still_parse(expr, field, op, value) -> None:
    m = parse_matcher(expr)
    assert (m.field, m.op, m.value) == (field, op, value)
