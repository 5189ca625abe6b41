"""Run a few independent jobs at once: the last in this process, the others in forked workers.

Used to load the baseline and current traces in parallel. A job is a zero-argument callable; with fork the
worker inherits it (nothing is pickled on the way in). A worker's result comes back pickled (protocol 5,
numpy buffers out of band, so an array crosses the pipe without an extra copy) and is read by a thread
while this process runs its own job. An exception in a worker is raised here as the same type with the
same attributes (an InputError keeps its file and line). When several jobs fail, the first job's error wins,
as it would when running them in order.

Workers are used only on Linux-like systems with fork, with two or more CPUs available to this process
(os.sched_getaffinity), and unless KALIBRA_ACTION_WORKERS=1 (the switch that turns them off; any other
number caps the processes in use).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

ENV = "KALIBRA_ACTION_WORKERS"
# Below this many input bytes a fork and the transfer back cost more than they save.
MIN_PARALLEL_BYTES = 8 << 20


def available_workers() -> int:
    """How many processes may run jobs at once: CPUs available to this process, capped by the env."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            cap = int(raw)
        except ValueError:
            cap = cpus
        cpus = min(cpus, max(1, cap))
    if not hasattr(os, "fork") or sys.platform == "win32":
        return 1
    return max(1, cpus)


def run_jobs(jobs: Sequence[Callable[[], Any]], *, workers: int | None = None) -> list[Any]:
    """Results of the jobs, in order. Up to workers - 1 of them run in forked children."""
    n_workers = available_workers() if workers is None else workers
    n_forked = min(len(jobs) - 1, n_workers - 1)
    if n_forked <= 0:
        return [job() for job in jobs]
    children = [_Child(job) for job in jobs[:n_forked]]  # fork them all before any thread starts
    for child in children:
        child.start()
    outcomes: list[tuple[bool, Any]] = []
    try:
        for job in jobs[n_forked:]:
            try:
                outcomes.append((True, job()))
            except Exception as exc:  # raised below, in job order
                outcomes.append((False, exc))
                break
    except BaseException:  # interrupted: stop the workers, do not wait for their results
        for child in children:
            child.kill()
        raise
    results = []
    for ok, value in [child.result() for child in children] + outcomes:
        if not ok:
            raise value
        results.append(value)
    return results


class _Child:
    """One forked worker running one job; its result is read by a thread."""

    def __init__(self, job: Callable[[], Any]) -> None:
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            code = 0
            try:
                _serve(job, write_fd)
            except BaseException:  # a worker must never return into the caller's code
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid = pid
        self._file = os.fdopen(read_fd, "rb", buffering=0)
        self._outcome: tuple[bool, Any] = (False, RuntimeError("worker gave no result"))
        self._thread = threading.Thread(target=self._read, name="kalibra-worker-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        self.result()

    def _read(self) -> None:
        try:
            header_len = int.from_bytes(_read_exact(self._file, 8), "little")
            ok, payload, sizes = pickle.loads(_read_exact(self._file, header_len))
            buffers = [_read_exact(self._file, size) for size in sizes]
            value = pickle.loads(payload, buffers=buffers) if ok else _rebuild(payload)
            self._outcome = (ok, value)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._outcome = (False, RuntimeError(f"a loader worker stopped without a result ({exc})"))
        finally:
            self._file.close()

    def result(self) -> tuple[bool, Any]:
        self._thread.join()
        _, status = os.waitpid(self.pid, 0)
        ok, value = self._outcome
        if ok or not isinstance(value, RuntimeError) or os.waitstatus_to_exitcode(status) == 0:
            return ok, value
        code = os.waitstatus_to_exitcode(status)
        why = f"signal {-code}" if code < 0 else f"exit code {code}"
        return False, RuntimeError(f"a loader worker died ({why}); set {ENV}=1 to load in one process")


def _read_exact(f, size: int) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = f.readinto(view[got:])
        if not n:
            raise EOFError("the worker closed the pipe early")
        got += n
    return buf


def _serve(job: Callable[[], Any], fd: int) -> None:
    """Run the job in the worker and write (header length, header, out-of-band buffers) to fd."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        payload = pickle.dumps(job(), protocol=5, buffer_callback=buffers.append)
        ok = True
    except BaseException as exc:  # sent to the parent
        ok, payload, buffers = False, _describe(exc), []
    raws = [b.raw() for b in buffers]
    header = pickle.dumps((ok, payload, [r.nbytes for r in raws]), protocol=5)
    with os.fdopen(fd, "wb") as out:
        out.write(len(header).to_bytes(8, "little"))
        out.write(header)
        for raw in raws:
            out.write(raw)


def _describe(exc: BaseException) -> bytes:
    """The exception as picklable parts: its class and attributes, else its text."""
    try:
        return pickle.dumps((type(exc), exc.args, dict(vars(exc))), protocol=5)
    except Exception:  # an unpicklable exception: keep its text
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return pickle.dumps((RuntimeError, (f"in a loader worker: {text}",), {}), protocol=5)


def _rebuild(payload: bytes) -> BaseException:
    cls, args, attrs = pickle.loads(payload)
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(attrs)
    return exc
