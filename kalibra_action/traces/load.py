"""load_population: trace files of one side (paths or globs, .jsonl or .jsonl.gz) → one Population."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np

from kalibra_action.errors import InputError
from kalibra_action.limits import DEFAULT_LIMITS, Limits
from kalibra_action.paths import Roots
from kalibra_action.traces.detect import FLAT
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.flat import read_flat
from kalibra_action.traces.lookalike import PEEK, SPAN_RECORDS, Signature, advice, looks_like, records_in
from kalibra_action.traces.population import OUTCOME_UNKNOWN, Population, PopulationBuilder
from kalibra_action.traces.registry import (
    NATIVE_READERS,
    SECONDS_PER_UNIT,
    ReadOptions,
    check_joins,
    check_one_tool,
    claimed_by,
    entry_sources,
    explain_empty,
    file_formats,
    is_auxiliary,
    object_source,
    pipeline_of,
    resolve_trace_files,
    span_verdicts,
)
from kalibra_action.traces.sink import Sink, TraceHook
from kalibra_action.traces.source import TraceFile, iter_objects, open_text
from kalibra_action.traces.spans import FORMATS, read_span_files
from kalibra_action.traces.where import Matcher

_DEFAULT_FIELDS = FieldMap()
_DEFAULT_OPTIONS = ReadOptions()


def read_into(sink: Sink, files: Sequence[TraceFile], fmt: str | None, warnings: list[str],
              options: ReadOptions = _DEFAULT_OPTIONS, *, strict: bool = True) -> tuple[str, list[str]]:
    """Read the files into the sink (flat files in order, span files grouped per pipeline); the side's
    format and each file's.

    A file in another tool's format is read by its native reader (traces/registry.py) into the pipeline
    the reader names; the rest are JSON Lines.
    """
    formats = file_formats(files, fmt)
    if strict and sink.fields == _DEFAULT_FIELDS:  # mapped fields say how to read it; the data check stays
        _refuse_lookalikes(files, formats)
    pipelines = [pipeline_of(name) for name in formats]
    objects = object_source(files, formats, options, sink.where)
    # Whether each file only feeds a join (annotations, feedback): asked once, a reader may open the file.
    joins = [is_auxiliary(tf, name) for tf, name in zip(files, formats, strict=True)]
    if strict:  # `inspect` describes any mix of files it is given
        check_one_tool(files, formats, joins)
    check_joins(files, formats, joins)
    for tf, pipeline, join in zip(files, pipelines, joins, strict=True):
        if pipeline == FLAT:
            before = sink.total + sink.dup_traces
            read_flat(tf, sink, warnings, objects)
            if sink.total + sink.dup_traces == before and not join:
                warnings.append(f"{tf.name}: no traces in this file")
    verdicts = span_verdicts(files, formats, options, warnings) if FORMATS.keys() & set(pipelines) else None
    entries = entry_sources(files, formats, options)  # readers that hand the span pipeline span entries
    for span_fmt in FORMATS:
        # A file that only feeds a reader's join (annotations) holds no spans of its own.
        group = [tf for tf, pipeline, join in zip(files, pipelines, joins, strict=True)
                 if pipeline == span_fmt and not join]
        if group:
            sink.builder.start_file(span_fmt)
            read_span_files(group, span_fmt, sink, warnings, objects, verdicts, entries)
    # The format named is that of the files with traces; files that only feed a join do not mix it.
    distinct = sorted({name for name, join in zip(formats, joins, strict=True) if not join} or set(formats))
    return (distinct[0] if len(distinct) == 1 else "mixed"), formats


def load_population(paths: Sequence[str], *, label: str, fields: FieldMap = _DEFAULT_FIELDS,
                    where: Sequence[Matcher] = (), fmt: str | None = None,
                    base_dir: Path | None = None, on_trace: TraceHook | None = None,
                    roots: Roots | None = None, limits: Limits = DEFAULT_LIMITS,
                    options: ReadOptions = _DEFAULT_OPTIONS, strict: bool = True) -> Population:
    """Load one side. Raises InputError (file and line) on unreadable input, no traces, a `where` that
    keeps none, or a file past `limits`; recoverable problems (duplicates, bad numbers, a truncated last
    line) are warnings. With `roots`, every file must lie inside them (see resolve_trace_files). `options`
    are the format-specific choices the native readers take (traces/registry.py). `strict` (off only for
    `inspect`, which is there to find out) refuses data that was not understood (see _check_understood)."""
    files = [replace(tf, limits=limits) for tf in resolve_trace_files(paths, base_dir, roots)]
    names = tuple(tf.name for tf in files)
    warnings: list[str] = []
    builder = PopulationBuilder(label=label, files=names, filters=tuple(m.raw for m in where),
                                warnings=warnings)
    sink = Sink(builder, fields, where, on_trace,
                duration_scale=SECONDS_PER_UNIT[options.duration_unit or "s"])
    try:
        builder.format, formats = read_into(sink, files, fmt, warnings, options, strict=strict)
    except InputError as exc:  # an array or page of a tool's records, read as JSON Lines: name the tool
        named = next((tf for tf in files if tf.name == exc.file and not claimed_by(tf)), None)
        raise (named and _records_in_one_document(named)) or exc from None
    builder.total_before_filter = sink.total
    warnings.extend(sink.warnings())
    if sink.total == 0:
        raise _no_traces(files, formats)
    if len(builder) == 0:
        filters = "; ".join(m.raw for m in where)
        raise InputError(f"where matched 0 of {sink.total} traces (where: {filters})", key=label)
    pop = replace(builder.build(), task_sources=tuple(sink.task_sources.items()))
    del builder, sink
    release_free_memory()
    if strict:
        _check_understood(pop, files)
    return _warn_empty_traces(pop)


def _no_traces(files: Sequence[TraceFile], formats: Sequence[str]) -> InputError:
    """The error for a side without traces: a file a native reader recognised names its format and what is
    missing (feedback without its runs); else the generic one."""
    for tf, name in zip(files, formats, strict=True):
        reason = explain_empty(tf, name)
        if reason is not None:
            return InputError(reason, file=tf.name)
    names = [tf.name for tf in files]
    return InputError("no traces in " + ", ".join(names), file=names[0] if len(names) == 1 else None,
                      hint="each line must be one JSON object (a trace, or a span with context.trace_id)")


_SAMPLE = 20  # objects of a flat file compared with other tools' formats


def _sample(tf: TraceFile) -> list[dict]:
    """The first objects of a JSON Lines file (its warnings are told when the file is read)."""
    return [obj for _line, obj in islice(iter_objects(tf, []), _SAMPLE)]


def _foreign(tf: TraceFile, signature: Signature, what: str) -> InputError:
    """The error for a file in another tool's format: what it looks like and how to read it."""
    candidates = [*claimed_by(tf), *(r.NAME for r in NATIVE_READERS)]
    return InputError(f"looks like {signature[0]}, {what}", file=tf.name,
                      hint=advice(signature, candidates))


