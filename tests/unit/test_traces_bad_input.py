"""Bad input: each case is either handled or an InputError naming file (and line), never a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces.load import load_population
from kalibra_action.traces.where import parse_matcher

GOOD = '{"trace_id": "t1", "outcome": "success", "cost": 1.0}\n'


def load(tmp_path: Path, name: str, data: bytes | str, **kwargs: object):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return load_population([name], label="b", base_dir=tmp_path, **kwargs)  # type: ignore[arg-type]


def error(tmp_path: Path, name: str, data: bytes | str, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as info:
        load(tmp_path, name, data, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    err = error(tmp_path, "e.jsonl", "")
    assert "no traces" in str(err) and "e.jsonl" in str(err)
    assert "no traces" in str(error(tmp_path, "blank.jsonl", "\n  \n\n"))


def test_where_matching_nothing(tmp_path: Path) -> None:
    err = error(tmp_path, "t.jsonl", GOOD * 1 + GOOD.replace("t1", "t2"),
                where=[parse_matcher("env == prod")])
    assert "where matched 0 of 2 traces" in str(err) and "env == prod" in str(err)


def test_missing_file_directory_and_empty_glob(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.jsonl: file not found"):
        load_population(["nope.jsonl"], label="b", base_dir=tmp_path)
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="d: no trace files in this directory"):
        load_population(["d"], label="b", base_dir=tmp_path)
    with pytest.raises(InputError, match=r"d/\*.jsonl: no file matches"):
        load_population(["d/*.jsonl"], label="b", base_dir=tmp_path)


def test_json_array_file_gets_a_hint(tmp_path: Path) -> None:
    rows = [{"trace_id": "a"}, {"trace_id": "b"}]
    one_line = error(tmp_path, "a.json", json.dumps(rows))
    assert one_line.line == 1 and "jq -c '.[]'" in str(one_line)
    pretty = error(tmp_path, "p.json", json.dumps(rows, indent=2))
    assert pretty.line == 1 and "jq -c '.[]'" in str(pretty)


def test_utf8_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    text = (GOOD + GOOD.replace("t1", "t2")).replace("\n", "\r\n")
    pop = load(tmp_path, "bom.jsonl", b"\xef\xbb\xbf" + text.encode())
    assert list(pop.trace_id) == ["t1", "t2"] and pop.warnings == ()


def test_non_utf8_bytes_name_file_and_line(tmp_path: Path) -> None:
    data = GOOD.encode() + b'{"trace_id": "caf\xe9"}\n'
    err = error(tmp_path, "latin.jsonl", data)
    assert (err.file, err.line) == ("latin.jsonl", 2)
    assert "0xe9" in str(err)


def test_truncated_last_line_is_skipped_with_warning(tmp_path: Path) -> None:
    pop = load(tmp_path, "t.jsonl", GOOD + '{"trace_id": "t2", "outc')
    assert list(pop.trace_id) == ["t1"]
    assert any(w.startswith("t.jsonl:2: skipped a truncated last line") for w in pop.warnings)


def test_malformed_line_elsewhere_is_an_error(tmp_path: Path) -> None:
    err = error(tmp_path, "t.jsonl", GOOD + "{not json}\n" + GOOD.replace("t1", "t3"))
    assert (err.file, err.line) == ("t.jsonl", 2)
    # a broken last line that does end in a newline is not a truncated write
    assert error(tmp_path, "u.jsonl", GOOD + '{"trace_id": \n').line == 2


@pytest.mark.parametrize("fmt", ["flat", "openinference", "otel-genai"])
def test_same_bad_line_policy_in_every_format(tmp_path: Path, fmt: str) -> None:
    """Kalibra bug 12: flat aborted while span formats skipped bad lines silently."""
    span = ('{"context": {"trace_id": "t1", "span_id": "s1"}, "span_kind": "LLM", '
            '"attributes": {"gen_ai.system": "x"}}\n')
    err = error(tmp_path, "t.jsonl", span + "oops\n" + span, fmt=fmt)
    assert (err.file, err.line) == ("t.jsonl", 2)


def test_valid_json_that_is_not_an_object(tmp_path: Path) -> None:
    err = error(tmp_path, "t.jsonl", GOOD + "42\n")
    assert (err.line, "not an object" in str(err)) == (2, True)
    assert error(tmp_path, "s.jsonl", GOOD + '"text"\n').line == 2


def test_deeply_nested_json(tmp_path: Path) -> None:
    err = error(tmp_path, "deep.jsonl", GOOD + '{"a": ' + "[" * 200_000 + "]" * 200_000 + "}\n")
    assert (err.file, err.line) == ("deep.jsonl", 2)


def test_ten_megabyte_line(tmp_path: Path) -> None:
    big = {"trace_id": "big", "outcome": "success", "metadata": {"blob": "x" * 10_000_000},
           "spans": [{"span_id": f"s{i}", "cost": 0.001} for i in range(1000)]}
    pop = load(tmp_path, "big.jsonl", json.dumps(big) + "\n")
    assert pop.n_spans.tolist() == [1000] and pop.cost[0] == pytest.approx(1.0)


def test_non_finite_and_unparseable_numbers(tmp_path: Path) -> None:
    """Kalibra bug 8: Infinity / 1e300 / null durations and 10**400 costs raised tracebacks."""
    lines = [
        '{"trace_id": "nan", "cost": NaN, "duration_s": Infinity}',
        '{"trace_id": "big", "cost": 1e308, "duration_s": 1e300}',
        '{"trace_id": "huge", "cost": 1' + "0" * 400 + ', "duration_s": null}',
        '{"trace_id": "text", "cost": "1.5s", "duration_s": "1.5"}',
        '{"trace_id": "ns", "start_ns": Infinity, "end_ns": 5, "cost": -Infinity}',
        '{"trace_id": "spans", "spans": [{"span_id": "a", "cost": "NaN", "start_ns": 1e400, "end_ns": 2}]}',
    ]
    pop = load(tmp_path, "n.jsonl", "\n".join(lines) + "\n")
    assert math.isnan(pop.cost[0]) and math.isnan(pop.duration[0])
    assert pop.cost[1] == 1e308 and pop.duration[1] == 1e300
    assert math.isnan(pop.cost[2]) and math.isnan(pop.duration[2])
    assert math.isnan(pop.cost[3]) and pop.duration[3] == 1.5
    assert math.isnan(pop.cost[4]) and math.isnan(pop.duration[4])
    assert math.isnan(pop.cost[5]) and math.isnan(pop.span_duration[0])
    warnings = "\n".join(pop.warnings)
    assert "n.jsonl: 4 value(s) of cost were not finite" in warnings  # NaN, 10**400, "1.5s", -Infinity
    assert "n.jsonl: 1 value(s) of duration_s" in warnings  # Infinity (null is simply not measured)
    assert "n.jsonl: 1 value(s) of start_ns" in warnings
    assert "span cost" in warnings and "span start" in warnings


def test_duplicate_trace_ids_keep_the_first(tmp_path: Path) -> None:
    data = GOOD + GOOD.replace("1.0", "2.0") + GOOD.replace("t1", "t2") + GOOD.replace("1.0", "3.0")
    pop = load(tmp_path, "d.jsonl", data)
    assert list(pop.trace_id) == ["t1", "t2"] and pop.cost[0] == 1.0
    assert any("2 trace(s) repeat an earlier trace id" in w for w in pop.warnings)


def test_duplicate_span_ids_keep_the_first(tmp_path: Path) -> None:
    row = {"trace_id": "t", "spans": [{"span_id": "a", "cost": 1}, {"span_id": "a", "cost": 5},
                                      {"span_id": "b", "cost": 2}]}
    pop = load(tmp_path, "d.jsonl", json.dumps(row) + "\n")
    assert pop.n_spans.tolist() == [3 - 1] and pop.cost[0] == 3
    assert any("1 span(s) repeat an earlier span id" in w for w in pop.warnings)


def test_duplicate_spans_in_span_formats(tmp_path: Path, examples: Path) -> None:
    text = (examples / "otel_genai/traces.jsonl").read_text()
    pop = load(tmp_path, "twice.jsonl", text + text)
    assert len(pop) == 200 and int(pop.n_spans.sum()) == 400
    assert any("400 span(s) repeat" in w for w in pop.warnings)


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown trace format 'csv'"):
        load(tmp_path, "t.jsonl", GOOD, fmt="csv")


def test_odd_shapes_do_not_crash(tmp_path: Path) -> None:
    rows = [
        {"trace_id": 7, "spans": [1, "x", {"span_id": ["list"], "parent_id": {"d": 1}, "name": ["n"]}]},
        {"trace_id": None, "spans": "not a list", "metadata": "not a dict", "outcome": {"x": 1}},
        {"trace_id": "s", "spans": '[{"span_id": "j", "cost": 2, "error": "false"}]'},
        {"trace_id": "e", "spans": [{"span_id": "a", "error": "timeout"}, {"span_id": "b", "error": 0}]},
    ]
    pop = load(tmp_path, "o.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert list(pop.trace_id) == ["7", "", "s", "e"]
    assert pop.n_spans.tolist() == [1, 0, 1, 2]
    assert pop.cost[2] == 2
    assert pop.span_error.tolist() == [False, False, True, False]
    assert any("1 trace(s) have no trace id" in w for w in pop.warnings)
