"""Paths the pull request controls cannot reach outside the workspace: entrypoint.py with the runner's
environment, a workspace the PR has planted symlinks and `..` paths in, and a file outside it to protect."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from tests.e2e.conftest import DEMO, PASSING_GATES, Layout, write_workspace

VICTIM_TEXT = "#!/bin/sh\necho precious\n"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    lay = Layout(tmp_path / "runner")
    write_workspace(lay.workspace, PASSING_GATES)
    return lay


@pytest.fixture
def outside(layout: Layout) -> Path:
    """`../outside` from the workspace: a file the PR must not overwrite and traces it must not feed in
    (valid copies, so only the path check can stop them)."""
    out = layout.workspace.parent / "outside"
    out.mkdir()
    (out / "victim.sh").write_text(VICTIM_TEXT)
    for name in ("baseline.jsonl", "current.jsonl"):
        shutil.copy(DEMO / name, out / name)
    return out


def refused(run, needle: str) -> None:
    """Exit 2 with one `::error` naming the offending input as outside the workspace, no traceback."""
    assert run.code == 2, run.log
    assert run.outputs["exit-code"] == "2"
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert errors and needle in errors[0], run.stdout
    assert "must stay inside" in errors[0] or "symbolic link" in errors[0], errors[0]
    assert "Traceback" not in run.log


def test_symlinked_report_does_not_overwrite_a_file_outside(run_action, layout, outside):
    (layout.workspace / "kalibra-report.json").symlink_to(outside / "victim.sh")
    run = run_action(layout=layout)
    assert (outside / "victim.sh").read_text() == VICTIM_TEXT
    refused(run, "report")
    assert run.outputs["report"] == ""


def test_symlinked_report_directory_outside_is_refused(run_action, layout, outside):
    (layout.workspace / "out").symlink_to(outside, target_is_directory=True)
    run = run_action(layout=layout, inputs={"INPUT_REPORT": "out/victim.sh"})
    assert (outside / "victim.sh").read_text() == VICTIM_TEXT
    refused(run, "report")
    run = run_action(layout=layout, inputs={"INPUT_REPORT": "out/new.json"})
    assert not (outside / "new.json").exists()
    refused(run, "report")


@pytest.mark.parametrize("report", ["../outside/victim.sh", "ABS", "sub/../../outside/victim.sh"])
def test_report_path_leaving_the_workspace_is_refused(run_action, layout, outside, report):
    report = str(outside / "victim.sh") if report == "ABS" else report
    run = run_action(layout=layout, inputs={"INPUT_REPORT": report})
    assert (outside / "victim.sh").read_text() == VICTIM_TEXT
    refused(run, "report")


def test_report_is_a_fresh_0644_file_and_a_link_inside_is_replaced_not_followed(run_action, layout):
    ws = layout.workspace
    (ws / "kalibra.yml.bak").write_text("keep")
    (ws / "kalibra-report.json").symlink_to(ws / "kalibra.yml.bak")  # inside: allowed, but not followed
    run = run_action(layout=layout)
    assert run.code == 0, run.log
    report = ws / "kalibra-report.json"
    assert not report.is_symlink() and json.loads(report.read_text())
    assert (ws / "kalibra.yml.bak").read_text() == "keep"
    assert stat.S_IMODE(report.stat().st_mode) == 0o644
    assert not [p for p in ws.iterdir() if p.name.endswith(".tmp")]


def test_report_in_an_absolute_path_inside_the_workspace_is_fine(run_action, layout):
    run = run_action(layout=layout, inputs={"INPUT_REPORT": str(layout.workspace / "reports" / "k.json")})
    assert run.code == 0, run.log
    assert run.outputs["report"] == "reports/k.json"
    assert json.loads((layout.workspace / "reports" / "k.json").read_text())


@pytest.mark.parametrize("side", ["BASELINE", "CURRENT"])
@pytest.mark.parametrize("form", ["relative", "absolute"])
def test_trace_input_outside_the_workspace_is_refused(run_action, layout, outside, side, form):
    path = "../outside/baseline.jsonl" if form == "relative" else str(outside / "baseline.jsonl")
    inputs = {"INPUT_BASELINE": "traces/baseline.jsonl", "INPUT_CURRENT": "traces/current.jsonl"}
    inputs[f"INPUT_{side}"] = path
    run = run_action(layout=layout, inputs=inputs)
    refused(run, f"{side.lower()} path")
    assert path in run.stdout


def test_trace_glob_reaching_outside_is_refused(run_action, layout, outside):
    run = run_action(layout=layout, inputs={"INPUT_CURRENT": "../outside/*.jsonl"})
    refused(run, "current path")
    assert "../outside/*.jsonl" in run.stdout


def test_glob_match_that_is_a_symlink_to_outside_is_refused(run_action, layout, outside):
    ws = layout.workspace
    (ws / "traces" / "current.jsonl").unlink()
    (ws / "traces" / "current.jsonl").symlink_to(outside / "current.jsonl")
    run = run_action(layout=layout, inputs={"INPUT_BASELINE": "traces/baseline.jsonl",
                                            "INPUT_CURRENT": "traces/*.jsonl"})
    refused(run, "traces/current.jsonl")


def test_symlinked_trace_directory_to_outside_is_refused(run_action, layout, outside):
    (layout.workspace / "evals").symlink_to(outside, target_is_directory=True)
    run = run_action(layout=layout, inputs={"INPUT_BASELINE": "traces/baseline.jsonl",
                                            "INPUT_CURRENT": "evals/current.jsonl"})
    refused(run, "evals/current.jsonl")


def test_config_source_path_outside_is_refused(run_action, layout, outside):
    cfg = layout.workspace / "kalibra.yml"
    cfg.write_text(cfg.read_text().replace("path: traces/baseline.jsonl", f"path: {outside}/baseline.jsonl"))
    run = run_action(layout=layout)
    refused(run, "baseline path in kalibra.yml")
    assert str(outside / "baseline.jsonl") in run.stdout


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_config_outside_the_workspace_is_refused(run_action, layout, outside, how):
    (outside / "kalibra.yml").write_text((layout.workspace / "kalibra.yml").read_text()
                                         .replace("traces/", "../outside/"))
    config = {"dotdot": "../outside/kalibra.yml", "absolute": str(outside / "kalibra.yml"),
              "symlink": "linked.yml"}[how]
    (layout.workspace / "linked.yml").symlink_to(outside / "kalibra.yml")
    run = run_action(layout=layout, inputs={"INPUT_CONFIG": config})
    refused(run, "config")


def test_working_directory_outside_is_refused(run_action, layout, outside):
    run = run_action(layout=layout, inputs={"INPUT_WORKING-DIRECTORY": "../outside"})
    refused(run, "working-directory")


def test_symlink_loops_under_a_recursive_glob_finish_quickly(run_action, layout):
    """Two links to `..` make glob's `**` walk 2^depth paths (the run never ends on main)."""
    traces = layout.workspace / "traces"
    (traces / "a").symlink_to("..", target_is_directory=True)
    (traces / "b").symlink_to("..", target_is_directory=True)
    run = run_action(layout=layout, inputs={"INPUT_BASELINE": "traces/baseline.jsonl",
                                            "INPUT_CURRENT": "traces/**/current.jsonl"})
    assert run.code == 0, run.log