def _refuse_lookalikes(files: Sequence[TraceFile], formats: Sequence[str]) -> None:
    """A file read as flat whose objects look like another tool's format would load as empty traces and
    pass every gate vacuously: refuse it, naming the format it looks like."""
    for tf, name in zip(files, formats, strict=True):
        if name == FLAT:
            signature = looks_like(_sample(tf))
            if signature is not None:
                raise _foreign(tf, signature, "not Kalibra flat traces")


def _records_in_one_document(tf: TraceFile) -> InputError | None:
    """For a file that is one JSON array or API page of a tool's records (error path only): the error
    naming the tool, and the `jq` that makes the JSON Lines its reader takes."""
    try:
        with open_text(tf) as f:
            found = records_in(f.read(min(PEEK, tf.limits.max_line_bytes)))
    except (OSError, ValueError, InputError):
        return None
    if found is None:
        return None
    container, unwrap, records = found
    signature = looks_like(records) or (SPAN_RECORDS if all(SPAN_RECORDS[1](r) for r in records) else None)
    if signature is None:
        return None
    then = f", which the {signature[2][0]} reader reads" if signature[2] else ""
    return InputError(f"{container} of {signature[0]}, not JSON Lines", file=tf.name,
                      hint=f"convert it with `jq -c '{unwrap}' FILE > FILE.jsonl`{then}")


def _check_understood(pop: Population, files: Sequence[TraceFile]) -> None:
    """Refuse a side in which no trace has any value the metrics read (outcome, cost, tokens, duration,
    spans): whatever it was, it was not understood, and comparing it would report "no data" as a pass."""
    if _any_data(pop):
        return
    what = (f"none of its {len(pop):,} traces has an outcome, cost, tokens, duration or spans "
            f"(read as {pop.format})")
    for tf in files:
        signature = _lookalike(tf)
        if signature is not None:
            raise _foreign(tf, signature, what)
    single = pop.files[0] if len(pop.files) == 1 else None
    where = "" if single else f" in {', '.join(pop.files)}"
    raise InputError(f"{what}: the data was not understood{where}", file=single,
                     hint="check the format with `kalibra-action inspect FILE`; map the fields with "
                          "fields: or --outcome, --cost, --duration ...")


def _lookalike(tf: TraceFile) -> Signature | None:
    """What an unclaimed file looks like, if it is a known other format (error path only)."""
    if claimed_by(tf):
        return None
    try:
        return looks_like(_sample(tf))
    except InputError:
        return None


def _empty_traces(pop: Population) -> np.ndarray:
    """Per trace: True when it has no value any metric reads (cheap: one vector pass per column)."""
    empty = (pop.n_spans == 0) & (pop.outcome == OUTCOME_UNKNOWN)
    for column in (pop.cost, pop.input_tokens, pop.output_tokens, pop.duration):
        empty &= np.isnan(column)
    return empty


def _any_data(pop: Population) -> bool:
    return len(pop) == 0 or not _empty_traces(pop).all()


def _warn_empty_traces(pop: Population) -> Population:
    """The population, with a warning when some of its traces carry nothing the metrics read: they
    count in n but in no metric, which the reader should know."""
    empty = int(np.count_nonzero(_empty_traces(pop)))
    if not empty:
        return pop
    text = (f"{empty:,} of {len(pop):,} traces have no outcome, cost, tokens, duration or spans; "
            "they count in no metric (check the field mapping with `kalibra-action inspect`)")
    return replace(pop, warnings=(*pop.warnings, text))


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
