"""LangSmith runs (the SDK's `Run` models, one JSON object a line) as Kalibra flat traces, joined with
their feedback (`Feedback`) and, when given, the dataset's examples (`Example`), from any of the side's
files.

One trace per root run (no `parent_run_id`), with every run of its `trace_id` as a span, from any file of
the side (an export split over files or a directory joins up, as OTLP spans do):
- task: `reference_example_id` (the dataset example, in an experiment), else the root run's `name`;
- outcome: the root run's feedback of one key (the only key on the side, else `read: outcome_annotation`
  / `--scorer`; several and none chosen is an error listing them): mean score ≥ the threshold (default 1)
  passes; a root run with status `error` has no outcome and is an error span;
- tokens and cost (Decimal strings): the leaf runs' `prompt_tokens`, `completion_tokens`, `total_cost`; the
  root's own values, which LangSmith fills with the sum over its children, only when no leaf has any;
- duration: the root's `end_time` − `start_time`;
- metadata: the root's `extra.metadata`, `session_id` (the experiment: several on one side are an
  error, see SELECTORS), `name`, `tags`, and the example's `metadata` / `inputs` under `example`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from kalibra_action.traces import native, registry
from kalibra_action.traces.source import TraceFile, iter_objects

if TYPE_CHECKING:
    from kalibra_action.traces.registry import ReadOptions

NAME = "langsmith"
TITLE = "LangSmith"
PIPELINE = "flat"
SELECTORS = ("session_id",)

RUN, FEEDBACK, EXAMPLE = "run", "feedback", "example"
_MARKERS = (b'"run_type"', b'"run_id"', b'"feedback_source"', b'"dataset_id"')


def describe() -> str:
    return ("LangSmith runs: one trace per root run; task = reference_example_id, else the run name; "
            "outcome = the root's feedback score (one key; read: outcome_annotation to choose) >= "
            "score_threshold (1); status error = an error with no outcome; tokens/cost from the leaf runs "
            "(the root's sums otherwise); duration = end_time - start_time")


def record_kind(row: dict) -> str | None:
    """Which LangSmith model a JSON object is (by the keys its model_dump_json always writes; runs of SDKs
    before `trace_id` have `parent_run_id` / `execution_order` instead)."""
    if "run_type" in row and "start_time" in row and (
            "trace_id" in row or "parent_run_id" in row or "execution_order" in row):
        return RUN
    if "run_id" in row and "key" in row and ("score" in row or "value" in row):
        return FEEDBACK
    if "dataset_id" in row and "inputs" in row and "id" in row and "run_type" not in row:
        return EXAMPLE
    return None


def sniff(tf: TraceFile, head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{") or not any(marker in text for marker in _MARKERS):
        return False
    row = native.first_row(tf)
    return row is not None and record_kind(row) is not None


def auxiliary(tf: TraceFile) -> bool:
    """Feedback and example files only feed the join."""
    row = native.first_row(tf)
    return row is not None and record_kind(row) in (FEEDBACK, EXAMPLE)


def explain_empty(tf: TraceFile) -> str | None:
    """What a LangSmith file without traces holds, and what to give with it."""
    row = native.first_row(tf)
    kind = record_kind(row) if row is not None else None
    join = "(no runs on this side): give the runs export too (a side's files are joined: e.g. path: " \
           "\"ls/baseline.*.jsonl\")"
    if kind == FEEDBACK:
        return f"this looks like {TITLE} feedback only {join}"
    if kind == EXAMPLE:
        return f"this looks like {TITLE} dataset examples only {join}"
    if kind == RUN:
        return (f"this looks like {TITLE} runs, but no root run (one without parent_run_id) on this side: "
                "give the whole export")
    return None


def objects(tf: TraceFile, options: ReadOptions, warnings: list[str]) -> Iterator[tuple[str, dict]]:
    return joined_objects(tf, registry.Side((tf,)), options, warnings)


def joined_objects(tf: TraceFile, side: registry.Side, options: ReadOptions,
                   warnings: list[str]) -> Iterator[tuple[str, dict]]:
    """The traces whose root run is in `tf`, with their runs, feedback and examples from any file of the
    side (joined once for the whole side)."""
    join = side.once(NAME, lambda: _Join(side, options, warnings))
    for position, root, group in join.traces.get(tf.path, ()):
        yield root[1], _trace(root, group, join, position)


class _Join:
    """The side's runs grouped into traces (by the file of their root), its scores and its examples."""

    def __init__(self, side: Sequence[TraceFile], options: ReadOptions, warnings: list[str]) -> None:
        runs: list[native.Record] = []
        feedback: list[native.Record] = []
        self.examples: dict[str, dict] = {}
        for other in side:
            for location, row, kind in _records(other, warnings):
                if kind == RUN:
                    runs.append((other, location, row))
                elif kind == FEEDBACK:
                    if not isinstance(row.get("key"), str):
                        shown = native.show(row.get("key"))
                        message = f"{NAME} feedback: key is {shown}, not text"
                        raise registry.reader_error(other, location, message)
                    feedback.append((other, location, row))
                elif isinstance(row.get("id"), str):
                    self.examples[row["id"]] = row
        self.traces: dict[object, list] = defaultdict(list)
        if not runs:
            return
        key = native.choose_score(side[0], (row["key"] for _, _, row in feedback),
                                  options.outcome_annotation or options.scorer, "feedback key", NAME)
        if key is None:
            warnings.append(f"{native.files_named(runs)}: no {NAME} feedback among the side's files, so no "
                            "run has an outcome (give the feedback file too, e.g. a glob such as "
                            "DIR/baseline.*.jsonl)")
        self.threshold = native.score_threshold(options)
        self.scores = _scores(feedback, key)
        if self.scores and not any(row.get("id") in self.scores for _, _, row in runs):
            warnings.append(f"{native.files_named(feedback)}: no {NAME} feedback of key {key!r} refers to a "
                            "run of this side (feedback of another experiment?); no run has an outcome")
        traced = _with_trace_ids(runs)
        for position, _trace_id, root, group in native.rooted_traces(
                traced, trace_key="trace_id", is_root=lambda row: row.get("parent_run_id") is None,
                what=f"{NAME} run", warnings=warnings):
            self.traces[root[0].path].append((position, root, group))


