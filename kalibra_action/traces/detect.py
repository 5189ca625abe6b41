"""Trace format auto-detection from the first JSON objects of a file."""

from __future__ import annotations

from kalibra_action.traces import openinference, otel_genai
from kalibra_action.traces.source import TraceFile, iter_objects

FLAT = "flat"
JSONL_FORMATS = (FLAT, openinference.NAME, otel_genai.NAME)  # the formats detected from JSON Lines
SAMPLE_SIZE = 100


def detect_format(items: list[dict]) -> str:
    """OpenInference if any item has its signals, else OTel GenAI, else flat (the fallback)."""
    if any(openinference.detect(item) for item in items):
        return openinference.NAME
    if any(otel_genai.detect(item) for item in items):
        return otel_genai.NAME
    return FLAT


def _looks_like_spans(items: list[dict]) -> bool:
    return bool(items) and all(isinstance(i.get("context"), dict) and "trace_id" in i["context"]
                               and "trace_id" not in i for i in items)


def sniff(tf: TraceFile, warnings: list[str]) -> str:
    """The format of one file, judged from its first SAMPLE_SIZE objects."""
    return detect_format(_sample(tf, warnings))


def _sample(tf: TraceFile, warnings: list[str]) -> list[dict]:
    items: list[dict] = []
    for _line_no, row in iter_objects(tf, warnings):
        items.append(row)
        if len(items) >= SAMPLE_SIZE:
            break
    return items


def sniff_all(files: list[TraceFile], warnings: list[str]) -> list[str]:
    """Per-file formats. A file with bare spans (context.trace_id, no format signals) takes the span
    format of the other files when they agree on one, so a trace split across files stays one trace."""
    samples = [_sample(tf, warnings) for tf in files]
    formats = [detect_format(items) for items in samples]
    span_formats = set(formats) - {FLAT}
    if len(span_formats) == 1:
        adopted = span_formats.pop()
        formats = [adopted if fmt == FLAT and _looks_like_spans(items) else fmt
                   for fmt, items in zip(formats, samples, strict=True)]
    return formats

