"""OpenTelemetry OTLP/JSON and the Python SDK's ConsoleSpanExporter output, read as span objects.

Read: the Collector's file exporter (one `{"resourceSpans": [...]}` request a line), a `.json` file holding
one or more pretty requests, the legacy `instrumentationLibrarySpans` / `instrumentationLibrary` nesting,
protobuf field names (`resource_spans`, `trace_id`) as well as the JSON ones, and the concatenated pretty
span objects `ConsoleSpanExporter` prints. Each span becomes one span object of the OTel GenAI pipeline
(OpenInference values where a span carries `openinference.span.kind`), grouped into traces by trace id
across lines and files.

Mapping: ids → lowercase hex, whether written as hex (OTLP/JSON), base64 (a naive `MessageToJson`) or
`0x` hex (console); `startTimeUnixNano` / `endTimeUnixNano` → `start_ns` / `end_ns`, exact integers;
typed attribute values → plain values (`intValue` strings → int, arrays → lists, kvlists → objects,
bytes → their base64 text); status codes (0-2 or `STATUS_CODE_*`) → UNSET / OK / ERROR; kind → INTERNAL,
SERVER, CLIENT, PRODUCER, CONSUMER. A root span (no parent) also gets its resource's attributes under their
own names (`service.version`; the span's own attribute wins on a clash) and `otel.scope.name` /
`otel.scope.version`, so `where` and `fields` reach them.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
from collections.abc import Callable, Iterator
from itertools import chain, compress, repeat
from typing import Any

from kalibra_action.traces import registry
from kalibra_action.traces.source import TraceFile, bounded_lines, open_text
from kalibra_action.traces.span_batch import KINDS, STATUSES, AttrItems, SpanBatch
from kalibra_action.traces.values import NS_LIMIT, iso_ns

NAME = "otlp"
PIPELINE = "otel-genai"

_MAX_DEPTH = 32  # attribute values nested deeper than this (arrays of kvlists of ...) are refused
_UINT64 = 1 << 64
_HEX = {16: re.compile(r"[0-9a-fA-F]{32}"), 8: re.compile(r"[0-9a-fA-F]{16}")}
_LOWER_HEX = re.compile(r"[0-9a-f]+")
_REQUEST_START = re.compile(rb'^\s*\{\s*"(resourceSpans|resource_spans)"\s*:')
_CONSOLE_MARKS = (b'"kind": "SpanKind.', b'"trace_id": "0x')
_OTHER_SIGNALS = ("resourceLogs", "resourceMetrics", "resource_logs", "resource_metrics")
_DECODER = json.JSONDecoder()
_GET = dict.get
_EMPTY_IS_NONE = {"": None}
_KIND_CODES = frozenset(range(len(KINDS)))
_SPAN_KEYS = ("traceId", "spanId", "parentSpanId", "startTimeUnixNano", "endTimeUnixNano", "name", "kind",
              "status", "attributes")
_SPAN_FIELDS = operator.itemgetter(*_SPAN_KEYS)
# Reads one scope's spans (its span list, the root spans' extra attributes, its location) into entries.
_ScopeReader = Callable[[list, dict, str], SpanBatch]


class _Bad(Exception):
    """A value the reader cannot read; turned into a reader_error naming file and place."""


def sniff(tf: TraceFile, head: bytes) -> bool:
    """An OTLP/JSON request first (`{"resourceSpans": ...`), or the console exporter's span objects."""
    start = head.removeprefix(b"\xef\xbb\xbf")
    if _REQUEST_START.match(start):
        return True
    return start.lstrip()[:1] == b"{" and all(mark in start for mark in _CONSOLE_MARKS)


def describe() -> str:
    return ("OTLP/JSON spans (resource → scope → spans) and ConsoleSpanExporter output → OTel GenAI spans: "
            "ids as hex, times exact ns, status UNSET/OK/ERROR; root spans carry their resource's attributes "
            "(service.version, ...) and otel.scope.name/version")


