"""Langfuse observations and scores (the public API's wire JSON: a page `{"data": [...], "meta": ...}`, or
one object a line) as Kalibra flat traces, the scores joined from any of the side's files.

One trace per root observation (no `parentObservationId`), with every observation of its `traceId` as a
span, from any file of the side (an export split over pages, files or a directory joins up):
- task: the root's `metadata.dataset_item_id` (or `datasetItemId`: the dataset item, in a dataset run),
  else the trace's name (`traceName`, else the root's `name`);
- outcome: the trace's scores of one name (the only name on the side, else `read: outcome_annotation` /
  `--scorer`; several and none chosen is an error listing them): mean `value` ≥ the threshold (default 1)
  passes; a root observation with `level` ERROR has no outcome and is an error span;
- tokens: the leaf observations' `usageDetails.input` / `.output` (or `usage`); cost: their
  `costDetails.total` (or `totalCost`); the root's own `totalCost`, a sum over its children, only when no
  leaf has any (so nothing is counted twice);
- duration: the root's `endTime` − `startTime`, else its `latency` (seconds);
- metadata: the root's `metadata`, `name`, `environment`, `release` (several releases on one side are an
  error, see SELECTORS) and `version`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from kalibra_action.traces import native, registry
from kalibra_action.traces.source import TraceFile, iter_objects

if TYPE_CHECKING:
    from kalibra_action.traces.registry import ReadOptions

NAME = "langfuse"
TITLE = "Langfuse"
PIPELINE = "flat"
SELECTORS = ("release",)

OBSERVATION, SCORE = "observation", "score"
_MAX_LATENCY_S = 1e8
_MARKERS = (b'"traceId"',)
_TASK_KEYS = ("dataset_item_id", "datasetItemId")


def describe() -> str:
    return ("Langfuse observations: one trace per root observation; task = metadata.dataset_item_id, else "
            "the trace name; outcome = the trace's score (one name; read: outcome_annotation to choose) >= "
            "score_threshold (1); level ERROR = an error with no outcome; tokens/cost from the leaf "
            "observations (the root's totalCost otherwise); duration = endTime - startTime (else latency, s)")


def record_kind(row: dict) -> str | None:
    """Which Langfuse API object a JSON object is."""
    if "traceId" not in row:
        return None
    if "startTime" in row and "type" in row:
        return OBSERVATION
    if "name" in row and "value" in row and ("dataType" in row or "source" in row):
        return SCORE
    return None


def sniff(tf: TraceFile, head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{") or not any(marker in text for marker in _MARKERS):
        return False
    if native.is_pretty_document(tf):  # a page; its first item lies in the head
        start = text.find(b"[")
        return text[:start].replace(b" ", b"").replace(b"\n", b"") == b'{"data":' and _page_head(text[start:])
    row = native.first_row(tf)
    return row is not None and _kind_of_line(row) is not None


def _page_head(items: bytes) -> bool:
    """Whether the first item of a pretty page carries an observation's or a score's keys."""
    first = items.split(b"}", 1)[0]
    return b'"traceId"' in first and (b'"startTime"' in first or b'"dataType"' in first)


def _kind_of_line(row: dict) -> str | None:
    data = row.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return record_kind(data[0])
    return record_kind(row)


def auxiliary(tf: TraceFile) -> bool:
    """Score files only feed the join."""
    if native.is_pretty_document(tf):
        head = registry.head(tf)
        first = head[head.find(b"["):].split(b"}", 1)[0]
        return b'"dataType"' in first and b'"startTime"' not in first
    row = native.first_row(tf)
    return row is not None and _kind_of_line(row) == SCORE


def explain_empty(tf: TraceFile) -> str | None:
    """What a Langfuse file without traces holds, and what to give with it."""
    if auxiliary(tf):
        return (f"this looks like {TITLE} scores only (no observations on this side): give the observations "
                "export too (a side's files are joined: e.g. path: \"lf/baseline.*\")")
    return (f"this looks like {TITLE} observations, but no root observation (one without "
            "parentObservationId) on this side: give the whole export")


def objects(tf: TraceFile, options: ReadOptions, warnings: list[str]) -> Iterator[tuple[str, dict]]:
    return joined_objects(tf, registry.Side((tf,)), options, warnings)


def joined_objects(tf: TraceFile, side: registry.Side, options: ReadOptions,
                   warnings: list[str]) -> Iterator[tuple[str, dict]]:
    """The traces whose root observation is in `tf`, with their observations and scores from any file of
    the side (joined once for the whole side)."""
    join = side.once(NAME, lambda: _Join(side, options, warnings))
    for position, trace, root, group in join.traces.get(tf.path, ()):
        yield root[1], _trace(root, group, join.scores.get(trace, []), join.threshold, position)


class _Join:
    """The side's observations grouped into traces (by the file of their root), and its scores."""

    def __init__(self, side: Sequence[TraceFile], options: ReadOptions, warnings: list[str]) -> None:
        observations: list[native.Record] = []
        scores: list[native.Record] = []
        for other in side:
            for location, row, kind in _records(other, warnings):
                (observations if kind == OBSERVATION else scores).append((other, location, row))
        self.traces: dict[object, list] = defaultdict(list)
        if not observations:
            return
        for other, location, row in scores:
            if not isinstance(row.get("name"), str):
                shown = native.show(row.get("name"))
                raise registry.reader_error(other, location, f"{NAME} score: name is {shown}, not text")
        name = native.choose_score(side[0], (row["name"] for _, _, row in scores),
                                   options.outcome_annotation or options.scorer, "score name", NAME)
        if name is None:
            warnings.append(f"{native.files_named(observations)}: no {NAME} scores among the side's files, "
                            "so no trace has an outcome (give the scores file too)")
        self.threshold = native.score_threshold(options)
        self.scores = _scores(scores, name)
        if self.scores and not any(row.get("traceId") in self.scores for _, _, row in observations):
            warnings.append(f"{native.files_named(scores)}: no {NAME} score named {name!r} refers to a trace "
                            "of this side (scores of another project?); no trace has an outcome")
        for position, trace, root, group in native.rooted_traces(
                observations, trace_key="traceId", is_root=_is_top, what=f"{NAME} observation",
                warnings=warnings, several_roots=True):
            self.traces[root[0].path].append((position, trace, root, group))


