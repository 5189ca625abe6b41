"""entrypoint.py with `baseline-runs` against base-branch histories that go wrong in every way a real one
can: a changed config, a fork's run, pull-request runs, expired artifacts, summaries that are malformed,
oversized or lie about their run and commit, two runs of one commit, another workflow or branch, more runs
than asked for, a full page of runs of which few qualify. Each run is pooled or left out with its reason
in the comment and the JSON report; the API calls are bounded and nothing is fetched twice.
The fake API (127.0.0.1) serves the runs, artifact lists and zips (through the 302 to storage)."""

from __future__ import annotations

import html
import json
import re
from collections import Counter

from tests.e2e.conftest import github_view
from tests.e2e.test_baseline_artifact import (
    ARTIFACT,
    RUN,
    SHA,
    baseline_zip,
    days_ago,
    ours,
    run_with_artifact,
)
from tests.e2e.test_history import HASH, OTHER, _summary, _zip, tmpdir_env  # noqa: F401 (a fixture)

HISTORY = ARTIFACT + "-history"
SAME = "5a3e" * 10  # the commit two runs share


def _good(fake, run_id: int, day: float, *, sha: str | None = None, summary: bytes | None = None,
          expired: bool = False, size: int | None = None) -> dict:
    """A base-branch run whose history summary is its own (its run id and commit), unless `summary`."""
    run = fake.add_run(run_id, created_at=days_ago(day), sha=sha)
    own = _summary(HASH, run_id, commit=run["head_sha"])
    art = fake.add_artifact(run_id, 1000 + run_id, HISTORY, _zip("h.json", summary or own), expired=expired)
    if size is not None:
        art["size_in_bytes"] = size
    return run


def _report(run) -> dict:
    return json.loads((run.workspace / "kalibra-report.json").read_text())


def _reasons(history: dict) -> dict[str, str]:
    """Run → why it was left out, by the run id the JSON report gives each."""
    return {f"run {e['run_id']}": e["reason"] for e in history["excluded"]}


def _shown(markdown: str) -> str:
    """The comment's text as a reader sees it on GitHub (tags gone, entities and word joiners read)."""
    return html.unescape(re.sub(r"<[^>]+>", "", github_view(markdown))).replace("\u2060", "")


def _api(fake) -> list[str]:
    """The Actions API requests made, as path?query."""
    return [f"{r.path}?{r.query_string.decode()}" for r in fake.api_requests() if "/actions/" in r.path]


def _serve_mixed(fake) -> None:
    """Newest first; the listing ignores branch and status, as a careless proxy might."""
    fake.filter_runs = False
    fake.add_run(RUN + 4, created_at=days_ago(0.5), event="pull_request")  # a PR's run on "main"
    fake.add_run(RUN + 3, created_at=days_ago(0.6), branch="dev")
    fake.add_run(RUN + 2, created_at=days_ago(0.7), conclusion="failure")
    fake.add_run(RUN + 1, created_at=days_ago(0.8))  # its traces expired: the baseline is the next run
    fake.add_artifact(RUN + 1, 901, ARTIFACT, baseline_zip(), expired=True)
    fake.add_run(RUN, created_at=days_ago(1), sha=SHA)
    fake.add_artifact(RUN, 8, ARTIFACT, baseline_zip())
    fake.add_artifact(RUN, 9, HISTORY, _zip("kalibra-report.history.json", _summary(HASH, RUN)))
    fork = _good(fake, RUN - 1, 2)
    fork["head_repository"] = {"full_name": "mallory/demo"}
    _good(fake, RUN - 2, 3, summary=_summary(OTHER, RUN - 2))  # another kalibra.yml
    _good(fake, RUN - 3, 4, expired=True)
    _good(fake, RUN - 4, 5, summary=_summary(HASH, RUN))  # a copy of the newest run's summary
    _good(fake, RUN - 5, 6, sha=SAME)
    _good(fake, RUN - 12, 6.5, summary=_summary(HASH, RUN - 12, commit="deadbeef" * 5))  # not what it built
    _good(fake, RUN - 6, 7, size=9 * 2**20)  # says it is larger than a summary may be
    _good(fake, RUN - 7, 8, summary=b'{"schema":"kalibra-action-history/1","tasks":[')
    other = _good(fake, RUN - 8, 9)
    other["path"] = ".github/workflows/nightly.yml"  # a renamed or another workflow's run
    _good(fake, RUN - 9, 10, sha=SAME)  # two runs of one commit: both pooled, the commit named once
    _good(fake, RUN - 11, 10.5)
    fake.garbled.add(RUN - 11)  # its artifact list is an HTML error page
    _good(fake, RUN - 10, 11)


