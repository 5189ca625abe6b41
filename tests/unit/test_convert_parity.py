"""The same numbers come out of a tool's file and of its documented conversion (`convert --to jsonl`).

Every fixture layout the real tools wrote (tests/data/formats) is loaded twice, with no options but the
ones a user must give (the task attribute of span formats, a scorer among two, a `where` among
providers): natively, and after `kalibra-action convert` to JSON Lines. Per task, the pass count k of the
n traces with an outcome, the error spans, the token totals and the medians of duration and cost must
agree, and the conversion must not lose a trace.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from kalibra_action.traces.outcomes import OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.where import parse_matcher
from tests.fixtures.cli import call

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
OTEL = {"--task-id": "app.task.id", "--cost": "app.cost_usd"}
PHOENIX = {"--task-id": "metadata.task"}

# (case, paths under DATA, CLI options that a user must give, where)
CASES = [
    ("inspect-eval", ["inspect/current.eval"], {}, None),
    ("inspect-numeric", ["inspect/numeric/current.eval"], {}, None),
    ("inspect-two-scorers", ["inspect/two-scorers/current.eval"], {"--scorer": "match"}, None),
    ("inspect-errored", ["inspect/errored/current.eval"], {}, None),
    ("inspect-crashed", ["inspect/crashed/current.eval"], {}, None),
    ("inspect-eval-set", ["inspect/eval-set/current"], {}, None),
    ("otlp-collector", ["otel/current.collector.jsonl"], OTEL, None),
    ("otlp-pretty-base64", ["otel/current.otlp.json"], OTEL, None),
    ("otlp-console", ["otel/current.console.txt"], OTEL, None),
    ("otlp-split", ["otel/split/current"], OTEL, None),
    ("otlp-legacy", ["otel-legacy/current.collector.jsonl"], OTEL, None),
    ("promptfoo-json", ["promptfoo/current.json"], {}, None),
    ("promptfoo-jsonl", ["promptfoo/current.jsonl"], {}, None),
    ("promptfoo-vars-only", ["promptfoo/vars-only/current.jsonl"], {}, None),
    ("promptfoo-two-providers", ["promptfoo/two-providers.jsonl"], {},
     "provider.id == fixture/agent-1.5.0-rc.1"),
    ("promptfoo-two-prompts", ["promptfoo/two-prompts.jsonl"], {}, "promptIdx == 1"),
    ("phoenix-dataframe", ["phoenix/current.spans-dataframe.jsonl",
                           "phoenix/current.annotations-dataframe.jsonl"], PHOENIX, None),
    ("phoenix-rest", ["phoenix/current.spans-rest.jsonl", "phoenix/current.annotations-rest.jsonl"], PHOENIX,
     None),
    ("phoenix-rest-dataframe-notes", ["phoenix/current.spans-rest.jsonl",
                                      "phoenix/current.annotations-dataframe.jsonl"], PHOENIX, None),
    ("langsmith", ["langsmith/current.runs.jsonl", "langsmith/current.feedback.jsonl",
                   "langsmith/examples.jsonl"], {}, None),
    ("langfuse", ["langfuse/current.observations.json", "langfuse/current.scores.jsonl"],
     {"--outcome-annotation": "correctness"}, None),
]

_FIELDS = {"--task-id": "task_id", "--cost": "cost"}
_READ = ("--scorer", "--outcome-annotation")


def per_task(pop) -> dict:
    """Per task: k, n, error spans, token totals, and the medians of duration and cost."""
    rows: dict = defaultdict(lambda: {"k": 0, "n": 0, "errors": 0, "in": 0.0, "out": 0.0, "durations": [],
                                      "costs": []})
    errors = defaultdict(int)
    for trace, error in zip(pop.span_trace, pop.span_error, strict=True):
        errors[int(trace)] += bool(error)
    for i, (code, outcome) in enumerate(zip(pop.task, pop.outcome, strict=True)):
        row = rows[pop.task_names[code]]
        if outcome != OUTCOME_UNKNOWN:
            row["n"] += 1
            row["k"] += int(outcome == OUTCOME_SUCCESS)
        row["errors"] += errors[i]
        for key, column in (("in", pop.input_tokens), ("out", pop.output_tokens)):
            value = float(column[i])
            row[key] += 0.0 if math.isnan(value) else value
        for key, column in (("durations", pop.duration), ("costs", pop.cost)):
            value = float(column[i])
            if not math.isnan(value):
                row[key].append(value)
    return {task: {"k": r["k"], "n": r["n"], "errors": r["errors"], "in": r["in"], "out": r["out"],
                   "duration": statistics.median(r["durations"]) if r["durations"] else None,
                   "cost": statistics.median(r["costs"]) if r["costs"] else None}
            for task, r in rows.items()}


def load(paths: list[str], options: dict[str, str], where: str | None):
    from kalibra_action.traces.registry import ReadOptions

    fields = FieldMap(**{_FIELDS[flag]: value for flag, value in options.items() if flag in _FIELDS})
    read = ReadOptions(scorer=options.get("--scorer"), outcome_annotation=options.get("--outcome-annotation"))
    return load_population(paths, label="side", fields=fields, options=read,
                           where=[parse_matcher(where)] if where else [])


@pytest.mark.parametrize(("case", "names", "options", "where"), CASES, ids=[c[0] for c in CASES])
def test_a_file_and_its_conversion_to_jsonl_give_the_same_numbers(tmp_path: Path, case: str, names: list[str],
                                                                  options: dict[str, str],
                                                                  where: str | None) -> None:
    paths = [str(DATA / name) for name in names]
    read_flags = [part for flag, value in options.items() if flag in _READ for part in (flag, value)]
    code, out, err = call("convert", *paths, "--to", "jsonl", *read_flags)
    assert code == 0, err
    converted = tmp_path / f"{case}.jsonl"
    converted.write_text(out, encoding="utf-8")
    assert all(json.loads(line) for line in out.splitlines())
    native = load(paths, options, where)
    again = load([str(converted)], {k: v for k, v in options.items() if k not in _READ}, where)
    assert len(again) == len(native) > 0
    want, got = per_task(native), per_task(again)
    assert set(got) == set(want)
    for task, w in want.items():
        g = got[task]
        assert (g["k"], g["n"], g["errors"]) == (w["k"], w["n"], w["errors"]), (case, task)
        assert (g["in"], g["out"]) == (w["in"], w["out"]), (case, task)
        for key in ("duration", "cost"):
            assert (g[key] is None) == (w[key] is None), (case, task, key)
            if w[key] is not None:
                assert g[key] == pytest.approx(w[key], rel=1e-9), (case, task, key)
    assert sum(w["n"] for w in want.values()) > 0  # outcomes were compared, not "no data" twice


def _flipped_annotations(source: Path, target: Path) -> str:
    """The annotations with every verdict turned round, so that they contradict the root spans' status."""
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        result = row["result"] if isinstance(row.get("result"), dict) else row
        prefix = "" if result is not row else "result."
        label = result[f"{prefix}label"]
        result[f"{prefix}label"] = "incorrect" if label == "correct" else "correct"
        result[f"{prefix}score"] = 1.0 - result[f"{prefix}score"]
    target.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(target)


