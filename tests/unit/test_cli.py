"""The CLI in-process: parsing, exit codes, one-line errors, stdout purity, init and demo."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kalibra_action import cli, run
from kalibra_action.errors import InputError
from tests.fixtures.cli import call
from tests.fixtures.sample import sample_result

PASSING = "regressions <= 99"  # the canned result passes when this gate is asked for



@pytest.fixture
def fake_execute(monkeypatch: pytest.MonkeyPatch) -> list[run.RunRequest]:
    """Replace the engine run with a canned Result; records the requests the CLI built."""
    seen: list[run.RunRequest] = []

    def execute(req: run.RunRequest, *, status=None):
        seen.append(req)
        if status:
            status("Loading something")
        return sample_result(passed=any(g.expr == PASSING for g in req.require))

    monkeypatch.setattr(run, "execute", execute)
    return seen


@pytest.mark.parametrize("argv", [
    [], ["bogus"], ["compare", "--nope"], ["compare", "a.jsonl"], ["compare", "a", "b", "c"],
    ["compare", "--format", "xml"], ["compare", "--resamples", "many"], ["compare", "--trace-format", "csv"],
    ["inspect"], ["compare", "a", "b", "--template", "t.j2"],
])
def test_usage_errors_exit_2_with_one_line(argv: list[str]) -> None:
    code, out, err = call(*argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("kalibra-action: error: ")
    assert "Traceback" not in err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert call("--help")[0] == 0
    assert call("compare", "--help")[0] == 0
    assert "--on-inconclusive" in capsys.readouterr().out
    assert call("--version")[0] == 0


def test_compare_builds_the_request(fake_execute: list[run.RunRequest]) -> None:
    code, _, _ = call("compare", "b.jsonl", "c.jsonl", "-r", "regressions <= 1", "-r", "cost_delta_pct <= 5",
                      "--task-id", "metadata.task", "--cost", "usage.cost", "--trace-format", "flat",
                      "--on-inconclusive", "fail", "--resamples", "500", "--seed", "7",
                      "--metrics", "success_rate,trace_breakdown", "-q")
    assert code == 1
    req = fake_execute[0]
    assert (req.baseline, req.current) == ("b.jsonl", "c.jsonl")
    assert [(g.expr, g.field, g.op, g.threshold, g.source) for g in req.require] == [
        ("regressions <= 1", "regressions", "<=", 1.0, "cli"),
        ("cost_delta_pct <= 5", "cost_delta_pct", "<=", 5.0, "cli")]
    assert req.fields.task_id == "metadata.task" and req.fields.cost == "usage.cost"
    assert req.fields.outcome is None
    assert (req.trace_format, req.on_inconclusive, req.resamples, req.seed) == ("flat", "fail", 500, 7)
    assert req.metrics == ("success_rate", "trace_breakdown")
    assert req.config_path is None and not req.config_required


def test_flags_win_over_positionals_and_config_is_required_when_named(fake_execute) -> None:
    call("compare", "b", "c", "--baseline", "main", "--config", "k.yml")
    req = fake_execute[0]
    assert (req.baseline, req.current) == ("main", "c")
    assert req.config_path == "k.yml" and req.config_required


def test_json_stdout_is_pure_and_status_goes_to_stderr(fake_execute) -> None:
    code, out, err = call("compare", "b", "c", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["exit_code"] == 1 and data["gates"][2]["passed"] is False
    assert "Loading something" in err


def test_quiet_silences_status(fake_execute) -> None:
    assert call("compare", "b", "c", "--format", "json", "-q")[2] == ""


def test_exit_0_when_gates_pass(fake_execute) -> None:
    code, out, _ = call("compare", "b", "c", "-r", PASSING, "--format", "markdown")
    assert code == 0 and out.startswith("## ")


def test_output_file(fake_execute, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    code, out, err = call("compare", "b", "c", "--format", "markdown", "-o", str(target))
    assert code == 1 and out == ""
    assert target.read_text().startswith("## ❌")
    assert f"Report written to {target}" in err
    code, _, err = call("compare", "b", "c", "-o", str(tmp_path / "missing" / "x.md"))
    assert code == 2 and "cannot write the report" in err


def test_input_error_is_one_line_with_file_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(req, *, status=None):
        raise InputError("bad value\non two lines", file="kalibra.yml", line=3, hint="fix it")

    monkeypatch.setattr(run, "execute", boom)
    code, out, err = call("compare", "b", "c", "--format", "json")
    assert code == 2 and out == ""
    assert err == "kalibra-action: error: kalibra.yml:3: bad value on two lines (hint: fix it)\n"


def test_unexpected_error_one_line_unless_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(req, *, status=None):
        raise ZeroDivisionError("division\nby zero")

    monkeypatch.setattr(run, "execute", boom)
    code, _, err = call("compare", "b", "c")
    assert code == 2
    assert err == ("kalibra-action: error: unexpected ZeroDivisionError: division by zero "
                   "(rerun with --debug)\n")
    code, _, err = call("compare", "b", "c", "--debug")
    assert code == 2 and "Traceback" in err and "ZeroDivisionError" in err


def test_metrics_lists_fields() -> None:
    code, out, _ = call("compare", "--metrics")
    assert code == 0
    assert "success_rate_delta" in out and "regressions" in out and "cost_delta_pct" in out
    code, out, _ = call("compare", "--metrics", "--format", "json")
    assert code == 0 and "success_rate_delta" in json.loads(out)["success_rate"]["fields"]


def test_unknown_metric_is_an_input_error() -> None:
    code, _, err = call("compare", "b", "c", "--metrics", "succes_rate")
    assert code == 2 and "did you mean 'success_rate'" in err
    code, _, err = call("compare", "--metrics", "b.jsonl", "c.jsonl")
    assert code == 2 and "--metrics=NAMES" in err


def test_init_writes_and_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    monkeypatch.chdir(tmp_path)
    code, out, _ = call("init", "--baseline", "runs/main/*.jsonl")
    assert code == 0 and "Wrote kalibra.yml" in out
    data = yaml.safe_load((tmp_path / "kalibra.yml").read_text())
    assert data["baseline"]["path"] == "runs/main/*.jsonl"
    assert data["require"][0] == "significant_regressions <= 0" and data["per_task"] == {"fdr": 0.10}
    (tmp_path / "kalibra.yml").write_text("mine: 1\n")
    code, _, err = call("init")
    assert code == 2 and "--force" in err
    assert (tmp_path / "kalibra.yml").read_text() == "mine: 1\n"
    assert call("init", "--force")[0] == 0
    assert "require:" in (tmp_path / "kalibra.yml").read_text()


def test_color_only_on_a_tty_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert cli._use_color(Tty())
    assert not cli._use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli._use_color(Tty())
