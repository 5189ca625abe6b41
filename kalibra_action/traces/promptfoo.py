"""promptfoo eval results (`promptfoo eval -o results.json` or `-o results.jsonl`) as Kalibra flat traces.

One result row (one test × prompt × provider × repeat) becomes one trace:
- task: the test's `description`, else a stable key of its `vars` (never `testIdx`, which promptfoo
  numbers afresh for every repeat);
- outcome: `success`; a provider error (`failureReason` 2, or before promptfoo had `failureReason`, a
  `response.error`) has no outcome and is an error span, so it is neither a pass nor a fail;
- cost: `cost` in USD; duration: `latencyMs` in milliseconds; tokens: `response.tokenUsage`
  `prompt` / `completion` (a cached response reports only `cached`: its tokens are not measured);
- metadata: `provider.id`, `provider.label`, `promptIdx`, `promptId`, `task` and `vars`, so that `where`
  selects one provider or prompt: several in one side are separate populations (see SELECTORS).

Everything in the file is untrusted: a row whose fields have the wrong type or an implausible size is an
error naming the file and the row, never a guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kalibra_action.errors import InputError
from kalibra_action.traces import native, registry
from kalibra_action.traces.source import TraceFile, iter_objects

if TYPE_CHECKING:
    from kalibra_action.traces.registry import ReadOptions

NAME = "promptfoo"
TITLE = "promptfoo results"
PIPELINE = "flat"
# Metadata paths that split one file into populations: a side must hold one value of each (or `where`
# must select one), else the comparison would silently pool two providers or two prompts.
SELECTORS = ("provider.id", "promptIdx")

SPAN_NAME = "provider_call"
_EXPORT = "promptfoo export"
ERROR_REASON = 2  # promptfoo's ResultFailureReason.ERROR (1 is ASSERT: an answer that failed its tests)
_FAILURE_REASONS = (0, 1, ERROR_REASON)
_MAX_LATENCY_MS = 1e11  # about three years
_TASK_TEXT = 80  # a vars key longer than this is shortened, with a hash of the whole
# Keys of a result row: a JSON Lines file whose first row has three of them at its top is promptfoo's.
_EXPORT_START = re.compile(rb'\{\s*"evalId"\s*:')
_ROW_KEYS = (b'"gradingResult":', b'"latencyMs":', b'"promptIdx":', b'"testIdx":', b'"testCase":',
             b'"failureReason":', b'"namedScores":', b'"promptId":')


def describe() -> str:
    return ("promptfoo results: one trace per result row; task = testCase.description, else a key of "
            "vars; outcome = success (provider errors, failureReason 2, are errors with no outcome); "
            "cost = cost (USD); duration = latencyMs (ms); tokens = response.tokenUsage prompt/"
            "completion; where on provider.id / promptIdx selects one provider or prompt")


def sniff(tf: TraceFile, head: bytes) -> bool:
    """A `-o x.json` export (an object that opens with evalId) or a `-o x.jsonl` row.

    Row keys found anywhere in the head only make the first line worth parsing: they may sit in another
    format's metadata, and a row's keys come in name order, so a long `error` or `gradingResult` (a failed
    assertion quoting a long answer) can push the telling ones past the head."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return False
    if _EXPORT_START.match(text):
        return True
    maybe = text.startswith(b'{"cost":') or any(key in text for key in _ROW_KEYS)
    return maybe and _first_row_is_result(tf)


def _first_row_is_result(tf: TraceFile) -> bool:
    """Whether the file's first line is a JSON object with three of a result row's keys."""
    row = native.first_row(tf)
    return row is not None and sum(key.strip(b'":').decode() in row for key in _ROW_KEYS) >= 3


def explain_empty(tf: TraceFile) -> str:
    return (f"this looks like {TITLE} without a result row (an eval that ran no test, or an export cut "
            "short): give the results of a finished `promptfoo eval -o FILE`")


