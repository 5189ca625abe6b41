"""Recognise other tools' files that reached a pipeline which cannot understand them.

A file of OTLP/JSON, a Phoenix dataframe or promptfoo rows parses as JSON Lines, so it would otherwise be
read as "flat" traces that hold nothing (every metric "no data", every gate vacuous): a PASS on data
the tool did not understand. These signatures name what such a file looks like, from the keys of its
first objects, so the error can say which format (or which conversion) to use. They are checked only on
a sample of the objects, so reading a real flat file costs nothing extra.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

# (what the file looks like, test on one object, the native reader names that would read it)
Signature = tuple[str, Callable[[dict], bool], tuple[str, ...]]


def _keys(*names: str) -> Callable[[dict], bool]:
    return lambda obj: all(name in obj for name in names)


def _dataframe(obj: dict) -> bool:
    return "context.trace_id" in obj and any(k.startswith("attributes.") for k in obj)


def _inspect_log(obj: dict) -> bool:
    return isinstance(obj.get("eval"), dict) and ("samples" in obj or "results" in obj or "status" in obj)


def _promptfoo_file(obj: dict) -> bool:
    return "evalId" in obj or (isinstance(obj.get("results"), dict) and "results" in obj["results"])


def _langfuse_page(obj: dict) -> bool:
    data = obj.get("data")
    return (isinstance(data, list) and isinstance(obj.get("meta"), dict)
            and any(isinstance(d, dict) and "traceId" in d for d in data[:5]))


def _span_page(obj: dict) -> bool:
    data = obj.get("data")
    return (isinstance(data, list) and bool(data) and isinstance(data[0], dict)
            and isinstance(data[0].get("context"), dict) and "trace_id" in data[0]["context"])


def _empty_page(obj: dict) -> bool:
    return obj.get("data") == [] and isinstance(obj.get("meta"), dict)


SIGNATURES: tuple[Signature, ...] = (
    ("OpenTelemetry OTLP/JSON (resourceSpans)", _keys("resourceSpans"), ("otlp", "otel", "otlp-json")),
    ("OpenTelemetry OTLP/JSON (resource_spans)", _keys("resource_spans"), ("otlp", "otel", "otlp-json")),
    ("OpenTelemetry OTLP/JSON logs (resourceLogs), not spans", _keys("resourceLogs"), ()),
    ("OpenTelemetry OTLP/JSON metrics (resourceMetrics), not spans", _keys("resourceMetrics"), ()),
    ("a Phoenix spans dataframe export (context.trace_id, attributes.* columns)", _dataframe,
     ("phoenix", "phoenix-dataframe", "openinference")),
    ("a Phoenix span annotations export (span_id, annotation_name)", _keys("span_id", "annotation_name"),
     ()),
    ("Phoenix span annotations (span_id, name, result)", _keys("span_id", "name", "result"), ()),
    ("an Inspect AI eval log (eval, samples)", _inspect_log, ("inspect",)),
    ("promptfoo results (evalId, results)", _promptfoo_file, ("promptfoo",)),
    ("promptfoo result rows (testIdx, promptIdx, gradingResult)", _keys("testIdx", "promptIdx"),
     ("promptfoo",)),
    ("LangSmith runs (run_type, dotted_order)", _keys("run_type", "dotted_order"), ("langsmith",)),
    ("LangSmith runs (run_type, parent_run_id)", _keys("run_type", "parent_run_id"), ("langsmith",)),
    ("LangSmith feedback (key, score, run_id)", _keys("key", "score", "run_id"), ()),
    ("a Langfuse API page (data, meta)", _langfuse_page, ("langfuse",)),
    ("a page of OpenInference / Phoenix REST spans (data: [...]): list them as JSON Lines with "
     "`jq -c '.data[]' FILE > FILE.jsonl`", _span_page, ()),
    ("an empty Langfuse API page (data: [], meta): the export holds no observations", _empty_page, ()),
    ("Langfuse observations (traceId, type)", _keys("traceId", "type"), ("langfuse",)),
    ("Langfuse scores (traceId, name, dataType)", _keys("traceId", "name", "dataType"), ()),
    ("Langfuse traces (htmlPath, observations): export the trace's observations instead",
     _keys("htmlPath", "observations"), ()),
)

# Keys only Kalibra's flat traces carry: an object with one is not mistaken for another tool's (trace_id
# is not among them: LangSmith runs have it too).
_OWN_KEYS = ("outcome", "spans")


def looks_like(objects: Iterable[dict]) -> Signature | None:
    """The first signature that more than half of the objects match without carrying Kalibra's own keys
    (so a planted `outcome` line or two cannot make a foreign file pass as flat)."""
    sample = list(objects)
    foreign = [obj for obj in sample if not any(k in obj for k in _OWN_KEYS)]
    for signature in SIGNATURES:
        test = signature[1]
        if sum(1 for obj in foreign if test(obj)) * 2 > len(sample):
            return signature
    return None


def advice(signature: Signature, readers: Iterable[str]) -> str:
    """Which option reads such a file: a registered reader's --trace-format, else a conversion."""
    usable = [name for name in signature[2] if name in set(readers)]
    if usable:
        return f"read it with --trace-format {usable[0]} (config: format: {usable[0]})"
    return ("no reader here reads it as written: convert it to Kalibra flat JSONL (README 'Trace formats') "
            "or map its fields (fields: in kalibra.yml, --outcome, --cost, --duration ...)")


PEEK = 1 << 22  # characters of a file that is not JSON Lines read to tell whose records it holds

# Spans as JSON objects (Phoenix's REST API, OpenInference): read as JSON Lines when one a line, so no
# signature above; inside an array or a page they are named by this one.
SPAN_RECORDS: Signature = ("OpenInference / Phoenix REST spans (context.trace_id)",
                           lambda obj: isinstance(obj.get("context"), dict) and "trace_id" in obj["context"],
                           ("openinference",))
_PAGE_START = re.compile(r'\{\s*"data"\s*:\s*(?=\[)')


def records_in(text: str) -> tuple[str, str, list[dict]] | None:
    """For a file that is not JSON Lines, from its start: (what holds the records, the jq filter that
    lists them, the first records) for one JSON array (`json.dump(rows)`, `to_json(orient="records")`) or
    an API page whose `data` comes first (`{"data": [...], "next_cursor": ...}`); None otherwise."""
    start = text.lstrip("\ufeff \t\r\n")
    page = _PAGE_START.match(start)
    if page is not None:
        first = _first_element(start[page.end():])
        return ("an API page (data: [...])", ".data[]", [first]) if first is not None else None
    first = _first_element(start)
    return ("one JSON array", ".[]", [first]) if first is not None else None


def _first_element(text: str) -> dict | None:
    """The first element of the JSON array `text` opens, when it is an object."""
    if not text.startswith("["):
        return None
    try:
        first, _end = json.JSONDecoder().raw_decode(text[1:].lstrip())
    except (ValueError, RecursionError):
        return None
    return first if isinstance(first, dict) else None