def objects(tf: TraceFile, options: registry.ReadOptions, warnings: list[str]) -> Iterator[tuple[str, dict]]:
    """One span object per OTLP span (or console span) in the file, in file order."""
    for where, batch in _entry_batches(tf, warnings):
        for entry in batch.entries():
            yield where, _row(entry)


def span_entries(tf: TraceFile, options: registry.ReadOptions, warnings: list[str]) -> Iterator[SpanBatch]:
    """The file's spans as ready-made span entries, a batch of columns per request (traces/span_batch.py):
    trace_id, span_id, parent_id or None, name, kind, start_ns, end_ns, attributes, status, status message
    or None. The same values as objects() gives, without a span object per span (and, read a column at a
    time, without an attribute dict per span until one is asked for)."""
    for _where, batch in _entry_batches(tf, warnings):
        yield batch


def _entry_batches(tf: TraceFile, warnings: list[str]) -> Iterator[tuple[str, SpanBatch]]:
    """(location, the entries of one scope of a request, or of a console span) for each object of the
    file: a batch per scope, each read in full before the first is handed over."""
    skipped = 0
    for line_no, obj in _documents(tf, warnings):
        where = f"line {line_no}"
        try:
            if "resourceSpans" in obj or "resource_spans" in obj:
                batches = _request_entries(obj)
            elif isinstance(obj.get("context"), dict):
                batches = [SpanBatch.of_entries([_console_entry(obj)])]
            elif any(key in obj for key in _OTHER_SIGNALS):
                skipped += 1
                continue
            else:
                raise _Bad("not an OTLP/JSON request (no resourceSpans) nor a console exporter span")
        except _Bad as exc:
            raise registry.reader_error(tf, where, str(exc)) from None
        for batch in batches:
            yield where, batch
    if skipped:
        warnings.append(f"{tf.name}: skipped {skipped} OTLP request(s) of logs or metrics (no spans)")


def _row(entry: tuple) -> dict:
    """The span object of an entry (what `convert` writes and the generic span pipeline reads)."""
    tid, sid, parent, name, kind, start, end, attrs, code, message = entry
    status = {"status_code": code} if message is None else {"status_code": code, "description": message}
    return {"context": {"trace_id": tid, "span_id": sid}, "parent_id": parent, "name": name, "kind": kind,
            "start_ns": start, "end_ns": end, "attributes": attrs, "status": status}


# ── the file: JSON objects, one a line or pretty and concatenated ──────────────────────────────────


def _documents(tf: TraceFile, warnings: list[str]) -> Iterator[tuple[int, dict]]:
    """(first line, object) of each JSON object in the file, whether one a line or pretty-printed.

    An object is tried when a line that starts at column 0 ends with "}" (a JSON line, or the closing
    brace of a pretty object); the text gathered so far is bounded by limits.max_line_bytes.
    """
    limit = tf.limits.max_line_bytes
    buf: list[str] = []
    size = 0
    start = line_no = 0
    try:
        with open_text(tf) as f:
            for line_no, line in enumerate(bounded_lines(f, limit), 1):
                if not buf:
                    if not line or line.isspace():
                        continue
                    start = line_no
                buf.append(line)
                size += len(line)
                if size > limit:
                    raise _too_long(tf, start, limit)
                # (a JSON line ends "}\n": checked first, the line is not copied by rstrip)
                if line[:1] in (" ", "\t") or not (line.endswith("}\n") or line.rstrip().endswith("}")):
                    continue
                text = "".join(buf)
                rest = yield from _decode_all(tf, text, start, final=False)
                buf, size = ([rest], len(rest)) if rest else ([], 0)
                start = line_no + 1 - rest.count("\n") if rest else start
    except UnicodeDecodeError:
        raise registry.reader_error(tf, f"line {line_no + 1}", "not UTF-8 text") from None
    except OSError as exc:
        raise registry.reader_error(tf, f"line {line_no}", f"cannot read: {exc}") from None
    text = "".join(buf)
    if text.strip():
        rest = yield from _decode_all(tf, text, start, final=True)
        if rest:
            warnings.append(f"{tf.name}:{start}: skipped a truncated last object")