def objects(tf: TraceFile, options: ReadOptions, warnings: list[str]) -> Iterator[tuple[str, dict]]:
    """The file's result rows as flat traces, with where each came from."""
    cached = 0
    tests: dict[str, set[str]] = {}  # description → the vars of the tests it names
    for position, (location, row) in enumerate(_rows(tf, warnings), 1):
        trace = _trace(tf, location, row, position)
        cached += trace.pop("_cached")
        tests.setdefault(trace["metadata"]["task"], set()).add(vars_key(trace["metadata"]["vars"]))
        yield location, trace
    if cached:
        warnings.append(f"{tf.name}: {cached} promptfoo result(s) came from its cache and report no "
                        "prompt/completion tokens; their tokens count as not measured (run with --no-cache)")
    shared = sorted(task for task, keys in tests.items() if len(keys) > 1)
    if shared:
        warnings.append(f"{tf.name}: {len(shared)} promptfoo description(s) name tests with different vars, "
                        f"whose runs are pooled into one task each (e.g. {shared[0][:60]!r}); give each test "
                        "its own description")


# --- the layouts -------------------------------------------------------------------------------------


def _rows(tf: TraceFile, warnings: list[str]) -> Iterator[tuple[str, dict]]:
    """(location, result row): from one pretty JSON export, or from JSON Lines of rows (or of exports)."""
    if native.is_pretty_document(tf):
        doc = native.document(tf, _EXPORT, hint="write it with `promptfoo eval -o results.jsonl`")
        yield from _export_rows(tf, doc, "")
        return
    for line_no, obj in iter_objects(tf, warnings):
        if "results" in obj and "evalId" in obj:  # an export written on one line
            yield from _export_rows(tf, obj, f"line {line_no}: ")
        else:
            yield f"line {line_no}", obj


def _export_rows(tf: TraceFile, doc: dict, prefix: str) -> Iterator[tuple[str, dict]]:
    """The rows of an export: `results.results` (promptfoo ≥ 0.50), or `results` as a list (older)."""
    results = doc.get("results")
    rows = results.get("results") if isinstance(results, dict) else results
    if not isinstance(rows, list):
        raise registry.reader_error(tf, f"{prefix}{_EXPORT}", "no results.results list")
    for i, row in enumerate(rows):
        location = f"{prefix}results.results[{i}]"
        if not isinstance(row, dict):
            message = f"promptfoo result: a {native.kind(row)}, not an object"
            raise registry.reader_error(tf, location, message)
        yield location, row


# --- one row -----------------------------------------------------------------------------------------


def _trace(tf: TraceFile, location: str, row: dict, position: int) -> dict:
    """One result row as a Kalibra flat trace (plus `_cached`, popped by the caller)."""
    def fail(message: str) -> InputError:
        return registry.reader_error(tf, location, f"promptfoo result: {message}")

    task = _task(row, fail)
    provider_id, provider_label = _provider(row, fail)
    prompt_idx = _int_field(row, "promptIdx", fail, default=0)
    errored = _is_provider_error(row, fail)
    response = row.get("response")
    if response is not None and not isinstance(response, dict):
        raise fail(f"response is a {native.kind(response)}, not an object")
    input_tokens, output_tokens, cached = _tokens((response or {}).get("tokenUsage"), fail)
    latency = native.amount(row.get("latencyMs"), "latencyMs", _MAX_LATENCY_MS, fail)
    metadata = {"task": task, "provider.id": provider_id, "provider.label": provider_label,
                "promptIdx": prompt_idx, "promptId": row.get("promptId"), "vars": _vars(row, fail) or {}}
    if errored:
        metadata["error"] = _error_text(row)
    return {
        "trace_id": _trace_id(tf, task, row, provider_id, prompt_idx, position),
        "outcome": None if errored else ("success" if _success(row, fail) else "failure"),
        "cost": native.amount(row.get("cost"), "cost", native.MAX_COST, fail),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "duration_s": None if latency is None else latency / 1000,
        "spans": [{"span_id": "call", "parent_id": None, "name": SPAN_NAME, "error": errored}],
        "metadata": metadata,
        "_cached": cached,
    }


