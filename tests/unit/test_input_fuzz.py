"""Hypothesis over the untrusted-input parsers: trace loaders, the config parser and the gate parser.

Whatever the bytes, the only exception allowed out is InputError, and its message is one line that names the
file (the gate parser: the key). Inputs are built from what breaks parsers: random bytes, random JSON values
and nesting, huge numbers, NaN/Infinity literals, nesting past the recursion limit, BOMs and UTF-16, NUL
bytes, lone surrogates, gzip that is truncated, corrupt or concatenated, empty and white-space-only files;
YAML with Python tags, anchors and aliases, huge integers, deep nesting, non-string and duplicate keys;
gate strings with Unicode digits, `1e999`, `nan`, `inf`, very long. Derandomized and small: the whole module
runs in a few seconds.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kalibra_action.config import load_config
from kalibra_action.errors import InputError
from kalibra_action.gates import parse_gate, parse_gates
from kalibra_action.metrics import all_fields
from kalibra_action.traces.inspect import inspect_paths
from kalibra_action.traces.load import load_population

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

# ---- trace files ---------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                     st.text(max_size=8), st.sampled_from(["success", "failure", "t1", "t2", ""]))
_json_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["task_id", "outcome", "cost", "trace_id", "spans", "name", "metadata",
                                     "context", "attributes", "duration", "x"]) | st.text(max_size=4),
                    inner, max_size=5)), max_leaves=12)
# Pieces of lines that break JSON readers: number literals out of range, NaN/Infinity, deep nesting, NUL,
# escaped surrogates, BOMs, line ends of every kind.
_LINE_PIECES = st.sampled_from([
    '{"task_id":"a","outcome":"success","cost":1}', '{"task_id":"b","outcome":"failure","cost":2.5}',
    '{"trace_id":"t","spans":[{"name":"s","cost":NaN}]}', '{"cost":Infinity}', '{"cost":-Infinity}',
    '{"cost":1e999}', '{"cost":' + "9" * 5000 + "}", '{"task_id":"\\ud800"}', '{"task_id":"\\u0000"}',
    "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, "[]", "null", '"x"', "1", "{",
    "}", "\x00", "\ufeff", "\u2028", "\r", "\r\n", "\n", " ", "\t", '{"a":1}{"b":2}', "{'a': 1}",
])
_lines = st.lists(st.one_of(_json_values.map(lambda v: json.dumps(v, allow_nan=True)), _LINE_PIECES),
                  max_size=6).map("\n".join)
_encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"])
_trace_bytes = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda text, enc: text.encode(enc, errors="surrogatepass"), _lines, _encodings),
    st.sampled_from([b"", b" ", b"\n\n", b" \t\r\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00" * 10,
                     b"\xed\xa0\x80", b'{"task_id":"\xed\xa0\x80"}\n']),
)


def _gz_variants(data: bytes, kind: str) -> bytes:
    """Gzip bytes: whole, truncated, with a flipped byte, or two members concatenated."""
    packed = gzip.compress(data)
    if kind == "truncated":
        return packed[: max(1, len(packed) // 2)]
    if kind == "corrupt":
        middle = len(packed) // 2
        return packed[:middle] + bytes([packed[middle] ^ 0xFF]) + packed[middle + 1:]
    if kind == "concatenated":
        return packed + gzip.compress(data)
    if kind == "trailing garbage":
        return packed + b"\x00garbage"
    return packed


def _one_line_naming(err: InputError, name: str) -> None:
    text = str(err)
    assert "\n" not in text and "\r" not in text
    assert name in text or err.file == name


def _load(path: Path) -> None:
    try:
        load_population([path.name], label="baseline", base_dir=path.parent)
    except InputError as err:
        _one_line_naming(err, path.name)


@FUZZ
@given(data=_trace_bytes)
@example(data=b'{"task_id":"a","outcome":"success"}\n' + b"[" * 200_000 + b"\n")
@example(data=("[" * 1_000_000).encode())
@example(data='{"task_id":"a","cost":NaN}\n{"task_id":"b","cost":1e400}\n'.encode("utf-16"))
def test_flat_loader_raises_only_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    _load(path)


@FUZZ
@given(data=_trace_bytes, kind=st.sampled_from(["whole", "truncated", "corrupt", "concatenated",
                                                 "trailing garbage"]))
@example(data=b"", kind="truncated")
def test_gzip_loader_raises_only_input_error(tmp_path: Path, data: bytes, kind: str) -> None:
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(_gz_variants(data, kind))
    _load(path)


@FUZZ
@given(data=_trace_bytes, fmt=st.sampled_from(["openinference", "otel-genai"]))
def test_span_loaders_raise_only_input_error(tmp_path: Path, data: bytes, fmt: str) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_bytes(data)
    try:
        load_population([path.name], label="current", base_dir=tmp_path, fmt=fmt)
    except InputError as err:
        _one_line_naming(err, path.name)


@FUZZ
@given(data=_trace_bytes)
def test_inspect_raises_only_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    try:
        inspect_paths([path.name], base_dir=tmp_path)
    except InputError as err:
        _one_line_naming(err, path.name)


# ---- kalibra.yml ---------------------------------------------------------------------------------------

_yaml_scalars = st.sampled_from([
    "1", "-1", "1e999", ".nan", ".inf", "~", "null", "yes", "0x1F", "9" * 5000, "'x'", '"\\ud800"',
    "!!binary aGk=",
    "!!python/object:os.system ls", "!!python/name:os.system", "!!python/object/apply:os.system [ls]",
    "!!set {a: b}", "!!omap [a: 1]", "!!timestamp 2001-12-14", "!!float x", "!!int x", "&a 1", "*a", "*b",
    "[]", "{}", "[" * 1200 + "]" * 1200, "{a: " * 300 + "1" + "}" * 300, "? [a, b]\n  : c", "x\x00y",
    "'\\u2028'", "<<: *a", "regressions <= 0", "success_rate.delta >= -5", "nan", "inf",
])
_yaml_keys = st.sampled_from(["sources", "baseline", "current", "fields", "format", "metrics", "require",
                              "noise_thresholds", "task_id", "resamples", "seed", "on_inconclusive",
                              "per_task", "limits", "path", "where", "fdr", "max_line_bytes", "1", "null",
                              "[a]", "? x", "&k key", "*k", "~", "true", "unknwn"])


def _yaml_doc(pairs: list[tuple[str, object]], depth: int = 0) -> str:
    pad = "  " * depth
    out = []
    for key, value in pairs:
        if isinstance(value, list):
            out.append(f"{pad}{key}:\n" + _yaml_doc(value, depth + 1))  # type: ignore[arg-type]
        else:
            out.append(f"{pad}{key}: {value}")
    return "\n".join(out) + "\n"


_yaml_tree = st.recursive(
    st.lists(st.tuples(_yaml_keys, _yaml_scalars), max_size=4),
    lambda inner: st.lists(st.tuples(_yaml_keys, st.one_of(_yaml_scalars, inner)), max_size=4),
    max_leaves=12,
).map(_yaml_doc)
_config_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
    _yaml_tree.map(str.encode),
    st.builds(lambda doc, enc: doc.encode(enc), _yaml_tree, _encodings),
    st.sampled_from([
        b"", b"   \n", b"---\n---\n", b"- a\n- b\n", b"a: &x [*x]\n",
        b"a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\n"
        b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d]\n",
        b"require: [a <= 1]\nrequire: [b <= 2]\n", b"{[1]: 2, {a: b}: c, 1.5: x, null: y}\n",
        b"resamples: " + b"9" * 5000 + b"\n", b"seed: 1e999\n", b"limits: {max_tasks: .inf}\n",
        b"x: !!python/object/new:os.system [echo hi]\n", b"[" * 3000, b"- " * 1200 + b"x\n",
    ]),
)


@FUZZ
@given(data=_config_bytes)
@example(data=b"\x00")  # PyYAML's reader raised while the loader was built
@example(data=b"(: !!float")  # IndexError in the float constructor
@example(data=b"seed: !!float ;\n")  # ValueError in the float constructor
@example(data=b"seed: " + b"9" * 5000 + b"\n")  # int() past 4,300 digits
def test_config_parser_raises_only_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "kalibra.yml"
    path.write_bytes(data)
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        load_config("kalibra.yml", required=True)
    except InputError as err:
        _one_line_naming(err, "kalibra.yml")
    finally:
        os.chdir(old)


# ---- gates ---------------------------------------------------------------------------------------------

_GATE_PIECES = st.sampled_from([
    "regressions", "success_rate.delta", "cost.pct_change", "<=", ">=", "<", ">", "=", "==", "=>", "!=", "<>",
    " ", "\t", "\n", "\u2028", "\u00a0", "\u3000", "0", "5", "-1", "1e999", "-1e999", "nan", "NaN", "inf",
    "-Infinity", "\u0661\u0662", "\uff15", "\u00b2", "\u2167", "1_000", "0x10", "1e-400", "9" * 400, "\x00",
    "\ud800", "\u200b", "\u202e", "::", "##[", "%0A",
])
_gates = st.one_of(st.text(), st.lists(_GATE_PIECES, max_size=8).map("".join))


@FUZZ
@given(expr=_gates, source=st.sampled_from(["config", "cli", "action"]))
@example(expr="regressions <= " + "1" + " " * 20_000 + "x", source="config")
@example(expr="x" * 100_000 + " <= 1", source="action")
def test_gate_parser_raises_only_input_error(expr: str, source: str) -> None:
    try:
        gate = parse_gate(expr, all_fields(), source=source, index=0)
    except InputError as err:
        assert "\n" not in str(err) and err.key
    else:
        assert gate.threshold == gate.threshold and abs(gate.threshold) != float("inf")


@FUZZ
@given(exprs=st.lists(_gates, max_size=6))
def test_gate_lists_raise_only_input_error(exprs: list[str]) -> None:
    try:
        parse_gates(exprs, all_fields(), source="action")
    except InputError as err:
        assert "\n" not in str(err)


def test_gate_parser_is_linear_in_the_length() -> None:
    """A long gate parses at once: the threshold's pattern must not backtrack over a run of spaces (quadratic:
    30k spaces took ~20 s, a 1 MiB kalibra.yml's gate hours)."""
    expr = "regressions <= 1" + " " * 30_000 + "x"
    start = time.perf_counter()
    with pytest.raises(InputError):
        parse_gate(expr, all_fields())
    assert time.perf_counter() - start < 2.0