def _too_long(tf: TraceFile, line: int, limit: int) -> Exception:
    return registry.reader_error(tf, f"line {line}", f"a JSON object longer than {limit:,} characters "
                                 "(limits.max_line_bytes)",
                                 hint="write one request a line, as the Collector's file exporter does")


def _decode_all(tf: TraceFile, text: str, start: int, *, final: bool) -> Iterator[tuple[int, dict]]:
    """Yield every whole object in text; return the unfinished tail ("" if none): an object still being
    read, or, at the end of the file (final), one cut short by a truncated write."""
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos == end:
            return ""
        line = start + text.count("\n", 0, pos)
        try:
            obj, pos = _DECODER.raw_decode(text, pos)
        except RecursionError:
            raise registry.reader_error(tf, f"line {line}", "JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            cut = exc.pos >= len(text.rstrip()) or (final and exc.msg.startswith("Unterminated"))
            if cut and text[pos] == "{":
                return text[pos:]  # not finished yet (or, at the end of the file, truncated)
            raise registry.reader_error(tf, f"line {start + text.count(chr(10), 0, exc.pos)}",
                               f"not valid JSON: {exc.msg}") from None
        except ValueError as exc:  # a number past int()'s digit limit: the decoder raises a plain ValueError
            raise registry.reader_error(tf, f"line {line}", f"not valid JSON: {exc}") from None
        if obj.__class__ is not dict:
            raise registry.reader_error(tf, f"line {line}", f"a JSON {type(obj).__name__}, not an object",
                               hint="OTLP/JSON is one request object (a line, or a whole .json file)")
        yield line, obj


# ── OTLP/JSON requests ─────────────────────────────────────────────────────────────────────────────


def _get(obj: dict, camel: str, snake: str) -> object:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _list(value: object, what: str) -> list:
    if value is None:
        return []
    if value.__class__ is not list:
        raise _Bad(f"{what} is a {type(value).__name__}, not a list")
    return value


def _dict(value: object, what: str) -> dict:
    if value is None:
        return {}
    if value.__class__ is not dict:
        raise _Bad(f"{what} is a {type(value).__name__}, not an object")
    return value


def _request_entries(request: dict) -> list[SpanBatch]:
    """Every span of one request as entries, a batch per scope, in order (a whole request is read before
    any is used).

    A scope's spans are read first a column at a time (_scope_columns): in the common case, spans as the
    Collector writes them, that is a few passes in C instead of Python work per span and attribute. When
    anything is off, the request is read again span by span (_checked_spans), which gives the other
    spellings' values and, on a bad request, the error naming the first bad span.
    """
    try:
        return _entries(request, _scope_columns)
    except (_Bad, _Uncommon, ValueError, TypeError):  # the checked reading decides, whatever went wrong
        return _entries(request, _checked_spans)


def _entries(request: dict, read_scope: _ScopeReader) -> list[SpanBatch]:
    """Walk resource → scope → spans; read_scope(spans, extra, spath) reads one scope's spans into a
    batch (a scope without spans has none)."""
    out: list[SpanBatch] = []
    for i, rs in enumerate(_list(_get(request, "resourceSpans", "resource_spans"), "resourceSpans")):
        path = f"resourceSpans[{i}]"
        rs = _dict(rs, path)
        resource = _dict(rs.get("resource"), f"{path}.resource")
        res_attrs = _attributes(resource.get("attributes"), f"{path}.resource.attributes")
        scopes = rs.get("scopeSpans", rs.get("scope_spans"))
        if scopes is None:
            scopes = _get(rs, "instrumentationLibrarySpans", "instrumentation_library_spans")
        for j, ss in enumerate(_list(scopes, f"{path}.scopeSpans")):
            spath = f"{path}.scopeSpans[{j}]"
            ss = _dict(ss, spath)
            scope = ss.get("scope")
            if scope is None:
                scope = _get(ss, "instrumentationLibrary", "instrumentation_library")
            extra = _scope_attrs(_dict(scope, f"{spath}.scope"), res_attrs)
            spans = _list(ss.get("spans"), f"{spath}.spans")
            if spans:
                out.append(read_scope(spans, extra, spath))
    return out


def _checked_spans(spans: list, extra: dict, spath: str) -> SpanBatch:
    """A scope's spans one by one, each value checked where it is read."""
    ids = _Ids()
    out = []
    # The location is only formatted for a span that fails: a request holds thousands.
    for k, span in enumerate(spans):
        try:
            if span.__class__ is not dict:
                span = _dict(span, f"{spath}.spans[{k}]")
            out.append(_otlp_entry(span, extra, ids))
        except _Bad as exc:
            raise _Bad(f"{spath}.spans[{k}]: {exc}") from None
    return SpanBatch.of_entries(out)


class _Uncommon(Exception):
    """A scope's spans are not all in the common shape: read them span by span instead."""


def _column(rows: list[dict], key: str) -> list:
    return list(map(_GET, rows, repeat(key)))


def _types(values: list) -> set[type]:
    return set(map(type, values))


def _scope_columns(spans: list, extra: dict, spath: str) -> SpanBatch:
    """A scope's spans read a column at a time, to the values _checked_spans gives; _Uncommon (or _Bad)
    when any span is not as the Collector writes it: JSON spelling, ids as lowercase hex, times as
    strings of 19 digits, kinds and status codes as numbers, attribute values typed."""
    # (a span, an id, a time, a key or a status of another type stops a join, len, dict.get or itemgetter
    # below with a TypeError: _request_entries then reads the request span by span)
    tids, sids, parents, starts, ends, names, kinds, statuses, attr_lists = _span_fields(spans)
    if None in parents and any(map(operator.contains, spans, repeat("parent_span_id"))):
        raise _Uncommon
    parent_set = set(parents)
    parent_set.discard(None)
    if "" in parent_set:  # a root as the SDK's encoder writes it
        parent_set.discard("")
        parents = list(map(_EMPTY_IS_NONE.get, parents, parents))
    if not (_hex_ids(set(tids), 16) and _hex_ids(sids, 8) and _hex_ids(parent_set, 8)):
        raise _Uncommon
    times = _nanos_columns(starts, ends)
    try:
        "".join(names)
    except TypeError:
        names = [name if name.__class__ is str else _text(name, "name") for name in names]
    if not (_types(kinds) == {int} and set(kinds) <= _KIND_CODES):  # (codes: SpanBatch.coded)
        kinds = [KINDS.index(_enum(kind, KINDS, "SPAN_KIND_", "kind")) for kind in kinds]
    codes, messages = _status_columns(statuses)
    items = _attribute_items(attr_lists)
    if extra:  # a parentless span gets its resource's and scope's attributes
        roots = compress(range(len(parents)), map(operator.is_, parents, repeat(None)))
        items.extra.update(dict.fromkeys(roots, extra))
    return SpanBatch.coded(tids, sids, parents, names, kinds, times, items, codes, messages)


def _span_fields(spans: list[dict]) -> list:
    """The columns of the fields _scope_columns reads (_SPAN_FIELDS, in order): a span at a time when every
    span has them all, as the Collector writes them (roots with parentSpanId "", status {}), else a key at
    a time, absent as None."""
    try:
        return list(zip(*map(_SPAN_FIELDS, spans), strict=True))
    except KeyError:
        return [_column(spans, key) for key in _SPAN_KEYS]


def _hex_ids(ids: list | set, size: int) -> bool:
    """Whether every id is as the Collector writes it (the check _id makes first): lowercase hex of
    2 * size digits, not all zeros."""
    if not ids:
        return True
    try:
        if set(map(len, ids)) != {2 * size} or "0" * 2 * size in ids:
            return False
        text = "".join(ids)  # (an id that is not text: a TypeError)
        # hex digits only: fromhex would skip whitespace (then fewer bytes) and read A-F too
        return 2 * len(bytes.fromhex(text)) == len(text) and text.lower() == text
    except (TypeError, ValueError):
        return False


def _nanos_columns(starts: list, ends: list) -> Any:
    """Start and end times written as strings of 19 ASCII digits, as one int64 array of the exact times
    (the starts, then the ends; each a plausible time: below NS_LIMIT). The digits are read as a table, a
    time a row, and weighted by powers of ten; a first digit past 4 is refused first (NS_LIMIT < 5e18 <
    2^63: the weighted sum cannot overflow); UnicodeEncodeError for a character past ASCII (a ValueError:
    _request_entries reads the request span by span)."""
    values = [*starts, *ends]
    if set(map(len, values)) != {19}:  # (a time that is not text: a TypeError here or at the join)
        raise _Uncommon
    import numpy as np  # here: the CLI imports the readers to detect formats, and starts without numpy

    # any character but 0-9 is past 9 here (those below "0" wrap around); one past ASCII stops encode
    digits = np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8).reshape(-1, 19) - ord("0")
    if digits.max() > 9 or digits[:, 0].max() > 4:
        raise _Uncommon
    out = digits.astype(np.int64) @ (10 ** np.arange(18, -1, -1, dtype=np.int64))
    if out.max() >= NS_LIMIT:
        raise _Uncommon
    return out