def _records(tf: TraceFile, warnings: list[str]) -> Iterator[tuple[str, dict, str]]:
    """(location, object, kind) of every observation and score in a file: the items of a page, or lines
    (each an object or a page)."""
    if native.is_pretty_document(tf):
        yield from _page(tf, native.document(tf, f"{NAME} page"), "")
        return
    for line_no, row in iter_objects(tf, warnings):
        if isinstance(row.get("data"), list):
            yield from _page(tf, row, f"line {line_no}: ")
            continue
        kind = record_kind(row)
        if kind is None:
            raise registry.reader_error(tf, f"line {line_no}", f"not a {NAME} observation or score (no "
                                                               "traceId with startTime/type or name/value)")
        yield f"line {line_no}", row, kind


def _page(tf: TraceFile, page: dict, prefix: str) -> Iterator[tuple[str, dict, str]]:
    items = page.get("data")
    if not isinstance(items, list):
        raise registry.reader_error(tf, f"{prefix}{NAME} page", "no data list")
    for i, item in enumerate(items):
        location = f"{prefix}data[{i}]"
        kind = record_kind(item) if isinstance(item, dict) else None
        if kind is None:
            raise registry.reader_error(tf, location, f"not a {NAME} observation or score")
        yield location, item, kind


def _scores(scores: list[native.Record], name: str | None) -> dict[str, list[float]]:
    """traceId → the values of the chosen score name: numeric `value` (booleans count as 1/0); for a
    CATEGORICAL score, or one without a value, a `stringValue` that is a pass / fail word (correct,
    incorrect ...) counts as 1 / 0, since the category's number depends on a score config."""
    out: dict[str, list[float]] = defaultdict(list)
    for other, location, row in scores:
        if row["name"] != name:
            continue

        def fail(message: str, other: TraceFile = other, location: str = location) -> Exception:
            return registry.reader_error(other, location, f"{NAME} score: {message}")

        value = native.label_score(row.get("stringValue"))
        if value is None or (row.get("dataType") != "CATEGORICAL" and row.get("value") is not None):
            value = native.score(row.get("value"), f"value of {name!r}", fail)
        if value is not None and isinstance(row.get("traceId"), str):
            out[row["traceId"]].append(value)
    return out


def _is_top(row: dict) -> bool:
    return not row.get("parentObservationId")


def _trace(root_at: native.Record, group: list[native.Record], scores: list[float], threshold: float,
           position: int) -> dict:
    """One trace: its root observation, or, when the trace has several top-level observations (SDK v2
    traces often hold generations right under the trace), all of them together: the run spans them
    (first start to last end), ended in an error when one of them did, and its task and metadata come
    from the first that names them."""
    tf, location, root = root_at
    tops = [record for record in group if _is_top(record[2])]

    def fail(message: str) -> Exception:
        return registry.reader_error(tf, location, f"{NAME} observation: {message}")

    task, metadata = _task(tops, fail)
    errored = next((row for _, _, row in tops if row.get("level") == "ERROR"), None)
    spans, leaf_values = _spans(group)
    start, end, latency = _extent(tops)
    meta = dict(metadata)
    meta.update({"name": root.get("name"), "environment": root.get("environment"),
                 "release": root.get("release"), "version": root.get("version")})
    if errored is not None:
        meta["error"] = str(errored.get("statusMessage") or "ERROR")[:500]
    run_id = native.text(root.get("id") if len(tops) == 1 else root.get("traceId"), "id", fail) or "obs"
    trace = {
        "trace_id": native.trace_id(tf, task, run_id.replace("_", "-"), position, registry.reader_error),
        "outcome": None if errored is not None else native.score_outcome(scores, threshold),
        "spans": spans,
        "metadata": meta,
    }
    if start is not None and end is not None and end >= start:
        trace["start_ns"], trace["end_ns"] = start, end
    elif latency is not None:
        trace["duration_s"] = latency
    sums = [_values(row, _fail(other, where)) for other, where, row in tops]  # checked even when unused
    if not leaf_values:
        trace.update({key: _total(part[key] for part in sums) for key in sums[0]})
    return trace


