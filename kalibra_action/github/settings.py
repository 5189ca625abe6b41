"""The runner's environment → one typed ActionSettings.

The runner passes inputs as `INPUT_<NAME>` with the name upper-cased and hyphens kept (`INPUT_GITHUB-TOKEN`),
applies the defaults from action.yml, and rewrites mounted paths (workspace, event, file commands).
The defaults here are action.yml's own (github.action_inputs, generated from it), so that a local run
without the runner, or an input given as an empty string, behaves as the runner's default would.
Choices are checked with the config layer's validators (kalibra_action.config), so an input accepts what
the same key in kalibra.yml accepts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from kalibra_action.config import check_choice
from kalibra_action.errors import InputError
from kalibra_action.gates import ON_INCONCLUSIVE
from kalibra_action.github.action_inputs import INPUT_DEFAULTS
from kalibra_action.github.artifacts import (
    IF_NO_BASELINE,
    check_glob,
    default_branch_for,
    workflow_from_ref,
)
from kalibra_action.github.comments import marker_for
from kalibra_action.github.identity import LOGIN
from kalibra_action.github.target import event_pr_number, get_path
from kalibra_action.limits import HISTORY_MAX_RUNS
from kalibra_action.paths import Roots, lexical, make_roots

CommentMode = Literal["update", "recreate", "off"]
COMMENT_MODES: tuple[str, ...] = get_args(CommentMode)
# An input given as "" gets action.yml's default, except these, for which an empty value means "not set":
# `on-inconclusive: ''` lets the config decide.
EMPTY_IS_UNSET = frozenset({"on-inconclusive"})
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"

# The YAML 1.2 core-schema booleans, as actions/toolkit's getBooleanInput accepts them.
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")
_PR_NUMBER = re.compile(r"#?([0-9]{1,10})", re.ASCII)
_COMMENT_ID = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")

# upload-artifact refuses these in a name; a branch name has no whitespace or control characters.
_ARTIFACT_BAD = set('"<>:|*?\\/\r\n')
_WORKFLOW = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")
_BRANCH_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")


def get_input(env: Mapping[str, str], name: str) -> str:
    """An input's value, trimmed: `INPUT_<NAME>` with hyphens kept, else with `_`; action.yml's default when
    it is absent or empty (but see EMPTY_IS_UNSET). A name action.yml does not declare is a KeyError."""
    default = INPUT_DEFAULTS[name]
    for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        if key in env:
            value = env[key].strip()
            return value if value or name in EMPTY_IS_UNSET else default
    return default


def parse_bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"input '{name}' must be true or false, got {value!r}")


def parse_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, in any letter case (as the runner's booleans are)."""
    try:
        return check_choice(value.lower(), choices)
    except ValueError as exc:
        raise InputError(f"input '{name}' {exc}") from None


def parse_pr_number(value: str) -> int | None:
    """`42` or `#42`. ASCII digits only and at most 10 of them: str.isdigit() also accepts `²` (which int()
    refuses) and other scripts' digits, and int() of thousands of digits raises; the value may come from an
    artifact a fork uploaded."""
    if not value:
        return None
    match = _PR_NUMBER.fullmatch(value)
    if match is None or int(match.group(1)) <= 0:
        raise InputError(f"input 'pr-number' must be a pull request number, got {value[:40]!r}")
    return int(match.group(1))


def parse_login(value: str) -> str | None:
    """The `comment-author` input: a GitHub login, or an app's bot login `slug[bot]`."""
    if not value:
        return None
    if not LOGIN.fullmatch(value):
        raise InputError(f"input 'comment-author' must be a GitHub login such as my-app[bot], got {value!r}")
    return value


def parse_baseline_runs(value: str) -> int:
    """Input `baseline-runs`: a whole number from 1 to HISTORY_MAX_RUNS (empty: 1)."""
    text = value.strip() or "1"
    if not text.isdigit() or len(text) > 3 or not 1 <= int(text) <= HISTORY_MAX_RUNS:
        raise InputError(f"input 'baseline-runs' must be a whole number from 1 to {HISTORY_MAX_RUNS}, "
                         f"got {value!r}")
    return int(text)


def split_lines(value: str) -> tuple[str, ...]:
    """One item per non-blank line; `#` starts a comment line."""
    return tuple(s for s in (line.strip() for line in value.splitlines()) if s and not s.startswith("#"))