def _status_columns(statuses: list) -> tuple[list[int], list[str | None]]:
    """(codes: places in STATUSES, messages) of the spans' status objects, as _status reads them."""
    try:
        codes = list(map(_GET, statuses, repeat("code"), repeat(0)))
    except TypeError:  # a status that is not an object: read one by one below
        codes = [None]
    if _types(codes) == {int} and set(codes) <= {0, 1, 2}:
        messages: list[str | None] = [None] * len(codes)
        # _status reads the message of a status with more than its code
        for i in compress(range(len(codes)), map(operator.gt, map(len, statuses), repeat(1))):
            message = statuses[i].get("message")
            if message.__class__ is str and message:
                messages[i] = message
        return codes, messages
    pairs = list(map(_status, statuses))
    return [STATUSES.index(code) for code, _ in pairs], [message for _, message in pairs]


def _attribute_items(lists: list) -> AttrItems:
    """The spans' attribute lists as flat columns of keys and plain values (see AttrItems); the common
    values (strings, integers) read in C, the others one by one."""
    if not _types(lists) <= {list, type(None)}:
        raise _Uncommon
    if None in lists:
        lists = [[] if x is None else x for x in lists]
    items = list(chain.from_iterable(lists))
    counts = list(map(len, lists))
    if not items:
        return AttrItems([], [], counts, {})
    # an item or a value that is not an object stops dict.get or len with a TypeError (_request_entries
    # then reads the request span by span)
    keys, values = _column(items, "key"), _column(items, "value")
    "".join(keys)  # (a key that is not text: a TypeError)
    # a value object with more than one typed value, or none, is read by _value
    plain = _one_key_values(values) if set(map(len, values)) == {1} else [_value(v, 0) for v in values]
    return AttrItems(keys, plain, counts, {})


