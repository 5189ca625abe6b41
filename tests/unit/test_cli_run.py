"""run.execute: how sides, fields, gates and formats are resolved (real loader and engine, tiny files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.run import RunRequest, execute, request_gates_from
from kalibra_action.traces.fields import FieldMap


def write(path: Path, task_key: str, outcomes: dict[str, list[bool]]) -> None:
    """Flat traces; the task id sits at metadata.<task_key>."""
    lines = []
    for task, runs in outcomes.items():
        for i, ok in enumerate(runs):
            lines.append(json.dumps({"trace_id": f"{task}-{i}-{path.stem}", "outcome": ok,
                                     "metadata": {task_key: task}, "cost": 0.01 + 0.001 * i}))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    good = {f"t{i}": [True] * 4 for i in range(10)}
    worse = dict(good, t0=[False] * 4)
    write(tmp_path / "base.jsonl", "task", good)
    write(tmp_path / "cur.jsonl", "name", worse)  # the current side names the key differently
    (tmp_path / "kalibra.yml").write_text(
        "sources:\n"
        "  main: {path: base.jsonl, fields: {task_id: metadata.task}}\n"
        "  pr: {path: cur.jsonl, fields: {task_id: metadata.name}}\n"
        "baseline: main\ncurrent: pr\n"
        "metrics: [success_rate, cost, trace_breakdown]\n"
        "require:\n  - regressions <= 5\n"
        "resamples: 200\n")
    return tmp_path


def regressions(result) -> float:
    return result.observations["trace_breakdown"].fields["regressions"].value


def test_config_sides_with_per_side_task_id(tree: Path) -> None:
    result = execute(RunRequest())
    assert regressions(result) == 1  # Kalibra bug 16: the current side's task_id is used for it
    assert result.baseline.label == "main" and result.current.label == "pr"
    assert result.settings["config"] == "kalibra.yml"


def test_cli_require_is_added_to_the_config(tree: Path) -> None:
    result = execute(RunRequest(require=request_gates_from(("regressions <= 0",), "cli")))
    assert [(g.expr, g.source, g.passed) for g in result.gates] == [
        ("regressions <= 5", "config", True), ("regressions <= 0", "cli", False)]
    assert not result.passed and result.exit_code == 1


def test_source_names_and_paths_from_the_command_line(tree: Path) -> None:
    result = execute(RunRequest(baseline="pr", current="cur.jsonl",
                                fields=FieldMap(task_id="metadata.name")))
    assert result.baseline.label == "pr" and result.current.label == "cur.jsonl"
    assert regressions(result) == 0


def test_cli_fields_win_over_per_source(tree: Path) -> None:
    result = execute(RunRequest(fields=FieldMap(task_id="trace_id")))
    assert regressions(result) == 0  # every trace its own task: nothing matches


def test_settings_from_request_override_config(tree: Path) -> None:
    result = execute(RunRequest(resamples=300, seed=1, on_inconclusive="fail",
                                metrics=("success_rate", "trace_breakdown")))
    assert result.settings["resamples"] == 300 and result.settings["seed"] == 1
    assert result.settings["on_inconclusive"] == "fail"
    assert list(result.observations) == ["success_rate", "trace_breakdown"]


def test_missing_side_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as exc:
        execute(RunRequest(baseline="a.jsonl"))
    assert "no current traces" in str(exc.value) and "--current" in str(exc.value)


def test_missing_file_is_an_input_error(tree: Path) -> None:
    with pytest.raises(InputError) as exc:
        execute(RunRequest(baseline="nope.jsonl", current="cur.jsonl"))
    assert "nope.jsonl" in str(exc.value)


def test_required_config_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError):
        execute(RunRequest(config_path="missing.yml", config_required=True))


def test_bad_cli_gate_fails_where_the_request_is_built(tree: Path) -> None:
    with pytest.raises(InputError) as exc:
        request_gates_from(("regresions <= 1",), "cli")
    assert "did you mean 'regressions'" in str(exc.value) and exc.value.key == "--require"


def test_status_lines(tree: Path) -> None:
    lines: list[str] = []
    execute(RunRequest(), status=lines.append)
    assert lines[0] == "Using config kalibra.yml"
    assert "Loading main" in lines and "Loading pr" in lines


def test_per_task_fdr_reaches_the_per_task_tests(tmp_path: Path) -> None:
    from kalibra_action.run import RunRequest, execute

    demo = Path(__file__).resolve().parents[2] / "kalibra_action" / "demo_data"
    cfg = tmp_path / "kalibra.yml"
    cfg.write_text(f"baseline: {{path: {demo / 'baseline.jsonl'}}}\n"
                   f"current: {{path: {demo / 'current.jsonl'}}}\nper_task: {{fdr: 0.2}}\n")
    result = execute(RunRequest(config_path=str(cfg), base_dir=tmp_path))
    assert result.observations["trace_breakdown"].metadata["fdr"] == 0.2
