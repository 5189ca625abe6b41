"""Whether the action may write to the pull request it was pointed at.

In the fork-safe pattern the `workflow_run` job holds a writable token, and the PR number it is given comes
from an artifact the PR itself uploaded: a fork could name *another* PR and put its own PASS there. So before
writing to PR N in a `workflow_run` event, `GET /repos/{repo}/pulls/N` must show the run's own head commit
(`head.sha == workflow_run.head_sha`) from the run's own head repository (`head.repo.full_name ==
workflow_run.head_repository.full_name`), and N must be among `workflow_run.pull_requests` when GitHub lists
any (it does not for forks). On `pull_request`/`pull_request_target` the event names the PR: a `pr-number`
input that names another is refused. Other events (`workflow_dispatch`, …) are started by someone who can
write to the repository, so their `pr-number` is taken as given.
"""

from __future__ import annotations

from typing import Any

from kalibra_action.github.client import GitHubClient, GitHubError

PR_EVENTS: tuple[str, ...] = ("pull_request", "pull_request_target")


class TargetRefused(Exception):
    """The PR may not be written to; the message says why. Nothing has been written."""

    def __init__(self, number: int, why: str) -> None:
        super().__init__(f"refusing to comment on pull request #{number}: {why}")
        self.number = number


def get_path(data: Any, *keys: str) -> Any:
    """data[k1][k2]… through dicts only; None where a key is missing or a level is not a dict (the event
    payload is JSON, and a field of the wrong type must not raise)."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def event_pr_number(event_name: str, event: dict[str, Any]) -> int | None:
    """The PR of a pull_request(_target) event, else None."""
    if event_name not in PR_EVENTS:
        return None
    number = get_path(event, "pull_request", "number") or event.get("number")
    return number if isinstance(number, int) and not isinstance(number, bool) and number > 0 else None


def check_pr_input(event_name: str, event: dict[str, Any], pr_input: int | None) -> None:
    """On a pull_request(_target) event, a `pr-number` input may only repeat the event's own PR."""
    if event_name not in PR_EVENTS or pr_input is None:
        return
    own = event_pr_number(event_name, event)
    if own != pr_input:
        raise TargetRefused(pr_input, f"this {event_name} event is for pull request "
                                      f"{'#' + str(own) if own else '(none)'}, and input 'pr-number' may "
                                      "only name that one")


def verify_workflow_run(client: GitHubClient, repository: str, number: int, event: dict[str, Any]) -> None:
    """Raise TargetRefused unless PR `number` is the pull request the triggering run built (one request)."""
    run = event.get("workflow_run")
    sha = get_path(run, "head_sha")
    head_repo = get_path(run, "head_repository", "full_name")
    if not (isinstance(sha, str) and sha and isinstance(head_repo, str) and head_repo):
        raise TargetRefused(number, "the workflow_run event has no head_sha or head_repository to check the "
                                    "pull request against")
    prs = get_path(run, "pull_requests")
    numbers = (get_path(p, "number") for p in (prs if isinstance(prs, list) else []))
    listed = [n for n in numbers if isinstance(n, int)]
    if listed and number not in listed:
        raise TargetRefused(number, f"the triggering run belongs to pull request(s) "
                                    f"{', '.join('#' + str(n) for n in listed)}")
    try:
        pr = client.json("GET", f"repos/{repository}/pulls/{number}")
    except GitHubError as err:
        raise TargetRefused(number, f"cannot read it to check its head commit ({err.status or 'no answer'} "
                                    f"{err.message}); the job needs `pull-requests: read`") from None
    pr_sha = get_path(pr, "head", "sha")
    pr_repo = get_path(pr, "head", "repo", "full_name")
    if not isinstance(pr_repo, str) or pr_repo.casefold() != head_repo.casefold():
        raise TargetRefused(number, f"its head repository is {_short(pr_repo)}, but the triggering run built "
                                    f"{_short(head_repo)}")
    if not isinstance(pr_sha, str) or pr_sha.lower() != sha.lower():
        raise TargetRefused(number, f"its head commit is {_short(pr_sha)}, but the triggering run built "
                                    f"{_short(sha)} (a pr-number naming another pull request, or a newer "
                                    "push since: that push's own run reports on it)")


def _short(value: Any) -> str:
    """A repository name or commit for a message: its safe characters only, kept short."""
    text = "".join(c for c in str(value) if (c.isascii() and c.isalnum()) or c in "-_./")[:80]
    return f"'{text}'" if text else "(none)"
