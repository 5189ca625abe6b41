"""Untrusted comment templates: where they may come from, what they may load, and what they may cost.

A custom template can come from the pull request being judged, so it is treated as hostile:

- the template file must be a regular file inside the workspace (its real path) and not a symbolic link;
- `{% include %}`, `{% extends %}` and `{% import %}` load only relative names that resolve inside the
  template's own folder (no absolute name, no `..`, no hidden file, no symbolic link that leaves it), or the
  built-in templates;
- it renders in Jinja's immutable sandbox, with `*` and `**` checked before they build a huge value;
- it renders in a forked child process with a wall-clock timeout, an address-space limit, a cap on the
  output streamed so far, and an emptied environment (no token to read even if the sandbox had a hole).
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from kalibra_action.errors import InputError
from kalibra_action.limits import (
    IO_CHUNK,
    MIB,
    TEMPLATE_MAX_BYTES,
    TEMPLATE_MAX_POWER_BITS,
    TEMPLATE_MAX_REPEAT,
    TEMPLATE_MEMORY,
    TEMPLATE_SECONDS,
)


@dataclass(frozen=True)
class Limits:
    """What rendering one custom template may cost; `output` is in characters (None: no cap)."""

    seconds: float = TEMPLATE_SECONDS
    memory: int = TEMPLATE_MEMORY  # bytes of address space on top of what the process already has
    output: int | None = None


class TemplateRefused(SecurityError):
    """A template name that may not be loaded (it would leave the template's folder)."""


def confine_template(template: str | Path, root: str | Path, display: str | None = None) -> Path:
    """The template's real path: a regular file inside `root` (symlinks resolved) that is not a symlink.

    Anything else is an InputError naming the template as given (`display`, default the path).
    """
    path = Path(template)
    name = display if display is not None else str(template)
    try:
        if path.is_symlink():
            raise InputError("the template is a symbolic link; give the file itself", file=name)
        real = path.resolve(strict=True)
        inside = real.is_relative_to(Path(root).resolve())
    except FileNotFoundError:
        raise InputError("template file not found", file=name) from None
    except (OSError, ValueError, RuntimeError) as exc:  # a loop of links, a NUL byte, a name too long
        raise InputError(f"cannot read template: {exc}", file=name) from None
    if not inside:
        raise InputError("the template is outside the workspace; keep it in the repository", file=name)
    if not real.is_file():
        raise InputError("template file not found (not a regular file)", file=name)
    return real


class FolderLoader(jinja2.BaseLoader):
    """Loads templates by relative name from one folder, and nothing that resolves outside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self._locate(template)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(TEMPLATE_MAX_BYTES + 1)
        except OSError as exc:
            raise TemplateRefused(f"cannot read template '{template}': {exc.strerror}") from None
        if len(data) > TEMPLATE_MAX_BYTES:
            raise TemplateRefused(f"template '{template}' is larger than {TEMPLATE_MAX_BYTES:,} bytes")
        try:
            return data.decode("utf-8"), str(path), lambda: True
        except UnicodeDecodeError:
            raise TemplateRefused(f"template '{template}' is not UTF-8 text") from None

    def _locate(self, name: str) -> Path:
        parts = name.split("/")
        if "\\" in name or "\x00" in name or any(not p or p.startswith(".") for p in parts):
            raise TemplateRefused(f"template name '{name}' is refused: give a relative name inside the "
                                  "template's folder (no absolute path, no '..', no hidden file)")
        candidate = self.folder.joinpath(*parts)
        if not os.path.lexists(candidate):
            raise jinja2.TemplateNotFound(name)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            raise TemplateRefused(f"template '{name}' cannot be resolved (a broken or looping link)") \
                from None
        if not real.is_relative_to(self.folder):
            raise TemplateRefused(f"template '{name}' is refused: it resolves outside the template's folder")
        if not real.is_file():
            raise jinja2.TemplateNotFound(name)
        return real


class GuardedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with `*` and `**` refused before they build a value too large to hold."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: object,
                   right: object) -> object:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        return super().call_binop(context, operator, left, right)


def _check_repeat(left: object, right: object) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple | bytes) and isinstance(count, int):
            size = len(seq) * count
            if size > TEMPLATE_MAX_REPEAT:
                raise SecurityError(f"'*' would build {size:,} items (at most {TEMPLATE_MAX_REPEAT:,})")


def _check_power(base: object, exponent: object) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        bits = max(abs(base).bit_length(), 1) * exponent
        if bits > TEMPLATE_MAX_POWER_BITS and abs(base) > 1:
            raise SecurityError(f"'**' would build a {bits:,}-bit integer "
                                f"(at most {TEMPLATE_MAX_POWER_BITS:,})")


def user_environment(folder: Path, builtin: Path, **options: object) -> jinja2.Environment:
    """A sandbox that loads from the template's folder first, then the built-in templates."""
    loader = jinja2.ChoiceLoader([FolderLoader(folder), FolderLoader(builtin)])
    return GuardedSandbox(loader=loader, **options)


def stream(template: jinja2.Template, context: dict, cap: int | None) -> str | None:
    """The rendered text, or None as soon as it grows past `cap` characters (nothing more is rendered)."""
    parts: list[str] = []
    total = 0
    for chunk in template.generate(context):
        total += len(chunk)
        if cap is not None and total > cap:
            return None
        parts.append(chunk)
    return "".join(parts)


def run_isolated(work: Callable[[], str], limits: Limits, source: str) -> str:
    """`work()` in a forked child with `limits`; its text, or an InputError naming `source`.

    The child gets an empty environment and an address-space limit; it is killed when the time is up.
    Where there is no fork (not Linux or macOS), `work()` runs here with the output cap alone.
    """
    if not hasattr(os, "fork"):
        return work()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(work, write_fd, limits)
    os.close(write_fd)
    try:
        data = _collect(read_fd, pid, limits, source)
    finally:
        os.close(read_fd)
    return _answer(data, source)


def _child(work: Callable[[], str], fd: int, limits: Limits) -> None:
    code = 1
    try:
        os.environ.clear()  # defence in depth: nothing secret left to read
        restore = _limit_memory(limits.memory)
        try:
            payload: dict[str, object] = {"text": work()}
        except InputError as err:
            payload = {"error": err.message, "file": err.file, "line": err.line}
        except BaseException as err:  # MemoryError, RecursionError, ... from a hostile template
            payload = {"error": f"template error: {type(err).__name__}: {err}"}
        restore()
        data = json.dumps(payload).encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        code = 0
    finally:
        os._exit(code)


def _limit_memory(extra: int) -> Callable[[], None]:
    """Cap the child's address space at what it uses now plus `extra`; returns how to lift the cap again."""
    try:
        import resource

        with open("/proc/self/statm") as fh:
            used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = used + extra if hard == resource.RLIM_INFINITY else min(used + extra, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError):  # no /proc (macOS): the time and output caps still hold
        return lambda: None
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _collect(fd: int, pid: int, limits: Limits, source: str) -> bytes:
    deadline = time.monotonic() + limits.seconds
    ceiling = 8 * (limits.output or MIB) + 4096  # JSON of the capped text, UTF-8 and escapes included
    chunks: list[bytes] = []
    total = 0
    while True:
        remaining = deadline - time.monotonic()
        ready = select.select([fd], [], [], remaining)[0] if remaining > 0 else []
        if not ready:
            _kill(pid)
            raise InputError(f"template rendering stopped after {limits.seconds:g} s (the time limit)",
                             file=source)
        chunk = os.read(fd, IO_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > ceiling:
            _kill(pid)
            raise InputError("template output is too large", file=source)
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise InputError(f"template rendering was killed ({signal.Signals(os.WTERMSIG(status)).name})",
                         file=source)
    return b"".join(chunks)


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _answer(data: bytes, source: str) -> str:
    try:
        payload = json.loads(data)
    except ValueError:
        raise InputError("template rendering failed without an answer", file=source) from None
    if "text" in payload:
        return payload["text"]
    raise InputError(payload["error"], file=payload.get("file") or source, line=payload.get("line"))
