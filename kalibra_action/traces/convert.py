"""`convert`: the objects a file's reader hands the pipelines, written as JSON Lines.

This shows what a native reader made of a tool's file, and the output reads back to the same numbers: a
flat pipeline's objects are Kalibra flat traces, a span pipeline's are span lines in that span format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from kalibra_action.errors import InputError
from kalibra_action.traces.registry import (
    ReadOptions,
    file_formats,
    object_source,
    pipeline_of,
    resolve_trace_files,
)

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
    for tf in files:
        for _where, obj in objects(tf, sink):
            yield json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n"
