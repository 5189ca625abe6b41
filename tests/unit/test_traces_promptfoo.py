"""promptfoo results, as `promptfoo eval -o x.json` / `-o x.jsonl` wrote them (tests/data/formats/promptfoo).

Every expected number is recomputed here from the raw rows with the standard library: per task (the
test's description, else its vars) the passes and runs with an outcome, the provider errors
(failureReason 2), tokens from response.tokenUsage, cost, and latencyMs in milliseconds.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces import promptfoo
from kalibra_action.traces.convert import convert_lines
from kalibra_action.traces.load import load_population
from kalibra_action.traces.where import parse_matcher
from tests.fixtures.cli import call
from tests.fixtures.task_numbers import assert_same_numbers, task_numbers

DIR = Path(__file__).resolve().parents[1] / "data" / "formats" / "promptfoo"
SINGLE = ("baseline.json", "baseline.jsonl", "current.json", "current.jsonl")


def raw_rows(path: Path) -> list[dict]:
    """The result rows of an export or of JSON Lines, with json alone."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{\n"):
        return json.loads(text)["results"]["results"]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def raw_numbers(rows: list[dict], task_of=lambda row: row["testCase"]["description"]) -> dict:
    """Per task: passes, runs with an outcome, errors, sorted durations (s), input/output tokens, cost."""
    out: dict = defaultdict(lambda: {"k": 0, "n": 0, "errors": 0, "durations": [], "in": 0, "out": 0,
                                     "cost": 0.0})
    for row in rows:
        t = out[task_of(row)]
        if row["failureReason"] == 2:
            t["errors"] += 1
        else:
            t["n"] += 1
            t["k"] += row["success"] is True
        usage = row["response"].get("tokenUsage", {})
        t["in"] += usage.get("prompt", 0)
        t["out"] += usage.get("completion", 0)
        t["cost"] += row["cost"]
        t["durations"].append(row["latencyMs"] / 1000)
    for t in out.values():
        t["durations"].sort()
    return dict(out)


def pop_numbers(pop) -> dict:
    """The same per-task numbers, from a loaded population."""
    return task_numbers(pop, Counter(int(i) for i in pop.span_trace[pop.span_error]))

def assert_same(got: dict, want: dict) -> None:
    assert_same_numbers(got, want, cost_rel=1e-12, cost_abs=1e-15, duration_rel=1e-12)

@pytest.mark.parametrize("name", SINGLE)
def test_each_export_reads_to_the_numbers_in_its_rows(name: str) -> None:
    pop = load_population([str(DIR / name)], label="side")
    assert pop.format == "promptfoo"
    want = raw_numbers(raw_rows(DIR / name))
    assert_same(pop_numbers(pop), want)
    # the planted provider error is an error with no outcome, on the current side only
    errors = sum(t["errors"] for t in want.values())
    assert errors == (1 if name.startswith("current") else 0)


def test_latency_is_read_in_milliseconds() -> None:
    pop = load_population([str(DIR / "current.jsonl")], label="current")
    latencies = sorted(row["latencyMs"] for row in raw_rows(DIR / "current.jsonl"))
    assert sorted(float(d) for d in pop.duration) == pytest.approx([ms / 1000 for ms in latencies])
    assert max(float(d) for d in pop.duration) < 5  # seconds, not 16 ms read as 16 s


def test_vars_only_tests_are_grouped_by_their_vars_not_by_test_index() -> None:
    path = DIR / "vars-only" / "current.jsonl"
    rows = raw_rows(path)
    assert all(not row["testCase"].get("description") for row in rows)
    pop = load_population([str(path)], label="current")
    by_vars = raw_numbers(rows, task_of=lambda row: json.dumps(row["vars"], sort_keys=True))
    got = pop_numbers(pop)
    assert len(got) == len(by_vars) == len({row["vars"]["task"] for row in rows})
    # each task key names its vars (readable), and holds that vars group's numbers
    for task, numbers in got.items():
        match = [key for key in by_vars if all(f'"{v}"' in task for v in json.loads(key).values())]
        assert len(match) == 1, task
        assert_same({task: numbers}, {task: by_vars[match[0]]})


def test_a_long_vars_key_is_cut_and_hashed_so_distinct_vars_stay_distinct() -> None:
    long_a = {"doc": "x" * 500 + "a"}
    long_b = {"doc": "x" * 500 + "b"}
    key_a, key_b = promptfoo.vars_key(long_a), promptfoo.vars_key(long_b)
    assert key_a != key_b and len(key_a) < 120
    assert promptfoo.vars_key({"b": 1, "a": 2}) == promptfoo.vars_key({"a": 2, "b": 1})


def test_the_json_and_jsonl_of_one_run_on_one_side_are_duplicates_not_twice_the_runs() -> None:
    pop = load_population([str(DIR / "current.json"), str(DIR / "current.jsonl")], label="current")
    assert len(pop) == len(raw_rows(DIR / "current.jsonl"))
    assert any("repeat an earlier trace id" in w for w in pop.warnings)


