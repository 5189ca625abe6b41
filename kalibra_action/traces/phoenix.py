"""Phoenix exports as OpenInference spans, with span annotations (evaluations) as the outcome.

Files, told apart line by line by their keys (any mix of them on a side):
- spans, `get_spans_dataframe().to_json(orient="records", lines=True)`: flat `context.trace_id`,
  `context.span_id`, `parent_id`, `attributes.*` columns (dotted names, values possibly nested objects),
  `start_time` / `end_time` as epoch numbers (milliseconds, as pandas writes them; the magnitude tells
  s / ms / µs / ns apart) or ISO 8601 text;
- spans from the REST API (`context` object, nested `attributes`, ISO times) are left to the JSON Lines
  detection (OpenInference or OTel GenAI spans); the span pipeline applies the side's annotations to them
  through span_verdicts;
- span annotations, from `get_span_annotations_dataframe()` (`span_id`, `annotation_name`,
  `result.label`, `result.score`) or the REST API (`span_id`, `name`, `result: {label, score}`). They only
  feed the join (auxiliary): give them as one of the side's files.

Every span becomes the span object the OpenInference pipeline reads (traces/spans.py), so tokens
(`llm.token_count.*`), cost (`llm.cost.total`), status and finish reasons mean what they mean there. The
outcome of a trace whose root span carries the chosen annotation (`read: {outcome_annotation: NAME}` /
`--outcome-annotation`; default: the only name on the side) is that annotation's verdict, written on the
root span as `outcome`: a label that is an outcome word (`correct`/`pass`/`true` …) decides, else the
score ≥ `score_threshold` (default 1); an explicit threshold makes the score decide. Several annotations
of the name on one root (several annotators) pass only when all pass. A trace without the annotation
keeps the pipeline's outcome: a root with status ERROR fails, else the finish reasons, else OK passes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from kalibra_action.traces import native, registry
from kalibra_action.traces.source import TraceFile, iter_objects

if TYPE_CHECKING:
    from kalibra_action.traces.registry import ReadOptions

NAME = "phoenix"
TITLE = "Phoenix"
PIPELINE = "openinference"
# The span files its annotations join: its own dataframe spans, REST spans read as JSON Lines, OTLP.
JOINS = (NAME, "openinference", "otel-genai", "otlp")

SPAN_FRAME, SPAN_REST, NOTE_FRAME, NOTE_REST = "span-dataframe", "span-rest", "annotation-dataframe", \
    "annotation-rest"
_SPANS, _NOTES = (SPAN_FRAME, SPAN_REST), (NOTE_FRAME, NOTE_REST)
_STATUSES = ("OK", "ERROR", "UNSET", "")
_COUNTS = ("llm.token_count.prompt", "llm.token_count.completion", "llm.token_count.total")
_COST = "llm.cost.total"
# Epoch numbers: below each bound the unit is the next one (seconds, ms, µs, else ns).
_UNITS = ((1e12, 10**9), (1e15, 10**6), (1e18, 10**3))


def describe() -> str:
    return ("Phoenix spans (get_spans_dataframe JSONL or REST) as OpenInference spans; outcome = the root "
            "span's annotation (one name; read: outcome_annotation to choose): an outcome-word label, else "
            "score >= score_threshold (1); unannotated traces: root ERROR fails, else finish reasons")


def record_kind(row: dict) -> str | None:
    """Which Phoenix export a JSON object comes from (by the keys that export always writes)."""
    if "context.trace_id" in row and "context.span_id" in row:
        return SPAN_FRAME
    context = row.get("context")
    if (isinstance(context, dict) and "trace_id" in context and isinstance(row.get("id"), str)
            and "status_code" in row and "span_kind" in row):
        return SPAN_REST
    if "span_id" in row and "annotation_name" in row and ("result.label" in row or "result.score" in row):
        return NOTE_FRAME
    if "span_id" in row and "name" in row and isinstance(row.get("result"), dict) and "annotator_kind" in row:
        return NOTE_REST
    return None


def sniff(tf: TraceFile, head: bytes) -> bool:
    # No marker in the head: a dataframe row's `context.*` columns follow its events, which can be long.
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return False
    row = native.first_row(tf)  # REST spans stay with the JSON Lines detection (OpenInference / OTel)
    return row is not None and record_kind(row) in (SPAN_FRAME, *_NOTES)


def auxiliary(tf: TraceFile) -> bool:
    """Annotation files only feed the join."""
    row = native.first_row(tf)
    return row is not None and record_kind(row) in _NOTES


def explain_empty(tf: TraceFile) -> str | None:
    """What a Phoenix file without traces holds, and what to give with it."""
    if auxiliary(tf):
        return (f"this looks like {TITLE} span annotations only (no spans on this side): give the spans "
                "export too (a side's files are joined: e.g. path: \"phx/baseline.*.jsonl\")")
    return None


def objects(tf: TraceFile, options: ReadOptions, warnings: list[str]) -> Iterator[tuple[str, dict]]:
    return joined_objects(tf, registry.Side((tf,)), options, warnings)


def joined_objects(tf: TraceFile, side: registry.Side, options: ReadOptions,
                   warnings: list[str]) -> Iterator[tuple[str, dict]]:
    """The spans of `tf`, each root span with the verdict of its annotation from any file of the side."""
    if auxiliary(tf):
        return
    verdicts = side.once(NAME, lambda: span_verdicts(side, options, warnings))
    off_root = 0
    for location, row, kind in _records(tf, warnings):
        if kind in _NOTES:
            raise registry.reader_error(tf, location, f"{NAME}: a span annotation in a file of spans",
                                        hint="export spans and annotations to separate files")
        span = _span(tf, location, row, kind)
        verdict = verdicts.get(span["context"]["span_id"])
        if verdict is not None:
            if span["parent_id"] is None:
                span["outcome"] = verdict
            else:
                off_root += 1
        yield location, span
    if off_root:
        warnings.append(f"{tf.name}: {off_root} {NAME} annotation(s) of the outcome name are on child spans; "
                        "only a root span's annotation is a trace's outcome")


def _records(tf: TraceFile, warnings: list[str]) -> Iterator[tuple[str, dict, str]]:
    for line_no, row in iter_objects(tf, warnings):
        kind = record_kind(row)
        if kind is None:
            raise registry.reader_error(tf, f"line {line_no}", f"not a {NAME} span or span annotation (no "
                                                               "context.trace_id, context or span_id/result)")
        yield f"line {line_no}", row, kind


def _fail(tf: TraceFile, location: str, what: str):
    def fail(message: str) -> Exception:
        return registry.reader_error(tf, location, f"{NAME} {what}: {message}")
    return fail


# --- annotations -----------------------------------------------------------------------------------

_Note = tuple[str, str | None, float | None, TraceFile, str]  # (span_id, label, score, file, location)


def span_verdicts(side: Sequence[TraceFile], options: ReadOptions, warnings: list[str]) -> dict[str, str]:
    """span_id → "success" / "failure" for the chosen annotation name, from the side's annotation files.
    The span pipeline also applies them to spans read as JSON Lines (Phoenix's REST span export)."""
    notes: dict[str, list[_Note]] = defaultdict(list)
    first: TraceFile | None = None
    for other in side:
        if not auxiliary(other):
            continue
        first = first or other
        for location, row, kind in _records(other, warnings):
            if kind not in _NOTES:
                raise registry.reader_error(other, location, f"{NAME}: a span in a file of span annotations")
            name, note = _note(other, location, row, kind)
            notes[name].append(note)
    chosen = native.choose_score(first or side[0], notes, options.outcome_annotation, "annotation", NAME)
    if chosen is None:
        return {}
    explicit = options.score_threshold is not None
    threshold = options.score_threshold if explicit else 1.0
    verdicts: dict[str, str] = {}
    for span_id, label, score, other, location in notes[chosen]:
        verdict = _verdict(label, score, threshold, explicit)
        if verdict is None:
            raise registry.reader_error(other, location,
                                        f"{NAME} annotation {chosen!r}: label {native.show(label)} is not a "
                                        "pass/fail word and there is no score",
                                        hint="give annotations a score, or labels such as correct/incorrect")
        if verdicts.get(span_id) != "failure":  # every annotator must pass
            verdicts[span_id] = verdict
    return verdicts


def _note(tf: TraceFile, location: str, row: dict, kind: str) -> tuple[str, _Note]:
    fail = _fail(tf, location, "annotation")
    if kind == NOTE_FRAME:
        name, label, score = row.get("annotation_name"), row.get("result.label"), row.get("result.score")
    else:
        result = row["result"]
        name, label, score = row.get("name"), result.get("label"), result.get("score")
    span_id = native.text(row.get("span_id"), "span_id", fail)
    name = native.text(name, "name", fail)
    if not span_id or not name:
        raise fail("no span_id or no annotation name")
    label = native.text(label, "label", fail)
    return name, (span_id, label, native.score(score, "score", fail), tf, location)


def _verdict(label: str | None, score: float | None, threshold: float, explicit: bool) -> str | None:
    """The annotation's verdict: an outcome-word label, else the score against the threshold (the score
    first when the user set the threshold); None when neither says."""
    by_score = None if score is None else "success" if score >= threshold else "failure"
    word = native.label_score(label)
    by_label = None if word is None else "success" if word else "failure"
    return (by_score or by_label) if explicit else (by_label or by_score)


# --- spans -----------------------------------------------------------------------------------------

def _span(tf: TraceFile, location: str, row: dict, kind: str) -> dict:
    """The OpenInference span object of one exported span, its values checked."""
    fail = _fail(tf, location, "span")
    if kind == SPAN_FRAME:
        trace, span_id = row.get("context.trace_id"), row.get("context.span_id")
        attrs = {key[11:]: value for key, value in row.items()
                 if key.startswith("attributes.") and value is not None}
    else:
        trace, span_id = row["context"].get("trace_id"), row["context"].get("span_id")
        attrs = row.get("attributes")
        if attrs is None:
            attrs = {}
        if not isinstance(attrs, dict):
            raise fail(f"attributes is {native.show(attrs)}, not an object")
        attrs = dict(attrs)
    trace = native.text(trace, "context.trace_id", fail)
    span_id = native.text(span_id, "context.span_id", fail)
    if not trace or not span_id:
        raise fail("no context.trace_id or context.span_id")
    for key in _COUNTS:
        if key in attrs:
            attrs[key] = native.count(attrs[key], f"attributes.{key}", fail)
    if _COST in attrs:
        attrs[_COST] = native.amount(attrs[_COST], f"attributes.{_COST}", native.MAX_COST, fail)
    status = native.text(row.get("status_code"), "status_code", fail) or ""
    if status.upper() not in _STATUSES:
        raise fail(f"status_code is {native.show(status)}, not OK, ERROR or UNSET")
    start = _time_ns(row.get("start_time"), "start_time", fail)
    end = _time_ns(row.get("end_time"), "end_time", fail)
    if start is None:
        raise fail("no start_time")
    if end is not None and end < start:
        raise fail("end_time is before start_time")
    return {"context": {"trace_id": trace, "span_id": span_id},
            "parent_id": native.text(row.get("parent_id"), "parent_id", fail) or None,
            "name": native.text(row.get("name"), "name", fail),
            "span_kind": native.text(row.get("span_kind"), "span_kind", fail),
            "start_ns": start, "end_ns": start if end is None else end,
            "status_code": status.upper(),
            "status_message": native.text(row.get("status_message"), "status_message", fail),
            "attributes": attrs}


def _time_ns(value: object, what: str, fail: native.Fail) -> int | None:
    """Exact nanoseconds since the epoch of an epoch number (unit by magnitude) or ISO 8601 text."""
    if value is None or isinstance(value, str):
        return native.iso_ns(value, what, fail)
    if value.__class__ not in (int, float) or not 0 < value < 9.2e18 or value != value:
        raise fail(f"{what} is {native.show(value)}, not an epoch time or ISO 8601 text")
    factor = next((f for bound, f in _UNITS if value < bound), 1)
    return int(Decimal(repr(value)) * factor) if value.__class__ is float else value * factor
