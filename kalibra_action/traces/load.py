"""load_population: trace files of one side (paths or globs, .jsonl or .jsonl.gz) → one Population."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from kalibra_action.errors import InputError
from kalibra_action.limits import DEFAULT_LIMITS, Limits
from kalibra_action.paths import Roots
from kalibra_action.traces.detect import FLAT
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.flat import read_flat
from kalibra_action.traces.population import Population, PopulationBuilder
from kalibra_action.traces.registry import (
    ReadOptions,
    file_formats,
    is_auxiliary,
    object_source,
    pipeline_of,
    span_verdicts,
)
from kalibra_action.traces.sink import Sink, TraceHook
from kalibra_action.traces.source import TraceFile, resolve_files
from kalibra_action.traces.spans import FORMATS, read_span_files
from kalibra_action.traces.where import Matcher

_DEFAULT_FIELDS = FieldMap()
_DEFAULT_OPTIONS = ReadOptions()


def read_into(sink: Sink, files: Sequence[TraceFile], fmt: str | None, warnings: list[str],
              options: ReadOptions = _DEFAULT_OPTIONS) -> str:
    """Read the files into the sink (flat files in order, span files grouped per pipeline); the format.

    A file in another tool's format is read by its native reader (traces/registry.py) into the pipeline
    the reader names; the rest are JSON Lines.
    """
    formats = file_formats(files, fmt)
    pipelines = [pipeline_of(name) for name in formats]
    objects = object_source(files, formats, options, sink.where)
    for tf, name, pipeline in zip(files, formats, pipelines, strict=True):
        if pipeline == FLAT:
            before = sink.total + sink.dup_traces
            read_flat(tf, sink, warnings, objects)
            if sink.total + sink.dup_traces == before and not is_auxiliary(tf, name):
                warnings.append(f"{tf.name}: no traces in this file")
    verdicts = span_verdicts(files, formats, options, warnings) if FORMATS.keys() & set(pipelines) else None
    for span_fmt in FORMATS:
        # A file that only feeds a reader's join (annotations) holds no spans of its own.
        group = [tf for tf, name, pipeline in zip(files, formats, pipelines, strict=True)
                 if pipeline == span_fmt and not is_auxiliary(tf, name)]
        if group:
            sink.builder.start_file(span_fmt)
            read_span_files(group, span_fmt, sink, warnings, objects, verdicts)
    # The format named is that of the files with traces; files that only feed a join do not mix it.
    distinct = sorted({name for tf, name in zip(files, formats, strict=True) if not is_auxiliary(tf, name)}
                      or set(formats))
    return distinct[0] if len(distinct) == 1 else "mixed"


def load_population(paths: Sequence[str], *, label: str, fields: FieldMap = _DEFAULT_FIELDS,
                    where: Sequence[Matcher] = (), fmt: str | None = None,
                    base_dir: Path | None = None, on_trace: TraceHook | None = None,
                    roots: Roots | None = None, limits: Limits = DEFAULT_LIMITS,
                    options: ReadOptions = _DEFAULT_OPTIONS) -> Population:
    """Load one side. Raises InputError (file and line) on unreadable input, no traces, a `where` that
    keeps none, or a file past `limits`; recoverable problems (duplicates, bad numbers, a truncated last
    line) are warnings. With `roots`, every file must lie inside them (see resolve_files). `options` are the
    format-specific choices the native readers take (traces/registry.py)."""
    files = [replace(tf, limits=limits) for tf in resolve_files(paths, base_dir, roots)]
    names = tuple(tf.name for tf in files)
    warnings: list[str] = []
    builder = PopulationBuilder(label=label, files=names, filters=tuple(m.raw for m in where),
                                warnings=warnings)
    sink = Sink(builder, fields, where, on_trace)
    builder.format = read_into(sink, files, fmt, warnings, options)
    builder.total_before_filter = sink.total
    warnings.extend(sink.warnings())
    if sink.total == 0:
        raise InputError("no traces in " + ", ".join(names), file=names[0] if len(names) == 1 else None,
                         hint="each line must be one JSON object (a trace, or a span with context.trace_id)")
    if len(builder) == 0:
        filters = "; ".join(m.raw for m in where)
        raise InputError(f"where matched 0 of {sink.total} traces (where: {filters})", key=label)
    pop = builder.build()
    del builder, sink
    release_free_memory()
    return pop


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc only; elsewhere a no-op).

    The builder's chunk arrays (under glibc's mmap threshold once it has grown) live on the heap; after
    build() frees them, glibc keeps those pages, and the process would carry them into the metrics.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None