@pytest.mark.parametrize("name", ("baseline.json", "current.jsonl", "vars-only/baseline.jsonl"))
def test_convert_to_jsonl_reads_back_to_the_same_numbers(name: str, tmp_path: Path) -> None:
    converted = tmp_path / "converted.jsonl"
    converted.write_text("".join(convert_lines([str(DIR / name)])), encoding="utf-8")
    native = load_population([str(DIR / name)], label="native")
    again = load_population([str(converted)], label="flat")
    assert again.format == "flat"
    assert pop_numbers(again) == pop_numbers(native)
    assert int(again.span_error.sum()) == int(native.span_error.sum())


def test_compare_with_no_flags_finds_the_planted_regressions() -> None:
    base, cur = raw_numbers(raw_rows(DIR / "baseline.jsonl")), raw_numbers(raw_rows(DIR / "current.jsonl"))
    dropped = {task for task in base if cur[task]["k"] / cur[task]["n"] < base[task]["k"] / base[task]["n"]}
    code, out, err = call("compare", str(DIR / "baseline.jsonl"), str(DIR / "current.json"),
                          "--format", "json", "--resamples", "200", "-q")
    assert code == 0, err
    report = json.loads(out)
    assert report["baseline"]["format"] == report["current"]["format"] == "promptfoo"
    per_task = report["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    assert {t["task_id"] for t in per_task if t["naive"] == "regressed"} == dropped
    assert dropped == {"capital-fr", "sum-17-25"}
    assert report["metrics"]["error_rate"]["current"]["errors"] == 1


@pytest.mark.parametrize(("name", "selector"), [("two-providers.jsonl", "provider.id"),
                                                ("two-prompts.jsonl", "promptIdx")])
def test_a_side_mixing_providers_or_prompts_is_an_error_naming_the_where(name: str, selector: str) -> None:
    rows = raw_rows(DIR / name)
    values = sorted({str(row["provider"]["id"] if selector == "provider.id" else row["promptIdx"])
                     for row in rows})
    assert len(values) == 2
    with pytest.raises(InputError) as err:
        load_population([str(DIR / name)], label="current")
    message = str(err.value)
    assert name in message and "2 promptfoo populations" in message
    assert all(f"{selector} == {v}" in message for v in values)
    assert f"where: ['{selector} == {values[0]}']" in message


@pytest.mark.parametrize(("name", "selector"), [("two-providers.jsonl", "provider.id"),
                                                ("two-prompts.jsonl", "promptIdx")])
def test_where_selects_one_population_with_its_own_numbers(name: str, selector: str) -> None:
    rows = raw_rows(DIR / name)
    for value in sorted({str(row["provider"]["id"] if selector == "provider.id" else row["promptIdx"])
                         for row in rows}):
        mine = [row for row in rows
                if str(row["provider"]["id"] if selector == "provider.id" else row["promptIdx"]) == value]
        where = [parse_matcher(f"{selector} == {value}")]
        pop = load_population([str(DIR / name)], label="side", where=where)
        assert len(pop) == len(mine)
        assert_same(pop_numbers(pop), raw_numbers(mine))


def test_two_files_of_different_providers_on_one_side_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="2 promptfoo populations"):
        load_population([str(DIR / "baseline.jsonl"), str(DIR / "current.jsonl")], label="baseline")


def test_convert_keeps_every_population_for_a_later_where() -> None:
    rows = [json.loads(line) for line in convert_lines([str(DIR / "two-providers.jsonl")])]
    assert Counter(r["metadata"]["provider.id"] for r in rows) == Counter(
        r["provider"]["id"] for r in raw_rows(DIR / "two-providers.jsonl"))


# --- sniffing ---------------------------------------------------------------------------------------


def test_a_row_whose_telling_keys_lie_past_the_head_is_still_promptfoo(tmp_path: Path) -> None:
    row = raw_rows(DIR / "current.jsonl")[1]  # a failed assertion
    row = {"cost": row["cost"], "error": "Expected output " + "x" * 6000, **row}
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert load_population([str(path)], label="side").format == "promptfoo"


def test_kalibra_flat_traces_are_not_claimed(tmp_path: Path) -> None:
    path = tmp_path / "flat.jsonl"
    path.write_text(json.dumps({"trace_id": "t__m__1", "outcome": "success", "cost": 0.1,
                                "metadata": {"latencyMs": 3, "testIdx": 1, "promptIdx": 0}}) + "\n")
    assert load_population([str(path)], label="side").format == "flat"


# --- hostile and broken files -----------------------------------------------------------------------


def _good_row() -> dict:
    return raw_rows(DIR / "baseline.jsonl")[0]


def _set(path: str, value: object):
    def edit(row: dict) -> None:
        *parents, last = path.split(".")
        target = row
        for key in parents:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return edit


