"""The history artifact: a compact summary of one run's traces, written next to the JSON report.

A pooled baseline needs, from each past run, only the per-task pass/fail counts (and, for the trend, a few
headline values), so 20 past runs cost 20 downloads of a few KB rather than 20 sets of full traces. The
summary also keeps per-task medians and a small quantile sketch of tokens, cost and duration, the config
hash and the commit (to tell which runs may be pooled) and a schema version.

A summary read back is untrusted (it may come from any artifact): `parse_summary` refuses, with one error
naming the file, anything but the exact schema within the bounds of kalibra_action/limits.py.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kalibra_action.errors import InputError
from kalibra_action.limits import (
    HISTORY_MAX_BYTES,
    HISTORY_MAX_COUNT,
    HISTORY_MAX_NAME_CHARS,
    HISTORY_MAX_TASKS,
    HISTORY_QUANTILES,
)
from kalibra_action.paths import Roots, open_regular, write_text
from kalibra_action.traces.population import OUTCOME_FAILURE, OUTCOME_SUCCESS, Population

SCHEMA = "kalibra-action-history/1"
MEASURES = ("tokens", "cost", "duration")
TOP_KEYS = frozenset({"schema", "run_id", "commit", "created", "config_hash", "traces", "tasks", "overall"})
TASK_KEYS = frozenset({"n", "median"})
OVERALL_KEYS = frozenset({"success_rate", *MEASURES})
SKETCH_KEYS = frozenset({"median", "q"})
_RUN_ID = re.compile(r"[0-9]{1,20}")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_HASH = re.compile(r"[0-9a-f]{16,128}")
_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@dataclass(frozen=True)
class TaskCounts:
    """One task in one run: traces that passed, failed, and whose outcome is unknown (errored, unscored)."""

    passed: int
    failed: int
    unknown: int = 0
    median: Mapping[str, float] = field(default_factory=dict)  # measure → median over the task's traces

    @property
    def known(self) -> int:
        return self.passed + self.failed


@dataclass(frozen=True)
class RunSummary:
    """One run's summary; `source` says where it was read from (a file or a label), for messages."""

    tasks: Mapping[str, TaskCounts]
    traces: int
    overall: Mapping[str, object]  # success_rate (%) and, per measure, {median, q: sketch}
    run_id: str | None = None
    commit: str | None = None
    created: str | None = None
    config_hash: str | None = None
    source: str = ""

    def headline(self) -> dict[str, float | None]:
        """The trend values of this run: success rate (%) and the median of each measure."""
        out: dict[str, float | None] = {"success_rate": _num_or_none(self.overall.get("success_rate"))}
        for m in MEASURES:
            sketch = self.overall.get(m)
            out[m] = _num_or_none(sketch.get("median")) if isinstance(sketch, Mapping) else None
        return out

    def as_json(self) -> dict:
        """The summary as the JSON object the history artifact holds."""
        return {"schema": SCHEMA, "run_id": self.run_id, "commit": self.commit, "created": self.created,
                "config_hash": self.config_hash, "traces": self.traces,
                "tasks": {name: {"n": [t.passed, t.failed, t.unknown], "median": dict(t.median)}
                          for name, t in sorted(self.tasks.items())},
                "overall": dict(self.overall)}


def _num_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _rounded(value: float) -> float | None:
    """Six significant digits keep the file small; NaN (nothing measured) becomes null."""
    return None if not math.isfinite(value) else float(f"{value:.6g}")