def _with_trace_ids(runs: list[native.Record]) -> list[native.Record]:
    """The runs, those without a `trace_id` key (SDKs before it: older exports) given their topmost
    ancestor's id through `parent_run_id`, which is what LangSmith's trace_id is; a cycle or a missing
    parent stops the walk at the last run found. A `trace_id` that is there but null stays an error."""
    if all("trace_id" in row for _, _, row in runs):
        return runs
    parent = {row["id"]: row.get("parent_run_id") for _, _, row in runs if isinstance(row.get("id"), str)}
    out = []
    for tf, location, row in runs:
        if "trace_id" not in row and isinstance(row.get("id"), str):
            top, seen = row["id"], set()
            while isinstance(parent.get(top), str) and parent[top] in parent and top not in seen:
                seen.add(top)
                top = parent[top]
            row = {**row, "trace_id": top}
        out.append((tf, location, row))
    return out


def _records(tf: TraceFile, warnings: list[str]) -> Iterator[tuple[str, dict, str]]:
    for line_no, row in iter_objects(tf, warnings):
        kind = record_kind(row)
        if kind is None:
            raise registry.reader_error(tf, f"line {line_no}", f"not a {NAME} run, feedback or example (no "
                                                               "run_type/trace_id, run_id/key or dataset_id)")
        yield f"line {line_no}", row, kind


def _scores(feedback: list[native.Record], key: str | None) -> dict[str, list[float]]:
    """Run id → the scores of the chosen key (`score`, else a numeric or true/false `value`, else a
    `value` label that is a pass / fail word: correct, incorrect ...)."""
    out: dict[str, list[float]] = defaultdict(list)
    for other, location, row in feedback:
        if row["key"] != key:
            continue

        def fail(message: str, other: TraceFile = other, location: str = location) -> Exception:
            return registry.reader_error(other, location, f"{NAME} feedback: {message}")

        value = row.get("score")
        if value is None:  # categorical feedback: a `value` label such as correct / incorrect
            value = row.get("value")
            value = native.label_score(value) if isinstance(value, str) else value
            if isinstance(row.get("value"), str) and value is None:
                raise fail(f"value {native.show(row['value'])} of {key!r} is not a pass/fail word and there "
                           "is no score")
        score = native.score(value, f"score of {key!r}", fail)
        if score is not None and isinstance(row.get("run_id"), str):
            out[row["run_id"]].append(score)
    return out


