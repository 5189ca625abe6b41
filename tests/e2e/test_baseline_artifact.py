"""entrypoint.py with `baseline-artifact`: the baseline comes from the newest good run on the base branch.

The fake API serves the runs, the artifact list and a 302 to storage on another host name (`localhost`, the
API is 127.0.0.1); the zip is built here from the demo traces. TMPDIR points into the test's directory so
the extraction can be seen to happen outside the workspace and to be removed afterwards.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import DEMO, FAILING_GATES, PASSING_GATES, PR, TOKEN, Layout, github_view

MARKER = "<!-- kalibra-action:kalibra -->"
ARTIFACT = "kalibra-traces"
RUN = 45
SHA = "c0ffee1" + "5" * 33


def ours(fake, pr: int = PR) -> list[dict]:
    return [c for c in fake.comments.get(pr, []) if c["body"].startswith(MARKER)]


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def baseline_zip(entries: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (entries or {"evals/baseline.jsonl": (DEMO / "baseline.jsonl").read_bytes(),
                                       "README.md": b"not a trace"}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def workspace(layout: Layout, gates: list[str]) -> None:
    """The PR's checkout: current traces and a config without a baseline (the artifact is the baseline)."""
    ws = layout.workspace
    (ws / "traces").mkdir(parents=True, exist_ok=True)
    (ws / "traces" / "current.jsonl").write_bytes((DEMO / "current.jsonl").read_bytes())
    lines = ["current:", "  path: traces/current.jsonl", "fields:", "  task_id: metadata.task_id", "require:"]
    (ws / "kalibra.yml").write_text("\n".join(lines + [f"  - {json.dumps(g)}" for g in gates]) + "\n")


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path / "system-tmp"
    tmp.mkdir()
    return tmp, {"TMPDIR": str(tmp)}


def run_with_artifact(run_action, tmp_path, tmpdir_env, *, gates=PASSING_GATES, **inputs: str):
    layout = Layout(tmp_path / "runner")
    workspace(layout, gates)
    env = {"INPUT_BASELINE-ARTIFACT": ARTIFACT, **tmpdir_env[1], **inputs}
    return run_action(layout=layout, inputs=env, prepare=False)


def serve_good_baseline(fake, *, created_at: str | None = None, name: str = "kalibra") -> None:
    fake.add_run(RUN + 2, conclusion="failure", created_at=days_ago(1))  # newer, but failed
    run = fake.add_run(RUN, created_at=created_at or days_ago(3.2), sha=SHA)
    run["name"] = name
    fake.add_run(RUN - 1, created_at=days_ago(9))  # older good run: not needed
    fake.add_artifact(RUN, 7, "coverage", b"PK")
    fake.add_artifact(RUN, 8, ARTIFACT, baseline_zip())


def test_baseline_from_the_base_branch_artifact(run_action, fake_github, tmp_path, tmpdir_env):
    serve_good_baseline(fake_github)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 0, run.log
    assert run.outputs["passed"] == "true" and run.outputs["summary"].startswith("PASS")
    assert "100 baseline vs 100 current traces" in run.outputs["summary"]
    [comment] = ours(fake_github)
    body = comment["body"]
    run_url = f"https://github.com/octo/demo/actions/runs/{RUN}"
    assert f"[#{RUN + 1000}]({run_url})" in body
    assert f"[<code>{SHA[:7]}</code>](https://github.com/octo/demo/commit/{SHA})" in body
    assert "on <code>main</code>" in body and "3 days old" in body and "[!WARNING]" not in body
    assert "Quality gates" in body and f"**Baseline:** {ARTIFACT} (100 traces)" in body
    assert "days old.\n\n### Quality gates" in body
    html = github_view(body)
    assert f'<a href="{run_url}" rel="noopener noreferrer">#{RUN + 1000}</a>' in html
    assert body.count("<!-- kalibra-baseline-provenance -->") == 1
    # the job summary says the same; the JSON report carries the provenance
    assert f"[#{RUN + 1000}]({run_url})" in run.summary and SHA[:7] in run.summary
    report = json.loads((run.workspace / "kalibra-report.json").read_text())
    prov = report["baseline_provenance"]
    assert (prov["run_id"], prov["commit"], prov["branch"], prov["artifact"]) == (RUN, SHA, "main", ARTIFACT)
    assert prov["stale"] is False and 3 <= prov["age_days"] < 4
    assert report["baseline"]["files"] == [f"{ARTIFACT}:evals/baseline.jsonl"]
    # the temporary paths appear nowhere, and the extraction is gone
    tmp = tmpdir_env[0]
    for text in (body, run.summary, json.dumps(report)):
        assert str(tmp) not in text and "system-tmp" not in text
    assert list(tmp.iterdir()) == []
    assert sorted(p.name for p in run.workspace.iterdir()) == [
        "kalibra-report.history.json", "kalibra-report.json", "kalibra.yml", "traces"]
    # the storage host got no token; the API calls stay within budget, all with the token
    [blob] = fake_github.storage_seen
    assert "Authorization" not in blob.headers and blob.host.startswith("localhost:")
    api = fake_github.api_requests()
    assert len(api) <= 10, [r.path for r in api]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in api)
    [runs] = [r for r in api if r.path.endswith("/runs")]
    assert runs.path.endswith("/actions/workflows/kalibra.yml/runs")  # the running workflow by default
    assert runs.args["branch"] == "main" and runs.args["status"] == "success"
    assert "::group::kalibra-action: baseline artifact" in run.stdout


