"""entrypoint.py as a subprocess with the runner's environment, against a fake GitHub on 127.0.0.1."""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import (
    FAILING_GATES,
    PR,
    TOKEN,
    Layout,
    github_view,
    pr_event,
    workflow_run_event,
    write_workspace,
)

MARKER = "<!-- kalibra-action:kalibra -->"


def ours(fake, pr: int = PR) -> list[dict]:
    return [c for c in fake.comments.get(pr, []) if c["body"].startswith(MARKER)]


def test_passing_pr_exits_0_with_one_comment(run_action, fake_github):
    run = run_action()
    assert run.code == 0, run.log
    assert run.outputs["passed"] == "true" and run.outputs["exit-code"] == "0"
    assert run.outputs["report"] == "kalibra-report.json"
    assert json.loads((run.workspace / "kalibra-report.json").read_text())
    [comment] = ours(fake_github)
    assert run.outputs["comment-url"] == comment["html_url"]
    assert run.outputs["summary"].startswith("PASS")
    assert "\n" not in run.outputs["summary"]
    assert "PASS" in run.summary and MARKER not in run.summary
    assert "::group::" in run.stdout and "::endgroup::" in run.stdout


def test_failing_pr_exits_1_names_the_regressed_tasks(run_action, fake_github):
    run = run_action(gates=FAILING_GATES)
    assert run.code == 1, run.log
    assert run.outputs["passed"] == "false" and run.outputs["exit-code"] == "1"
    assert int(run.outputs["regressions"]) == 5
    [comment] = ours(fake_github)
    for task in ("draft-email", "extract-receipt", "parse-invoice", "summarize-report", "translate-doc"):
        assert task in comment["body"]
    assert re.search(r"^::error title=Gate FAIL%3A regressions <= 2::", run.stdout, re.M), run.stdout
    html = github_view(comment["body"])
    assert "<table>" in html and html.count("<details") == html.count("</details>")
    assert "https://github.com/octo/demo/actions/runs/123456" in comment["body"]


