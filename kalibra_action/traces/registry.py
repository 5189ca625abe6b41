"""Trace formats: the JSON Lines formats read today, and the native readers of other tools' files.

A native reader is one module in this package that turns a tool's own files (an Inspect log, OTLP/JSON,
promptfoo results...) into the objects one of the existing pipelines reads, so that every format shares
one reading, de-duplication and `where` path. Add its module to NATIVE_READERS below (order = sniff
order). The module exposes:

- NAME: str — the format's name, as given to `format:` / `--trace-format`;
- PIPELINE: str — "flat" (one Kalibra flat trace per object) or a span format ("openinference",
  "otel-genai": one span per object, grouped by context.trace_id across files);
- sniff(tf, head: bytes) -> bool — whether the file is this format, from its name and first bytes
  (cheap; never decode the file as UTF-8 lines: a `.eval` log is a ZIP);
- objects(tf, options: ReadOptions, warnings) -> Iterator[(location, object)] — the normalised
  objects, each with where it came from ("samples/3_epoch_2.json", "line 17") for error messages;
  raise reader_error(tf, location, why) on input it cannot read;
- describe() -> str (optional) — the mapping it uses, shown by `inspect`;
- SELECTORS: tuple[str, ...] (optional, flat readers) — metadata paths that tell populations apart
  (providers, prompts, experiments): one side must hold one value of each (traces/selectors.py);
- joined_objects(tf, side: Side, options, warnings) (optional, instead of objects) — for a tool whose
  records are split over files that must be joined (runs and their feedback, spans of one trace in two
  files): `side` holds every file of the side that this reader claimed (side.once() works out the join a
  single time for all of them), and a file that only feeds the join (feedback) yields nothing and says so
  with auxiliary(tf) -> bool, so that it is not reported as a file without traces;
- JOINS: tuple[str, ...] (optional, with auxiliary) — the formats whose files an auxiliary file joins
  (default: the reader's own); an auxiliary file on a side without one of them is an error, not ignored;
- TITLE: str (optional) — the format as a person names it ("LangSmith"), for messages;
- explain_empty(tf) -> str | None (optional) — what a file it recognised but got no traces from is and
  what is missing ("this looks like LangSmith feedback only: give the runs export too"), for the error.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Protocol

from kalibra_action.errors import InputError
from kalibra_action.paths import Roots
from kalibra_action.traces import inspect_log, langfuse, langsmith, otlp, phoenix, promptfoo
from kalibra_action.traces.detect import JSONL_FORMATS, sniff_all
from kalibra_action.traces.selectors import SelectorCheck
from kalibra_action.traces.source import (
    Objects,
    ObjectSource,
    TraceFile,
    is_jsonl_name,
    iter_objects,
    open_binary,
    resolve_files,
)
from kalibra_action.traces.where import Matcher

AUTO = "auto"
HEAD_BYTES = 4096
DURATION_UNITS = ("s", "ms", "us", "ns")
SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}

# The native readers, in sniff order: one line per reader module.
NATIVE_READERS: list[ModuleType] = [
    inspect_log,
    otlp,
    promptfoo,
    langsmith,
    langfuse,
    phoenix,
]


@dataclass(frozen=True)
class ReadOptions:
    """Format-specific choices a user makes (config `read:`, CLI flags); None = the reader's default."""

    scorer: str | None = None  # Inspect: which scorer's value is the outcome
    score_threshold: float | None = None  # a numeric score at or above it is a pass
    outcome_annotation: str | None = None  # Phoenix/Langfuse/LangSmith: the annotation/score name
    duration_unit: str | None = None  # s | ms | us | ns, for durations given as bare numbers

    def merge(self, other: ReadOptions | None) -> ReadOptions:
        """These options with every choice `other` sets taking precedence."""
        if other is None:
            return self
        return ReadOptions(**{k: v if v is not None else getattr(self, k)
                              for k, v in vars(other).items()})


