"""parallel.run_jobs and the two-process load in run.py: same results, same errors, same warnings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kalibra_action import parallel, run
from kalibra_action.errors import InputError
from kalibra_action.run import RunRequest, execute
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.population import Population
from kalibra_action.traces.where import parse_matcher

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers need fork")


def _fail(message: str, **where: object):
    def job():
        raise InputError(message, **where)  # type: ignore[arg-type]

    return job


@needs_fork
def test_results_in_job_order() -> None:
    big = np.arange(300_000, dtype=np.float64)  # crosses the pipe out of band
    jobs = [lambda: ("child", big * 2, os.getpid()), lambda: ("parent", os.getpid())]
    (name, arr, child_pid), (name2, parent_pid) = parallel.run_jobs(jobs, workers=2)
    assert (name, name2) == ("child", "parent") and child_pid != parent_pid == os.getpid()
    assert np.array_equal(arr, big * 2) and arr.flags.writeable
    assert parallel.run_jobs(jobs, workers=1)[0][2] == os.getpid()


@needs_fork
def test_worker_error_keeps_file_and_line() -> None:
    with pytest.raises(InputError) as info:
        parallel.run_jobs([_fail("not valid JSON", file="a.jsonl", line=3), lambda: 1], workers=2)
    assert str(info.value) == "a.jsonl:3: not valid JSON" and info.value.line == 3


@needs_fork
def test_first_job_error_wins() -> None:
    jobs = [_fail("first", file="a.jsonl"), _fail("second", file="b.jsonl")]
    with pytest.raises(InputError, match="first"):
        parallel.run_jobs(jobs, workers=2)
    with pytest.raises(InputError, match="second"):
        parallel.run_jobs([lambda: 1, jobs[1]], workers=2)


@needs_fork
def test_unexpected_errors_and_dead_workers() -> None:
    def boom():
        raise ValueError("bad thing")

    with pytest.raises(ValueError, match="bad thing"):
        parallel.run_jobs([boom, lambda: 1], workers=2)
    with pytest.raises(RuntimeError, match="worker died"):
        parallel.run_jobs([lambda: os._exit(3), lambda: 1], workers=2)


def test_worker_count_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.ENV, "1")
    assert parallel.available_workers() == 1
    monkeypatch.setenv(parallel.ENV, "64")
    assert 1 <= parallel.available_workers() <= len(os.sched_getaffinity(0))


# ── two-process loading gives the same Population ───────────────────────────────


def _write_side(path: Path, seed: int, n: int = 400) -> None:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        spans = [{"span_id": f"s{i}-{k}", "name": ["plan", "edit", "tool"][k % 3],
                  "parent_id": None if k == 0 else f"s{i}-0", "start_ns": 10**18 + k * 10**9,
                  "end_ns": 10**18 + (k + 1) * 10**9 + int(rng.integers(10**8)),
                  "cost": round(float(rng.random()), 4) if k else None,
                  "input_tokens": int(rng.integers(1, 900)), "output_tokens": int(rng.integers(1, 90)),
                  "error": bool(rng.random() < 0.1)} for k in range(int(rng.integers(0, 6)))]
        row = {"trace_id": f"task-{i % 7}__{path.stem}__{i}", "outcome": ["success", "failure", None][i % 3],
               "metadata": {"task_id": f"task-{i % 7}", "env": "prod" if i % 4 else "dev"}, "spans": spans}
        if i % 50 == 7:
            row["spans"][0:0] = [{"span_id": "x", "name": "odd", "cost": "n/a", "start_ns": "soon"}]
        if i % 90 == 5:
            row["trace_id"] = f"task-1__{path.stem}__{i - 1}"  # a duplicate id
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n" + '{"trace_id": "cut')  # and a truncated last line


def _sides(tmp_path: Path, **kw) -> list[run.Side]:
    for i, name in enumerate(("base.jsonl", "cur.jsonl")):
        _write_side(tmp_path / name, i)
    return [run.Side(name, (name,), kw.get("fields", FieldMap()), kw.get("where", ()), None, tmp_path)
            for name in ("base.jsonl", "cur.jsonl")]


def _same(a: Population, b: Population) -> None:
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
        else:
            assert x == y, name


@needs_fork
@pytest.mark.parametrize("kw", [{}, {"fields": FieldMap(task_id="metadata.task_id"),
                                     "where": (parse_matcher("env == prod"),)}])
def test_two_processes_load_the_same_populations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  kw: dict) -> None:
    sides = _sides(tmp_path, **kw)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(parallel, "available_workers", lambda: 2)
    pids: list[int] = []
    real = run._read_side
    monkeypatch.setattr(run, "_read_side", lambda side: (pids.append(os.getpid()), real(side))[1])
    lines: list[str] = []
    two = run._load_sides(sides, lines.append)
    assert pids == [os.getpid()]  # the baseline was read in the worker (its call is not seen here)
    assert lines[:2] == ["Loading base.jsonl", "Loading cur.jsonl"]
    monkeypatch.setattr(parallel, "available_workers", lambda: 1)
    one = run._load_sides(sides, [].append)
    for a, b in zip(one, two, strict=True):
        _same(a, b)
    assert any("truncated" in w for w in two[0].warnings) and any("not finite" in w for w in two[1].warnings)


@needs_fork
def test_bad_input_in_a_worker_is_the_same_input_error(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sides = _sides(tmp_path)
    with open(tmp_path / "base.jsonl", "a") as f:
        f.write("\n{not json}\n")
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    errors = []
    for workers in (1, 2):
        monkeypatch.setattr(parallel, "available_workers", lambda workers=workers: workers)
        with pytest.raises(InputError) as info:
            run._load_sides(sides, [].append)
        errors.append(str(info.value))
    assert errors[0] == errors[1] and errors[0].startswith("base.jsonl:401: not valid JSON")


@needs_fork
def test_execute_with_workers_matches_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sides(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    req = RunRequest(baseline="base.jsonl", current="cur.jsonl", resamples=200, seed=1)
    results = []
    for workers in ("1", "2"):
        monkeypatch.setenv(parallel.ENV, workers)
        results.append(execute(req))
    from kalibra_action.report.json import to_json

    assert to_json(results[0]) == to_json(results[1])