def _sketch(values: np.ndarray) -> dict | None:
    """Median and evenly spaced quantiles of the measured values; None when nothing was measured."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    qs = np.quantile(v, np.linspace(0.0, 1.0, HISTORY_QUANTILES))
    return {"median": _rounded(float(np.median(v))), "q": [_rounded(float(x)) for x in qs]}


def summarize(pop: Population, *, run_id: str | None = None, commit: str | None = None,
              created: str | None = None, config_hash: str | None = None) -> RunSummary:
    """The summary of one loaded population."""
    k = len(pop.task_names)
    passed = np.bincount(pop.task, weights=pop.outcome == OUTCOME_SUCCESS, minlength=k).astype(np.int64)
    failed = np.bincount(pop.task, weights=pop.outcome == OUTCOME_FAILURE, minlength=k).astype(np.int64)
    total = np.bincount(pop.task, minlength=k).astype(np.int64)
    measures = {"tokens": pop.tokens, "cost": pop.cost, "duration": pop.duration}
    order = np.argsort(pop.task, kind="stable")
    bounds = np.searchsorted(pop.task[order], np.arange(k + 1))
    tasks: dict[str, TaskCounts] = {}
    for i in np.flatnonzero(total).tolist():
        rows = order[bounds[i]:bounds[i + 1]]
        med = {}
        for m, arr in measures.items():
            vals = arr[rows]
            vals = vals[np.isfinite(vals)]
            if vals.size:
                med[m] = _rounded(float(np.median(vals)))
        tasks[pop.task_names[i]] = TaskCounts(int(passed[i]), int(failed[i]),
                                              int(total[i] - passed[i] - failed[i]), med)
    known = int(passed.sum() + failed.sum())
    overall: dict[str, object] = {"success_rate": _rounded(100.0 * passed.sum() / known) if known else None}
    for m, arr in measures.items():
        overall[m] = _sketch(arr)
    return RunSummary(tasks=tasks, traces=len(pop), overall=overall, run_id=_kept(run_id, _RUN_ID),
                      commit=_kept(commit.lower() if commit else None, _COMMIT),
                      created=_kept(created, _CREATED), config_hash=_kept(config_hash, _HASH),
                      source=pop.label)


def _kept(value: str | None, pattern: re.Pattern[str]) -> str | None:
    """A provenance value the reader will accept, else None (an odd GITHUB_RUN_ID must not make the
    summary unreadable for every later run)."""
    return value if value is not None and pattern.fullmatch(value) else None


def dumps(summary: RunSummary) -> str:
    """The summary as compact JSON text (what `parse_summary` reads back)."""
    return json.dumps(summary.as_json(), separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"


def write_summary(path: Path, summary: RunSummary, *, roots: Roots | None = None) -> Path:
    """Write the summary (never through a symlink at `path`; inside `roots` when given)."""
    return write_text(path, dumps(summary), roots=roots, what="history summary")


def is_summary_file(path: Path) -> bool:
    """Whether `path` is a regular file that starts like a history summary (the writer puts the schema
    first), so a `--baseline-run` can name either traces or a summary."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return head.lstrip().startswith(b'{"schema":"kalibra-action-history/')