def _one_key_values(values: list[dict]) -> list:
    """The plain values of value objects that have one key each, as _value reads them: strings, and
    integers written as strings of up to 18 digits, read in C; anything else by _value."""
    plain = _column(values, "stringValue")
    if not _types(plain) <= {str, type(None)}:
        return [_value(v, 0) for v in values]
    if None in plain:
        at = list(compress(range(len(plain)), map(operator.is_, plain, repeat(None))))
        digits = list(map(_GET, map(values.__getitem__, at), repeat("intValue")))
        try:
            text, sizes = "".join(digits), set(map(len, digits))
        except TypeError:  # not all written as text
            text, sizes = "", {0}
        if max(sizes) <= 18 and min(sizes) > 0 and text.isdigit() and text.isascii():
            for i, number in zip(at, map(int, digits), strict=True):
                plain[i] = number
        else:
            for i in at:
                plain[i] = _value(values[i], 0)
    return plain


def _scope_attrs(scope: dict, res_attrs: dict) -> dict:
    """What a root span of this resource and scope gets besides its own attributes."""
    extra = dict(res_attrs)
    for key in ("name", "version"):
        value = scope.get(key)
        if isinstance(value, str) and value:
            extra[f"otel.scope.{key}"] = value
    return extra


class _Ids:
    """The ids of one request, each checked once: a trace id and a parent id repeat on span after span."""

    __slots__ = ("known",)

    def __init__(self) -> None:
        self.known: dict[object, str] = {}

    def get(self, value: object, size: int, what: str) -> str:
        """Lowercase hex of the id (see _id); memoised by the text as written, per request."""
        known = self.known.get(value) if value.__class__ is str else None
        if known is None:  # not a string (an error) or not met yet
            known = self.known[value] = _id(value, size, what)
        elif len(known) != 2 * size:  # the same text as a span id and as a trace id: only one is valid
            known = _id(value, size, what)
        return known


