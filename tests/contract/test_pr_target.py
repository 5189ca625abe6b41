"""Which pull request a run may write to, against the fake GitHub on 127.0.0.1: in a workflow_run event the
PR named by `pr-number` (untrusted: it comes from the PR's own artifact) must carry the run's head commit
from the run's head repository; on pull_request events `pr-number` may only repeat the event's PR."""

from __future__ import annotations

import pytest

from kalibra_action.github.client import GitHubClient
from kalibra_action.github.target import TargetRefused, check_pr_input, verify_workflow_run
from tests.contract.conftest import REPO, TOKEN
from tests.e2e.conftest import workflow_run_event
from tests.e2e.fake_github import FakeGitHub

SHA = "c0ffee" + "1" * 34
FORK = "stranger/demo"


@pytest.fixture
def fake(gh) -> FakeGitHub:
    return FakeGitHub(gh, repo=REPO)


def verify(fake: FakeGitHub, number: int, event: dict) -> None:
    verify_workflow_run(GitHubClient(TOKEN, fake.api_url, sleep=lambda _s: None), REPO, number, event)


def test_the_runs_own_pull_request_passes_with_one_request(fake):
    fake.add_pull(12, SHA, FORK)
    verify(fake, 12, workflow_run_event(SHA, FORK))
    assert [r.path for r in fake.requests()] == [f"/repos/{REPO}/pulls/12"]


def test_another_pull_request_with_another_head_sha_is_refused(fake):
    fake.add_pull(12, SHA, FORK)
    fake.add_pull(13, "d" * 40, REPO)  # the victim
    with pytest.raises(TargetRefused, match=r"#13: .*head repository is 'octo/demo'"):
        verify(fake, 13, workflow_run_event(SHA, FORK))


def test_same_repository_but_another_commit_is_refused(fake):
    fake.add_pull(13, "d" * 40, FORK)  # the attacker's other PR, or a newer push
    with pytest.raises(TargetRefused, match=r"head commit is 'd{40}'"):
        verify(fake, 13, workflow_run_event(SHA, FORK))


def test_same_commit_from_another_repository_is_refused(fake):
    fake.add_pull(13, SHA, "someone-else/demo")
    with pytest.raises(TargetRefused, match="head repository"):
        verify(fake, 13, workflow_run_event(SHA, FORK))


def test_a_pull_request_that_does_not_exist_is_refused(fake):
    with pytest.raises(TargetRefused, match="404"):
        verify(fake, 99, workflow_run_event(SHA, FORK))


def test_an_event_without_a_head_is_refused_before_any_request(fake):
    fake.add_pull(12, SHA, FORK)
    with pytest.raises(TargetRefused, match="no head_sha"):
        verify(fake, 12, {"workflow_run": {"id": 1}})
    assert fake.requests() == []


def test_a_number_outside_the_runs_listed_pull_requests_is_refused(fake):
    fake.add_pull(13, SHA, REPO)
    with pytest.raises(TargetRefused, match="#12"):
        verify(fake, 13, workflow_run_event(SHA, REPO, pull_requests=[12]))
    assert fake.requests() == []


def test_a_hostile_head_repository_name_is_cut_to_safe_characters(fake):
    fake.add_pull(13, SHA, "evil/x\n::error::forged")
    with pytest.raises(TargetRefused) as info:
        verify(fake, 13, workflow_run_event(SHA, FORK))
    assert "\n" not in str(info.value) and "::" not in str(info.value)


@pytest.mark.parametrize("event_name", ["pull_request", "pull_request_target"])
def test_pr_number_may_only_repeat_the_events_pull_request(event_name):
    event = {"number": 5, "pull_request": {"number": 5}}
    check_pr_input(event_name, event, None)
    check_pr_input(event_name, event, 5)
    with pytest.raises(TargetRefused, match=r"#6: .*#5"):
        check_pr_input(event_name, event, 6)
    check_pr_input("workflow_dispatch", event, 6)  # started by someone with write access: as given
