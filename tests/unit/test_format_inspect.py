"""The Inspect AI reader against the logs Inspect itself wrote (tests/data/formats/inspect/).

Every expected number is recomputed here from the raw files: the .eval members are located through the
ZIP's own headers (struct) and decompressed with `zstandard`, the .json logs read with `json`; nothing of
the reader is used for the oracle. Per task the test compares pass counts over the samples with an outcome
and the sorted per-run tokens, costs and durations.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
import zstandard

from kalibra_action.errors import InputError
from kalibra_action.traces.load import load_population
from kalibra_action.traces.registry import ReadOptions
from kalibra_action.traces.where import parse_matcher

INSPECT = Path(__file__).resolve().parents[1] / "data" / "formats" / "inspect"
TASKS = ("capital-fr", "sum-17-25", "reverse-word", "color-sky", "planet-red", "square-12")
PLANTED = {"baseline": (4, 4, 1, 3, 4, 2), "current": (1, 1, 4, 3, 4, 2)}


# --- the oracle: raw files → samples ---------------------------------------------------------------------


def member(zf: zipfile.ZipFile, path: Path, name: str) -> object:
    """A Zstandard member's JSON, from the local header and the compressed bytes that follow it."""
    info = zf.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        head = f.read(30)
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        data = f.read(info.compress_size)
    assert info.compress_type == 93
    return json.loads(zstandard.ZstdDecompressor().decompress(data, max_output_size=info.file_size))