def _otlp_entry(span: dict, extra: dict, ids: _Ids) -> tuple:
    """One OTLP span as an entry (see span_entries). Written for speed (it runs once per span): the JSON
    spelling is looked up first, the protobuf one only when it is absent."""
    g = span.get
    tid = g("traceId")
    sid = g("spanId")
    parent = g("parentSpanId")
    start = g("startTimeUnixNano")
    end = g("endTimeUnixNano")
    if tid is None:
        tid = g("trace_id")
    if sid is None:
        sid = g("span_id")
    if parent is None:
        parent = g("parent_span_id")
    if start is None:
        start = g("start_time_unix_nano")
    if end is None:
        end = g("end_time_unix_nano")
    # the common spelling, a string of 19 digits, read here; anything else is read (or refused) by _nanos
    if start.__class__ is str and len(start) == 19 and start.isdigit() and start.isascii():
        start = int(start)
    if end.__class__ is str and len(end) == 19 and end.isdigit() and end.isascii():
        end = int(end)
    attrs = _attributes(g("attributes"), "attributes")
    if not parent:
        attrs = {**extra, **attrs}
    name = g("name")
    kind = g("kind")
    return (
        ids.get(tid, 16, "traceId"),
        _id(sid, 8, "spanId"),
        ids.get(parent, 8, "parentSpanId") if parent else None,
        name if name.__class__ is str else _text(name, "name"),
        KINDS[kind] if kind.__class__ is int and 0 <= kind < 6
        else _enum(kind, KINDS, "SPAN_KIND_", "kind"),
        start if start.__class__ is int and 0 <= start < NS_LIMIT else _nanos(start, "startTimeUnixNano"),
        end if end.__class__ is int and 0 <= end < NS_LIMIT else _nanos(end, "endTimeUnixNano"),
        attrs,
        *_status(g("status")),
    )


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if value.__class__ is not str:
        raise _Bad(f"{what} is a {type(value).__name__}, not a string")
    return value


