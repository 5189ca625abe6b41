"""Inspect AI logs (`inspect eval`), both formats, as Kalibra flat traces: one trace per sample and epoch.

- `.eval`: a ZIP whose members are Zstandard-compressed (ZIP method 93, which Python's zipfile reads only
  from 3.14 on), so each member's compressed bytes are located from its local header and streamed through
  `zstandard`; stored and deflated members (older logs) go through zipfile. A finished log is read from
  `summaries.json`; an unfinished one (crashed or still running: no `header.json`) from
  `_journal/summaries/*.json` and `samples/*.json`.
- `.json`: one object with `eval` and `samples[]` (also compacted onto one line, or several such objects);
  an eval-set's own `logs.json` and `eval-set.json` are recognised and hold no samples.

The log is untrusted: the member count, each member's size (limits.max_line_bytes: one member is one JSON
document, held in memory like one JSON Lines line) and the archive's total (limits.max_decompressed_bytes)
are bounded while decompressing, never taken from the headers on trust, and each member must hold the size
and CRC its header declares.

Mapping: task = sample `id`, repeat = `epoch` (the trace id `ID__LOG__EPOCH` makes Kalibra's task rule give
the id back, and is unique per log); outcome = the chosen scorer's value (C/P pass, I/N fail, booleans,
numbers at or above the threshold pass); tokens and cost summed over every `model_usage` entry; duration =
`total_time` (s), else `working_time`, else completed_at − started_at; a sample with `error` and no scores is
an error (its span) with no outcome.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from hashlib import sha256
from typing import TYPE_CHECKING, BinaryIO

import zstandard

from kalibra_action.errors import InputError
from kalibra_action.traces import registry
from kalibra_action.traces.source import TraceFile, open_binary

if TYPE_CHECKING:  # registry imports this module: only its types here, its functions at call time
    from kalibra_action.traces.registry import ReadOptions

NAME = "inspect"
PIPELINE = "flat"

WHAT = TITLE = "Inspect AI log"
ZIP_ZSTD = 93
MAX_MEMBERS = 500_000
CHUNK = 1 << 16
DEFAULT_THRESHOLD = 1.0
PASS_VALUES = frozenset({"C", "P"})  # Inspect's CORRECT and PARTIAL
FAIL_VALUES = frozenset({"I", "N"})  # INCORRECT and NOANSWER

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra field length
# An EvalLog serialises its fields in order (version, status, eval, ...), pretty or compacted; an eval set
# adds logs.json (log file name → that log's header) and eval-set.json. A flat trace that merely holds an
# `eval` object somewhere does not open like this.
_JSON_LOG = re.compile(rb'^\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:\s*"\w+"\s*,\s*"eval"\s*:\s*\{')
_LOG_INDEX = re.compile(rb'^\s*\{\s*"[^"\\]+\.(?:json|eval)"\s*:\s*\{\s*"version"\s*:\s*\d+\s*,')
_EVAL_SET = re.compile(rb'^\s*\{\s*"eval_set_id"\s*:\s*"[^"\\]*"\s*,\s*"tasks"\s*:\s*\[')
_BOM = b"\xef\xbb\xbf"
_LOG_MEMBERS = ("header.json", "summaries.json", "_journal/start.json")
_SAMPLE_MEMBER = re.compile(r"samples/[^/]+\.json")
_JOURNAL_SUMMARY = re.compile(r"_journal/summaries/(\d+)\.json")


def sniff(tf: TraceFile, head: bytes) -> bool:
    """An `.eval` file or any ZIP (no other format is one), or JSON that opens like an Inspect log."""
    if tf.name.endswith(".eval") or head.startswith(_ZIP_MAGIC):
        return True
    text = head.removeprefix(_BOM)
    return any(pattern.match(text) for pattern in (_JSON_LOG, _LOG_INDEX, _EVAL_SET))


def auxiliary(tf: TraceFile) -> bool:
    """An eval set's own index (logs.json, eval-set.json) holds no samples: it comes with the logs (a log
    directory), and alone it is an error naming it, not a file without traces."""
    text = registry.head(tf).removeprefix(_BOM)
    return bool(_LOG_INDEX.match(text) or _EVAL_SET.match(text))


def explain_empty(tf: TraceFile) -> str:
    """What an Inspect file without samples is: an eval set's own index, or a log without samples."""
    if auxiliary(tf):
        return ("this looks like an Inspect AI eval set's index (logs.json / eval-set.json) only: give the "
                "logs too (e.g. logs/*.eval, or the log directory)")
    return f"this looks like an {WHAT} without samples: give a log of an eval that ran samples"


