"""Every size limit of the project, in one place: what untrusted input may cost, and what GitHub accepts.

The files under judgement come from the pull request, and so may its kalibra.yml: a limit in `SPECS` can be
lowered or raised within reason, never past its hard maximum, so a crafted input cannot make the run use
unbounded memory or time. Each limit, when hit, is an InputError (exit 2) naming the file and the limit.
The fixed limits below guard things a user has no reason to tune (the config itself, a baseline artifact, a
custom template), and GitHub's own caps are named next to the budgets the renderer aims under.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class LimitSpec:
    """One limit: its key in `limits:`, the default, the allowed range, and what it bounds."""

    key: str
    default: int
    low: int
    high: int
    what: str


SPECS: tuple[LimitSpec, ...] = (
    LimitSpec("max_line_bytes", 64 * MIB, 1024, 1 * GIB, "characters in one JSON Lines line"),
    LimitSpec("max_decompressed_bytes", 2 * GIB, MIB, 16 * GIB, "bytes a compressed trace file unpacks to"),
    LimitSpec("max_tasks", 10_000, 10, 1_000_000,
              "tasks with full per-task data in the report (the rest are counted and summarised)"),
    LimitSpec("max_span_names", 1_000, 10, 100_000,
              "distinct span names compared one by one (the most frequent ones)"),
)
BY_KEY = {s.key: s for s in SPECS}

YAML_MAX_ALIAS_NODES = 10_000
"""YAML nodes an alias may add to the config when expanded. Fixed: it guards the reading of the config
itself, and a real kalibra.yml has a few hundred nodes in all."""

MAX_GATES = 200
"""Gates from one source (kalibra.yml's `require`, the `require` input, `--require`). Fixed: a real list has
a handful, and each gate is a row the comment, the summary and the annotations render."""

CONFIG_MAX_BYTES = 1 * MIB
"""Size of kalibra.yml. Fixed, for the same reason."""

RESAMPLES_MIN = 100
"""Fewest bootstrap resamples a run may ask for: fewer give intervals that change from seed to seed."""

RESAMPLES_MAX = 1_000_000
"""Most bootstrap resamples a run may ask for (a pull request's config may set them): time grows with them."""

ARTIFACT_MAX_BYTES = 2 * GIB
"""A baseline artifact: its download and everything it unpacks to (github.artifacts, github.safezip)."""

ARTIFACT_MAX_FILES = 10_000
"""Entries in a baseline artifact's ZIP archive."""

TEMPLATE_MAX_BYTES = 256 * 1024
"""Size of one custom template file (report.sandbox)."""

TEMPLATE_MAX_REPEAT = 1_000_000
"""Items or characters one `*` in a custom template may build."""

TEMPLATE_MAX_POWER_BITS = 10_000
"""Bits of an integer one `**` in a custom template may build."""

TEMPLATE_SECONDS = 10.0
"""Wall-clock time one custom template may take to render."""

TEMPLATE_MEMORY = 512 * MIB
"""Address space the template's child process may add to what it already has."""

TEMPLATE_OUTPUT_FACTOR = 2
"""A custom template stops rendering past this many times the size budget of its output."""

IO_CHUNK = 64 * 1024
"""Bytes read at a time when streaming a download, an archive entry or the template child's output."""

# GitHub's caps come in pairs: the hard limit GitHub enforces (the last guard cuts to it) and the smaller
# budget the renderer aims under, whose margin holds what is added to the text after it is rendered.

COMMENT_MAX_CHARS = 65_536
"""GitHub refuses a comment longer than this (UTF-16 code units); github.comments.fit_body cuts to it."""

COMMENT_BUDGET = 65_000
"""The rendered report's share of a comment. The renderer counts characters; the 536 left over hold the
sticky marker line put in front after rendering (at most 124 characters with a 100-character comment-id) and
some astral characters (an emoji is two UTF-16 units to GitHub), so the last-resort cut, which may split a
table, rarely has to run on a report the renderer already shortened."""

SUMMARY_MAX_BYTES = 1 * MIB
"""The runner drops a step summary larger than this whole (UTF-8 bytes); github.commands.append_summary
cuts what the action writes so the file stays under it."""

SUMMARY_BUDGET = 1_000_000
"""The rendered report's share of the step summary. The 48,576 bytes left over are for what the action writes
to the same file after the report (a failed comment's caution, a crash notice), which must not push the
report past the runner's limit."""


@dataclass(frozen=True)
class Limits:
    """The limits of one run; `Limits()` is the defaults."""

    max_line_bytes: int = BY_KEY["max_line_bytes"].default
    max_decompressed_bytes: int = BY_KEY["max_decompressed_bytes"].default
    max_tasks: int = BY_KEY["max_tasks"].default
    max_span_names: int = BY_KEY["max_span_names"].default


DEFAULT_LIMITS = Limits()


def check_limit(key: str, value: object) -> str | None:
    """Why `value` is not allowed for limit `key` (None when it is)."""
    spec = BY_KEY[key]
    if isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
        return f"must be an integer between {spec.low:,} and {spec.high:,} ({spec.what})"
    return None

HISTORY_MAX_BYTES = 8 * MIB
"""Size of one history summary (history.summary): a few KB for a real eval, about 100 bytes a task."""

HISTORY_MAX_TASKS = 50_000
"""Tasks in one history summary."""

HISTORY_MAX_NAME_CHARS = 1_000
"""Characters of one task name in a history summary."""

HISTORY_MAX_COUNT = 1_000_000_000
"""Largest trace count a history summary may claim for one task (or in all)."""

HISTORY_MAX_RUNS = 20
"""Baseline runs pooled at most (`baseline-runs`, `--baseline-run`)."""

HISTORY_QUANTILES = 11
"""Points of the quantile sketch a history summary keeps per measure (0 %, 10 %, ..., 100 %)."""
