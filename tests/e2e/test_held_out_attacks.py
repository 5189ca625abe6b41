"""Held-out attacks through entrypoint.py with the runner's environment and the fake GitHub on 127.0.0.1:
inputs and event fields of an unexpected shape must end in a clear input error or a normal run, never an
"internal error" with a traceback in the log."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import TOKEN, Layout, workflow_run_event
from tests.runner_commands import ours_only

MARKER = "<!-- kalibra-action:kalibra -->"


@pytest.mark.parametrize("value", ["\u00b2", "\u0664\u0662", "9" * 5000, "#" + "1" * 11, "1e3", "-3"])
def test_odd_pr_number_input_is_an_input_error(run_action, tmp_path, value):
    """`str.isdigit()` accepted `²` (int() then raised) and thousands of digits (int() raised): the run
    ended as an internal error with a traceback. In the fork-safe pattern the number comes from an artifact
    the fork uploaded."""
    run = run_action(layout=Layout(tmp_path / "runner"), event_name="workflow_run", event={},
                     inputs={"INPUT_PR-NUMBER": value})
    assert run.code == 2, run.log
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "pr-number" in errors[0] and "internal error" not in errors[0], run.stdout
    assert "Traceback" not in run.log
    assert len(errors[0]) < 300  # the value is quoted cut short, not 5,000 digits
    ours_only(run.stdout, token=TOKEN)


@pytest.mark.parametrize("pull_request", ["x", ["a"], {"number": 42, "head": "x", "base": 5},
                                          {"number": 42, "head": {"sha": 7, "repo": "r"}}])
def test_event_fields_of_the_wrong_type_do_not_crash(run_action, fake_github, tmp_path, pull_request):
    """A `pull_request` that is not an object (or whose head/base are not) made the settings' properties
    raise AttributeError after the comparison: an internal error instead of the verdict."""
    event = {"action": "synchronize", "number": 42, "pull_request": pull_request}
    run = run_action(layout=Layout(tmp_path / "runner"), event_name="pull_request", event=event)
    assert run.code == 0, run.log
    assert "internal error" not in run.log and "Traceback" not in run.log
    assert run.outputs["summary"].startswith("PASS")
    [comment] = fake_github.comments[42]
    assert comment["body"].startswith(MARKER) and "ERROR" not in comment["body"].split("\n", 2)[1]


@pytest.mark.parametrize("pull_requests", [7, "12", None, [None, "x", {"number": "12"}]])
def test_workflow_run_pull_requests_of_the_wrong_type_do_not_crash(run_action, fake_github, tmp_path,
                                                                   pull_requests):
    """`workflow_run.pull_requests` that is not a list of objects: the check still asks the API for the
    PR's head (and comments, since it matches) instead of raising TypeError (an int is not iterable)."""
    sha = "c" * 40
    fake_github.add_pull(12, sha)
    event = workflow_run_event(sha)
    event["workflow_run"]["pull_requests"] = pull_requests
    run = run_action(layout=Layout(tmp_path / "runner"), event_name="workflow_run", event=event,
                     inputs={"INPUT_PR-NUMBER": "12"})
    assert run.code == 0, run.log
    assert "internal error" not in run.log and "Traceback" not in run.log
    assert [c["body"][:len(MARKER)] for c in fake_github.comments[12]] == [MARKER]


@pytest.mark.parametrize("event", [
    {"workflow_run": "x"}, {"workflow_run": {"pull_requests": ["x"]}}, {"pull_request": {"base": "main"}},
    {"repository": {"default_branch": 5}, "workflow_run": {"pull_requests": 3}},
])
def test_baseline_branch_from_an_odd_event_is_a_clear_error(run_action, tmp_path, event):
    """The default baseline branch is read from the event: fields of the wrong type raised AttributeError
    while the settings were read (an internal error with a traceback)."""
    run = run_action(layout=Layout(tmp_path / "runner"), event_name="workflow_dispatch", event=event,
                     inputs={"INPUT_BASELINE-ARTIFACT": "kalibra-traces"})
    assert run.code == 2, run.log
    assert "Traceback" not in run.log and "internal error" not in run.log
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "baseline-branch" in errors[0], run.stdout


def test_a_require_input_with_thousands_of_gates_is_refused(run_action, fake_github, tmp_path):
    """Every gate is a row in the comment, the summary and the JSON report, rendered again for each size
    the comment is fitted to: 8,000 gates took 80 s, 40,000 nearly two minutes in the CLI alone."""
    gates = "\n".join(f"regressions <= {i}" for i in range(5_000))
    run = run_action(layout=Layout(tmp_path / "runner"), inputs={"INPUT_REQUIRE": gates})
    assert run.code == 2, run.log
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "5,000 gates, more than the limit" in errors[0], errors
    assert "inputs.require" in errors[0]
    [comment] = fake_github.comments[42]  # the error replaces any earlier verdict
    assert "more than the limit" in comment["body"]
