"""Trace files: path and glob resolution, and reading JSON Lines with one bad-line policy for all formats.

Policy: blank lines are skipped; a UTF-8 BOM and CRLF line ends are accepted; a last line that does not
end in a newline and fails to parse (a truncated write) is skipped with a warning; any other line that is
not a JSON object is an InputError naming file and line.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from json.scanner import make_scanner
from pathlib import Path
from typing import TextIO

from kalibra_action.errors import InputError
from kalibra_action.paths import Roots, check_entries, describe_roots, glob_paths, is_within

_GLOB_CHARS = ("*", "?", "[")
_SCAN = make_scanner(json.JSONDecoder())
_ARRAY_HINT = "the file is one JSON array; convert it to JSON Lines with `jq -c '.[]' FILE > FILE.jsonl`"
_PRETTY_HINT = "each line must hold one whole JSON object; compact it with `jq -c . FILE > FILE.jsonl`"


@dataclass(frozen=True)
class TraceFile:
    """One input file: where it is and how it is named in messages."""

    path: Path
    name: str


def _display_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def resolve_files(paths: Sequence[str], base_dir: Path | None = None,
                  roots: Roots | None = None) -> list[TraceFile]:
    """Expand globs (sorted) and plain paths against base_dir; deduplicated, in the order given.

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
        for match in _matches(entry, base):
            real = match.resolve()
            if roots is not None and not is_within(real, roots):
                raise InputError(f"is a symbolic link to {real}, outside {describe_roots(roots)}",
                                 file=_display_name(match, base))
            if real not in seen:
                seen.add(real)
                out.append(TraceFile(real, _display_name(real, base)))
    return out


def _matches(entry: str, base: Path) -> list[Path]:
    """The files one path or glob names; InputError when there are none."""
    candidate = Path(entry).expanduser()
    full = candidate if candidate.is_absolute() else base / candidate
    if any(c in entry for c in _GLOB_CHARS) and not full.exists():
        matches = [m for m in glob_paths(full) if m.is_file()]
        if not matches:
            raise InputError("no file matches this pattern", file=entry)
        return matches
    if not full.exists():
        raise InputError("file not found", file=entry)
    if full.is_dir():
        raise InputError("is a directory; give a file or a glob such as DIR/*.jsonl", file=entry)
    return [full]


def open_text(path: Path) -> TextIO:
    """Open a .jsonl or .jsonl.gz file as UTF-8 text (a leading BOM is dropped, CRLF read as LF)."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline=None)
    return open(path, encoding="utf-8-sig", newline=None)


def _bad_utf8_line(path: Path) -> tuple[int, str]:
    """Line number and reason of the first line that is not UTF-8 (slow path, errors only)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return line_no, f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1} is not UTF-8"
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
    try:
        with open_text(tf.path) as f:
            for line_no, line in enumerate(f, 1):
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
        bad_line, reason = _bad_utf8_line(tf.path)
        raise InputError(reason, file=tf.name, line=bad_line or None) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read: {exc}", file=tf.name, line=line_no or None) from None
