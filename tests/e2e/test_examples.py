"""The examples and workflows use the action's real interface, and the example config loads."""

from __future__ import annotations

import re
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
            if str(step.get("uses", "")).split("@")[0].endswith(("/kalibra-action", "./"))]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_steps_use_declared_inputs_and_outputs(path):
    for step in action_steps(path):
        assert set(step.get("with", {})) <= set(ACTION["inputs"]), (path, step)
    text = path.read_text()
    for ref in re.findall(r"steps\.\w+\.outputs\.([\w-]+)", text):
        assert ref in ACTION["outputs"] or ref == "number", (path, ref)


def test_self_test_runs_the_local_action():
    steps = action_steps(ROOT / ".github" / "workflows" / "self-test.yml")
    assert steps and all(s["uses"] == "./" for s in steps)


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
