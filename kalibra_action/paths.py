"""Paths from untrusted input: confinement to allowed roots, a glob that cannot be looped, a safe write.

In the action every path comes from the pull request being judged (its files, its `kalibra.yml`, the
workflow's inputs), so a path is only used once its real location, with every symlink resolved, lies inside
one of the allowed roots (the workspace, and the action's own temporary directory for a baseline artifact).
The CLI passes no roots unless `--root` asks for them: a local user may name any file. A leading `~` is
a literal name everywhere, never the home directory: a `path: ~/.docker/config.json` in a pull request's
kalibra.yml must not make the comparison read the runner's own files (a shell expands `~` on a command line
before we see it).

`glob_paths` is `glob.glob(..., recursive=True)` except that `**` never descends into a symlinked directory:
two symlinks to `.` would otherwise make `**/*.jsonl` walk an exponential number of paths.
`write_text` never writes through a symlink: it creates a fresh file next to the target (O_EXCL,
O_NOFOLLOW) and renames it over the target, which replaces a symlink instead of following it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from kalibra_action.errors import InputError

Roots = tuple[Path, ...]
_MAGIC = re.compile(r"[*?[]")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
REPORT_MODE = 0o644


def make_roots(paths: Iterable[str | os.PathLike[str]]) -> Roots:
    """Allowed roots, resolved once (so a workspace reached through a symlink still compares equal)."""
    return tuple(Path(p).resolve() for p in paths)


def is_within(path: Path, roots: Roots) -> bool:
    """Whether `path` (already resolved or normalised) is one of the roots or below one."""
    return any(path == root or path.is_relative_to(root) for root in roots)


def describe_roots(roots: Roots) -> str:
    return " or ".join(str(r) for r in roots)


def lexical(path: Path) -> Path:
    """`path` absolute and normalised without touching the file system (`a/../b` → `b`)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def confine(path: str | os.PathLike[str], roots: Roots, *, what: str, base: Path | None = None) -> Path:
    """The resolved path, or an InputError naming `what` when it leaves the roots.

    Checked twice: as written (an absolute path or `..` that leaves the roots) and with symlinks resolved
    (a link inside the roots that points outside). The file need not exist.
    """
    given = os.fspath(path)
    base = base or Path.cwd()
    check_entries([given], roots, base, what=what)
    real = (base / given).resolve()
    if not is_within(real, roots):
        raise InputError(f"{what} resolves through a symbolic link to {real}, outside "
                         f"{describe_roots(roots)}", file=given)
    return real


def check_entries(entries: Sequence[str], roots: Roots, base: Path, *, what: str) -> None:
    """Each path or glob, as written (absolute, or `..` out of `base`), stays inside the roots; checked
    before any directory is walked."""
    for entry in entries:
        if not is_within(lexical(base / entry), roots):
            raise InputError(f"{what} is outside {describe_roots(roots)}; paths must stay inside it",
                             file=entry)


# ---- glob --------------------------------------------------------------------------------------------------

def has_magic(text: str) -> bool:
    return _MAGIC.search(text) is not None


def _visible(name: str, pattern: str) -> bool:
    """glob's rule: a wildcard matches a name starting with `.` only when the pattern does too."""
    return not name.startswith(".") or pattern.startswith(".")


def _children(directory: Path, pattern: str, want_dirs: bool) -> list[Path]:
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries
                     if _visible(e.name, pattern) and fnmatch.fnmatchcase(e.name, pattern)
                     and (not want_dirs or e.is_dir())]
    except OSError:  # not a directory, unreadable, gone
        return []
    return [directory / name for name in names]


def _recursive(directory: Path, with_files: bool) -> list[Path]:
    """`**`: the directory and every non-hidden directory below it, never entering a symlinked one."""
    if not directory.is_dir():
        return []
    out = [directory]
    for top, dirs, files in os.walk(directory, followlinks=False):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink())
        out.extend(here / d for d in dirs)
        if with_files:
            out.extend(here / f for f in sorted(files) if not f.startswith("."))
    return out


def glob_paths(pattern: str | os.PathLike[str]) -> list[Path]:
    """The existing paths that match an absolute pattern (`*`, `?`, `[…]`, and `**` for any depth), sorted.

    Literal and single-wildcard components follow symlinks, as glob does (the caller checks where the
    matches really are); `**` does not descend into symlinked directories, so a link loop cannot make the
    walk explode.
    """
    path = Path(pattern)
    parts = path.parts[1:] if path.anchor else path.parts
    candidates = [Path(path.anchor or ".")]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        found: list[Path] = []
        for directory in candidates:
            if part == "**":
                found.extend(_recursive(directory, with_files=last))
            elif has_magic(part):
                found.extend(_children(directory, part, want_dirs=not last))
            elif (directory / part).is_dir() or (last and os.path.lexists(directory / part)):
                found.append(directory / part)
        candidates = list(dict.fromkeys(found))
        if not candidates:
            return []
    return sorted(candidates)


# ---- reading ----------------------------------------------------------------------------------------------

def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str], *, name: str) -> BinaryIO:
    """The file opened for reading in binary, or an InputError naming it (`name`) when it is not a regular
    file: a FIFO would block the run forever (the open itself, or the first read), a device such as
    /dev/zero never ends. The open uses O_NONBLOCK, so a FIFO without a writer cannot hang it, and the type
    is checked on the open descriptor, so nothing can be swapped in after the check. OSError as open()."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"is {_file_kind(mode)}, not a regular file; give a trace or config file",
                             file=name)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# ---- writing -----------------------------------------------------------------------------------------------

def write_text(path: str | os.PathLike[str], text: str, *, roots: Roots | None = None,
               what: str = "report", parents: bool = False) -> Path:
    """Write `text` to `path` without ever following a symlink there; the resolved target.

    The parent directory is resolved (and, with roots, must lie inside them), created when missing if
    `parents`, and opened with O_NOFOLLOW; the text goes to a new file in it (O_CREAT|O_EXCL|O_NOFOLLOW,
    mode 0644) that is then renamed over `path`. A symlink at `path` is replaced, never written through;
    a symlinked parent that leads outside the roots is an InputError. Other failures raise OSError.
    """
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise InputError(f"{what} path does not name a file", file=os.fspath(path))
    if roots is not None:
        confine(target, roots, what=what)
    parent = target.parent.resolve()
    if roots is not None and not is_within(parent, roots):  # re-checked: confine() may have raced a link
        raise InputError(f"{what} directory resolves to {parent}, outside {describe_roots(roots)}",
                         file=os.fspath(path))
    if parents:
        parent.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(parent, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
    try:
        _replace_in(dir_fd, target.name, text.encode("utf-8"))
    finally:
        os.close(dir_fd)
    return parent / target.name


def _replace_in(dir_fd: int, name: str, data: bytes) -> None:
    """Create a temporary file in the open directory, write `data`, rename it to `name`."""
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, REPORT_MODE,
                 dir_fd=dir_fd)
    try:
        try:
            os.fchmod(fd, REPORT_MODE)  # the umask must not make the report unreadable to later steps
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