def test_the_artifact_baseline_gates_the_pr(run_action, fake_github, tmp_path, tmpdir_env):
    serve_good_baseline(fake_github)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, gates=FAILING_GATES)
    assert run.code == 1, run.log
    assert run.outputs["passed"] == "false" and run.outputs["regressions"] == "5"
    assert re.search(r"^::error title=Gate FAIL%3A regressions <= 2::", run.stdout, re.M)
    assert list(tmpdir_env[0].iterdir()) == []


def test_explicit_workflow_branch_and_path(run_action, fake_github, tmp_path, tmpdir_env):
    fake_github.add_run(80, workflow="evals.yml", branch="release/1.x", created_at=days_ago(2))
    fake_github.add_artifact(80, 9, ARTIFACT, baseline_zip({
        "a/part1.jsonl": b"".join((DEMO / "baseline.jsonl").read_bytes().splitlines(True)[:50]),
        "b/part2.jsonl": b"".join((DEMO / "baseline.jsonl").read_bytes().splitlines(True)[50:]),
        "other/skip.jsonl": b"{not json\n"}))
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **{
        "INPUT_BASELINE-WORKFLOW": "evals.yml", "INPUT_BASELINE-BRANCH": "refs/heads/release/1.x",
        "INPUT_BASELINE-PATH": "[ab]/*.jsonl"})
    assert run.code == 0, run.log
    assert "100 baseline vs 100 current" in run.outputs["summary"]
    body = ours(fake_github)[0]["body"]
    assert "on <code>release/1.x</code>" in body
    assert "kalibra-traces&#58;a/part1.jsonl" in body or "a/part1.jsonl" in body


def test_a_stale_baseline_warns(run_action, fake_github, tmp_path, tmpdir_env):
    serve_good_baseline(fake_github, created_at=days_ago(45.5))
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 0, run.log
    assert re.search(r"^::warning title=kalibra-action%3A stale baseline::.*45 days old", run.stdout, re.M)
    body = ours(fake_github)[0]["body"]
    assert "[!WARNING]" in body and "45 days old" in body
    assert "[!WARNING]" in run.summary


def test_strings_from_the_api_are_inert(run_action, fake_github, tmp_path, tmpdir_env):
    hostile = "CI <img src=x onerror=alert(1)> @octo-org/team #1 [x](javascript:1)"
    serve_good_baseline(fake_github, name=hostile)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 0, run.log
    html = github_view(ours(fake_github)[0]["body"])
    shown = html.replace("\u2060", "")  # the word joiners that keep `@x` and `#1` from linking
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert 'href="javascript' not in html and "[x](javascript:1)" in shown  # literal text, not a link
    assert 'class="user-mention"' not in html and "@\u2060octo-org/team" in html


# ---- no baseline -------------------------------------------------------------------------------------------

def no_artifact(fake) -> None:
    fake.add_run(RUN, created_at=days_ago(1))
    fake.add_artifact(RUN, 7, "coverage", b"PK")


REASON = f"run #{RUN + 1000} — it has no artifact of that name"


def test_no_artifact_fail_exits_2(run_action, fake_github, tmp_path, tmpdir_env):
    no_artifact(fake_github)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **{"INPUT_IF-NO-BASELINE": "fail"})
    assert run.code == 2, run.log
    [error] = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "no baseline" in error and REASON in error
    assert run.outputs["exit-code"] == "2" and run.outputs["passed"] == "false"
    [comment] = ours(fake_github)  # the error, not a verdict
    assert "could not be compared" in comment["body"] and "could not compare" in run.summary


