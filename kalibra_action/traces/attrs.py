"""Helpers shared by the span-per-line formats (OpenInference, OTel GenAI)."""

from __future__ import annotations

import json

from kalibra_action.traces.fields import MISSING, resolve_path

# OpenInference span kinds (they also tell the two span formats apart).
OI_SPAN_KINDS = frozenset({"LLM", "TOOL", "CHAIN", "AGENT", "RETRIEVER", "RERANKER", "EMBEDDING",
                           "GUARDRAIL", "EVALUATOR"})
_STATUS_INTS = {0: "", 1: "OK", 2: "ERROR"}
_SHORT_STATUS = frozenset({"OK", "ERROR", "UNSET"})


def attr(attrs: dict, key: str) -> object:
    """An attribute by dotted name: the flat key, else nested dicts; None if absent."""
    if key in attrs:
        return attrs[key]
    head = key.partition(".")[0]
    if head not in attrs:
        return None
    value = resolve_path(attrs, key)
    return None if value is MISSING else value


def as_attrs(value: object) -> dict:
    """A span's attributes as a dict (a JSON string holding an object is parsed; else empty)."""
    if value.__class__ is dict:
        return value
    if isinstance(value, str) and value[:1] == "{":
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return {}
        if isinstance(parsed, dict):
            return parsed
    return {}


def _norm_status(raw: object) -> str:
    if raw is None or isinstance(raw, bool):
        return ""
    if isinstance(raw, int):
        return _STATUS_INTS.get(raw, "")
    text = str(raw).strip().upper()
    return text.removeprefix("STATUS_CODE_")


def status_of(row: dict) -> str:
    """A span's status: "OK", "ERROR", or "" (unset), from `status_code` or `status.status_code`/`code`."""
    raw = row.get("status_code")
    if raw is None:  # the common case first: a status object with a code already in its short form
        status = row.get("status")
        if status.__class__ is dict:
            raw = status.get("status_code")
            if raw.__class__ is str and raw in _SHORT_STATUS:
                return raw
    code = _norm_status(raw)
    if not code:
        status = row.get("status")
        if isinstance(status, dict):
            code = _norm_status(status.get("status_code")) or _norm_status(status.get("code"))
    return code


def span_kind(row: dict, attrs: dict) -> str:
    """The OpenInference span kind from `span_kind` or the `openinference.span.kind` attribute."""
    kind = row.get("span_kind") or attr(attrs, "openinference.span.kind") or ""
    return kind if isinstance(kind, str) else str(kind)


def flatten(obj: dict, prefix: str, out: dict) -> None:
    """Nested dicts → dotted keys; lists and nulls are left out (as Kalibra's metadata does)."""
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flatten(value, name, out)
        elif value is not None and not isinstance(value, list):
            out[name] = value