def eval_samples(path: Path) -> list[dict]:
    """summaries.json when the log finished; else its journal summaries and flushed samples, once each."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if "summaries.json" in names:
            return member(zf, path, "summaries.json")
        found = [s for n in names if n.startswith("_journal/summaries/") for s in member(zf, path, n)]
        found += [member(zf, path, n) for n in names if n.startswith("samples/")]
    unique = {(s["id"], s["epoch"]): s for s in reversed(found)}
    return list(unique.values())


def json_samples(paths: list[Path]) -> list[dict]:
    return [s for p in paths for s in json.loads(p.read_text())["samples"]]


def verdict(sample: dict, scorer: str, threshold: float = 1.0) -> bool | None:
    if not sample["scores"]:
        return None
    value = sample["scores"][scorer]["value"]
    if isinstance(value, str):
        return {"C": True, "P": True, "I": False, "N": False}.get(value)
    return value >= threshold


def order(run: tuple) -> tuple:
    return tuple(-1.0 if v is None else float(v) for v in run)


def expected(samples: list[dict], scorer: str, threshold: float = 1.0) -> dict:
    """Per task: (passes, runs with an outcome, errors, sorted (in, out, cost, duration) per run)."""
    out: dict = defaultdict(lambda: [0, 0, 0, []])
    for s in samples:
        row = out[s["id"]]
        v = verdict(s, scorer, threshold)
        row[0] += v is True
        row[1] += v is not None
        row[2] += bool(s.get("error")) and not s["scores"]
        usage = s["model_usage"].values()
        row[3].append((sum(u["input_tokens"] for u in usage) if usage else None,
                       sum(u["output_tokens"] for u in usage) if usage else None,
                       sum(u["total_cost"] for u in usage) if usage else None,
                       s["total_time"]))
    return {task: (k, n, e, sorted(runs, key=order)) for task, (k, n, e, runs) in out.items()}


def measured(pop) -> dict:
    """The same table from a Population."""
    out: dict = defaultdict(lambda: [0, 0, 0, []])
    errors = defaultdict(int)
    for i in range(len(pop.span_trace)):
        errors[int(pop.span_trace[i])] += bool(pop.span_error[i])
    for i in range(len(pop)):
        row = out[pop.task_names[pop.task[i]]]
        row[0] += pop.outcome[i] == 1
        row[1] += pop.outcome[i] != -1
        row[2] += errors[i]

        def value(x):
            return None if math.isnan(x) else float(x)

        row[3].append((value(pop.input_tokens[i]), value(pop.output_tokens[i]), value(pop.cost[i]),
                       value(pop.duration[i])))
    return {task: (k, n, e, sorted(runs, key=order)) for task, (k, n, e, runs) in out.items()}


def assert_same(pop, want: dict) -> None:
    got = measured(pop)
    assert sorted(got) == sorted(want)
    for task, (k, n, e, runs) in want.items():
        gk, gn, ge, gruns = got[task]
        assert (gk, gn, ge) == (k, n, e), task
        assert len(gruns) == len(runs), task
        for a, b in zip(gruns, runs, strict=True):
            assert order(a) == pytest.approx(order(b), rel=1e-9), task


def load(*paths: Path | str, **options) -> object:
    return load_population([str(p) for p in paths], label="side", options=ReadOptions(**options))


# --- every fixture, against the oracle ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["baseline.eval", "current.eval", "errored/current.eval",
                                  "crashed/current.eval"])
def test_match_scored_logs_read_as_the_raw_files_say(name: str) -> None:
    path = INSPECT / name
    pop = load(path)
    assert pop.format == "inspect"
    want = expected(eval_samples(path), "match")
    assert_same(pop, want)
    assert len(pop) == sum(len(runs) for *_, runs in want.values())


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_the_planted_pass_counts_come_out(side: str) -> None:
    pop = load(INSPECT / f"{side}.eval")
    got = measured(pop)
    assert tuple(got[t][0] for t in TASKS) == PLANTED[side]
    assert all(got[t][1] == 4 for t in TASKS)


def test_the_errored_sample_is_an_error_with_no_outcome_and_is_reported() -> None:
    pop = load(INSPECT / "errored" / "current.eval")
    square = measured(pop)["square-12"]
    assert square[:3] == (2, 3, 1)
    assert int(pop.span_error.sum()) == 1
    assert any("1 sample(s) ended in an error" in w for w in pop.warnings)


def test_the_crashed_log_reads_the_flushed_samples_and_warns() -> None:
    pop = load(INSPECT / "crashed" / "current.eval")
    assert len(pop) == 10
    assert any("unfinished" in w for w in pop.warnings)


@pytest.mark.parametrize("side", ["baseline", "current"])
@pytest.mark.parametrize("scorer", ["match", "includes"])
def test_two_scorers_with_the_scorer_chosen(side: str, scorer: str) -> None:
    path = INSPECT / "two-scorers" / f"{side}.eval"
    assert_same(load(path, scorer=scorer), expected(eval_samples(path), scorer))


def test_two_scorers_without_a_choice_is_an_error_listing_them() -> None:
    with pytest.raises(InputError) as err:
        load(INSPECT / "two-scorers" / "current.eval")
    text = str(err.value)
    assert "Inspect AI log" in text and "match" in text and "includes" in text and "--scorer" in text


def test_an_unknown_scorer_is_an_error_listing_the_real_ones() -> None:
    with pytest.raises(InputError, match=r"no scorer 'exact'.*match, includes"):
        load(INSPECT / "two-scorers" / "current.eval", scorer="exact")


@pytest.mark.parametrize("side", ["baseline", "current"])
@pytest.mark.parametrize("threshold", [None, 0.25, 0.5, 0.2])
def test_numeric_scores_against_the_threshold(side: str, threshold: float | None) -> None:
    path = INSPECT / "numeric" / f"{side}.eval"
    pop = load(path, score_threshold=threshold)
    want = expected(eval_samples(path), "graded", 1.0 if threshold is None else threshold)
    assert_same(pop, want)
    if threshold is None:  # 1.0 for a right answer, 0.25 for a wrong one: the planted counts
        assert tuple(want[t][0] for t in TASKS) == PLANTED[side]
    elif threshold <= 0.25:
        assert all(k == n for k, n, *_ in want.values())


def test_numeric_tokens_sum_every_model_in_model_usage() -> None:
    path = INSPECT / "numeric" / "current.eval"
    samples = eval_samples(path)
    assert all(len(s["model_usage"]) == 2 for s in samples)  # the agent and the grader (names with / and .)
    pop = load(path)
    usage = [u for s in samples for u in s["model_usage"].values()]
    assert pop.input_tokens.sum() == sum(u["input_tokens"] for u in usage)


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_an_eval_set_of_json_logs(side: str) -> None:
    logs = sorted((INSPECT / "eval-set" / side).glob("*_fixture-qa-part*.json"))
    assert len(logs) == 2
    pop = load(INSPECT / "eval-set" / side / "*.json")  # also the set's own logs.json and eval-set.json
    want = expected(json_samples(logs), "match")
    assert_same(pop, want)
    assert tuple(want[t][0] for t in TASKS) == PLANTED[side]


def test_where_selects_on_the_log_fields() -> None:
    pop = load_population([str(INSPECT / "eval-set" / "current" / "*.json")], label="side",
                          where=[parse_matcher("eval_task == fixture_qa_part1")])
    assert sorted(pop.task_names[c] for c in set(pop.task.tolist())) == sorted(TASKS[:3])


def test_a_compacted_json_log_is_still_an_inspect_log(tmp_path: Path) -> None:
    """`jq -c .` on a log (what the old error hinted) must not turn into one flat trace."""
    log = sorted((INSPECT / "eval-set" / "current").glob("*part2*.json"))[0]
    compact = tmp_path / "compact.jsonl"
    compact.write_text(json.dumps(json.loads(log.read_text()), separators=(",", ":")) + "\n")
    pop = load(compact)
    assert pop.format == "inspect"
    assert_same(pop, expected(json_samples([log]), "match"))


def test_a_flat_trace_holding_an_eval_object_stays_flat(tmp_path: Path) -> None:
    path = tmp_path / "flat.jsonl"
    rows = [{"trace_id": f"t{i}__m__1", "outcome": "success",
             "metadata": {"eval": {"eval_id": "e", "run_id": "r", "task_id": "t"}, "samples": []}}
            for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load(path).format == "flat"


# --- the CLI ---------------------------------------------------------------------------------------------


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kalibra_action", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_compare_with_no_flags_finds_the_planted_regressions() -> None:
    run = cli("compare", str(INSPECT / "baseline.eval"), str(INSPECT / "current.eval"), "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["baseline"]["format"] == report["current"]["format"] == "inspect"
    breakdown = report["metrics"]["trace_breakdown"]["metadata"]
    regressed = {r["task_id"]: (r["baseline"], r["current"]) for r in breakdown["regressions"]}
    assert set(regressed) == {"capital-fr", "sum-17-25"}
    four_to_one = ({"success": 4, "total": 4}, {"success": 1, "total": 4})
    assert all(pair == four_to_one for pair in regressed.values())
    assert [i["task_id"] for i in breakdown["improvements"]] == ["reverse-word"]


def test_convert_to_jsonl_reads_back_to_the_same_numbers(tmp_path: Path) -> None:
    path = INSPECT / "errored" / "current.eval"
    run = cli("convert", str(path), "--to", "jsonl")
    assert run.returncode == 0, run.stderr
    (tmp_path / "out.jsonl").write_text(run.stdout)
    flat = load_population([str(tmp_path / "out.jsonl")], label="side")
    assert flat.format == "flat"
    want = expected(eval_samples(path), "match")
    assert_same(flat, want)
    assert_same(load(path), want)