def test_run_twice_keeps_one_comment(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    first = run_action(layout=layout, gates=FAILING_GATES)
    (layout.root / "file_commands" / "set_output").unlink()
    second = run_action(layout=layout, gates=FAILING_GATES)
    assert first.code == second.code == 1
    assert len(ours(fake_github)) == 1
    assert first.outputs["comment-url"] == second.outputs["comment-url"]
    assert [r.path for r in fake_github.requests("POST")] == [f"/repos/octo/demo/issues/{PR}/comments",
                                                              "/graphql"]  # the 2nd run: whose is the marker?


def test_recreate_mode_replaces_the_comment(run_action, fake_github):
    old = fake_github.seed(PR, f"{MARKER}\nold report", "github-actions[bot]", "Bot")
    human = fake_github.seed(PR, f"> {MARKER}\nwhat is this?")
    run = run_action(inputs={"INPUT_COMMENT": "recreate"})
    assert run.code == 0, run.log
    [comment] = ours(fake_github)
    assert comment["id"] != old["id"]
    assert human in fake_github.comments[PR]


def test_fork_pr_warns_writes_summary_and_exits_by_gates(run_action, fake_github):
    fake_github.deny_writes = True
    run = run_action(gates=FAILING_GATES, event=pr_event(fork=True))
    assert run.code == 1, run.log
    assert "::warning" in run.stdout and "Resource not accessible by integration" in run.stdout
    assert "pull-requests%3A write" in run.stdout or "pull-requests: write" in run.stdout
    assert "workflow_run" in run.stdout
    assert "FAIL" in run.summary and (run.workspace / "kalibra-report.json").exists()
    assert run.outputs["passed"] == "false" and run.outputs["comment-url"] == ""
    assert len(fake_github.requests("POST")) == 1  # not retried


def test_fork_pr_passing_gates_exits_0(run_action, fake_github):
    fake_github.deny_writes = True
    run = run_action(event=pr_event(fork=True))
    assert run.code == 0 and "::warning" in run.stdout


def test_malformed_trace_exits_2_with_file_and_line(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, FAILING_GATES)
    bad = layout.workspace / "traces" / "current.jsonl"
    lines = bad.read_text().splitlines()
    lines[2] = '{"trace_id": "x", "outcome": '
    bad.write_text("\n".join(lines) + "\n")
    run = run_action(layout=layout)
    assert run.code == 2, run.log
    assert "traces/current.jsonl:3" in run.log
    assert re.search(r"^::error file=traces/current.jsonl,line=3,", run.stdout, re.M), run.stdout
    assert run.outputs["exit-code"] == "2" and run.outputs["passed"] == "false"
    [comment] = ours(fake_github)  # the sticky comment says so: no stale verdict stays up
    assert "could not be compared" in comment["body"] and "current.jsonl" in comment["body"]
    assert "No gate was evaluated" in comment["body"]


def test_an_input_error_replaces_an_earlier_verdict(run_action, fake_github, tmp_path):
    assert run_action(gates=FAILING_GATES).code == 1
    layout = Layout(tmp_path / "runner2")
    write_workspace(layout.workspace, ["cost_delta >= 1"])  # unknown field: exit 2
    run = run_action(layout=layout)
    assert run.code == 2, run.log
    [comment] = ours(fake_github)
    assert "could not be compared" in comment["body"] and "cost&#95;delta" in comment["body"]
    assert "FAILED" not in comment["body"]


def test_no_token_writes_summary_only(run_action, fake_github):
    run = run_action(inputs={"INPUT_GITHUB-TOKEN": ""})
    assert run.code == 0, run.log
    assert "PASS" in run.summary and fake_github.requests() == []
    assert run.outputs["comment-url"] == ""


def test_push_event_posts_no_comment(run_action, fake_github):
    run = run_action(event_name="push", event={"ref": "refs/heads/main"}, gates=FAILING_GATES)
    assert run.code == 1
    assert fake_github.requests() == [] and run.summary


def test_workflow_run_comments_on_pr_number(run_action, fake_github):
    fake_github.add_pull(77, "e" * 40, "stranger/demo")
    run = run_action(event_name="workflow_run", event=workflow_run_event("e" * 40, "stranger/demo"),
                     inputs={"INPUT_PR-NUMBER": "77"})
    assert run.code == 0, run.log
    assert len(ours(fake_github, 77)) == 1


def test_comment_off(run_action, fake_github):
    run = run_action(inputs={"INPUT_COMMENT": "off"})
    assert run.code == 0 and fake_github.requests() == []


def test_fail_on_gate_false_reports_only(run_action, fake_github):
    run = run_action(gates=FAILING_GATES, inputs={"INPUT_FAIL-ON-GATE": "false"})
    assert run.code == 0, run.log
    assert run.outputs["passed"] == "false" and run.outputs["exit-code"] == "0"
    assert "::error" in run.stdout and len(ours(fake_github)) == 1


def test_ghes_api_url_is_honoured(run_action, httpserver_ipv4):
    from tests.e2e.fake_github import FakeGitHub

    ghes = FakeGitHub(httpserver_ipv4, repo="octo/demo", prefix="/api/v3")
    run = run_action(api_url=ghes.api_url)
    assert run.code == 0, run.log
    assert all(r.path.startswith("/api/v3/") for r in ghes.requests())
    assert len(ours(ghes)) == 1


def test_token_is_masked_and_never_printed(run_action, fake_github):
    run = run_action(gates=FAILING_GATES)
    lines = [line for line in run.log.splitlines() if TOKEN in line]
    assert lines == [f"::add-mask::{TOKEN}"]
    assert TOKEN not in run.summary and TOKEN not in "".join(run.outputs.values())


def test_bad_input_value_exits_2(run_action, fake_github):
    run = run_action(inputs={"INPUT_COMMENT": "sometimes"})
    assert run.code == 2 and "::error" in run.stdout and "comment" in run.stdout


def test_working_directory_and_report_path(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    (layout.workspace / "evals").mkdir()
    write_workspace(layout.workspace / "evals", ["success_rate_delta >= -5"])
    (layout.workspace / "kalibra.yml").write_text("# not this one\n")
    run = run_action(layout=layout, inputs={"INPUT_WORKING-DIRECTORY": "evals",
                                            "INPUT_REPORT": "out/kalibra.json"})
    assert run.code == 0, run.log
    assert run.outputs["report"] == "out/kalibra.json"
    assert (layout.workspace / "out" / "kalibra.json").exists()


def test_extra_require_lines_are_added(run_action, fake_github):
    run = run_action(inputs={"INPUT_REQUIRE": "regressions <= 2\n\n"})
    assert run.code == 1, run.log
    assert "regressions" in ours(fake_github)[0]["body"]


def test_custom_template_renders_in_a_sandbox(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, FAILING_GATES)
    (layout.workspace / "comment.md.j2").write_text(
        "## Custom {{ verdict.title|md }}\n{% for g in gates %}- {{ g.expr|md }}\n{% endfor %}")
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": "comment.md.j2"})
    assert run.code == 1, run.log
    [comment] = ours(fake_github)
    assert "## Custom" in comment["body"] and comment["body"].startswith(MARKER)


def test_unsafe_custom_template_falls_back_with_a_warning(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, FAILING_GATES)
    (layout.workspace / "evil.md.j2").write_text("{{ '{0.__class__.__mro__}'.format(1) }}")
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": "evil.md.j2"})
    assert run.code == 1, run.log
    assert re.search(r"^::warning title=kalibra-action%3A template::.*SecurityError", run.stdout, re.M)
    [comment] = ours(fake_github)
    assert "<class" not in comment["body"] and "Quality gates" in comment["body"]


def test_sandbox_hides_python_internals(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, FAILING_GATES)
    (layout.workspace / "peek.md.j2").write_text("x{{ ''.__class__.__mro__ }}{{ cycler.__init__ }}y")
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": "peek.md.j2"})
    assert run.code == 1, run.log
    [comment] = ours(fake_github)
    assert "<class" not in comment["body"] and "<function" not in comment["body"]


def test_missing_template_is_an_input_error(run_action, fake_github):
    run = run_action(inputs={"INPUT_TEMPLATE": "nope.j2"})
    assert run.code == 2 and "nope.j2" in run.stdout


def test_missing_config_is_fine_with_baseline_and_current(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, [])
    (layout.workspace / "kalibra.yml").unlink()
    run = run_action(layout=layout, inputs={"INPUT_BASELINE": "traces/baseline.jsonl",
                                            "INPUT_CURRENT": "traces/current.jsonl",
                                            "INPUT_REQUIRE": "success_rate_delta >= -5"})
    assert run.code == 0, run.log


def test_missing_config_without_sides_exits_2(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, [])
    (layout.workspace / "kalibra.yml").unlink()
    run = run_action(layout=layout, prepare=False)
    assert run.code == 2 and "::error" in run.stdout


def test_many_failed_gates_make_at_most_ten_errors(run_action, fake_github):
    gates = [f"regressions <= {i % 3}" for i in range(14)]
    run = run_action(gates=gates)
    assert run.code == 1
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 10 and "more" in errors[-1]


def test_inconclusive_gate_is_a_warning(run_action, fake_github):
    run = run_action(gates=["token_delta_pct <= -5"], inputs={"INPUT_ON-INCONCLUSIVE": "warn"})
    assert run.code == 0, run.log
    assert re.search(r"^::warning title=Gate INCONCLUSIVE", run.stdout, re.M), run.stdout
    run2 = run_action(gates=["token_delta_pct <= -5"], inputs={"INPUT_ON-INCONCLUSIVE": "fail"})
    assert run2.code == 1
