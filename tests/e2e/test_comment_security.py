"""The sticky comment against a PR that attacks it, through entrypoint.py with the runner's environment and
the fake GitHub on 127.0.0.1: a forged marker comment is never edited or deleted, and a `workflow_run` job
only writes to the pull request whose head it built."""

from __future__ import annotations

import re

from tests.e2e.conftest import (
    FAILING_GATES,
    PASSING_GATES,
    PR,
    REPO,
    Layout,
    pr_event,
    workflow_run_event,
    write_workspace,
)

MARKER = "<!-- kalibra-action:kalibra -->"
FORGED = f"{MARKER}\n## ✅ Kalibra · PASSED\n\nAll gates passed."
FORK = "stranger/demo"
RUN_SHA = "f" * 40


def own(fake, pr: int = PR) -> list[dict]:
    """Marker comments the token's identity wrote."""
    return [c for c in fake.comments.get(pr, []) if c["body"].startswith(MARKER) and c["user"]["login"] ==
            fake.viewer]


def test_a_forged_passed_comment_is_left_alone_and_the_bot_keeps_its_own(run_action, fake_github, tmp_path):
    human = fake_github.seed(PR, FORGED, "mallory", "User")
    layout = Layout(tmp_path / "runner")
    first = run_action(layout=layout, gates=FAILING_GATES)
    assert first.code == 1, first.log
    [mine] = own(fake_github)
    assert "FAIL" in mine["body"] and first.outputs["comment-url"] == mine["html_url"]
    assert human["body"] == FORGED and fake_github.written_by_others() == []
    assert re.search(r"^::warning title=kalibra-action%3A look-alike comment ignored::1 comment.*mallory",
                     first.stdout, re.M), first.stdout
    (layout.root / "file_commands" / "set_output").unlink()
    (layout.workspace / "kalibra.yml").write_text(
        (layout.workspace / "kalibra.yml").read_text().replace("regressions <= 2", "regressions <= 3"))
    second = run_action(layout=layout, gates=FAILING_GATES)
    assert [c["id"] for c in own(fake_github)] == [mine["id"]]
    assert [w[:2] for w in fake_github.writes] == [("PATCH", mine["id"])], second.log
    assert human["body"] == FORGED and len(fake_github.comments[PR]) == 2


def test_recreate_never_deletes_a_humans_marker_comment(run_action, fake_github):
    human = fake_github.seed(PR, FORGED, "mallory", "User")
    old = fake_github.seed(PR, f"{MARKER}\nold report", "github-actions[bot]", "Bot")
    run = run_action(inputs={"INPUT_COMMENT": "recreate"})
    assert run.code == 0, run.log
    assert fake_github.writes == [("DELETE", old["id"], "github-actions[bot]")]
    assert human in fake_github.comments[PR] and len(own(fake_github)) == 1


def test_an_app_token_finds_its_login_through_graphql(run_action, fake_github):
    fake_github.viewer = "kalibra-app[bot]"
    default_bot = fake_github.seed(PR, f"{MARKER}\nold report by the default token", "github-actions[bot]",
                                   "Bot")
    mine = fake_github.seed(PR, f"{MARKER}\nold report", "kalibra-app[bot]", "Bot")
    run = run_action()
    assert run.code == 0, run.log
    assert [w[:2] for w in fake_github.writes] == [("PATCH", mine["id"])]
    assert default_bot["body"].endswith("by the default token")
    assert "comment author: kalibra-app[bot] (from graphql)" in run.stdout


def test_workflow_run_pointed_at_another_pr_writes_nothing_and_exits_2(run_action, fake_github):
    fake_github.add_pull(12, RUN_SHA, FORK)  # the fork's own PR, which the run built
    fake_github.add_pull(13, "d" * 40, REPO)  # the victim, named in the fork's artifact
    victim = fake_github.seed(13, f"{MARKER}\n## ❌ Kalibra · FAILED", "github-actions[bot]", "Bot")
    run = run_action(event_name="workflow_run", event=workflow_run_event(RUN_SHA, FORK),
                     inputs={"INPUT_PR-NUMBER": "13", "INPUT_FAIL-ON-GATE": "false"})
    assert run.code == 2, run.log
    assert fake_github.requests("POST") == [] and fake_github.requests("PATCH") == []
    assert fake_github.requests("DELETE") == [] and victim["body"].endswith("FAILED")
    assert re.search(r"^::error title=kalibra-action%3A pull request refused::refusing to comment on pull "
                     r"request #13", run.stdout, re.M), run.stdout
    assert run.outputs["exit-code"] == "2" and run.outputs["passed"] == "true"
    assert run.outputs["comment-url"] == ""
    assert "PASS" in run.summary and "refusing to comment on pull request" in run.summary


def test_workflow_run_on_its_own_pr_comments(run_action, fake_github):
    fake_github.add_pull(12, RUN_SHA, FORK)
    run = run_action(event_name="workflow_run", event=workflow_run_event(RUN_SHA, FORK),
                     inputs={"INPUT_PR-NUMBER": "12", "INPUT_FAIL-ON-GATE": "false"}, gates=FAILING_GATES)
    assert run.code == 0, run.log
    assert len(own(fake_github, 12)) == 1 and run.outputs["comment-url"]


def test_workflow_run_with_the_same_commit_from_another_repository_is_refused(run_action, fake_github):
    fake_github.add_pull(13, RUN_SHA, REPO)  # same commit pushed to a branch of the base repository
    run = run_action(event_name="workflow_run", event=workflow_run_event(RUN_SHA, FORK),
                     inputs={"INPUT_PR-NUMBER": "13"})
    assert run.code == 2, run.log
    assert fake_github.requests("POST") == [] and "head repository" in run.stdout


def test_an_input_error_in_a_workflow_run_is_not_posted_to_another_pr(run_action, fake_github, tmp_path):
    fake_github.add_pull(13, "d" * 40, REPO)
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, PASSING_GATES)
    (layout.workspace / "traces" / "current.jsonl").write_text("{not json\n")
    run = run_action(layout=layout, event_name="workflow_run", event=workflow_run_event(RUN_SHA, FORK),
                     inputs={"INPUT_PR-NUMBER": "13"})
    assert run.code == 2, run.log
    assert fake_github.requests("POST") == [] and "refusing to comment" in run.stdout


def test_pull_request_with_a_pr_number_for_another_pr_is_refused(run_action, fake_github):
    run = run_action(event=pr_event(PR), inputs={"INPUT_PR-NUMBER": "13"})
    assert run.code == 2, run.log
    assert fake_github.requests() == [] and "#13" in run.stdout
