"""Trace files: path and glob resolution, and reading JSON Lines with one bad-line policy for all formats.

Policy: blank lines are skipped; a UTF-8 BOM and CRLF line ends are accepted; a last line that does not
end in a newline and fails to parse (a truncated write) is skipped with a warning; any other line that is
not a JSON object is an InputError naming file and line.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from json.scanner import make_scanner
from pathlib import Path
from typing import BinaryIO, TextIO

from kalibra_action.errors import InputError
from kalibra_action.limits import DEFAULT_LIMITS, Limits
from kalibra_action.paths import Roots, check_entries, describe_roots, glob_paths, is_within, open_regular

_GLOB_CHARS = ("*", "?", "[")
# A file's objects, each with where it is in the file (a line number, or a native reader's location).
Objects = Iterator[tuple[int | str, dict]]
_SCAN = make_scanner(json.JSONDecoder())
_ARRAY_HINT = "the file is one JSON array; convert it to JSON Lines with `jq -c '.[]' FILE > FILE.jsonl`"
_PRETTY_HINT = "each line must hold one whole JSON object; compact it with `jq -c . FILE > FILE.jsonl`"


@dataclass(frozen=True)
class TraceFile:
    """One input file: where it is and how it is named in messages."""

    path: Path
    name: str
    limits: Limits = field(default=DEFAULT_LIMITS, compare=False)


def _display_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")


def is_jsonl_name(tf: TraceFile) -> bool:
    """Whether the file is named as JSON Lines (what a directory contributes without a native reader)."""
    return tf.path.name.lower().endswith(JSONL_SUFFIXES)


def resolve_files(paths: Sequence[str], base_dir: Path | None = None,
                  roots: Roots | None = None,
                  accept: Callable[[TraceFile], bool] = is_jsonl_name) -> list[TraceFile]:
    """Expand globs (sorted), directories and plain paths against base_dir; deduplicated, in the order
    given.

    A directory stands for the files directly in it (not below: use a `**` glob for that; hidden names
    skipped) that `accept` takes as trace files, sorted by name: e.g. an Inspect log directory, whose
    `logs.json` index is no trace file; none accepted is an InputError.

    With `roots`, every path or glob must stay inside them as written, and every file it names must
    still be inside them with symlinks resolved: a link to a file outside is an InputError, not skipped,
    so that a pull request cannot quietly feed the comparison a file from elsewhere on the runner.
    """
    base = (base_dir or Path.cwd()).resolve()
    if isinstance(paths, str | os.PathLike):
        paths = [os.fspath(paths)]
    if not paths:
        raise InputError("no trace files given")
    entries = [os.fspath(entry) for entry in paths]
    if roots is not None:
        check_entries(entries, roots, base, what="trace path")
    out: list[TraceFile] = []
    seen: set[Path] = set()
    for entry in entries:
        directory = _directory(entry, base)
        found = 0
        for match in _matches(entry, base) if directory is None else _members(directory):
            real = match.resolve()
            if roots is not None and not is_within(real, roots):  # before `accept` reads the file
                raise InputError(f"is a symbolic link to {real}, outside {describe_roots(roots)}",
                                 file=_display_name(match, base))
            tf = TraceFile(real, _display_name(real, base))
            if directory is not None and not accept(tf):
                continue
            found += 1
            if real not in seen:
                seen.add(real)
                out.append(tf)
        if directory is not None and not found:
            raise InputError("no trace files in this directory (read without its subdirectories: use "
                             "DIR/**/*.jsonl for those)", file=entry)
    return out


def _directory(entry: str, base: Path) -> Path | None:
    """The directory a plain (glob-free) entry names, else None."""
    candidate = Path(entry).expanduser()
    full = candidate if candidate.is_absolute() else base / candidate
    return full if not any(c in entry for c in _GLOB_CHARS) and full.is_dir() else None


def _members(directory: Path) -> list[Path]:
    """The regular files directly in a directory (a symlink counts by its target), hidden ones skipped."""
    return sorted(p for p in directory.iterdir() if not p.name.startswith(".") and p.is_file())


def _matches(entry: str, base: Path) -> list[Path]:
    """The files one path or glob names; InputError when there are none."""
    candidate = Path(entry)  # never expanduser(): `~` in a PR's kalibra.yml must not reach $HOME
    full = candidate if candidate.is_absolute() else base / candidate
    if any(c in entry for c in _GLOB_CHARS) and not full.exists():
        matches = [m for m in glob_paths(full) if m.is_file()]
        if not matches:
            raise InputError("no file matches this pattern", file=entry)
        return matches
    if not full.exists():
        raise InputError("file not found", file=entry)
    return [full]



class _CappedReader(io.RawIOBase):
    """A decompressing stream that counts the bytes it yields and stops past the cap (a gzip bomb)."""

    def __init__(self, inner: BinaryIO, cap: int, name: str, raw: BinaryIO) -> None:
        super().__init__()
        self._inner, self._cap, self._name, self._total, self._raw = inner, cap, name, 0, raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            n = self._inner.readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:  # corrupt or cut-off gzip: one error, whoever reads
            raise InputError(f"cannot read: {exc}", file=self._name) from None
        self._total += n
        if self._total > self._cap:
            raise InputError(f"unpacks to more than {self._cap:,} bytes (limits.max_decompressed_bytes)",
                             file=self._name)
        return n

    def close(self) -> None:
        try:
            self._inner.close()  # a GzipFile given a file object leaves that one open
        finally:
            self._raw.close()
            super().close()


def open_binary(tf: TraceFile) -> BinaryIO:
    """The file's bytes, decompressed (and capped at limits.max_decompressed_bytes) for .gz.

    Only a regular file is opened (paths.open_regular): a FIFO or a device among the matches would hang
    the run or never end."""
    raw = open_regular(tf.path, name=tf.name)
    if tf.path.suffix == ".gz":
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
        return io.BufferedReader(_CappedReader(inner, tf.limits.max_decompressed_bytes, tf.name, raw))
    return raw


def open_text(tf: TraceFile) -> TextIO:
    """The file as UTF-8 text (a leading BOM is dropped, CRLF read as LF)."""
    return io.TextIOWrapper(open_binary(tf), encoding="utf-8-sig", newline=None)


def bounded_lines(f: TextIO | BinaryIO, limit: int) -> Iterator[str | bytes]:
    """Lines of at most `limit` characters before the line end; a longer one stops at `limit` + 1,
    so the caller sees it is too long without it ever being held in memory."""
    return iter(lambda: f.readline(limit + 1), f.read(0))


def _too_long(line: str, limit: int) -> bool:
    return len(line) > limit and not (len(line) == limit + 1 and line.endswith("\n"))


def _line_too_long(tf: TraceFile, line_no: int) -> InputError:
    limit = tf.limits.max_line_bytes
    return InputError(f"line longer than {limit:,} characters (limits.max_line_bytes)", file=tf.name,
                      line=line_no, hint="each line must be one trace or span")


def _bad_utf8_line(tf: TraceFile) -> tuple[int, str]:
    """Line number and reason of the first line that is not UTF-8 (slow path, errors only)."""
    line_no = 1
    with open_binary(tf) as f:
        for raw in bounded_lines(f, tf.limits.max_line_bytes):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if raw.endswith(b"\n") or exc.reason != "unexpected end of data":  # not a cut character
                    return line_no, f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1} is not UTF-8"
            line_no += raw.endswith(b"\n")
    return 0, "the file is not UTF-8"


def _first_line_error(stripped: str, tf: TraceFile, line_no: int, reason: str) -> InputError:
    hint = _ARRAY_HINT if stripped.startswith("[") else _PRETTY_HINT if stripped == "{" else None
    return InputError(reason, file=tf.name, line=line_no, hint=hint)


def iter_objects(tf: TraceFile, warnings: list[str]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every JSON object line of a file, applying the bad-line policy."""
    loads = json.loads
    scan = _SCAN  # json.loads without its Python wrapper layers; loads() re-parses odd lines
    first = True
    line_no = 0
    limit = tf.limits.max_line_bytes
    try:
        with open_text(tf) as f:
            for line_no, line in enumerate(bounded_lines(f, limit), 1):
                if _too_long(line, limit):
                    raise _line_too_long(tf, line_no)
                try:
                    try:
                        row, end = scan(line, 0)
                    except StopIteration:  # leading whitespace or a blank line
                        row = loads(line)
                    else:
                        if end != len(line) and line[end:].strip():
                            row = loads(line)  # raises "Extra data"
                except RecursionError:
                    raise InputError("JSON nested too deeply", file=tf.name, line=line_no) from None
                except ValueError as exc:
                    stripped = line.strip()
                    if not stripped:
                        continue
                    if not line.endswith("\n"):
                        warnings.append(f"{tf.name}:{line_no}: skipped a truncated last line ({exc})")
                        continue
                    if first:
                        raise _first_line_error(stripped, tf, line_no, f"not valid JSON: {exc}") from None
                    raise InputError(f"not valid JSON: {exc}", file=tf.name, line=line_no) from None
                if row.__class__ is not dict:
                    kind = type(row).__name__ if not isinstance(row, list) else "array"
                    reason = f"a JSON {kind}, not an object"
                    if first:
                        raise _first_line_error(line.strip(), tf, line_no, reason)
                    raise InputError(reason, file=tf.name, line=line_no)
                first = False
                yield line_no, row
    except UnicodeDecodeError:
        bad_line, reason = _bad_utf8_line(tf)
        raise InputError(reason, file=tf.name, line=bad_line or None) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read: {exc}", file=tf.name, line=line_no or None) from None


# How a pipeline gets a file's objects: iter_objects (JSON Lines) or a native reader's (traces/registry.py).
ObjectSource = Callable[[TraceFile, list[str]], Objects]
