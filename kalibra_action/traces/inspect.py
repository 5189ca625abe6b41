"""inspect_paths: what a set of trace files holds, and which field mapping would fit it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kalibra_action.traces import openinference, otel_genai
from kalibra_action.traces.attrs import flatten
from kalibra_action.traces.fields import FIELD_NAMES, FieldMap, classify_outcome, text_form
from kalibra_action.traces.load import load_population
from kalibra_action.traces.population import OUTCOME_UNKNOWN, Population

# Keys a flat trace line reads itself; everything else there is metadata.
_FLAT_KNOWN = frozenset({"trace_id", "outcome", "metadata", "spans", "cost", "input_tokens", "output_tokens",
                         "model", "start_time", "end_time", "duration_s", "start_ns", "end_ns", "error",
                         "name", "span_id", "parent_id", "attributes"})
_SKIP = {openinference.NAME: openinference.METADATA_SKIP, otel_genai.NAME: otel_genai.METADATA_SKIP}
_MAX_EXAMPLES = 5
_NUMERIC = ("cost", "input_tokens", "output_tokens", "duration")
_MAX_DISTINCT = 10_000

# Metadata key names (last dotted part, lower case) that usually hold each field.
_NAME_HINTS: dict[str, re.Pattern[str]] = {
    "task_id": re.compile(r"(task|task_?id|task_?name|problem_?id|instance_?id|example_?id|question_?id|"
                          r"test_?case|scenario|case_?id|sample_?id|id)$"),
    "outcome": re.compile(r"(outcome|status|result|success|passed|pass|resolved|correct|label)$"),
    "cost": re.compile(r"(cost|total_?cost|cost_?usd|usd|price)$"),
    "input_tokens": re.compile(r"(input_?tokens|prompt_?tokens|tokens_?in)$"),
    "output_tokens": re.compile(r"(output_?tokens|completion_?tokens|tokens_?out)$"),
    "duration": re.compile(r"(duration|duration_?s|latency|latency_?s|elapsed|elapsed_?s|runtime)$"),
}


@dataclass(frozen=True)
class Coverage:
    """How many traces have a value for a field."""

    count: int
    share: float


@dataclass(frozen=True)
class MetadataKey:
    """One metadata key across traces: how often it is set, how many distinct values, examples."""

    key: str
    count: int
    share: float
    distinct: int  # capped at 10,000
    examples: tuple[str, ...]


@dataclass(frozen=True)
class InspectReport:
    files: tuple[str, ...]
    format: str
    n_traces: int
    n_spans: int
    coverage: dict[str, Coverage]  # per canonical field (FIELD_NAMES)
    metadata: dict[str, MetadataKey]  # by key, most common first
    suggestions: dict[str, str] = field(default_factory=dict)  # FieldMap entries: field → dot path
    warnings: tuple[str, ...] = ()

    @property
    def suggested_fields(self) -> FieldMap:
        return FieldMap(**self.suggestions)


class _KeyStats:
    __slots__ = ("count", "numeric", "outcome_like", "values")

    def __init__(self) -> None:
        self.count = 0
        self.values: dict[str, None] = {}
        self.numeric = 0
        self.outcome_like = 0

    def add(self, value: object) -> None:
        self.count += 1
        if len(self.values) < _MAX_DISTINCT:
            self.values.setdefault(text_form(value)[:80], None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.numeric += 1
        if classify_outcome(value) != OUTCOME_UNKNOWN:
            self.outcome_like += 1


def _flat_metadata(row: dict) -> dict:
    out: dict = {}
    meta = row.get("metadata")
    if isinstance(meta, dict):
        flatten(meta, "", out)
    extras = {k: v for k, v in row.items() if k not in _FLAT_KNOWN}
    flatten(extras, "", out)
    attrs = row.get("attributes")
    if isinstance(attrs, dict):
        flatten(attrs, "", out)
    return out


def _coverage(pop: Population) -> dict[str, Coverage]:
    n = len(pop)
    task_ids = np.array(pop.task_names, dtype=object)[pop.task] if n else np.array([], dtype=object)
    trace_ids = pop.trace_id.to_array()
    counts = {
        "trace_id": int(np.count_nonzero(trace_ids != "")),
        "task_id": int(np.count_nonzero(task_ids != trace_ids)),
        "outcome": int(np.count_nonzero(pop.outcome != OUTCOME_UNKNOWN)),
        "cost": int(np.count_nonzero(~np.isnan(pop.cost))),
        "input_tokens": int(np.count_nonzero(~np.isnan(pop.input_tokens))),
        "output_tokens": int(np.count_nonzero(~np.isnan(pop.output_tokens))),
        "duration": int(np.count_nonzero(~np.isnan(pop.duration))),
    }
    return {name: Coverage(counts[name], counts[name] / n if n else 0.0) for name in FIELD_NAMES}


def _suggest(keys: dict[str, _KeyStats], n: int, coverage: dict[str, Coverage]) -> dict[str, str]:
    """Metadata keys that look like a field the traces do not already fill."""
    out: dict[str, str] = {}
    ranked = sorted(keys.items(), key=lambda kv: (-kv[1].count, kv[0]))
    for name, pattern in _NAME_HINTS.items():
        if name != "task_id" and coverage[name].share >= 1.0:
            continue
        for key, stats in ranked:
            last = key.rsplit(".", 1)[-1].lower()
            if not pattern.fullmatch(last) or stats.count < 0.5 * n:
                continue
            if name == "task_id" and not 1 < len(stats.values) < stats.count:
                continue  # a task id repeats across traces, but not one value for all
            if name == "outcome" and stats.outcome_like < 0.9 * stats.count:
                continue
            if name in _NUMERIC and stats.numeric < 0.9 * stats.count:
                continue
            out[name] = key
            break
    return out


def inspect_paths(paths: Sequence[str], *, fmt: str | None = None,
                  base_dir: Path | None = None) -> InspectReport:
    """Read the files (as load_population does) and describe their fields and metadata."""
    rows: list[tuple[str, tuple[object, ...]]] = []

    def collect(kind: str, sources: tuple[object, ...]) -> None:
        rows.append((kind, sources))

    pop = load_population(paths, label="inspect", fmt=fmt, base_dir=base_dir, on_trace=collect)
    skip = _SKIP.get(pop.format, ())
    keys: dict[str, _KeyStats] = {}
    for kind, sources in rows:
        if kind == "flat":
            meta = _flat_metadata(sources[0])  # type: ignore[arg-type]
        else:
            meta = {}
            for src in sources:
                flatten(src, "", meta)  # type: ignore[arg-type]
            meta = {k: v for k, v in meta.items() if not k.startswith(skip)}
        for key, value in meta.items():
            stats = keys.get(key)
            if stats is None:
                stats = keys[key] = _KeyStats()
            stats.add(value)
    n = len(rows)
    metadata = {
        key: MetadataKey(key, s.count, s.count / n if n else 0.0, len(s.values),
                         tuple(list(s.values)[:_MAX_EXAMPLES]))
        for key, s in sorted(keys.items(), key=lambda kv: (-kv[1].count, kv[0]))
    }
    coverage = _coverage(pop)
    return InspectReport(files=pop.files, format=pop.format, n_traces=len(pop),
                         n_spans=int(pop.n_spans.sum()), coverage=coverage, metadata=metadata,
                         suggestions=_suggest(keys, n, coverage), warnings=pop.warnings)
