"""entrypoint.py with `baseline-runs`: the newest base-branch run gives the traces, older runs their small
`<artifact>-history` summaries; a run of another config, a run without a summary, a hostile summary and a
fork's run are left out with the reason; the API calls stay bounded and the comment shows the provenance.
The fake API (127.0.0.1) serves the runs, artifact lists and zips (through the 302 to storage)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from kalibra_action.history import dumps, summarize
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from tests.e2e.conftest import DEMO
from tests.e2e.test_baseline_artifact import (
    ARTIFACT,
    RUN,
    SHA,
    baseline_zip,
    days_ago,
    ours,
    run_with_artifact,
)

HASH, OTHER = "a" * 64, "b" * 64
HOSTILE = b'{"schema":"kalibra-action-history/1"}'


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path / "system-tmp"
    tmp.mkdir()
    return tmp, {"TMPDIR": str(tmp)}


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def _summary(config_hash: str, run_id: int | None = None, commit: str | None = None) -> bytes:
    """A summary of the demo baseline; it names no run or commit unless told (the writer leaves out what it
    does not know)."""
    pop = load_population([str(DEMO / "baseline.jsonl")], label="b",
                          fields=FieldMap(task_id="metadata.task_id"))
    return dumps(summarize(pop, run_id=None if run_id is None else str(run_id), commit=commit,
                           config_hash=config_hash)).encode()


def _serve(fake) -> None:
    """Newest first: the traces run, then older runs of which three carry a usable summary."""
    fake.add_run(RUN, created_at=days_ago(1), sha=SHA)
    fake.add_artifact(RUN, 8, ARTIFACT, baseline_zip())
    fake.add_artifact(RUN, 9, ARTIFACT + "-history", _zip("kalibra-report.history.json", _summary(HASH)))
    fork = fake.add_run(RUN - 1, created_at=days_ago(2))
    fork["head_repository"] = {"full_name": "mallory/demo"}
    fake.add_artifact(RUN - 1, 10, ARTIFACT + "-history", _zip("h.json", _summary(HASH)))
    for i, run_id in enumerate((RUN - 2, RUN - 3, RUN - 4)):  # pooled, with the API's ids and commits
        fake.add_run(run_id, created_at=days_ago(3 + i))
        own = _summary(HASH, run_id=run_id if i else None, commit=f"{run_id:040x}"[:12] if i else None)
        fake.add_artifact(run_id, 20 + i, ARTIFACT + "-history", _zip("h.json", own))
    fake.add_run(RUN - 5, created_at=days_ago(6))  # another config
    fake.add_artifact(RUN - 5, 30, ARTIFACT + "-history", _zip("h.json", _summary(OTHER)))
    fake.add_run(RUN - 6, created_at=days_ago(7))  # traces only, no summary
    fake.add_artifact(RUN - 6, 31, ARTIFACT, baseline_zip())
    fake.add_run(RUN - 7, created_at=days_ago(8))  # a hostile summary
    fake.add_artifact(RUN - 7, 32, ARTIFACT + "-history", _zip("h.json", HOSTILE))
    fake.add_run(RUN - 8, created_at=days_ago(9))  # beyond baseline-runs: never asked for
    fake.add_artifact(RUN - 8, 33, ARTIFACT + "-history", _zip("h.json", _summary(HASH)))


def test_pooled_baseline_from_the_base_branch_history(run_action, fake_github, tmp_path, tmpdir_env):
    _serve(fake_github)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **{"INPUT_BASELINE-RUNS": "7"})
    assert run.code == 0, run.log
    report = json.loads((run.workspace / "kalibra-report.json").read_text())
    h = report["history"]
    assert h["runs_pooled"] == 4, h  # the newest + RUN-2, RUN-3, RUN-4
    pooled = [r["run_id"] for r in h["runs"] if r["pooled"]]
    assert pooled == [str(RUN - 4), str(RUN - 3), str(RUN - 2), str(RUN)]
    reasons = {e["source"]: e["reason"] for e in h["excluded"]}
    assert reasons[f"run {RUN - 1}"] == "from a fork"
    assert "config changed" in next(v for k, v in reasons.items() if str(RUN - 5) in k)
    assert "no artifact 'kalibra-traces-history'" in next(v for k, v in reasons.items() if str(RUN - 6) in k)
    assert "invalid" in next(v for k, v in reasons.items() if str(RUN - 7) in k)
    assert not any(str(RUN - 8) in k for k in reasons)
    # the API's run ids and commits, not what the summaries claim
    assert f"{RUN - 2:040x}"[:7] in [c[:7] for c in h["commits"]]
    # bounded: the baseline's 3 calls, then 2 per history run asked for (newest + 6 older)
    api = [r for r in fake_github.api_requests() if "/actions/" in r.path]
    assert len(api) <= 3 + 2 * 7, [r.path for r in api]
    assert api[0].path.endswith("/runs")
    assert not any(f"/runs/{RUN - 8}/" in r.path for r in api)
    assert sum(r.path.endswith("/runs") for r in api) == 1  # the runs are listed once
    [comment] = ours(fake_github)
    assert "### History" in comment["body"] and "Baseline pooled 4 of" in comment["body"]
    assert "left out of the pooled baseline" in run.log
    written = json.loads((run.workspace / "kalibra-report.history.json").read_text())
    assert written["schema"] == "kalibra-action-history/1" and written["traces"] == report["current"]["count"]


def test_baseline_runs_needs_the_artifact(run_action, tmp_path):
    run = run_action(inputs={"INPUT_BASELINE-RUNS": "5"})
    assert run.code == 2 and "baseline-runs" in run.log


def test_baseline_runs_out_of_range_is_exit_2(run_action, fake_github, tmp_path, tmpdir_env):
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **{"INPUT_BASELINE-RUNS": "21"})
    assert run.code == 2 and "from 1 to 20" in run.log


def test_a_run_without_a_baseline_still_writes_its_history_summary(run_action, fake_github, tmp_path,
                                                                   tmpdir_env):
    """The first runs on a base branch have nothing to compare with; their summaries start the history."""
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 0, run.log
    written = json.loads((run.workspace / "kalibra-report.history.json").read_text())
    assert written["schema"] == "kalibra-action-history/1" and written["traces"] > 0
    assert written["config_hash"]
    assert written["run_id"] is None or written["run_id"].isdigit()