def read_summary(path: Path, *, name: str | None = None) -> RunSummary:
    """Read and check a summary file; InputError naming the file for anything wrong with it."""
    label = name or str(path)
    try:
        with open_regular(path, name=label) as fh:
            raw = fh.read(HISTORY_MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the history summary: {exc.strerror or exc}", file=label) from None
    return parse_summary(raw, label)


def parse_summary(raw: bytes, label: str) -> RunSummary:
    """Check `raw` against the schema and the limits; InputError naming `label` otherwise."""
    if len(raw) > HISTORY_MAX_BYTES:
        raise InputError(f"history summary is larger than {HISTORY_MAX_BYTES:,} bytes", file=label)
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise InputError("history summary is not UTF-8 text", file=label) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"history summary is not valid JSON: {exc.msg}", file=label,
                         line=exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        msg = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise InputError(f"history summary is not valid: {msg}", file=label) from None
    return _Checker(label).summary(data)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {_short(key)}")
        out[key] = value
    return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _short(text: str, limit: int = 40) -> str:
    """A name from the file, cut and with control characters escaped, safe for a one-line error."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return json.dumps(shown, ensure_ascii=True)


class _Checker:
    """Checks one parsed summary; each error names the file and the key."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, message: str) -> InputError:
        return InputError(f"history summary: {message}", file=self.label, key=key)

    def mapping(self, value: object, key: str, allowed: frozenset[str] | None = None) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, "must be an object")
        if allowed is not None and (extra := sorted(set(value) - allowed)):
            raise self.fail(key, f"unknown key {_short(extra[0])}")
        return value

    def count(self, value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= HISTORY_MAX_COUNT:
            raise self.fail(key, f"must be an integer between 0 and {HISTORY_MAX_COUNT:,}")
        return value

    def number(self, value: object, key: str, *, percent: bool = False) -> float | None:
        if value is None:
            return None
        high = 100.0 if percent else 1e300
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
            raise self.fail(key, f"must be null or a number between 0 and {high:g}")
        return float(value)

    def text(self, value: object, key: str, pattern: re.Pattern[str]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(key, f"must be null or a string matching {pattern.pattern}")
        return value

    def summary(self, data: object) -> RunSummary:
        top = self.mapping(data, "(top level)", TOP_KEYS)
        if top.get("schema") != SCHEMA:
            raise self.fail("schema", f"must be \"{SCHEMA}\" (a summary from another version or no summary)")
        missing = sorted(TOP_KEYS - set(top))
        if missing:
            raise self.fail(missing[0], "is missing")
        traces = self.count(top["traces"], "traces")
        tasks = self.tasks(top["tasks"])
        if sum(t.passed + t.failed + t.unknown for t in tasks.values()) != traces:
            raise self.fail("traces", "does not equal the sum of the tasks' counts")
        return RunSummary(
            tasks=tasks, traces=traces, overall=self.overall(top["overall"]),
            run_id=self.text(top["run_id"], "run_id", _RUN_ID),
            commit=self.text(top["commit"], "commit", _COMMIT),
            created=self.text(top["created"], "created", _CREATED),
            config_hash=self.text(top["config_hash"], "config_hash", _HASH), source=self.label)

    def tasks(self, value: object) -> dict[str, TaskCounts]:
        tasks = self.mapping(value, "tasks")
        if len(tasks) > HISTORY_MAX_TASKS:
            raise self.fail("tasks", f"more than {HISTORY_MAX_TASKS:,} tasks")
        out = {}
        for name, spec in tasks.items():
            if not name or len(name) > HISTORY_MAX_NAME_CHARS:
                raise self.fail("tasks", f"task name {_short(name)} is empty or longer than "
                                         f"{HISTORY_MAX_NAME_CHARS:,} characters")
            key = f"tasks.{_short(name)}"
            spec = self.mapping(spec, key, TASK_KEYS)
            n = spec.get("n")
            if not isinstance(n, list) or len(n) != 3:
                raise self.fail(f"{key}.n", "must be [passed, failed, unknown]")
            counts = [self.count(x, f"{key}.n") for x in n]
            median = self.mapping(spec.get("median", {}), f"{key}.median", frozenset(MEASURES))
            med = {m: v for m, x in median.items() if (v := self.number(x, f"{key}.median.{m}")) is not None}
            out[name] = TaskCounts(*counts, median=med)
        return out

    def overall(self, value: object) -> dict:
        spec = self.mapping(value, "overall", OVERALL_KEYS)
        rate = self.number(spec.get("success_rate"), "overall.success_rate", percent=True)
        out: dict[str, object] = {"success_rate": rate}
        for m in MEASURES:
            sketch = spec.get(m)
            if sketch is None:
                out[m] = None
                continue
            sketch = self.mapping(sketch, f"overall.{m}", SKETCH_KEYS)
            q = sketch.get("q")
            if not isinstance(q, list) or len(q) != HISTORY_QUANTILES:
                raise self.fail(f"overall.{m}.q", f"must be a list of {HISTORY_QUANTILES} numbers")
            out[m] = {"median": self.number(sketch.get("median"), f"overall.{m}.median"),
                      "q": [self.number(x, f"overall.{m}.q") for x in q]}
        return out
