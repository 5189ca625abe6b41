"""inspect_paths: what a set of trace files holds, and which field mapping would fit it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from kalibra_action.traces import openinference, otel_genai
from kalibra_action.traces.attrs import flatten
from kalibra_action.traces.detect import FLAT
from kalibra_action.traces.fields import FIELD_NAMES, FieldMap, classify_outcome, text_form
from kalibra_action.traces.load import load_population
from kalibra_action.traces.lookalike import advice, looks_like
from kalibra_action.traces.population import OUTCOME_UNKNOWN, Population
from kalibra_action.traces.registry import (
    NATIVE_READERS,
    ReadOptions,
    claimed_by,
    file_formats,
    get_reader,
    resolve_trace_files,
)
from kalibra_action.traces.source import iter_objects

# Keys a flat trace line reads itself; everything else there is metadata.
_FLAT_KNOWN = frozenset({"trace_id", "outcome", "metadata", "spans", "cost", "input_tokens", "output_tokens",
                         "model", "start_time", "end_time", "duration_s", "start_ns", "end_ns", "error",
                         "name", "span_id", "parent_id", "attributes"})
_SKIP = {openinference.NAME: openinference.METADATA_SKIP, otel_genai.NAME: otel_genai.METADATA_SKIP}
_MAX_EXAMPLES = 5
_NUMERIC = ("cost", "input_tokens", "output_tokens", "duration")
_MAX_DISTINCT = 10_000
_MAX_COUNTED = 20  # distinct values counted per key (an outcome has few)
_LOOKALIKE_SAMPLE = 20
# Scorer letters that are no outcome words: Inspect's C(orrect) / P(artial) and I(ncorrect) / N(o answer).
_PASS_LETTERS = ("C", "P")
_FAIL_LETTERS = ("I", "N")

# What the JSON Lines formats read, for `inspect` (native readers describe themselves: describe()).
_JSONL_MAPPING = {
    FLAT: "one trace a line: trace_id; task from trace_id (task__model__N) or fields.task_id; outcome "
          "(success/failure words, booleans, 1/0); cost; input_tokens/output_tokens; duration from "
          "start_ns/end_ns, start_time/end_time or duration_s (seconds); spans[] for steps and errors",
    openinference.NAME: "one span a line, grouped by context.trace_id; llm.token_count.*, llm.cost.*; "
                        "outcome from the root span's status and finish reasons",
    otel_genai.NAME: "one span a line, grouped by context.trace_id; gen_ai.usage.* tokens; outcome from "
                     "the root span's status",
}

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
    file_formats: dict[str, str] = field(default_factory=dict)  # per file: the format it is read as
    mapping: dict[str, str] = field(default_factory=dict)  # per format: what it reads from where
    looks_like: dict[str, str] = field(default_factory=dict)  # per file read as flat: what it looks like
    # --suggest: keys whose values read as outcomes, with their value counts, best first
    suggested_outcomes: dict[str, str] = field(default_factory=dict)
    # --suggest: how the suggested outcome's values read when they are no outcome words (an OutcomeMap)
    suggested_outcome_map: dict[str, object] = field(default_factory=dict)
    # span formats: where the task ids came from (a task_id path, a root attribute, "root span name",
    # "trace id") → traces
    task_from: dict[str, int] = field(default_factory=dict)

    @property
    def suggested_fields(self) -> FieldMap:
        return FieldMap(**self.suggestions)


class _KeyStats:
    __slots__ = ("bools", "count", "counts", "letters", "numeric", "outcome_like", "unit", "values")

    def __init__(self) -> None:
        self.count = 0
        self.values: dict[str, None] = {}
        self.counts: dict[str, int] = {}  # the first _MAX_COUNTED distinct values
        self.numeric = 0
        self.outcome_like = 0
        self.letters = 0  # scorer letters C / P / I / N
        self.unit = 0  # numbers between 0 and 1 (scores)
        self.bools = 0

    def add(self, value: object) -> None:
        self.count += 1
        text = text_form(value)[:80]
        if len(self.values) < _MAX_DISTINCT:
            self.values.setdefault(text, None)
        if text in self.counts or len(self.counts) < _MAX_COUNTED:
            self.counts[text] = self.counts.get(text, 0) + 1
        if isinstance(value, bool):
            self.bools += 1
        elif isinstance(value, int | float):
            self.numeric += 1
            self.unit += 0 <= value <= 1
        if classify_outcome(value) != OUTCOME_UNKNOWN:
            self.outcome_like += 1
        elif text in _PASS_LETTERS or text in _FAIL_LETTERS:
            self.letters += 1

    def outcome_kind(self, n: int) -> str | None:
        """How the values read as outcomes ("words", "letters", "scores"), or None when they do not."""
        if self.count < 0.5 * n or len(self.values) < 2:  # a constant decides nothing
            return None
        if self.outcome_like >= 0.9 * self.count and len(self.values) <= 4:
            return "words"
        if self.letters + self.outcome_like >= 0.9 * self.count and self.letters and len(self.values) <= 6:
            return "letters"
        if self.unit >= 0.9 * self.count and len(self.values) > 1:
            return "scores"
        return None


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


def _outcome_candidates(keys: dict[str, _KeyStats], n: int) -> tuple[dict[str, str], dict[str, object]]:
    """Keys whose values look like outcomes (words, booleans, 0/1, scorer letters, 0-1 scores) with their
    counts, most traces first; and the value map the best one needs (empty for outcome words)."""
    found = [(key, stats, kind) for key, stats in keys.items() if (kind := stats.outcome_kind(n))]
    # Most traces first; then a name that says outcome (`failureReason` 0/1 is no pass flag), booleans.
    hint = _NAME_HINTS["outcome"]
    found.sort(key=lambda t: (-t[1].count, not hint.fullmatch(t[0].rsplit(".", 1)[-1].lower()),
                              t[1].bools < t[1].count, ("words", "letters", "scores").index(t[2]), t[0]))
    out = {}
    for key, stats, kind in found[:_MAX_EXAMPLES]:
        top = sorted(stats.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
        shown = ", ".join(f"{value} ×{count:,}" for value, count in top)
        out[key] = f"{stats.count:,} traces ({kind}): {shown}"
    if not found or found[0][2] == "words":
        return out, {}
    if found[0][2] == "letters":
        return out, {"path": found[0][0], "pass": list(_PASS_LETTERS), "fail": list(_FAIL_LETTERS)}
    return out, {"path": found[0][0], "threshold": 1.0}


def _formats(paths: Sequence[str], fmt: str | None, base_dir: Path | None) -> tuple[dict, dict, dict]:
    """Per file, the format it is read as; per format, its mapping; per flat file, what it looks like."""
    files = resolve_trace_files(paths, base_dir)
    names = file_formats(files, fmt)
    per_file = {tf.name: name for tf, name in zip(files, names, strict=True)}
    mapping = {}
    for name in dict.fromkeys(names):
        reader = get_reader(name)
        describe = getattr(reader, "describe", None)
        mapping[name] = describe() if describe is not None else _JSONL_MAPPING.get(name, "")
    looks = {}
    for tf, name in zip(files, names, strict=True):
        if name == FLAT:
            signature = looks_like(obj for _line, obj in islice(iter_objects(tf, []), _LOOKALIKE_SAMPLE))
            if signature is not None:
                candidates = [*claimed_by(tf), *(r.NAME for r in NATIVE_READERS)]
                looks[tf.name] = f"{signature[0]}: {advice(signature, candidates)}"
    return per_file, mapping, looks


def inspect_paths(paths: Sequence[str], *, fmt: str | None = None, base_dir: Path | None = None,
                  options: ReadOptions | None = None) -> InspectReport:
    """Read the files (as load_population does, but without refusing what it does not understand: that
    is what `inspect` is for) and describe their formats, fields and metadata."""
    per_file, mapping, looks = _formats(paths, fmt, base_dir)
    rows: list[tuple[str, tuple[object, ...]]] = []

    def collect(kind: str, sources: tuple[object, ...]) -> None:
        rows.append((kind, sources))

    pop = load_population(paths, label="inspect", fmt=fmt, base_dir=base_dir, on_trace=collect,
                          options=options or ReadOptions(), strict=False)
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
    suggestions = _suggest(keys, n, coverage)
    outcomes, outcome_map = ({}, {}) if coverage["outcome"].share >= 1.0 else _outcome_candidates(keys, n)
    if outcome_map:
        suggestions["outcome"] = str(outcome_map["path"])
    elif outcomes and "outcome" not in suggestions:
        suggestions["outcome"] = next(iter(outcomes))
    return InspectReport(files=pop.files, format=pop.format, n_traces=len(pop),
                         n_spans=int(pop.n_spans.sum()), coverage=coverage, metadata=metadata,
                         suggestions=suggestions, warnings=pop.warnings, file_formats=per_file,
                         mapping=mapping, looks_like=looks, suggested_outcomes=outcomes,
                         suggested_outcome_map=outcome_map, task_from=dict(pop.task_sources))