_DELETE = object()
HOSTILE = [
    ("success", "yes", "success"),
    ("success", _DELETE, "success"),
    ("latencyMs", "16", "latencyMs"),
    ("latencyMs", -5, "latencyMs"),
    ("latencyMs", 1e300, "latencyMs"),
    ("cost", 10**400, "cost"),
    ("cost", True, "cost"),
    ("response.tokenUsage.prompt", -1, "tokenUsage.prompt"),
    ("response.tokenUsage.completion", 2.5, "tokenUsage.completion"),
    ("response.tokenUsage.prompt", 10**30, "tokenUsage.prompt"),
    ("response.tokenUsage", [1, 2], "tokenUsage"),
    ("response", "text", "response"),
    ("failureReason", 7, "failureReason"),
    ("failureReason", "2", "failureReason"),
    ("provider", _DELETE, "provider.id"),
    ("provider", {"id": 12}, "provider.id"),
    ("promptIdx", -1, "promptIdx"),
    ("testCase.description", ["a"], "description"),
    ("vars", "a=b", "vars"),
    ("testCase", "capital-fr", "testCase"),
]


@pytest.mark.parametrize(("path", "value", "named"), HOSTILE, ids=[f"{p}={v!s:.12}" for p, v, _ in HOSTILE])
def test_a_row_with_a_wrong_or_missing_field_is_an_error_naming_file_row_and_field(
        tmp_path: Path, path: str, value: object, named: str) -> None:
    rows = raw_rows(DIR / "baseline.jsonl")[:3]
    _set(path, value)(rows[1])
    file = tmp_path / "results.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_population([str(file)], label="side")
    message = str(err.value)
    assert f"{file.name}: line 2: promptfoo result: " in message, message
    assert named in message


def test_a_row_with_neither_description_nor_vars_names_both(tmp_path: Path) -> None:
    row = _good_row()
    del row["testCase"]["description"], row["testCase"]["vars"], row["vars"]
    file = tmp_path / "results.jsonl"
    file.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no testCase\.description and no vars"):
        load_population([str(file)], label="side")


def test_a_task_that_cannot_be_a_kalibra_task_id_is_an_error_not_a_merge(tmp_path: Path) -> None:
    rows = raw_rows(DIR / "baseline.jsonl")[:2]
    rows[0]["testCase"]["description"] = "capital_"
    file = tmp_path / "results.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(InputError, match="'capital_' cannot be a Kalibra task id"):
        load_population([str(file)], label="side")


def test_export_variants_are_errors_naming_the_format(tmp_path: Path) -> None:
    text = (DIR / "baseline.json").read_text(encoding="utf-8")
    cases = {
        "truncated.json": text[: len(text) // 2],
        "no-rows.json": json.dumps({"evalId": "e", "results": {"version": 3, "results": "none"}}, indent=2),
        "row-not-object.json": json.dumps({"evalId": "e", "results": {"results": [1]}}, indent=2),
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(InputError) as err:
            load_population([str(tmp_path / name)], label="side")
        message = str(err.value)
        assert f"{name}: " in message and "promptfoo" in message, message


def test_an_export_past_the_line_limit_is_an_error_naming_the_limit(tmp_path: Path) -> None:
    from kalibra_action.limits import Limits
    with pytest.raises(InputError, match=r"limits\.max_line_bytes"):
        load_population([str(DIR / "baseline.json")], label="side", limits=Limits(max_line_bytes=4096))


def test_cli_exits_2_with_one_line_on_a_hostile_file(tmp_path: Path) -> None:
    rows = raw_rows(DIR / "current.jsonl")
    rows[5]["latencyMs"] = {"ms": 3}
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, err = call("compare", str(DIR / "baseline.jsonl"), str(bad), "-q")
    assert code == 2 and out == ""
    assert "bad.jsonl: line 6: promptfoo result: latencyMs is" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_cached_response_has_unmeasured_tokens_and_a_warning(tmp_path: Path) -> None:
    rows = raw_rows(DIR / "baseline.jsonl")[:3]
    total = rows[0]["response"]["tokenUsage"]["total"]
    rows[0]["response"]["tokenUsage"] = {"cached": total, "total": total, "numRequests": 1}
    file = tmp_path / "cached.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pop = load_population([str(file)], label="side")
    tokens = [float(t) for t in pop.input_tokens]
    assert sum(math.isnan(t) for t in tokens) == 1
    assert sorted(t for t in tokens if not math.isnan(t)) == sorted(
        r["response"]["tokenUsage"]["prompt"] for r in rows[1:])
    assert any("1 promptfoo result(s) came from its cache" in w for w in pop.warnings)


def test_many_populations_are_listed_cut_and_on_one_line(tmp_path: Path) -> None:
    rows = raw_rows(DIR / "baseline.jsonl")[:10]
    for i, row in enumerate(rows):
        row["provider"]["id"] = f"p{i}\n" + "x" * 200  # hostile: a line break and a long id
    file = tmp_path / "many.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_population([str(file)], label="side")
    message = str(err.value)
    assert "10 promptfoo populations" in message and "and 4 more" in message
    assert "\n" not in message and len(message) < 1500
