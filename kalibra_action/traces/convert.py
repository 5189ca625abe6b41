"""`convert`: the objects a file's reader hands the pipelines, written as JSON Lines.

This shows what a native reader made of a tool's file, and the output reads back to the same numbers: a
flat pipeline's objects are Kalibra flat traces, a span pipeline's are span lines in that span format.
Span files read as JSON Lines (Phoenix's REST spans) get the verdicts of the side's annotation files on
their root spans as `outcome`, as the span pipeline applies them when it loads the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from kalibra_action.errors import InputError
from kalibra_action.traces.registry import (
    ReadOptions,
    file_formats,
    get_reader,
    object_source,
    pipeline_of,
    resolve_trace_files,
    span_verdicts,
)
from kalibra_action.traces.spans import FORMATS

_DEFAULT_OPTIONS = ReadOptions()


def convert_lines(paths: Sequence[str], *, fmt: str | None = None, options: ReadOptions = _DEFAULT_OPTIONS,
                  base_dir: Path | None = None, warnings: list[str] | None = None) -> Iterator[str]:
    """One JSON line per normalised object of the files, in file order. The files must all feed one
    pipeline, so that the output is one format."""
    files = resolve_trace_files(paths, base_dir)
    formats = file_formats(files, fmt)
    pipelines = sorted({pipeline_of(name) for name in formats})
    if len(pipelines) > 1:
        raise InputError(f"the files feed different pipelines ({', '.join(pipelines)}); convert them "
                         "separately")
    objects = object_source(files, formats, options)
    sink = [] if warnings is None else warnings
    verdicts = span_verdicts(files, formats, options, sink) if pipelines[0] in FORMATS else {}
    for tf, name in zip(files, formats, strict=True):
        joins = bool(verdicts) and get_reader(name) is None  # a native reader joined its own already
        for _where, obj in objects(tf, sink):
            if joins:
                obj = with_verdict(obj, verdicts)
            yield json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n"


def with_verdict(span: dict, verdicts: dict[str, str]) -> dict:
    """A root span without an `outcome` of its own, with the verdict joined on its span id (spans.py
    reads a root's `outcome` first, then `verdicts`: the same order)."""
    if span.get("outcome") is not None or span.get("parent_id"):
        return span
    context = span.get("context")
    span_id = context.get("span_id") if isinstance(context, dict) else None
    if not isinstance(span_id, str) or span_id not in verdicts:
        return span
    return {**span, "outcome": verdicts[span_id]}
