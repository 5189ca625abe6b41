"""OpenInference (Phoenix / Arize) spans: detection and per-span values.

Tokens `llm.token_count.prompt/completion` (else `total` counted as output), cost `llm.cost.total`;
a span's finish reason comes from the provider response JSON in `output.value`.
"""

from __future__ import annotations

import json

from kalibra_action.traces.attrs import OI_SPAN_KINDS, attr

NAME = "openinference"
# Root attributes left out of trace metadata (large or already read into columns).
METADATA_SKIP = ("llm.", "openinference.", "input.", "output.")

# Provider stop reasons → True (finished normally) / False (cut short: truncated or filtered).
_ANTHROPIC = {"end_turn": True, "stop_sequence": True, "tool_use": True, "max_tokens": False}
_OPENAI = {"stop": True, "tool_calls": True, "function_call": True, "length": False,
           "content_filter": False}
_GOOGLE = {"STOP": True, "OTHER": True, "MAX_TOKENS": False, "SAFETY": False, "RECITATION": False}
_MARKERS = ("stop_reason", "finish_reason", "finishReason")


def detect(item: dict) -> bool:
    """A span with `context.trace_id` and a known OpenInference span kind."""
    context = item.get("context")
    if not isinstance(context, dict) or "trace_id" not in context:
        return False
    if item.get("span_kind") in OI_SPAN_KINDS:
        return True
    attrs = item.get("attributes")
    if not isinstance(attrs, dict):
        return False
    kind = attrs.get("openinference.span.kind")
    if isinstance(kind, str) and kind in OI_SPAN_KINDS:
        return True
    nested = attrs.get("openinference")
    if isinstance(nested, dict) and isinstance(nested.get("span"), dict):
        kind = nested["span"].get("kind")
        return isinstance(kind, str) and kind in OI_SPAN_KINDS
    return False


def _first(value: object) -> dict | None:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return None


def finish(attrs: dict) -> bool | None:
    """True / False when the span's response finished normally / was cut short; None if unknown."""
    text = attr(attrs, "output.value")
    if not isinstance(text, str) or not any(marker in text for marker in _MARKERS):
        return None
    try:
        output = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(output, dict):
        return None
    reason = output.get("stop_reason")
    if isinstance(reason, str) and reason in _ANTHROPIC:
        return _ANTHROPIC[reason]
    choice = _first(output.get("choices"))
    if choice is not None:
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason in _OPENAI:
            return _OPENAI[reason]
    candidate = _first(output.get("candidates"))
    if candidate is not None:
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason in _GOOGLE:
            return _GOOGLE[reason]
    return None


def span_values(row: dict, attrs: dict, kind: str) -> tuple[object, object, object, object, bool | None]:
    """(name, cost, input tokens, output tokens, finish) of one span; values raw."""
    name = row.get("name") or kind
    in_tok = attr(attrs, "llm.token_count.prompt")
    out_tok = attr(attrs, "llm.token_count.completion")
    if in_tok is None and out_tok is None:
        out_tok = attr(attrs, "llm.token_count.total")
    return name, attr(attrs, "llm.cost.total"), in_tok, out_tok, finish(attrs)