def _id(value: object, size: int, what: str) -> str:
    """Lowercase hex of a trace (16 bytes) or span (8 bytes) id written as hex, 0x hex or base64."""
    if value.__class__ is str and len(value) == 2 * size and _LOWER_HEX.fullmatch(value) and value.strip("0"):
        return value  # the common case: the Collector's lowercase hex
    if value is None or value == "":
        raise _Bad(f"no {what}")
    if value.__class__ is not str:
        raise _Bad(f"{what} is a {type(value).__name__}, not a string")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    if _HEX[size].fullmatch(text):
        result = text.lower()
    else:
        try:
            raw = base64.b64decode(value + "=" * (-len(value) % 4),
                                   altchars=b"-_" if "-" in value or "_" in value else None, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size:
            raise _Bad(f"{what} {value[:60]!r} is not a {size}-byte id ({size * 2} hex digits or base64)")
        result = raw.hex()
    if result.count("0") == len(result):
        raise _Bad(f"{what} is all zeros (an invalid id)")
    return result


def _nanos(value: object, what: str) -> int:
    """Exact integer nanoseconds (a string of digits, as OTLP/JSON writes uint64; or a JSON integer)."""
    if value.__class__ is str and value.isascii() and value.isdigit():
        if len(value) > 20:  # past 2^64 (and past int()'s digit limit, which would raise ValueError)
            raise _Bad(f"{what} {value[:40]}{'...' if len(value) > 40 else ''} is outside 0..2^64-1")
        result = int(value)
    elif value is None or value == "":
        return 0
    elif value.__class__ is int:
        result = value
    else:
        raise _Bad(f"{what} {str(value)[:40]!r} is not a whole number of nanoseconds")
    if not 0 <= result < _UINT64:
        raise _Bad(f"{what} {result} is outside 0..2^64-1")
    if result >= NS_LIMIT:
        raise _Bad(f"{what} {result} is not a plausible time (after the year 2116)")
    return result


def _enum(value: object, names: tuple[str, ...], prefix: str, what: str) -> str:
    """An enum as its short name, from a number or a (prefixed) name."""
    if value is None:
        return names[0]
    if value.__class__ is int and 0 <= value < len(names):
        return names[value]
    if isinstance(value, str):
        name = value.upper().removeprefix(prefix)
        if name in names:
            return name
    raise _Bad(f"{what} {str(value)[:40]!r} is not one of {', '.join(names)}")


def _status(value: object) -> tuple[str, str | None]:
    """(UNSET / OK / ERROR, the message or None)."""
    if value.__class__ is dict and len(value) <= 1:  # the common case: {} or {"code": 1}
        code = value.get("code", 0)
        if code.__class__ is int and 0 <= code < 3:
            return STATUSES[code], None
    status = _dict(value, "status")
    code = _enum(status.get("code"), STATUSES, "STATUS_CODE_", "status.code")
    message = status.get("message")
    return code, message if isinstance(message, str) and message else None


def _attributes(value: object, what: str) -> dict:
    """OTLP's [{key, value: AnyValue}] list as a dict of plain values."""
    out: dict = {}
    for item in value if value.__class__ is list else _list(value, what):
        if item.__class__ is dict:  # the common cases first: a string, an integer
            key = item.get("key")
            v = item.get("value")
            if key.__class__ is str and v.__class__ is dict and len(v) == 1:
                x = v.get("stringValue")
                if x.__class__ is str:
                    out[key] = x
                    continue
                x = v.get("intValue")
                if x.__class__ is str and x.isascii() and x.isdigit() and len(x) <= 18:
                    out[key] = int(x)
                    continue
        if item.__class__ is not dict or item.get("key").__class__ is not str:
            raise _Bad(f"{what}: an entry is not {{key, value}}")
        key = item["key"]
        try:
            out[key] = _value(item.get("value"), 0)
        except _Bad as exc:
            raise _Bad(f"{what}[{key[:80]!r}]: {exc}") from None
    return out


def _value(v: object, depth: int) -> object:
    """A plain value from an OTLP AnyValue ({"stringValue": ...}, {"intValue": "3"}, ...)."""
    if v is None:
        return None
    if v.__class__ is not dict:
        raise _Bad(f"a {type(v).__name__}, not a typed value object")
    x = v.get("stringValue")
    if x.__class__ is str and len(v) == 1:
        return x  # the common case
    for key, x in v.items():  # a oneof: one key (an empty object is an empty value)
        convert = _CONVERT.get(key)
        if convert is not None:
            return convert(x, depth)
    return None


def _string(x: object, depth: int) -> object:
    if x.__class__ is not str:
        raise _Bad(f"stringValue {str(x)[:40]!r} is not a string")
    return x


def _bool(x: object, depth: int) -> object:
    if x.__class__ is not bool:
        raise _Bad(f"boolValue {str(x)[:40]!r} is not true or false")
    return x


def _int(x: object, depth: int) -> object:
    if x.__class__ is int:
        return x
    if x.__class__ is str:
        text = x[1:] if x[:1] == "-" else x
        if text.isdigit() and text.isascii() and len(text) <= 19:
            return int(x)
    raise _Bad(f"intValue {str(x)[:40]!r} is not a 64-bit integer")


def _double(x: object, depth: int) -> object:
    if x.__class__ is float or (x.__class__ is int):
        return float(x)
    if x in ("NaN", "Infinity", "-Infinity"):
        return float(x.replace("Infinity", "inf"))  # proto3 JSON spells non-finite doubles as strings
    raise _Bad(f"doubleValue {str(x)[:40]!r} is not a number")


def _array(x: object, depth: int) -> object:
    if depth >= _MAX_DEPTH:
        raise _Bad(f"attribute value nested deeper than {_MAX_DEPTH} levels")
    values = _dict(x, "arrayValue").get("values")
    return [_value(item, depth + 1) for item in _list(values, "arrayValue.values")]


def _kvlist(x: object, depth: int) -> object:
    if depth >= _MAX_DEPTH:
        raise _Bad(f"attribute value nested deeper than {_MAX_DEPTH} levels")
    out = {}
    for item in _list(_dict(x, "kvlistValue").get("values"), "kvlistValue.values"):
        if item.__class__ is not dict or item.get("key").__class__ is not str:
            raise _Bad("a kvlistValue entry is not {key, value}")
        out[item["key"]] = _value(item.get("value"), depth + 1)
    return out


def _bytes(x: object, depth: int) -> object:
    if x.__class__ is not str:
        raise _Bad(f"bytesValue {str(x)[:40]!r} is not base64 text")
    return x


_CONVERT = {
    "stringValue": _string, "string_value": _string,
    "intValue": _int, "int_value": _int,
    "doubleValue": _double, "double_value": _double,
    "boolValue": _bool, "bool_value": _bool,
    "arrayValue": _array, "array_value": _array,
    "kvlistValue": _kvlist, "kvlist_value": _kvlist,
    "bytesValue": _bytes, "bytes_value": _bytes,
}


# ── ConsoleSpanExporter span objects ───────────────────────────────────────────────────────────────


def _console_entry(span: dict) -> tuple:
    """One `ReadableSpan.to_json()` object as an entry: 0x ids, ISO times, SpanKind.X, plain attributes."""
    context = span["context"]
    parent = span.get("parent_id")
    attrs = _dict(span.get("attributes"), "attributes")
    if not parent:
        resource = _dict(_dict(span.get("resource"), "resource").get("attributes"), "resource.attributes")
        attrs = {**resource, **attrs}
    kind = span.get("kind")
    status = _dict(span.get("status"), "status")
    code = status.get("status_code")
    code = code.removeprefix("StatusCode.") if isinstance(code, str) else code
    code = _enum(code, STATUSES, "STATUS_CODE_", "status_code")
    message = status.get("description")
    return (
        _id(context.get("trace_id"), 16, "context.trace_id"),
        _id(context.get("span_id"), 8, "context.span_id"),
        _id(parent, 8, "parent_id") if parent else None,
        _text(span.get("name"), "name"),
        _enum(kind.removeprefix("SpanKind.") if isinstance(kind, str) else kind, KINDS, "", "kind"),
        _iso(span.get("start_time"), "start_time"),
        _iso(span.get("end_time"), "end_time"),
        attrs,
        code,
        message if isinstance(message, str) else None,
    )


def _iso(value: object, what: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, str):
        raise _Bad(f"{what} {str(value)[:40]!r} is not an ISO 8601 time")
    try:
        return iso_ns(value)
    except ValueError:
        raise _Bad(f"{what} {value[:40]!r} is not an ISO 8601 time") from None