@pytest.mark.parametrize("policy", ["warn", "skip"])
def test_no_artifact_reports_the_current_traces_alone(run_action, fake_github, tmp_path, tmpdir_env, policy):
    no_artifact(fake_github)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, gates=FAILING_GATES,
                            **{"INPUT_IF-NO-BASELINE": policy})
    assert run.code == 0, run.log
    assert run.outputs["passed"] == "true" and run.outputs["exit-code"] == "0"
    assert run.outputs["regressions"] == "" and run.outputs["summary"].startswith("NO BASELINE")
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    notices = [line for line in run.stdout.splitlines() if line.startswith("::notice")]
    if policy == "warn":
        assert len(warnings) == 1 and not notices
        assert "no gates evaluated" in warnings[0] and REASON in warnings[0]
    else:
        assert not warnings and len(notices) == 1 and REASON in notices[0]
    assert "::error" not in run.stdout  # no gate was evaluated, so none failed
    [comment] = ours(fake_github)
    body = comment["body"]
    assert "No baseline" in body and "no gates evaluated" in body
    assert "it has no artifact of that name" in body and "Quality gates" not in body
    assert "Gates not evaluated (2)" in body and "regressions &#60;&#61; 2" in body
    assert "| Traces | 100 |" in body and "| Success rate | 75" in body
    assert "⚠️" in body.splitlines()[1] if policy == "warn" else "ℹ️" in body.splitlines()[1]
    assert "No baseline" in run.summary and MARKER not in run.summary
    report = json.loads((run.workspace / "kalibra-report.json").read_text())
    assert report["status"] == "no_baseline" and report["passed"] is True and report["baseline"] is None
    assert report["current_stats"]["traces"] == 100 and report["gates"] == []
    assert len(fake_github.api_requests()) <= 10
    assert list(tmpdir_env[0].iterdir()) == []


def test_no_successful_run_on_the_branch(run_action, fake_github, tmp_path, tmpdir_env):
    fake_github.add_run(RUN, conclusion="failure", created_at=days_ago(1))
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 0, run.log
    assert "no successful run of workflow 'kalibra.yml' on branch 'main'" in run.stdout


def test_a_bad_gate_still_fails_without_a_baseline(run_action, fake_github, tmp_path, tmpdir_env):
    no_artifact(fake_github)
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, gates=["no_such_field <= 1"])
    assert run.code == 2, run.log


# ---- errors ------------------------------------------------------------------------------------------------

def test_a_token_without_actions_read_exits_2_with_the_fix(run_action, fake_github, tmp_path, tmpdir_env):
    fake_github.deny_actions = True
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 2, run.log
    [error] = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "actions: read" in error and "403" in error and TOKEN not in run.log.replace(
        f"::add-mask::{TOKEN}", "")


def test_an_unsafe_archive_exits_2_and_leaves_nothing(run_action, fake_github, tmp_path, tmpdir_env):
    fake_github.add_run(RUN, created_at=days_ago(1))
    fake_github.add_artifact(RUN, 8, ARTIFACT, baseline_zip({"ok.jsonl": b"{}\n", "../../evil.jsonl": b"x"}))
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 2, run.log
    [error] = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "'..'" in error and "file=" not in error
    assert list(tmpdir_env[0].iterdir()) == [] and not (tmp_path / "evil.jsonl").exists()


def test_a_malformed_baseline_trace_is_named_inside_the_artifact(run_action, fake_github, tmp_path,
                                                                  tmpdir_env):
    fake_github.add_run(RUN, created_at=days_ago(1))
    traces = b'{"trace_id": "a"}\n{oops\n{"trace_id": "b"}\n'
    fake_github.add_artifact(RUN, 8, ARTIFACT, baseline_zip({"evals/baseline.jsonl": traces}))
    run = run_with_artifact(run_action, tmp_path, tmpdir_env)
    assert run.code == 2, run.log
    [error] = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert f"{ARTIFACT}:evals/baseline.jsonl:2" in error and "file=" not in error
    assert str(tmpdir_env[0]) not in run.stdout and list(tmpdir_env[0].iterdir()) == []


@pytest.mark.parametrize(("inputs", "message"), [
    ({"INPUT_IF-NO-BASELINE": "ignore"}, "if-no-baseline"),
    ({"INPUT_BASELINE-PATH": "../*.jsonl"}, "baseline-path"),
    ({"INPUT_BASELINE": "traces/current.jsonl"}, "'baseline' and 'baseline-artifact'"),
])
def test_bad_baseline_inputs_exit_2_in_one_line(run_action, fake_github, tmp_path, tmpdir_env, inputs,
                                                message):
    run = run_with_artifact(run_action, tmp_path, tmpdir_env, **inputs)
    assert run.code == 2, run.log
    [error] = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert message in error and fake_github.requests() == []


# ---- the provenance helpers, in process ----------------------------------------------------------------

def test_links_in_the_provenance_cannot_break_out():
    from kalibra_action.github.provenance import safe_url

    assert safe_url("https://github.com/o/r/actions/runs/1") == "https://github.com/o/r/actions/runs/1"
    assert safe_url("https://x.test/a)b<c>[d]") == "https://x.test/a%29b%3Cc%3E%5Bd%5D"
    for bad in ("javascript:alert(1)", "//evil.test/x", "data:text/html,x", "https://a b", "", None):
        assert safe_url(bad) == ""


@pytest.mark.parametrize(("days", "text"), [(0.2, "less than a day"), (1.7, "1 day"), (3.2, "3 days")])
def test_age_text(days, text):
    from kalibra_action.github.provenance import age_text

    assert age_text(days) == text
