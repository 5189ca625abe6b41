"""`compare --baseline-run` (local parity of issue 12): several baseline runs pooled, flaky tasks kept out
of the gates, runs of another config left out with the reason, a history summary read as a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kalibra_action.history import read_summary, summarize, write_summary
from kalibra_action.traces.load import load_population
from tests.fixtures.cli import call

N_TASKS = 10


def _write(path: Path, rates: dict[str, tuple[int, int]]) -> Path:
    """k passing then n − k failing traces per task, with tokens and a duration."""
    with path.open("w") as fh:
        for task, (k, n) in rates.items():
            for r in range(n):
                fh.write(json.dumps({"trace_id": f"{task}__{path.stem}__{r}",
                                     "outcome": "success" if r < k else "failure",
                                     "input_tokens": 100 + r, "output_tokens": 10, "duration": 1.5}) + "\n")
    return path


def _base(i: int) -> dict[str, tuple[int, int]]:
    """Run i of the base branch: `flip` passes on even runs and fails on odd ones, the rest all pass."""
    rates = {f"task-{t}": (4, 4) for t in range(N_TASKS)}
    rates["flip"] = (4, 4) if i % 2 == 0 else (0, 4)
    return rates


@pytest.fixture
def runs(tmp_path: Path) -> list[str]:
    return [str(_write(tmp_path / f"run{i}.jsonl", _base(i))) for i in range(8)]


def _report(*argv: str) -> tuple[int, dict]:
    code, out, err = call("compare", "--format", "json", "-q", *argv)
    assert code in (0, 1), err
    return code, json.loads(out)


def test_flaky_regression_is_listed_but_does_not_fail_the_gate(tmp_path: Path, runs: list[str]) -> None:
    cur = {f"task-{t}": (4, 4) for t in range(N_TASKS)} | {"flip": (0, 4)}
    current = str(_write(tmp_path / "cur.jsonl", cur))
    gate = ("-r", "significant_regressions <= 0", "-r", "regressions <= 0")
    # one run, whose flip task passed 4/4: the flip is counted (the false alarm pooling avoids)
    code, one = _report("--baseline", runs[-2], "--current", current, *gate)
    assert one["fields"]["regressions"]["value"] == 1 and code == 1
    code, data = _report(*(a for r in runs for a in ("--baseline-run", r)), current, *gate)
    h = data["history"]
    assert h["runs_pooled"] == 8 and h["flaky_tasks"] == ["flip"] and h["n_flaky_regressions"] == 1
    assert data["fields"]["flaky_tasks"]["value"] == 1
    assert data["fields"]["regressions"]["value"] == 0
    assert data["fields"]["significant_regressions"]["value"] == 0
    assert code == 0
    listed = data["metrics"]["trace_breakdown"]["metadata"]["regressions"]
    flip = next(e for e in listed if e["task_id"] == "flip")
    assert flip["flaky"] is True


def test_flaky_counts_true_counts_them(tmp_path: Path, runs: list[str]) -> None:
    cfg = tmp_path / "kalibra.yml"
    cfg.write_text("history:\n  flaky_counts: true\n")
    cur = {f"task-{t}": (4, 4) for t in range(N_TASKS)} | {"flip": (0, 4)}
    current = str(_write(tmp_path / "cur.jsonl", cur))
    code, data = _report("--config", str(cfg), *(a for r in runs for a in ("--baseline-run", r)), current,
                         "-r", "regressions <= 0")
    assert data["fields"]["regressions"]["value"] == 1 and code == 1


def test_pooling_detects_a_drop_one_run_cannot(tmp_path: Path, runs: list[str]) -> None:
    cur = {f"task-{t}": (4, 4) for t in range(N_TASKS)} | {"flip": (2, 4)}
    cur["task-0"] = (1, 4)  # a stable task that now mostly fails
    current = str(_write(tmp_path / "cur.jsonl", cur))
    _, one = _report("--baseline", runs[-1], "--current", current)
    _, pooled = _report(*(a for r in runs for a in ("--baseline-run", r)), "--current", current)
    assert one["fields"]["significant_regressions"]["value"] == 0  # 4/4 → 1/4 with 11 tasks: not enough
    assert pooled["fields"]["significant_regressions"]["value"] == 1
    mde = pooled["history"]["mde_pp"]
    assert mde["pooled"] < mde["one_run"]


def test_changed_config_run_is_left_out_with_the_reason(tmp_path: Path, runs: list[str]) -> None:
    other = summarize(load_population([runs[0]], label="r"), run_id="77", commit="abcdef1",
                      config_hash="f" * 64)
    summary = write_summary(tmp_path / "old.history.json", other)
    same = write_summary(tmp_path / "same.history.json", summarize(load_population([runs[1]], label="r"),
                                                                   run_id="78", commit="abcdef2"))
    current = str(_write(tmp_path / "cur.jsonl", _base(0)))
    _, data = _report("--baseline-run", str(summary), "--baseline-run", str(same), "--baseline-run", runs[2],
                      "--baseline-run", runs[3], current)
    h = data["history"]
    assert h["runs_given"] == 4 and h["runs_pooled"] == 2
    reasons = {e["run_id"]: e["reason"] for e in h["excluded"]}
    assert "config changed" in reasons["77"] and "no config hash" in reasons["78"]
    assert any("left out of the pool" in w for w in data["warnings"])
    assert read_summary(summary).run_id == "77"


def test_a_hostile_summary_is_exit_2_naming_it(tmp_path: Path, runs: list[str]) -> None:
    bad = tmp_path / "evil.json"
    bad.write_text('{"schema":"kalibra-action-history/1","traces":-1}')
    code, _, err = call("compare", "-q", "--baseline-run", str(bad), "--baseline-run", runs[0],
                          str(_write(tmp_path / "cur.jsonl", _base(0))))
    assert code == 2 and "evil.json" in err and "Traceback" not in err


def test_the_newest_run_must_be_traces(tmp_path: Path, runs: list[str]) -> None:
    s = write_summary(tmp_path / "h.json", summarize(load_population([runs[0]], label="r")))
    code, _, err = call("compare", "-q", "--baseline-run", runs[0], "--baseline-run", str(s),
                        str(_write(tmp_path / "cur.jsonl", _base(0))))
    assert code == 2 and "must be traces" in err


def test_too_many_runs_is_exit_2(tmp_path: Path, runs: list[str]) -> None:
    code, _, err = call("compare", "-q", *(a for _ in range(3) for r in runs for a in ("--baseline-run", r)),
                        str(_write(tmp_path / "cur.jsonl", _base(0))))
    assert code == 2 and "at most 20" in err


def test_history_out_writes_a_summary_a_later_run_pools(tmp_path: Path, runs: list[str]) -> None:
    out = tmp_path / "h.history.json"
    code, _, err = call("compare", "-q", runs[0], runs[1], "--history-out", str(out))
    assert code == 0, err
    summary = read_summary(out)
    assert summary.tasks["flip"].passed == 0 and summary.traces == 44 and summary.config_hash
    assert out.stat().st_size < 4_000
    current = str(_write(tmp_path / "cur.jsonl", _base(0)))
    _, data = _report("--baseline-run", str(out), "--baseline-run", runs[2], current)
    assert data["history"]["runs_pooled"] == 2