def describe() -> str:
    return ("Inspect AI log (.eval ZIP or .json): one trace per sample and epoch; task = sample id, "
            "repeat = epoch; outcome = the scorer's value (--scorer / read.scorer; the only scorer by "
            "default): C/P pass, I/N fail, booleans, numbers >= score_threshold (default 1.0) pass; "
            "tokens and cost (total_cost) summed over model_usage; duration = total_time (s); a sample "
            "with an error and no scores is an error with no outcome")


def objects(tf: TraceFile, options: ReadOptions, warnings: list[str]) -> Iterator[tuple[str, dict]]:
    """The samples of every log in the file, as flat traces."""
    with open(tf.path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"PK":
        logs = [_read_eval(tf, warnings)]
    elif tf.name.endswith(".eval"):
        raise _fail(tf, None, f"an .eval log is a ZIP archive, and this file "
                    f"starts with {magic!r}")
    else:
        logs = _read_json(tf)
    for log in logs:
        yield from _traces(tf, log, options, warnings)


class _Log:
    """One log's eval header and samples, each with where it was read from."""

    def __init__(self, header: dict, samples: list[tuple[str, object]]) -> None:
        self.header = header
        self.samples = samples


# --- .eval (ZIP) -------------------------------------------------------------------------------------------


def _read_eval(tf: TraceFile, warnings: list[str]) -> _Log:
    try:
        with zipfile.ZipFile(tf.path) as zf, open(tf.path, "rb") as raw:
            return _EvalArchive(tf, zf, raw).log(warnings)
    except zipfile.BadZipFile as exc:
        raise _fail(tf, None, f"not a readable .eval ZIP: {exc} (truncated, or not a "
                    "ZIP archive)") from None
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise _fail(tf, None, f"cannot read the .eval ZIP: {exc}") from None


class _EvalArchive:
    """The members of an .eval ZIP, each decompressed under the limits before it is parsed."""

    def __init__(self, tf: TraceFile, zf: zipfile.ZipFile, raw: BinaryIO) -> None:
        entries = zf.infolist()
        if len(entries) > MAX_MEMBERS:
            raise _fail(tf, None, f"the ZIP holds {len(entries):,} members, more than "
                        f"{MAX_MEMBERS:,}")
        self.tf, self.zf, self.raw = tf, zf, raw
        self.members = {info.filename: info for info in entries if not info.is_dir()}
        self.member_cap = tf.limits.max_line_bytes
        self.budget = tf.limits.max_decompressed_bytes

    def log(self, warnings: list[str]) -> _Log:
        names = self.members
        if "summaries.json" in names:
            header = self.json("header.json") if "header.json" in names else {}
            return _Log(header, self.listed("summaries.json"))
        samples = [n for n in names if _SAMPLE_MEMBER.fullmatch(n)]
        journal = sorted((n for n in names if _JOURNAL_SUMMARY.fullmatch(n)),
                         key=lambda n: int(_JOURNAL_SUMMARY.fullmatch(n).group(1)))
        if not (samples or journal or any(n in names for n in _LOG_MEMBERS)):
            raise self.error(None, "the ZIP holds none of header.json, summaries.json, samples/*.json, "
                                     "_journal/ (not an Inspect log)")
        start = "header.json" if "header.json" in names else "_journal/start.json"
        header = self.json(start) if start in names else {}
        found = [item for member in journal for item in self.listed(member)]
        found += [(member, self.json(member)) for member in samples]
        if "header.json" not in names:
            warnings.append(f"{self.tf.name}: an unfinished {WHAT} (crashed or still running: no "
                            "header.json); read the samples it flushed")
        return _Log(header, found)

    def listed(self, member: str) -> list[tuple[str, object]]:
        """The items of a member that holds a JSON array of sample summaries."""
        items = self.json(member)
        if not isinstance(items, list):
            raise self.error(member, f"a JSON {type(items).__name__}, not an array of samples")
        return [(f"{member}[{i}]", item) for i, item in enumerate(items)]

    def json(self, member: str) -> object:
        data = self.read(member)
        try:
            return json.loads(data)
        except RecursionError:
            raise self.error(member, "JSON nested too deeply") from None
        except ValueError as exc:
            raise self.error(member, f"not valid JSON: {exc}") from None

    def read(self, member: str) -> bytes:
        """A member's bytes; InputError past a limit, or when it does not hold its declared size/CRC."""
        info = self.members[member]
        cap = min(self.member_cap, self.budget)
        if info.flag_bits & 0x1:
            raise self.error(member, "the member is encrypted")
        if info.file_size > cap:
            raise self.error(member, f"declares {info.file_size:,} bytes, more than the limit of {cap:,} "
                                     "(limits.max_line_bytes / limits.max_decompressed_bytes)")
        if info.compress_type == ZIP_ZSTD:
            data = self._zstd(member, info, cap)
        else:
            data = self._zipfile(member, info, cap)
        if len(data) != info.file_size:
            raise self.error(member, f"declares {info.file_size:,} bytes but holds {len(data):,} (a lying "
                                     "or truncated member)")
        if zlib.crc32(data) != info.CRC:
            raise self.error(member, "CRC mismatch: the member is corrupt")
        self.budget -= len(data)
        return data

    def _zstd(self, member: str, info: zipfile.ZipInfo, cap: int) -> bytes:
        if info.compress_size > cap + CHUNK:
            raise self.error(member, f"{info.compress_size:,} compressed bytes, more than the limit")
        compressed = self._compressed(member, info)
        out = bytearray()
        try:
            with zstandard.ZstdDecompressor().stream_reader(compressed, read_across_frames=True) as src:
                while chunk := src.read(CHUNK):
                    out += chunk
                    if len(out) > cap:
                        raise self.error(member, f"unpacks to more than {cap:,} bytes (a zip bomb?)")
        except zstandard.ZstdError as exc:
            raise self.error(member, f"not valid Zstandard data: {exc}") from None
        return bytes(out)

    def _compressed(self, member: str, info: zipfile.ZipInfo) -> bytes:
        """The member's compressed bytes, found through its local header (as zipfile does)."""
        raw = self.raw
        raw.seek(info.header_offset)
        head = raw.read(_LOCAL_HEADER.size)
        if len(head) < _LOCAL_HEADER.size or not head.startswith(_ZIP_MAGIC[0]):
            raise self.error(member, "bad local header (truncated or corrupt ZIP)")
        _sig, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        raw.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        data = raw.read(info.compress_size)
        if len(data) != info.compress_size:
            raise self.error(member, "the compressed data is cut short (a truncated ZIP)")
        return data

    def _zipfile(self, member: str, info: zipfile.ZipInfo, cap: int) -> bytes:
        """A stored or deflated member (older logs), counted while it streams: the header may lie."""
        out = bytearray()
        try:
            with self.zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    out += chunk
                    if len(out) > cap:
                        raise self.error(member, f"unpacks to more than {cap:,} bytes")
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise self.error(member, f"corrupt member: {exc}") from None
        except NotImplementedError as exc:
            raise self.error(member, f"unsupported compression: {exc}") from None
        return bytes(out)

    def error(self, member: str | None, message: str) -> InputError:
        return _fail(self.tf, member, message)


# --- .json -------------------------------------------------------------------------------------------------


def _read_json(tf: TraceFile) -> list[_Log]:
    """Every log object in the file (one pretty object, or several compact ones)."""
    cap = tf.limits.max_decompressed_bytes
    try:
        with open_binary(tf) as f:
            data = f.read(cap + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(tf, None, f"cannot read: {exc}") from None
    if len(data) > cap:
        raise _fail(tf, None, f"larger than {cap:,} bytes (limits.max_decompressed_bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(tf, f"byte {exc.start}", "not UTF-8") from None
    return [log for i, obj in enumerate(_json_values(tf, text)) if (log := _json_log(tf, i, obj))]


def _json_values(tf: TraceFile, text: str) -> Iterator[object]:
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos == end:
            return
        try:
            value, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            raise _fail(tf, f"line {text.count(chr(10), 0, pos) + 1}", "JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise _fail(tf, f"line {exc.lineno}", f"not valid JSON: {exc.msg} "
                        f"(column {exc.colno})") from None
        yield value


def _json_log(tf: TraceFile, index: int, obj: object) -> _Log | None:
    """The log in one top-level JSON value; None for an eval-set's own index files."""
    where = f"object {index + 1}"
    if not isinstance(obj, dict):
        raise _fail(tf, where, f"a JSON {type(obj).__name__}, not a log object")
    if ("eval_set_id" in obj and "tasks" in obj) or _is_log_index(obj):
        return None  # eval-set.json / logs.json: the logs themselves are the other files
    if not isinstance(obj.get("eval"), dict):
        raise _fail(tf, where, "no `eval` object (not an Inspect log)")
    samples = obj.get("samples")
    if samples is None:
        raise _fail(tf, where, "the log holds no samples (written with "
                    "log_samples=False, or a header only)")
    if not isinstance(samples, list):
        raise _fail(tf, f"{where}: samples", f"a JSON {type(samples).__name__}, not an array")
    return _Log(obj, [(f"samples[{i}]", s) for i, s in enumerate(samples)])


def _is_log_index(obj: dict) -> bool:
    """eval_set's logs.json: log file name → that log's header."""
    return bool(obj) and all(isinstance(v, dict) and isinstance(v.get("eval"), dict) and "samples" not in v
                             and k.endswith((".json", ".eval")) for k, v in obj.items())


# --- samples → flat traces ---------------------------------------------------------------------------------


def _traces(tf: TraceFile, log: _Log, options: ReadOptions,
            warnings: list[str]) -> Iterator[tuple[str, dict]]:
    header = log.header if isinstance(log.header, dict) else {}
    ev = header.get("eval") if isinstance(header.get("eval"), dict) else {}
    samples = [(where, _sample(tf, where, s)) for where, s in log.samples]
    samples = _unique(samples)
    scorer = _choose_scorer(tf, ev, [s for _, s in samples], options.scorer)
    threshold = options.score_threshold
    key = _log_key(tf, ev)
    base = _log_metadata(header, ev, scorer)
    counts = {"errored": 0, "unscored": 0}
    for where, s in samples:
        yield where, _trace(tf, where, s, scorer, threshold, key, base, counts)
    if counts["errored"]:
        warnings.append(f"{tf.name}: {counts['errored']} sample(s) ended in an error with no score: "
                        "counted as errors with no outcome")
    if counts["unscored"]:
        warnings.append(f"{tf.name}: {counts['unscored']} sample(s) have no usable `{scorer}` score "
                        "(missing, or not C/P/I/N, a boolean or a number): no outcome")
    status = header.get("status")
    if status not in (None, "success"):
        warnings.append(f"{tf.name}: the {WHAT}'s status is {status!r}; read the samples it holds")


def _fail(tf: TraceFile, where: str | None, message: str, hint: str | None = None) -> InputError:
    """The reader's error: `FILE: Inspect AI log, PLACE: message` (the format it took the file for)."""
    return registry.reader_error(tf, f"{WHAT}, {where}" if where else WHAT, message, hint)


def _sample(tf: TraceFile, where: str, s: object) -> dict:
    """A sample checked for the fields every mapping needs."""
    if not isinstance(s, dict):
        raise _fail(tf, where, f"a sample must be an object, not {type(s).__name__}")
    sid, epoch = s.get("id"), s.get("epoch")
    if isinstance(sid, bool) or not isinstance(sid, str | int) or sid == "":
        raise _fail(tf, where, f"the sample `id` must be a string or an integer, not "
                    f"{sid!r:.60}")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise _fail(tf, where, f"sample {sid!r:.60}: `epoch` must be a positive integer, "
                    f"not {epoch!r:.60}")
    for key in ("scores", "model_usage"):
        if s.get(key) is not None and not isinstance(s[key], dict):
            raise _fail(tf, where, f"sample {sid!r:.60}: `{key}` must be an object")
    return s


def _unique(samples: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """One entry per (id, epoch): an unfinished log lists a sample in its journal and in samples/."""
    seen: set[tuple[str, int]] = set()
    out = []
    for where, s in samples:
        key = (str(s["id"]), s["epoch"])
        if key not in seen:
            seen.add(key)
            out.append((where, s))
    return out


def _choose_scorer(tf: TraceFile, ev: dict, samples: list[dict], chosen: str | None) -> str:
    """The scorer whose value is the outcome: the chosen one, else the log's only scorer."""
    names = list(dict.fromkeys(k for s in samples for k in (s.get("scores") or {})))
    if not names:
        scorers = ev.get("scorers")
        names = [sc["name"] for sc in scorers if isinstance(sc, dict) and isinstance(sc.get("name"), str)] \
            if isinstance(scorers, list) else []
    if chosen is not None:
        if chosen not in names:
            raise _fail(tf, "scores", f"no scorer {chosen!r}; the log's scorers: "
                        f"{', '.join(names) or 'none'}")
        return chosen
    if len(names) == 1:
        return names[0]
    if not names:
        raise _fail(tf, "scores", "no sample has a score, so there is no outcome",
                    hint="score the log (`inspect score LOG`) first")
    raise _fail(tf, "scores", f"{len(names)} scorers ({', '.join(names)}); choose the one "
                "that decides pass/fail",
                hint=f"--scorer {names[0]}, or `read: {{scorer: {names[0]}}}` in kalibra.yml")


def _log_key(tf: TraceFile, ev: dict) -> str:
    """A short id of the log for trace ids: its eval_id (letters and digits only), else the file's name."""
    eval_id = ev.get("eval_id")
    key = re.sub(r"[^A-Za-z0-9]", "", eval_id) if isinstance(eval_id, str) else ""
    return key[:32] or sha256(tf.name.encode()).hexdigest()[:16]


def _log_metadata(header: dict, ev: dict, scorer: str) -> dict:
    """What `where` may select on that is the same for every sample of the log."""
    meta = {"scorer": scorer}
    for key, name in (("task", "eval_task"), ("model", "model"), ("eval_id", "eval_id"),
                      ("run_id", "run_id"), ("eval_set_id", "eval_set_id"), ("task_version", "task_version"),
                      ("tags", "tags")):
        if ev.get(key) is not None:
            meta[name] = ev[key]
    if header.get("status") is not None:
        meta["log_status"] = header["status"]
    return meta


def _trace(tf: TraceFile, where: str, s: dict, scorer: str, threshold: float | None, key: str,
           base: dict, counts: dict) -> dict:
    sid, epoch = str(s["id"]), s["epoch"]
    label = f"{where} (sample {sid!r:.60}, epoch {epoch})"
    scores = s.get("scores") or {}
    error = s.get("error")
    errored = bool(error)
    outcome = None
    if scorer in scores:
        outcome = _outcome(tf, label, scorer, scores[scorer], threshold)
    if errored and not scores:
        counts["errored"] += 1
    elif outcome is None:
        counts["unscored"] += 1
    usage = _usage(tf, label, s.get("model_usage") or {})
    metadata = dict(base, sample_id=s["id"], epoch=epoch, models=list(s.get("model_usage") or {}))
    if scorer in scores and isinstance(scores[scorer], dict):
        metadata["score"] = scores[scorer].get("value")
    if isinstance(s.get("metadata"), dict):
        metadata["sample"] = s["metadata"]
    for name in ("started_at", "completed_at"):
        if isinstance(s.get(name), str):
            metadata[name] = s[name]
    if errored:
        metadata["error"] = _error_text(error)
    span = {"span_id": "sample", "parent_id": None, "name": "sample",
            "error": metadata.get("error") if errored else None}
    if isinstance(s.get("started_at"), str) and isinstance(s.get("completed_at"), str):
        span["start_time"], span["end_time"] = s["started_at"], s["completed_at"]
    return {"trace_id": f"{sid}__{key}__{epoch}", "outcome": outcome, **usage,
            "duration_s": _duration(tf, label, s), "metadata": metadata, "spans": [span]}


def _outcome(tf: TraceFile, label: str, scorer: str, score: object, threshold: float | None) -> str | None:
    """pass / fail / None from a score's value."""
    value = score.get("value") if isinstance(score, dict) else score
    if isinstance(value, bool):
        return "pass" if value else "fail"
    if isinstance(value, str):
        return "pass" if value in PASS_VALUES else "fail" if value in FAIL_VALUES else None
    if isinstance(value, int | float) and math.isfinite(value):
        if threshold is None:
            if not 0 <= value <= 1:
                raise _fail(tf, label, f"scorer {scorer!r} gave {value!r}, outside 0–1, and "
                            "no threshold is set", hint="set --score-threshold N (or "
                            "`read: {score_threshold: N}`): a score >= N passes")
            threshold = DEFAULT_THRESHOLD
        return "pass" if value >= threshold else "fail"
    return None


def _usage(tf: TraceFile, label: str, usage: dict) -> dict:
    """input_tokens, output_tokens and cost summed over the models (None when no model reports one)."""
    totals: dict[str, float | None] = {"input_tokens": None, "output_tokens": None, "cost": None}
    for model, entry in usage.items():
        if not isinstance(entry, dict):
            raise _fail(tf, label, f"model_usage[{model!r:.80}] must be an object")
        for field, out in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                           ("total_cost", "cost")):
            value = _number(tf, label, f"model_usage[{model!r:.80}].{field}", entry.get(field))
            if value is not None:
                totals[out] = (totals[out] or 0) + value
    return totals


def _duration(tf: TraceFile, label: str, s: dict) -> float | None:
    for field in ("total_time", "working_time"):
        value = _number(tf, label, field, s.get(field))
        if value is not None:
            return value
    start, end = s.get("started_at"), s.get("completed_at")
    if isinstance(start, str) and isinstance(end, str):
        try:
            seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        except (ValueError, TypeError):
            raise _fail(tf, label, "started_at/completed_at are not ISO 8601 times with "
                        "the same time zone") from None
        return seconds if seconds >= 0 else None
    return None


def _number(tf: TraceFile, label: str, field: str, value: object) -> float | None:
    """A non-negative finite number, or None when absent; InputError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise _fail(tf, label, f"{field} must be a non-negative number, not {value!r:.60}")
    return value


def _error_text(error: object) -> str:
    """The sample's error as one short line (Inspect writes a string or an {message, traceback} object)."""
    if isinstance(error, dict):
        error = error.get("message") or "error"
    lines = str(error).strip().splitlines()
    return lines[0][:500] if lines else "error"