@pytest.mark.parametrize("spans", ["rest", "dataframe"])
@pytest.mark.parametrize("notes", ["rest", "dataframe"])
def test_phoenix_annotation_verdicts_survive_conversion(tmp_path: Path, spans: str, notes: str) -> None:
    """Annotations that contradict the spans' status decide the outcome, loaded or converted."""
    paths = [str(DATA / "phoenix" / f"baseline.spans-{spans}.jsonl"),
             _flipped_annotations(DATA / "phoenix" / f"baseline.annotations-{notes}.jsonl",
                                  tmp_path / "notes.jsonl")]
    code, out, err = call("convert", *paths, "--to", "jsonl")
    assert code == 0, err
    converted = tmp_path / "converted.jsonl"
    converted.write_text(out, encoding="utf-8")
    native, again = load(paths, PHOENIX, None), load([str(converted)], PHOENIX, None)
    unflipped = load([paths[0], str(DATA / "phoenix" / f"baseline.annotations-{notes}.jsonl")], PHOENIX, None)
    want = {task: (n - k, n) for task, (k, n) in
            ((task, (r["k"], r["n"])) for task, r in per_task(unflipped).items())}
    assert {task: (r["k"], r["n"]) for task, r in per_task(native).items()} == want
    assert {task: (r["k"], r["n"]) for task, r in per_task(again).items()} == want
