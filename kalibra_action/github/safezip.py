"""Extract an untrusted zip (a downloaded artifact) without letting it write anywhere but `dest`.

Every name is checked before anything is written: no absolute path, drive letter, `..` component, NUL or
symlink (nor any other non-regular file type in the Unix mode). The entry count and the sum of the declared
sizes are capped up front; the bytes actually decompressed are counted while streaming, so a header that
lies about its size cannot get past the cap either, and an entry must hold exactly the size it declares.
On any error the files written so far are removed.
"""

from __future__ import annotations

import copy
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from kalibra_action.errors import InputError
from kalibra_action.limits import IO_CHUNK

_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")


def _member_path(info: zipfile.ZipInfo, label: str) -> PurePosixPath | None:
    """The entry's relative path, or None for a directory; InputError when it is unsafe."""
    name = info.filename
    norm = name.replace("\\", "/")
    if not norm or "\0" in norm:
        raise InputError(f"unsafe entry {name!r}: empty or NUL in the name", file=label)
    if norm.startswith("/") or _DRIVE.match(norm):
        raise InputError(f"unsafe entry {name!r}: absolute path", file=label)
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"unsafe entry {name!r}: '..' would leave the extraction directory", file=label)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise InputError(f"unsafe entry {name!r}: symbolic link", file=label)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise InputError(f"unsafe entry {name!r}: not a regular file (mode {oct(kind)})", file=label)
    if info.flag_bits & 0x1:
        raise InputError(f"entry {name!r} is encrypted", file=label)
    if info.is_dir() or kind == stat.S_IFDIR or not parts:
        return None
    return PurePosixPath(*parts)


def _plan(zf: zipfile.ZipFile, label: str, *, max_bytes: int,
          max_files: int) -> list[tuple[zipfile.ZipInfo, PurePosixPath | None]]:
    entries = zf.infolist()
    if len(entries) > max_files:
        raise InputError(f"the archive holds {len(entries)} entries, more than the limit of {max_files}",
                         file=label)
    plan = [(info, _member_path(info, label)) for info in entries]
    declared = sum(info.file_size for info, _ in plan)
    if declared > max_bytes:
        raise InputError(f"the archive would expand to {declared} bytes, more than the limit of "
                         f"{max_bytes}", file=label)
    return plan


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: BinaryIO, used: int, max_bytes: int,
            label: str) -> int:
    """Decompress one entry into `out`; its byte count. InputError when `used` plus the bytes decompressed
    so far passes `max_bytes`, or when the entry does not hold the size its header declares.

    zipfile stops reading an entry at its declared size, so a header that understates the size would
    truncate the entry silently (or fail on its checksum) instead of meeting the cap. The entry is therefore
    opened with a copy of its header that declares more than the budget plus one read: the stream then ends
    where the compressed data really ends, or the read that passes the budget still comes back (zipfile
    checks the CRC only once the declared size is used up), and the count, not the header, decides.
    """
    unbounded = copy.copy(info)
    unbounded.file_size = max_bytes - used + IO_CHUNK + 1
    count = 0
    with zf.open(unbounded) as src:
        while chunk := src.read(IO_CHUNK):
            count += len(chunk)
            if used + count > max_bytes:
                raise InputError(f"the archive expands to more than the limit of {max_bytes} bytes",
                                 file=label)
            out.write(chunk)
    if count != info.file_size:
        raise InputError(f"entry {info.filename!r} declares {info.file_size} bytes but holds {count}",
                         file=label)
    return count


def safe_extract(zip_path: Path, dest: Path, *, max_bytes: int, max_files: int) -> list[Path]:
    """Extract `zip_path` under `dest` (created if missing); the regular files written, in archive order.

    InputError (exit 2) on an unsafe name or type, too many entries, more than `max_bytes` decompressed,
    an encrypted or corrupt archive.
    """
    label = Path(zip_path).name
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: list[Path] = []
    made_dirs: list[Path] = []
    try:
        with zipfile.ZipFile(zip_path) as zf:
            plan = _plan(zf, label, max_bytes=max_bytes, max_files=max_files)
            total = 0
            for info, rel in plan:
                if rel is None:
                    continue
                target = root.joinpath(*rel.parts)
                parent = target.parent
                if not parent.resolve().is_relative_to(root):  # defence in depth; names were checked
                    raise InputError(f"unsafe entry {info.filename!r}: outside the destination", file=label)
                if not parent.exists():
                    top = parent
                    while not top.parent.exists():
                        top = top.parent
                    parent.mkdir(parents=True)
                    made_dirs.append(top)
                with open(target, "xb") as out:
                    written.append(target)
                    total += _stream(zf, info, out, total, max_bytes, label)
    except InputError:
        _undo(written, made_dirs)
        raise
    except FileExistsError as err:
        _undo(written, made_dirs)
        raise InputError(f"duplicate entry {Path(err.filename).relative_to(root).as_posix()!r}",
                         file=label) from err
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as err:
        _undo(written, made_dirs)
        raise InputError(f"cannot extract the archive: {err}", file=label) from err
    return written


def _undo(written: list[Path], made_dirs: list[Path]) -> None:
    for path in written:
        path.unlink(missing_ok=True)
    for path in made_dirs:
        shutil.rmtree(path, ignore_errors=True)
