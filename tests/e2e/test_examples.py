"""The examples and workflows use the action's real interface, and the example config loads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
WORKFLOWS = sorted([*(ROOT / "examples").rglob("*.yml"), *(ROOT / ".github" / "workflows").glob("*.yml")])


def action_steps(path: Path) -> list[dict]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "jobs" not in data:
        return []
    return [step for job in data["jobs"].values() for step in job.get("steps", [])
            if str(step.get("uses", "")).split("@")[0].endswith(("/kalibra-action", "./", "/composite"))]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_steps_use_declared_inputs_and_outputs(path):
    for step in action_steps(path):
        assert set(step.get("with", {})) <= set(ACTION["inputs"]), (path, step)
    ours = {step["id"] for step in action_steps(path) if "id" in step}
    for step_id, ref in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", path.read_text()):
        assert step_id not in ours or ref in ACTION["outputs"], (path, step_id, ref)


def test_self_test_runs_the_local_action():
    steps = action_steps(ROOT / ".github" / "workflows" / "self-test.yml")
    assert steps and {s["uses"] for s in steps} == {"./", "./composite"}


def test_fork_safe_pair_uses_workflow_run_and_pr_number():
    folder = ROOT / "examples" / "workflows" / "fork-safe"
    comment = yaml.safe_load((folder / "kalibra-comment.yml").read_text())
    triggers = comment.get("on") or comment.get(True)
    assert "workflow_run" in triggers
    [step] = action_steps(folder / "kalibra-comment.yml")
    assert "pr-number" in step["with"]
    [pr_step] = action_steps(folder / "kalibra-pr.yml")
    assert pr_step["with"]["comment"] == "off"


def test_example_config_loads(tmp_path, monkeypatch):
    from kalibra_action.config import load_config

    monkeypatch.chdir(tmp_path)
    config = load_config(str(ROOT / "examples" / "kalibra.yml"), required=True)
    assert list(config.require) and not config.warnings


def test_baseline_artifact_pair_uploads_what_the_pr_workflow_compares():
    folder = ROOT / "examples" / "workflows" / "baseline-artifact"
    main = yaml.safe_load((folder / "main-upload.yml").read_text())
    pr = yaml.safe_load((folder / "pr-compare.yml").read_text())
    assert (main.get("on") or main.get(True))["push"]["branches"] == ["main"]
    assert "pull_request" in (pr.get("on") or pr.get(True))
    [upload] = [s for s in main["jobs"]["evals"]["steps"] if "upload-artifact" in str(s.get("uses"))]
    [step] = action_steps(folder / "pr-compare.yml")
    assert step["with"]["baseline-artifact"] == upload["with"]["name"]
    assert step["with"]["baseline-workflow"] == "main-upload.yml"
    assert pr["permissions"]["actions"] == "read"


def _read_pr_number_script() -> str:
    path = ROOT / "examples" / "workflows" / "fork-safe" / "kalibra-comment.yml"
    comment = yaml.safe_load(path.read_text())
    [step] = [s for job in comment["jobs"].values() for s in job["steps"] if s.get("id") == "pr"]
    return step["run"]


@pytest.mark.parametrize(("content", "expected"), [
    ("17\n", "17"), ("17", "17"),
    ("1a7\n", None),                      # not silently turned into 17
    ("17\n13\n", None), ("17 13", None), (" 17", None), ("0", None), ("-3", None), ("", None),
    ("9" * 11, None), ("17\n::add-mask::x", None), ("１７", None),  # fullwidth digits
    (None, None),                         # no file at all
    ("symlink", None),                    # a symlink to a file holding a valid number
])
def test_fork_safe_example_takes_only_a_plain_pr_number(tmp_path, content, expected):
    """The `workflow_run` part reads the PR number from the PR's own artifact: only a plain number passes."""
    bash = shutil.which("bash")
    assert bash
    folder = tmp_path / "evals" / "current"
    folder.mkdir(parents=True)
    if content == "symlink":
        (tmp_path / "elsewhere").write_text("17\n")
        (folder / "pr-number").symlink_to(tmp_path / "elsewhere")
    elif content is not None:
        (folder / "pr-number").write_text(content)
    out = tmp_path / "github_output"
    proc = subprocess.run([bash, "-e", "-c", _read_pr_number_script()], cwd=tmp_path, capture_output=True,
                          text=True, check=False,
                          env={"GITHUB_OUTPUT": str(out), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    if expected is None:
        assert proc.returncode != 0 and not (out.exists() and out.read_text()), proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert out.read_text() == f"number={expected}\n"