def parse_baseline_artifact(env: Mapping[str, str], event: dict[str, Any],
                            inp: Callable[[str], str]) -> dict[str, Any]:
    """The five baseline-artifact inputs, checked; workflow and branch get their defaults only when the
    feature is on (`baseline-artifact` set), so a run without it never needs GITHUB_WORKFLOW_REF."""
    artifact = inp("baseline-artifact")
    workflow = inp("baseline-workflow")
    branch = inp("baseline-branch")
    path_glob = inp("baseline-path")
    policy = parse_choice("if-no-baseline", inp("if-no-baseline"), IF_NO_BASELINE)
    try:
        check_glob(path_glob)
    except InputError as err:
        raise InputError(err.message) from None
    if not artifact:
        return {"baseline_artifact": None, "baseline_workflow": workflow or None,
                "baseline_branch": branch or None, "baseline_path": path_glob, "if_no_baseline": policy}
    if len(artifact) > 255 or any(c in _ARTIFACT_BAD for c in artifact):
        raise InputError(f"input 'baseline-artifact' is not a valid artifact name, got {artifact!r}")
    if workflow:
        if not _WORKFLOW.match(workflow):
            raise InputError(f"input 'baseline-workflow' must be a workflow file name or id, "
                             f"got {workflow!r}")
        workflow = workflow_from_ref(workflow) if "/" in workflow else workflow
    else:
        workflow = workflow_from_ref(env.get("GITHUB_WORKFLOW_REF", ""))
    if branch.startswith("refs/heads/"):
        branch = branch[len("refs/heads/"):]
    if not branch:
        branch = default_branch_for(event) or ""
        if not branch:
            raise InputError("cannot tell which branch the baseline comes from (no pull request base, no "
                             "default branch in the event); set input 'baseline-branch'")
    elif _BRANCH_BAD.search(branch) or branch.startswith(("/", "-")) or branch.endswith((".", "/")):
        raise InputError(f"input 'baseline-branch' is not a branch name, got {branch!r}")
    return {"baseline_artifact": artifact, "baseline_workflow": workflow, "baseline_branch": branch,
            "baseline_path": path_glob, "if_no_baseline": policy}