@dataclass(eq=False)
class Side:
    """The files of one side that one reader claimed, and what the reader worked out once from all of them
    (a join's index): reading each of N files must not read the whole side again, N² in all."""

    files: tuple[TraceFile, ...]
    _memo: dict[str, object] = field(default_factory=dict, repr=False)

    def __iter__(self) -> Iterator[TraceFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> TraceFile:
        return self.files[index]

    def once(self, key: str, compute: Callable[[], object]) -> object:
        """compute() the first time `key` is asked for on this side, the same value after."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


class Reader(Protocol):
    """What a native reader module provides (see the module docstring)."""

    NAME: str
    PIPELINE: str

    def sniff(self, tf: TraceFile, head: bytes) -> bool: ...

    def objects(self, tf: TraceFile, options: ReadOptions,
                warnings: list[str]) -> Iterator[tuple[str, dict]]: ...


def format_names() -> tuple[str, ...]:
    """Every format a user may name: the JSON Lines ones, then the native readers'."""
    return (*JSONL_FORMATS, *(r.NAME for r in NATIVE_READERS))


def choices() -> tuple[str, ...]:
    """The allowed values of `format:` / `--trace-format`."""
    return (AUTO, *format_names())


def get_reader(name: str) -> Reader | None:
    return next((r for r in NATIVE_READERS if name == r.NAME), None)


@contextmanager
def register(reader: Reader, *, first: bool = True) -> Iterator[Reader]:
    """Register a reader for the duration of the block (tests, plug-ins); first = sniffed before the rest."""
    NATIVE_READERS.insert(0 if first else len(NATIVE_READERS), reader)
    try:
        yield reader
    finally:
        NATIVE_READERS.remove(reader)


def check_format(fmt: str | None) -> str | None:
    """None for auto-detection, else the validated format name."""
    if fmt is None or fmt == AUTO:
        return None
    if fmt not in format_names():
        raise InputError(f"unknown trace format {fmt!r}; use {', '.join(choices())}")
    return fmt


def head(tf: TraceFile) -> bytes:
    """The first HEAD_BYTES of a file (decompressed for .gz), for sniffing."""
    try:
        with open_binary(tf) as f:
            return f.read(HEAD_BYTES)
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt .gz: a BadGzipFile (OSError) or a zlib.error
        raise InputError(f"cannot read: {exc}", file=tf.name) from None


def sniff_native(tf: TraceFile) -> Reader | None:
    """The first native reader that claims the file, else None (a JSON Lines format, detected later)."""
    if not NATIVE_READERS:
        return None
    start = head(tf)
    return next((r for r in NATIVE_READERS if r.sniff(tf, start)), None)


def claimed_by(tf: TraceFile) -> list[str]:
    """The native readers that would read the file (for advice when it was read otherwise)."""
    if not NATIVE_READERS:
        return []
    start = head(tf)
    return [r.NAME for r in NATIVE_READERS if r.sniff(tf, start)]


def is_trace_file(tf: TraceFile) -> bool:
    """Whether a file found in a directory is a trace file: named as JSON Lines, or claimed by a reader."""
    return is_jsonl_name(tf) or bool(claimed_by(tf))


def resolve_trace_files(paths: Sequence[str], base_dir: Path | None = None,
                        roots: Roots | None = None) -> list[TraceFile]:
    """resolve_files, where a directory stands for the trace files in it (see is_trace_file)."""
    return resolve_files(paths, base_dir, roots, accept=is_trace_file)


def reader_error(tf: TraceFile, location: str, message: str, hint: str | None = None) -> InputError:
    """An InputError naming the file and the place in it (a member, a record, a line)."""
    return InputError(f"{location}: {message}", file=tf.name, hint=hint)


def objects_of(reader: Reader, options: ReadOptions, side: Side | None = None) -> ObjectSource:
    """An `objects(tf, warnings)` function for the pipelines: the reader's objects, each checked. `side`:
    the side's files this reader claimed, for a reader that joins records across them."""
    return partial(_checked_objects, reader, options, side)


def is_auxiliary(tf: TraceFile, fmt: str) -> bool:
    """Whether the file only feeds a join of its reader (it yields no traces of its own)."""
    reader = get_reader(fmt)
    auxiliary = getattr(reader, "auxiliary", None)
    return auxiliary is not None and bool(auxiliary(tf))


def span_verdicts(files: Sequence[TraceFile], formats: Sequence[str], options: ReadOptions,
                  warnings: list[str]) -> dict[str, str]:
    """span_id → outcome from the side's auxiliary files of readers that provide `span_verdicts` (Phoenix
    annotations), for span files read as JSON Lines; empty when the side has none."""
    verdicts: dict[str, str] = {}
    for name in sorted(set(formats)):
        reader = get_reader(name)
        provide = getattr(reader, "span_verdicts", None)
        side = [tf for tf, other in zip(files, formats, strict=True) if other == name]
        if provide is not None and any(is_auxiliary(tf, name) for tf in side):
            verdicts.update(provide(side, options, warnings))
    return verdicts


def title(fmt: str) -> str:
    """A format as a person names it: the reader's TITLE, else the format's name."""
    return getattr(get_reader(fmt), "TITLE", fmt)


def explain_empty(tf: TraceFile, fmt: str) -> str | None:
    """Why a file that a native reader recognised gave no traces, naming its format; None for a JSON Lines
    format (the generic message fits)."""
    reader = get_reader(fmt)
    if reader is None:
        return None
    explain = getattr(reader, "explain_empty", None)
    reason = explain(tf) if explain is not None else None
    named = title(fmt)
    what = f"{named} (format {fmt})" if named != fmt else f"the {fmt} format"
    return reason or f"this looks like {what}, but it holds no traces"


def check_joins(files: Sequence[TraceFile], formats: Sequence[str], joins: Sequence[bool]) -> None:
    """An auxiliary file (feedback, scores, annotations) whose reader finds nothing on the side to join it
    to would be dropped without a word: it is an error that names its format and what to add."""
    feeds = {name for name, join in zip(formats, joins, strict=True) if not join}
    for tf, name, join in zip(files, formats, joins, strict=True):
        if join and not feeds & set(getattr(get_reader(name), "JOINS", (name,))):
            raise InputError(explain_empty(tf, name) or "", file=tf.name)


def check_one_tool(files: Sequence[TraceFile], formats: Sequence[str], joins: Sequence[bool]) -> None:
    """A side holds one tool's traces: files that two native readers claimed (LangSmith runs beside a
    promptfoo export, or a file a reader mistook) would pool two tools' tasks and numbers unnoticed.
    JSON Lines files may join a tool's (Kalibra's own traces, a converted file)."""
    first: dict[str, TraceFile] = {}
    for tf, name, join in zip(files, formats, joins, strict=True):
        if not join and get_reader(name) is not None:
            first.setdefault(name, tf)
    if len(first) > 1:
        (one, a), (other, b) = list(first.items())[:2]
        raise InputError(f"one side mixes two tools' files: {a.name} ({title(one)}) and {b.name} "
                         f"({title(other)})",
                         hint="a side compares one tool's traces: give each tool its own comparison")


def _checked_objects(reader: Reader, options: ReadOptions, side: Side | None, tf: TraceFile,
                     warnings: list[str]) -> Iterator[tuple[str, dict]]:
    joined = getattr(reader, "joined_objects", None)
    objs = (joined(tf, side or Side((tf,)), options, warnings) if joined is not None
            else reader.objects(tf, options, warnings))
    for location, obj in objs:
        if obj.__class__ is not dict:
            raise reader_error(tf, str(location), f"the {reader.NAME} reader made a {type(obj).__name__}, "
                                                  "not an object")
        yield location, obj


def entry_sources(files: Sequence[TraceFile], formats: Sequence[str],
                  options: ReadOptions) -> dict[Path, Callable]:
    """file path → `entries(tf, warnings)` for the files whose reader hands the span pipeline ready-made
    span entries (`span_entries(tf, options, warnings)`, see traces/spans.py); a reader with SELECTORS or
    a join is read as objects."""
    out: dict[Path, Callable] = {}
    for tf, name in zip(files, formats, strict=True):
        reader = get_reader(name)
        entries = getattr(reader, "span_entries", None)
        if (entries is not None and not getattr(reader, "SELECTORS", ())
                and getattr(reader, "joined_objects", None) is None):
            out[tf.path] = partial(_entries_with_options, entries, options)
    return out


def _entries_with_options(entries: Callable, options: ReadOptions, tf: TraceFile,
                          warnings: list[str]) -> Iterator[list[tuple]]:
    return entries(tf, options, warnings)


def pipeline_of(fmt: str) -> str:
    """The pipeline a format's objects feed: itself for a JSON Lines format, the reader's for a native one."""
    reader = get_reader(fmt)
    return reader.PIPELINE if reader is not None else fmt



def file_formats(files: Sequence[TraceFile], fmt: str | None) -> list[str]:
    """Each file's format: the forced one, else the first native reader that claims it, else its JSON
    Lines format (detected from its first objects, across the JSON Lines files: see sniff_all)."""
    forced = check_format(fmt)
    if forced:
        return [forced] * len(files)
    native = [sniff_native(tf) for tf in files]
    jsonl = iter(sniff_all([tf for tf, r in zip(files, native, strict=True) if r is None], []))
    return [r.NAME if r is not None else next(jsonl) for r in native]


def object_source(files: Sequence[TraceFile], formats: Sequence[str], options: ReadOptions,
                  where: Sequence[Matcher] | None = None) -> ObjectSource:
    """One `objects(tf, warnings)` for all the files of one side: each native file through its reader, the
    rest as JSON Lines. With `where` (a load, not a conversion), a reader's SELECTORS must name one
    population among the objects `where` keeps (see traces/selectors.py)."""
    readers = {tf.path: reader for tf, name in zip(files, formats, strict=True)
               if (reader := get_reader(name)) is not None}
    if not readers:
        return iter_objects
    check = SelectorCheck(where) if where is not None else None
    side = {name: Side(tuple(tf for tf, other in zip(files, formats, strict=True) if other == name))
            for name in set(formats)}

    def objects(tf: TraceFile, warnings: list[str]) -> Objects:
        reader = readers.get(tf.path)
        if reader is None:
            return iter_objects(tf, warnings)
        objs = objects_of(reader, options, side[reader.NAME])(tf, warnings)
        return check.objects(reader, tf, objs) if check is not None else objs

    return objects
