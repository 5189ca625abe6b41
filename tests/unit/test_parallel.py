"""The two-process load in run.py: same populations, same errors, same warnings as loading in one process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kalibra_action import run
from kalibra_action.errors import InputError
from kalibra_action.run import RunRequest, execute
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.population import Population
from kalibra_action.traces.where import parse_matcher

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers need fork")
_READ_SIDE = run._read_side
_calls: list[tuple[int, str]] = []  # (pid, side) of every _read_side call this process sees


def _counted_read(side: run.Side):
    """run._read_side, noting the call: a call made in a worker is noted in the worker's memory only."""
    _calls.append((os.getpid(), side.label))
    return _READ_SIDE(side)


def _die_on_baseline(side: run.Side):
    if side.label == "base.jsonl":
        os._exit(3)
    return _READ_SIDE(side)


def test_worker_count_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    cpus = len(os.sched_getaffinity(0))
    monkeypatch.setenv(run.WORKERS_ENV, "1")
    assert run.available_workers() == 1
    for raw, expected in (("64", cpus), ("2", min(2, cpus)), ("0", 1), ("many", cpus), ("", cpus)):
        monkeypatch.setenv(run.WORKERS_ENV, raw)
        assert run.available_workers() == expected, raw


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


def _workers(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Load in n processes whatever the input size and the CPUs of the machine running the tests."""
    monkeypatch.setattr(run, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(run, "available_workers", lambda: n)


@needs_fork
@pytest.mark.parametrize("kw", [{}, {"fields": FieldMap(task_id="metadata.task_id"),
                                     "where": (parse_matcher("env == prod"),)}])
def test_two_processes_load_the_same_populations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  kw: dict) -> None:
    sides = _sides(tmp_path, **kw)
    _workers(monkeypatch, 2)
    monkeypatch.setattr(run, "_read_side", _counted_read)
    _calls.clear()
    lines: list[str] = []
    two = run._load_sides(sides, lines.append)
    assert _calls == [(os.getpid(), "cur.jsonl")]  # the baseline was read in a worker: its call is not seen
    assert lines[:2] == ["Loading base.jsonl", "Loading cur.jsonl"]
    _workers(monkeypatch, 1)
    one = run._load_sides(sides, [].append)
    for a, b in zip(one, two, strict=True):
        _same(a, b)
    assert any("truncated" in w for w in two[0].warnings) and any("not finite" in w for w in two[1].warnings)


def _spoil(path: Path) -> int:
    """Append a line that is not JSON; returns its line number."""
    with open(path, "a") as f:
        f.write("\n{not json}\n")
    return path.read_text().count("\n") - 1


@needs_fork
@pytest.mark.parametrize("bad", [("base.jsonl",), ("cur.jsonl",), ("base.jsonl", "cur.jsonl")])
def test_bad_input_in_a_worker_is_the_same_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       bad: tuple[str, ...]) -> None:
    """The same InputError (file and line) in one process and in two; the baseline's first when both fail."""
    sides = _sides(tmp_path)
    lines = {name: _spoil(tmp_path / name) for name in bad}
    errors = []
    for workers in (1, 2):
        _workers(monkeypatch, workers)
        with pytest.raises(InputError) as info:
            run._load_sides(sides, [].append)
        errors.append((str(info.value), info.value.file, info.value.line))
    first = bad[0]
    assert errors[0] == errors[1]
    assert errors[1][0].startswith(f"{first}:{lines[first]}: not valid JSON") and errors[1][2] == lines[first]


@needs_fork
def test_a_dead_worker_is_an_error_naming_the_switch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sides = _sides(tmp_path)
    _workers(monkeypatch, 2)
    monkeypatch.setattr(run, "_read_side", _die_on_baseline)
    with pytest.raises(RuntimeError, match=f"worker died; set {run.WORKERS_ENV}=1"):
        run._load_sides(sides, [].append)


def test_small_inputs_stay_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below MIN_PARALLEL_BYTES (the default: these files are ~0.1 MB) both sides are read here."""
    sides = _sides(tmp_path)
    monkeypatch.setattr(run, "available_workers", lambda: 2)
    monkeypatch.setattr(run, "_read_side", _counted_read)
    _calls.clear()
    run._load_sides(sides, [].append)
    assert _calls == [(os.getpid(), "base.jsonl"), (os.getpid(), "cur.jsonl")]


@needs_fork
def test_execute_with_workers_matches_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sides(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run, "MIN_PARALLEL_BYTES", 0)
    req = RunRequest(baseline="base.jsonl", current="cur.jsonl", resamples=200, seed=1)
    results = []
    for workers in (1, 2):
        monkeypatch.setattr(run, "available_workers", lambda workers=workers: workers)
        results.append(execute(req))
    from kalibra_action.report.json import to_json

    assert to_json(results[0]) == to_json(results[1])
