"""The runner's side of the contract: inputs with hyphens, defaults equal to action.yml's, file commands."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from kalibra_action.errors import InputError
from kalibra_action.github.action_inputs import INPUT_DEFAULTS
from kalibra_action.github.commands import (
    MAX_ANNOTATIONS,
    Commands,
    append_summary,
    escape_data,
    escape_property,
    format_outputs,
)
from kalibra_action.github.settings import ActionSettings
from tests.conftest import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def test_action_yml_declares_the_interface():
    assert set(ACTION["inputs"]) == {
        "config", "baseline", "current", "require", "github-token", "comment", "comment-id", "comment-author",
        "on-inconclusive", "fail-on-gate", "template", "pr-number", "report", "working-directory",
        "baseline-artifact", "baseline-workflow", "baseline-branch", "baseline-path", "if-no-baseline",
        "baseline-runs"}
    assert set(ACTION["outputs"]) == {
        "passed", "exit-code", "regressions", "report", "comment-url", "summary"}
    assert ACTION["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert ACTION["branding"]["icon"] and ACTION["branding"]["color"]
    assert ACTION["inputs"]["github-token"]["default"] == "${{ github.token }}"


def runner_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    env = {f"INPUT_{k.upper()}": v for k, v in INPUT_DEFAULTS.items()}
    env["INPUT_GITHUB-TOKEN"] = "tok"
    env.update({f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()})
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9, "head": {"sha": "c" * 40,
                                                                        "repo": {"full_name": "fork/x"}},
                                                  "base": {"repo": {"full_name": "octo/x"}}}}))
    env.update(GITHUB_EVENT_NAME="pull_request", GITHUB_EVENT_PATH=str(event), GITHUB_WORKSPACE=str(tmp_path),
               GITHUB_REPOSITORY="octo/x", GITHUB_RUN_ID="5", GITHUB_OUTPUT=str(tmp_path / "out"))
    return env


def test_hyphenated_inputs_become_one_typed_object(tmp_path):
    s = ActionSettings.from_env(runner_env(
        tmp_path, require="a >= 1\n\n  b <= 2  \n# note\n", comment="Recreate", fail_on_gate="False",
        on_inconclusive="fail", comment_id="nightly", pr_number="#12", working_directory="evals"))
    assert s.token == "tok" and "tok" not in repr(s)
    assert s.require == ("a >= 1", "b <= 2")
    assert (s.comment, s.fail_on_gate, s.on_inconclusive, s.comment_id) == (
        "recreate", False, "fail", "nightly")
    assert s.pr_number == 9  # the event's PR wins on pull_request
    assert s.is_fork and s.head_sha == "c" * 40
    assert s.base_dir == (tmp_path / "evals").resolve()
    assert s.report_display == "kalibra-report.json"
    assert s.marker == "<!-- kalibra-action:nightly -->"
    assert s.run_url == "https://github.com/octo/x/actions/runs/5"
    assert s.api_url == "https://api.github.com"


def test_defaults(tmp_path):
    s = ActionSettings.from_env(runner_env(tmp_path))
    assert (s.config, s.comment, s.comment_id, s.fail_on_gate, s.on_inconclusive) == (
        "kalibra.yml", "update", "kalibra", True, "warn")
    assert s.baseline is None and s.current is None and s.template is None


def test_pr_number_input_for_other_events(tmp_path):
    env = runner_env(tmp_path, pr_number="31")
    assert ActionSettings.from_env({**env, "GITHUB_EVENT_NAME": "workflow_run"}).pr_number == 31
    env = runner_env(tmp_path)
    assert ActionSettings.from_env({**env, "GITHUB_EVENT_NAME": "push"}).pr_number is None


def test_ghes_api_url(tmp_path):
    env = {**runner_env(tmp_path), "GITHUB_API_URL": "https://ghe.example.com/api/v3/"}
    assert ActionSettings.from_env(env).api_url == "https://ghe.example.com/api/v3"
    assert ActionSettings.from_env(env).graphql_url is None  # never derived from the API URL
    env["GITHUB_GRAPHQL_URL"] = "https://ghe.example.com/api/graphql"
    assert ActionSettings.from_env(env).graphql_url == "https://ghe.example.com/api/graphql"


def test_comment_author_input(tmp_path):
    assert ActionSettings.from_env(runner_env(tmp_path)).comment_author is None
    s = ActionSettings.from_env(runner_env(tmp_path, comment_author="kalibra-app[bot]"))
    assert s.comment_author == "kalibra-app[bot]"


@pytest.mark.parametrize(("name", "value"), [
    ("fail_on_gate", "yes"), ("comment", "always"), ("on_inconclusive", "maybe"), ("pr_number", "abc"),
    ("pr_number", "0"), ("comment_id", "bad id -->"), ("comment_author", "evil\n::error::x"),
    ("comment_author", "two words"), ("comment_author", "app[bot][bot]"),
])
def test_bad_inputs_are_input_errors(tmp_path, name, value):
    with pytest.raises(InputError):
        ActionSettings.from_env(runner_env(tmp_path, **{name: value}))


# ---- the baseline from an artifact -----------------------------------------------------------------------

WORKFLOW_REF = "octo/x/.github/workflows/evals.yml@refs/pull/9/merge"


def artifact_env(tmp_path: Path, event: dict | None = None, **inputs: str) -> dict[str, str]:
    env = runner_env(tmp_path, **inputs)
    env["GITHUB_WORKFLOW_REF"] = WORKFLOW_REF
    if event is not None:
        (tmp_path / "event.json").write_text(json.dumps(event))
    return env


PR_EVENT = {"pull_request": {"number": 9, "base": {"ref": "release/2.x"}},
            "repository": {"default_branch": "main"}}


def test_baseline_artifact_is_off_by_default(tmp_path):
    s = ActionSettings.from_env({**runner_env(tmp_path), "GITHUB_WORKFLOW_REF": ""})
    assert s.baseline_artifact is None and s.baseline_workflow is None and s.baseline_branch is None
    assert (s.baseline_path, s.if_no_baseline) == ("**/*.jsonl*", "warn")


def test_baseline_artifact_defaults_come_from_the_run(tmp_path):
    s = ActionSettings.from_env(artifact_env(tmp_path, PR_EVENT, baseline_artifact="traces"))
    assert (s.baseline_artifact, s.baseline_workflow, s.baseline_branch) == (
        "traces", "evals.yml", "release/2.x")
    push = {"ref": "refs/heads/main", "repository": {"default_branch": "trunk"}}
    s = ActionSettings.from_env({**artifact_env(tmp_path, push, baseline_artifact="traces"),
                                 "GITHUB_EVENT_NAME": "push"})
    assert s.baseline_branch == "trunk"


def test_baseline_artifact_explicit_inputs(tmp_path):
    s = ActionSettings.from_env(artifact_env(
        tmp_path, PR_EVENT, baseline_artifact="traces", baseline_workflow=".github/workflows/main.yml",
        baseline_branch="refs/heads/dev", baseline_path="evals/**/*.jsonl", if_no_baseline="SKIP"))
    assert (s.baseline_workflow, s.baseline_branch, s.baseline_path, s.if_no_baseline) == (
        "main.yml", "dev", "evals/**/*.jsonl", "skip")
    assert ActionSettings.from_env(artifact_env(tmp_path, PR_EVENT, baseline_artifact="t",
                                                baseline_workflow="161335")).baseline_workflow == "161335"


@pytest.mark.parametrize(("inputs", "message"), [
    ({"if_no_baseline": "ignore"}, "input 'if-no-baseline' must be one of fail, warn, skip"),
    ({"baseline_path": "../x/*.jsonl"}, "baseline-path"),
    ({"baseline_path": "/etc/*"}, "baseline-path"),
    ({"baseline_artifact": "a/b"}, "baseline-artifact"),
    ({"baseline_artifact": "a:b"}, "baseline-artifact"),
    ({"baseline_artifact": "t", "baseline_branch": "two words"}, "baseline-branch"),
    ({"baseline_artifact": "t", "baseline_branch": "a..b"}, "baseline-branch"),
    ({"baseline_artifact": "t", "baseline_workflow": "ci\x01.yml"}, "baseline-workflow"),
    ({"baseline_artifact": "t", "baseline": "b.jsonl"}, "'baseline' and 'baseline-artifact'"),
])
def test_bad_baseline_inputs(tmp_path, inputs, message):
    with pytest.raises(InputError) as info:
        ActionSettings.from_env(artifact_env(tmp_path, PR_EVENT, **inputs))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_no_workflow_ref_and_no_input_is_an_input_error(tmp_path):
    env = {**artifact_env(tmp_path, PR_EVENT, baseline_artifact="t"), "GITHUB_WORKFLOW_REF": ""}
    with pytest.raises(InputError, match="baseline-workflow"):
        ActionSettings.from_env(env)


def test_no_branch_anywhere_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="baseline-branch"):
        ActionSettings.from_env({**artifact_env(tmp_path, {"schedule": "0 0 * * *"}, baseline_artifact="t"),
                                 "GITHUB_EVENT_NAME": "schedule"})


def test_annotation_escaping():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    out = io.StringIO()
    Commands(out).error("line1\nline2", title="Gate FAIL: x, y", file="traces/a b.jsonl", line=3)
    assert out.getvalue() == "::error file=traces/a b.jsonl,line=3,title=Gate FAIL%3A x%2C y::line1%0Aline2\n"


def test_at_most_ten_annotations_per_level_the_last_says_how_many_more():
    out = io.StringIO()
    cmd = Commands(out)
    cmd.annotate_many("error", [(f"gate {i}", f"failed {i}") for i in range(15)], more="See the summary.")
    errors = [line for line in out.getvalue().splitlines() if line.startswith("::error")]
    assert len(errors) == MAX_ANNOTATIONS
    assert "6 more" in errors[-1] and "gate 14" in errors[-1]
    cmd.error("one too many")
    assert out.getvalue().splitlines()[-1] == "error: one too many"


def test_log_lines_cannot_issue_commands():
    out = io.StringIO()
    Commands(out).log("::add-mask::x\nok")
    assert not out.getvalue().startswith("::")


def test_group_and_mask():
    out = io.StringIO()
    cmd = Commands(out)
    cmd.mask("s3cret")
    with cmd.group("Compare"):
        cmd.log("inside")
    assert out.getvalue() == "::add-mask::s3cret\n::group::Compare\ninside\n::endgroup::\n"


def test_outputs_use_random_heredoc_delimiters():
    text = format_outputs({"summary": "line one\nline two", "passed": "true"})
    delims = re.findall(r"^\w[\w-]*<<(\S+)$", text, re.M)
    assert len(delims) == 2 and delims[0] != delims[1]
    assert all(d.startswith("ghadelimiter_") for d in delims)
    assert text.startswith(f"summary<<{delims[0]}\nline one line two\n{delims[0]}\n")  # one line


def test_summary_is_capped_at_one_mib(tmp_path):
    path = tmp_path / "summary.md"
    body = "<details><summary>x</summary>\n\n" + ("| t | ünïcode |\n" * 200_000)
    assert append_summary(path, body) is True
    data = path.read_bytes()
    assert len(data) <= 1024 * 1024
    text = data.decode("utf-8")
    assert text.count("<details>") == text.count("</details>") and "1 MiB" in text


def test_summary_appends_within_what_the_step_already_used(tmp_path):
    path = tmp_path / "summary.md"
    path.write_text("x" * 1000)
    assert append_summary(path, "short") is False
    assert path.read_text() == "x" * 1000 + "short\n"
    assert append_summary(path, "y" * (1024 * 1024)) is True
    assert path.stat().st_size <= 1024 * 1024