def load_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the event payload: {err}", file=path) from err
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class ActionSettings:
    """Everything the action reads from its environment, parsed and checked once."""

    # inputs
    config: str = INPUT_DEFAULTS["config"]
    baseline: str | None = None
    current: str | None = None
    require: tuple[str, ...] = ()  # gate expressions, parsed where the request is built (run.py)
    token: str | None = field(default=None, repr=False)
    comment: CommentMode = INPUT_DEFAULTS["comment"]  # type: ignore[assignment]
    comment_id: str = INPUT_DEFAULTS["comment-id"]
    comment_author: str | None = None  # the token's login when given; else looked up (github.identity)
    on_inconclusive: str | None = INPUT_DEFAULTS["on-inconclusive"]  # None: the config decides
    fail_on_gate: bool = True
    template: str | None = None
    pr_number_input: int | None = None
    report: str = INPUT_DEFAULTS["report"]
    working_directory: str = INPUT_DEFAULTS["working-directory"]
    baseline_artifact: str | None = None  # turns the baseline-from-an-artifact feature on
    baseline_workflow: str | None = None  # resolved: the input, else the running workflow's file
    baseline_branch: str | None = None  # resolved: the input, else the PR's base, else the default branch
    baseline_path: str = INPUT_DEFAULTS["baseline-path"]
    if_no_baseline: str = INPUT_DEFAULTS["if-no-baseline"]
    baseline_runs: int = 1  # base-branch runs pooled (issue 12): the newest's traces, the others' summaries
    # runner
    workspace: Path = field(default_factory=Path.cwd)
    event_name: str = ""
    event: dict[str, Any] = field(default_factory=dict, repr=False)
    repository: str = ""
    api_url: str = DEFAULT_API_URL
    graphql_url: str | None = None  # GITHUB_GRAPHQL_URL; never derived from the API URL
    server_url: str = DEFAULT_SERVER_URL
    run_id: str = ""
    run_attempt: str = ""
    sha: str = ""
    output_file: Path | None = None
    summary_file: Path | None = None
    artifact_dir: Path | None = None  # set by the action once it has extracted a baseline artifact
    history: Any = None  # set by the action: the older runs' summaries (action.baseline.History)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ActionSettings:
        """Parse the runner's environment; bad input values raise InputError (exit 2)."""
        env = os.environ if env is None else env

        def inp(name: str) -> str:
            return get_input(env, name)

        comment_id = inp("comment-id")
        if not _COMMENT_ID.match(comment_id):
            raise InputError(
                f"input 'comment-id' may hold letters, digits and . _ : / - (at most 100), got {comment_id!r}"
            )
        policy = inp("on-inconclusive")
        workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
        event = load_event(env.get("GITHUB_EVENT_PATH"))
        baseline = inp("baseline") or None
        artifact = parse_baseline_artifact(env, event, inp)
        if baseline and artifact["baseline_artifact"]:
            raise InputError("inputs 'baseline' and 'baseline-artifact' both set; give one of them")
        runs = parse_baseline_runs(inp("baseline-runs"))
        if runs > 1 and not artifact["baseline_artifact"]:
            raise InputError("input 'baseline-runs' above 1 needs input 'baseline-artifact' (the runs come "
                             "from the base branch's artifacts)")
        return cls(
            config=inp("config"),
            baseline=baseline,
            current=inp("current") or None,
            require=split_lines(inp("require")),
            token=inp("github-token") or None,
            comment=parse_choice("comment", inp("comment"), COMMENT_MODES),  # type: ignore[arg-type]
            comment_id=comment_id,
            comment_author=parse_login(inp("comment-author")),
            on_inconclusive=parse_choice("on-inconclusive", policy, ON_INCONCLUSIVE) if policy else None,
            fail_on_gate=parse_bool("fail-on-gate", inp("fail-on-gate")),
            template=inp("template") or None,
            pr_number_input=parse_pr_number(inp("pr-number")),
            report=inp("report"),
            working_directory=inp("working-directory"),
            **artifact,
            baseline_runs=runs,
            workspace=workspace,
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event=event,
            repository=env.get("GITHUB_REPOSITORY", ""),
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            graphql_url=env.get("GITHUB_GRAPHQL_URL") or None,
            server_url=(env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
            run_id=env.get("GITHUB_RUN_ID", ""),
            run_attempt=env.get("GITHUB_RUN_ATTEMPT", ""),
            sha=env.get("GITHUB_SHA", ""),
            output_file=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
            summary_file=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
        )

    # derived values
    @property
    def base_dir(self) -> Path:
        """The directory config, trace and template paths are relative to."""
        return (self.workspace / self.working_directory).resolve()

    @property
    def roots(self) -> Roots:
        """Where the config and trace files may be: the workspace, and the extracted baseline artifact."""
        return make_roots([self.workspace, *([self.artifact_dir] if self.artifact_dir else [])])

    @property
    def report_path(self) -> Path:
        """As written, not resolved: the writer checks where it leads and never follows a symlink there."""
        return self.workspace / self.report

    @property
    def report_display(self) -> str:
        """The report path as printed in outputs: relative to the workspace when inside it."""
        path, workspace = lexical(self.report_path), lexical(self.workspace)
        return path.relative_to(workspace).as_posix() if path.is_relative_to(workspace) else str(path)

    @property
    def pr_number(self) -> int | None:
        """The PR to comment on: the event's for pull_request(_target), else the `pr-number` input (which
        kalibra_action.github.target checks before anything is written)."""
        return event_pr_number(self.event_name, self.event) or self.pr_number_input

    @property
    def is_fork(self) -> bool:
        head = get_path(self.event, "pull_request", "head", "repo", "full_name")
        base = get_path(self.event, "pull_request", "base", "repo", "full_name") or self.repository
        return bool(isinstance(head, str) and head and isinstance(base, str) and head != base)

    @property
    def head_sha(self) -> str:
        sha = get_path(self.event, "pull_request", "head", "sha")
        return sha if isinstance(sha, str) and sha else self.sha

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        url = f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        return f"{url}/attempts/{self.run_attempt}" if self.run_attempt else url

    @property
    def marker(self) -> str:
        return marker_for(self.comment_id)


def workspace_relative(path: Path, workspace: Path) -> str:
    try:
        return Path(path).resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return str(path)