def test_every_run_of_a_messy_history_is_pooled_or_left_out_with_its_reason(run_action, fake_github, tmp_path,
                                                                           tmpdir_env):  # noqa: F811
    _serve_mixed(fake_github)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **{"INPUT_BASELINE-RUNS": "20"})
    assert run.code == 0, run.log
    h = _report(run)["history"]
    pooled = [r["run_id"] for r in h["runs"] if r["pooled"]]
    assert pooled == [str(RUN - n) for n in (10, 9, 5, 0)], h["runs"]
    reasons = _reasons(h)
    expect = {RUN + 4: "pull-request event", RUN + 3: "another branch", RUN + 2: "not successful",
              RUN + 1: "expired", RUN - 1: "from a fork", RUN - 2: "config changed", RUN - 3: "expired",
              RUN - 6: "larger than", RUN - 7: "invalid", RUN - 8: "another workflow",
              RUN - 11: "not JSON", RUN - 4: f"written by run {RUN}, not by this run",
              RUN - 12: "records commit deadbeefdead, but this run built"}
    assert set(reasons) == {f"run {rid}" for rid in expect}, reasons
    for rid, why in expect.items():
        assert why in reasons[f"run {rid}"], (rid, reasons[f"run {rid}"])
    # the API's ids and commits (a summary claiming others is left out); the newest run's commit too; a
    # commit of two runs is named once
    assert h["commits"] == [f"{RUN - 10:040x}", SAME, SHA]
    assert h["runs_pooled"] == 4 and h["runs_given"] == 17
    markdown = ours(fake_github)[0]["body"]
    body = _shown(markdown)
    assert "Baseline pooled 4 of 17 base-branch runs" in body and "over 3 commits" in body
    assert f"<code>{SHA[:7]}</code>" in github_view(markdown).replace("\u2060", "")  # code, not entities
    assert "Pooling 4 runs: this PR can detect a" in body and "with 1 run:" in body
    assert re.search(r"Success rate [0-9.]+% in this PR; main was [0-9.]+%( – [0-9.]+%)? over its last 4 "
                     r"pooled runs\.", body), body  # "82 %" read against the base branch's runs
    assert f"baseline run {RUN - 1} left out of the pool: from a fork" in body  # the warning names it once
    for rid, why in expect.items():
        assert str(rid) in body and why in body
    # one listing of runs, one artifact list a run, one download an artifact: nothing fetched twice
    calls = _api(fake_github)
    assert [c for c, n in Counter(calls).items() if n > 1] == []
    assert sum("/workflows/" in c for c in calls) == 1
    assert len(calls) <= 3 + 2 * 20


def test_a_full_page_of_runs_where_only_three_qualify(run_action, fake_github, tmp_path,
                                                      tmpdir_env):  # noqa: F811
    """100 runs on the first page, 97 of them forks' or pull requests' runs named after the base branch:
    the three that qualify are found on that one page and pooled, at the cost of one listing."""
    good = {0: SHA, 55: None, 99: None}
    for i in range(100):
        rid = RUN + 100 - i
        if i in good:
            _good(fake_github, rid, 1 + i / 10, sha=good[i])
            if i == 0:
                fake_github.add_artifact(rid, 8, ARTIFACT, baseline_zip())
            continue
        bad = fake_github.add_run(rid, created_at=days_ago(1 + i / 10))
        if i % 2:
            bad["head_repository"] = {"full_name": f"fork{i}/demo"}
        else:
            bad["event"] = "pull_request_target"
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **{"INPUT_BASELINE-RUNS": "3"})
    assert run.code == 0, run.log
    h = _report(run)["history"]
    assert [r["run_id"] for r in h["runs"] if r["pooled"]] == [str(RUN + 1), str(RUN + 45), str(RUN + 100)]
    assert len(h["excluded"]) == 97
    assert {e["reason"] for e in h["excluded"]} == {"from a fork", "a pull-request event"}
    body = _shown(ours(fake_github)[0]["body"])
    assert "Baseline pooled 3 of 100 base-branch runs" in body and "77 more" in body
    calls = _api(fake_github)
    assert sum("/workflows/" in c for c in calls) == 1
    assert len(calls) == 1 + 2 + 1 + 2 * 2, calls  # list; the traces; the newest's summary; two older runs


def test_runs_beyond_baseline_runs_are_neither_fetched_nor_reported(run_action, fake_github, tmp_path,
                                                                     tmpdir_env):  # noqa: F811
    _good(fake_github, RUN, 1, sha=SHA)
    fake_github.add_artifact(RUN, 8, ARTIFACT, baseline_zip())
    _good(fake_github, RUN - 1, 2)
    _good(fake_github, RUN - 2, 3)
    for n in (3, 4, 5):  # beyond the three runs asked for: a good one, a fork's, another config's
        run = _good(fake_github, RUN - n, 1 + n, summary=_summary(OTHER if n == 5 else HASH, RUN - n))
        if n == 4:
            run["head_repository"] = {"full_name": "mallory/demo"}
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **{"INPUT_BASELINE-RUNS": "3"})
    assert run.code == 0, run.log
    h = _report(run)["history"]
    assert [r["run_id"] for r in h["runs"] if r["pooled"]] == [str(RUN - 2), str(RUN - 1), str(RUN)]
    assert h["excluded"] == [] and h["runs_given"] == 3
    assert not any(f"/runs/{RUN - n}/" in c for c in _api(fake_github) for n in (3, 4, 5))