def _task(row: dict, fail) -> str:
    """The test's description, else a readable, stable key of its vars."""
    test_case = row.get("testCase")
    if test_case is not None and not isinstance(test_case, dict):
        raise fail(f"testCase is a {native.kind(test_case)}, not an object")
    description = (test_case or {}).get("description", row.get("description"))
    if description is not None:
        if not isinstance(description, str):
            raise fail(f"testCase.description is a {native.kind(description)}, not text")
        if description.strip():
            return description
    variables = _vars(row, fail)
    if variables is None:
        raise fail("no testCase.description and no vars: nothing tells which test this is")
    return vars_key(variables)


def vars_key(variables: dict) -> str:
    """`vars:` and the vars as sorted compact JSON; past _TASK_TEXT characters, cut and a hash of the whole
    (so two long var sets that share a beginning stay apart)."""
    text = json.dumps(variables, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if len(text) <= _TASK_TEXT:
        return f"vars:{text}"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"vars:{text[:_TASK_TEXT - 20]}…#{digest}"


def _vars(row: dict, fail) -> dict | None:
    test_case = row.get("testCase") if isinstance(row.get("testCase"), dict) else {}
    variables = row.get("vars", test_case.get("vars"))
    if variables is None:
        return None
    if not isinstance(variables, dict):
        raise fail(f"vars is a {native.kind(variables)}, not an object")
    return variables


def _provider(row: dict, fail) -> tuple[str, str | None]:
    provider = row.get("provider")
    if isinstance(provider, str):  # older rows name the provider by its id
        return provider, None
    if not isinstance(provider, dict) or not isinstance(provider.get("id"), str):
        raise fail("no provider.id (text)")
    label = provider.get("label")
    return provider["id"], label if isinstance(label, str) else None


def _is_provider_error(row: dict, fail) -> bool:
    """failureReason 2; before promptfoo wrote failureReason, an error the provider returned."""
    if "failureReason" in row:
        reason = row["failureReason"]
        if reason.__class__ is not int or reason not in _FAILURE_REASONS:
            raise fail(f"failureReason is {native.show(reason)}, not one of 0, 1, 2")
        return reason == ERROR_REASON
    response = row.get("response")
    return isinstance(response, dict) and bool(response.get("error"))


def _success(row: dict, fail) -> bool:
    value = row.get("success")
    if value.__class__ is not bool:
        raise fail(f"success is {native.show(value)}, not true or false")
    return value


def _error_text(row: dict) -> str:
    response = row.get("response") if isinstance(row.get("response"), dict) else {}
    for value in (row.get("error"), response.get("error")):
        if isinstance(value, str) and value:
            return value[:500]
    return "provider error"


def _tokens(usage: object, fail) -> tuple[int | None, int | None, bool]:
    """(prompt, completion, served from cache) from response.tokenUsage."""
    if usage is None:
        return None, None, False
    if not isinstance(usage, dict):
        raise fail(f"response.tokenUsage is a {native.kind(usage)}, not an object")
    values = [native.count(usage.get(key), f"response.tokenUsage.{key}", fail)
              for key in ("prompt", "completion")]
    cached = native.count(usage.get("cached"), "response.tokenUsage.cached", fail)
    from_cache = values == [None, None] and bool(cached)
    return values[0], values[1], from_cache


def _int_field(row: dict, key: str, fail, default: int) -> int:
    value = row.get(key, default)
    if value.__class__ is not int or value < 0:
        raise fail(f"{key} is {native.show(value)}, not a non-negative integer")
    return value


def _trace_id(tf: TraceFile, task: str, row: dict, provider_id: str, prompt_idx: int, position: int) -> str:
    """RUN in `TASK__RUN__N` is the row's own id when it is a plain token (the same in a run's .json and
    .jsonl, so passing both is caught as duplicates), else a hash of file, provider and prompt; N is the
    row's position in the file."""
    row_id = row.get("id")
    if isinstance(row_id, str) and 0 < len(row_id) <= 64 and row_id.replace("-", "").isalnum():
        run = row_id
    else:
        key = json.dumps([tf.name, provider_id, prompt_idx], ensure_ascii=False)
        run = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return native.trace_id(tf, task, run, position, registry.reader_error)