def _fail(tf: TraceFile, location: str):
    def fail(message: str) -> Exception:
        return registry.reader_error(tf, location, f"{NAME} observation: {message}")
    return fail


def _task(tops: list[native.Record], fail) -> tuple[str, dict]:
    """The task (dataset item id, else trace name, else name) and metadata of the first top-level
    observation that has them."""
    for _, _, row in tops:
        metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
        item = next((metadata[k] for k in _TASK_KEYS if isinstance(metadata.get(k), str)), None)
        if item:
            return item, metadata
    for _, _, row in tops:
        named = native.text(row.get("traceName"), "traceName", fail)
        named = named or native.text(row.get("name"), "name", fail)
        if named:
            metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
            return named, metadata
    raise fail("no metadata.dataset_item_id and no trace name: nothing tells which task this is")


def _extent(tops: list[native.Record]) -> tuple[int | None, int | None, float | None]:
    """(first start, last end) over the top-level observations, None when one lacks a time; and the
    latency of a lone top-level observation (seconds), for when it lacks a time. Each value is checked."""
    starts, ends, latencies = [], [], []
    for other, where, row in tops:
        fail = _fail(other, where)
        starts.append(native.iso_ns(row.get("startTime"), "startTime", fail))
        ends.append(native.iso_ns(row.get("endTime"), "endTime", fail))
        latencies.append(native.amount(row.get("latency"), "latency", _MAX_LATENCY_S, fail))
    latency = latencies[0] if len(tops) == 1 else None
    if None in starts or None in ends:
        return None, None, latency
    return min(starts), max(ends), latency


def _total(values) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def _values(obs: dict, fail) -> dict:
    """Tokens and cost an observation reports itself: `usageDetails` / `costDetails` (Langfuse ≥ 2.5x),
    else the deprecated `usage` and `calculatedTotalCost` that older servers return (and still fill)."""
    details, usage = _object(obs, "usageDetails", fail), _object(obs, "usage", fail)
    tokens = {key: next((value for value in (details.get(key), usage.get(key)) if value is not None), None)
              for key in ("input", "output")}
    return {"input_tokens": native.count(tokens["input"], "usageDetails.input", fail),
            "output_tokens": native.count(tokens["output"], "usageDetails.output", fail),
            "cost": _cost(obs, usage, fail)}


def _cost(obs: dict, usage: dict, fail) -> float | None:
    """costDetails.total, else the sum of its cost types (Langfuse sums them when no total is given),
    else calculatedTotalCost, usage.totalCost, totalCost; None when the observation has none."""
    details = _object(obs, "costDetails", fail)
    if details.get("total") is None and details:
        parts = [native.amount(value, f"costDetails.{key}", native.MAX_COST, fail, decimal_text=True)
                 for key, value in details.items()]
        return sum(part for part in parts if part is not None)
    for what, value in (("costDetails.total", details.get("total")),
                        ("calculatedTotalCost", obs.get("calculatedTotalCost")),
                        ("usage.totalCost", usage.get("totalCost")), ("totalCost", obs.get("totalCost"))):
        if value is not None:
            return native.amount(value, what, native.MAX_COST, fail, decimal_text=True)
    return None


def _object(obs: dict, key: str, fail) -> dict:
    """An optional object field ({} when absent or null)."""
    value = obs.get(key)
    if value is not None and not isinstance(value, dict):
        raise fail(f"{key} is a {native.kind(value)}, not an object")
    return value or {}


def _spans(group: list[native.Record]) -> tuple[list[dict], bool]:
    """Every observation of the trace as a span; tokens and cost on the leaves only (a parent's are sums)."""
    parents = {row.get("parentObservationId") for _, _, row in group}
    spans, leaf_values = [], False
    for tf, location, obs in group:
        def fail(message: str, tf: TraceFile = tf, location: str = location) -> Exception:
            return registry.reader_error(tf, location, f"{NAME} observation: {message}")

        span_id = native.text(obs.get("id"), "id", fail)
        span = {"span_id": span_id, "parent_id": obs.get("parentObservationId") or None,
                "name": native.text(obs.get("name"), "name", fail) or obs.get("type"),
                "error": obs.get("level") == "ERROR"}
        start = native.iso_ns(obs.get("startTime"), "startTime", fail)
        end = native.iso_ns(obs.get("endTime"), "endTime", fail)
        native.amount(obs.get("latency"), "latency", _MAX_LATENCY_S, fail)  # checked, though times win
        if start is not None:
            span["start_ns"], span["end_ns"] = start, end if end is not None and end >= start else start
        if span_id not in parents:
            values = _values(obs, fail)
            leaf_values = leaf_values or any(v is not None for v in values.values())
            span.update(values)
        spans.append(span)
    return spans, leaf_values