def _trace(root_at: native.Record, group: list[native.Record], join: _Join, position: int) -> dict:
    tf, location, root = root_at
    examples = join.examples

    def fail(message: str) -> Exception:
        return registry.reader_error(tf, location, f"{NAME} run: {message}")

    root_id = native.text(root.get("id"), "id", fail) or ""
    example_id = native.text(root.get("reference_example_id"), "reference_example_id", fail)
    task = example_id or native.text(root.get("name"), "name", fail)
    if not task:
        raise fail("no reference_example_id and no name: nothing tells which task this is")
    errored = _errored(root)
    spans, leaf_values = _spans(group)
    start = native.iso_ns(root.get("start_time"), "start_time", fail)
    end = native.iso_ns(root.get("end_time"), "end_time", fail)
    extra = root.get("extra") if isinstance(root.get("extra"), dict) else {}
    metadata = dict(extra.get("metadata")) if isinstance(extra.get("metadata"), dict) else {}
    metadata.update({"session_id": root.get("session_id"), "name": root.get("name"),
                     "tags": root.get("tags"), "reference_example_id": example_id})
    if example_id in examples:
        example = examples[example_id]
        metadata["example"] = {"metadata": example.get("metadata"), "inputs": example.get("inputs")}
    if errored:
        metadata["error"] = str(root.get("error") or "error")[:500]
    trace = {
        "trace_id": native.trace_id(tf, task, root_id.replace("_", "-") or "run", position,
                                    registry.reader_error),
        "outcome": None if errored else native.score_outcome(_trace_scores(root_id, group, join),
                                                             join.threshold),
        "spans": spans,
        "metadata": metadata,
    }
    if start is not None and end is not None and end >= start:
        trace["start_ns"], trace["end_ns"] = start, end
    sums = _values(root, fail)  # checked even when unused: a broken file is not read in part
    if not leaf_values:  # the root's own sums stand in when no leaf run reports any
        trace.update(sums)
    return trace


def _trace_scores(root_id: str, group: list[native.Record], join: _Join) -> list[float]:
    """The root run's scores; when it has none, those given on its other runs (an evaluator that scores
    the LLM call inside the run), so that the verdict is not lost."""
    own = join.scores.get(root_id)
    if own:
        return own
    return [score for _, _, run in group if isinstance(run.get("id"), str)
            for score in join.scores.get(run["id"], ())]


def _errored(run: dict) -> bool:
    return run.get("status") == "error" or bool(run.get("error"))


def _values(run: dict, fail) -> dict:
    return {"input_tokens": native.count(run.get("prompt_tokens"), "prompt_tokens", fail),
            "output_tokens": native.count(run.get("completion_tokens"), "completion_tokens", fail),
            "cost": native.amount(run.get("total_cost"), "total_cost", native.MAX_COST, fail,
                                  decimal_text=True)}


def _spans(group: list[native.Record]) -> tuple[list[dict], bool]:
    """Every run of the trace as a span; tokens and cost on the leaves only (a parent's are sums)."""
    parents = {row.get("parent_run_id") for _, _, row in group}
    spans, leaf_values = [], False
    for tf, location, run in group:
        def fail(message: str, tf: TraceFile = tf, location: str = location) -> Exception:
            return registry.reader_error(tf, location, f"{NAME} run: {message}")

        span = {"span_id": native.text(run.get("id"), "id", fail), "parent_id": run.get("parent_run_id"),
                "name": native.text(run.get("name"), "name", fail) or run.get("run_type"),
                "error": _errored(run)}
        start = native.iso_ns(run.get("start_time"), "start_time", fail)
        end = native.iso_ns(run.get("end_time"), "end_time", fail)
        if start is not None:
            span["start_ns"], span["end_ns"] = start, end if end is not None and end >= start else start
        if span["span_id"] not in parents:
            values = _values(run, fail)
            leaf_values = leaf_values or any(v is not None for v in values.values())
            span.update(values)
        spans.append(span)
    return spans, leaf_values
