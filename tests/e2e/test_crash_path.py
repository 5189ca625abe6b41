"""An unexpected exception while judging a pull request: the sticky comment, the job summary and the outputs
still say so, the exit code is 2, and the traceback (token masked) is in the log only."""

from __future__ import annotations

import io
import json

import pytest

from kalibra_action.action import main
from tests.e2e.conftest import (
    PASSING_GATES,
    PR,
    TOKEN,
    Layout,
    parse_outputs,
    pr_event,
    runner_env,
    write_workspace,
)

MARKER = "<!-- kalibra-action:kalibra -->"
OLD_PASS = f"{MARKER}\n## ✅ Kalibra · PASSED\n\nAll 2 gates passed."


def write_overflow(ws, baseline: list[float], current: list[float], tasks: list[str] | None = None) -> None:
    """Cost traces whose values sit next to float overflow: 1e300 + 1e300 is fine, a product is not."""
    (ws / "traces").mkdir(parents=True)
    for side, costs in (("baseline", baseline), ("current", current)):
        rows = [{"trace_id": f"{side}-{i}", "outcome": "success", "cost": c,
                 "metadata": {"task_id": tasks[i] if tasks else f"{side}-{i}"}} for i, c in enumerate(costs)]
        (ws / "traces" / f"{side}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (ws / "kalibra.yml").write_text("baseline:\n  path: traces/baseline.jsonl\ncurrent:\n"
                                    "  path: traces/current.jsonl\nfields:\n  task_id: metadata.task_id\n"
                                    "require:\n  - cost_delta_pct <= 30\n")


def ours(fake) -> list[dict]:
    return [c for c in fake.comments.get(PR, []) if c["body"].startswith(MARKER)]


TASKS = [f"task-{i}" for i in range(12)]


@pytest.mark.parametrize(("baseline", "current", "tasks"), [
    ([1, 2, 3], [1e300, 1e300, 5], None),  # the values: a NaN BCa level (before the fix)
    ([1e-300] * 36, [1e300] * 36, TASKS * 3),  # paired ratio exp(1381): OverflowError (before the fix)
])
def test_extreme_costs_never_leave_a_stale_pass(run_action, fake_github, tmp_path, baseline, current, tasks):
    """Values that crashed the statistics: the old PASSED must not stay on the PR either way."""
    fake_github.seed(PR, OLD_PASS, "github-actions[bot]", "Bot")
    layout = Layout(tmp_path / "runner")
    write_overflow(layout.workspace, baseline, current, tasks)
    run = run_action(layout=layout)
    assert run.code in (1, 2), run.log  # a verdict or an error, never a crash that leaves the old one up
    [comment] = ours(fake_github)
    assert "PASSED" not in comment["body"]
    assert run.outputs["passed"] == "false" and run.outputs["exit-code"] == str(run.code)
    assert run.summary.strip()
    if run.code == 2:  # the crash path: the error everywhere, the traceback only in the log
        assert "internal error" in comment["body"] and "Traceback" not in comment["body"]
        assert "internal error" in run.summary and run.outputs["summary"].startswith("ERROR")
    log = run.log.replace(f"::add-mask::{TOKEN}", "")
    assert TOKEN not in log and TOKEN not in comment["body"]


# --- main() with an engine, renderer or client that raises: the same environment, in-process ---

def action_env(tmp_path, fake, inputs: dict[str, str] | None = None) -> tuple[dict[str, str], Layout]:
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, PASSING_GATES)
    env = runner_env(layout, api_url=fake.api_url, event_name="pull_request", event=pr_event(),
                     inputs=inputs or {}, inside=False)
    return env, layout


def run_main(env: dict[str, str], layout: Layout, **kw) -> tuple[int, str, dict[str, str], str]:
    out = io.StringIO()
    code = main(env, out, **kw)
    fc = layout.root / "file_commands"
    outputs = parse_outputs((fc / "set_output").read_text()) if (fc / "set_output").exists() else {}
    summary = (fc / "step_summary").read_text() if (fc / "step_summary").exists() else ""
    return code, out.getvalue(), outputs, summary


def boom(message: str):
    def engine(settings, log):
        raise RuntimeError(message)
    return engine


def test_a_crash_in_the_engine_replaces_the_verdict_everywhere(tmp_path, fake_github):
    fake_github.seed(PR, OLD_PASS, "github-actions[bot]", "Bot")
    env, layout = action_env(tmp_path, fake_github)
    message = f"bad state near {TOKEN}\n::error title=forged::x\n  File \"/secret/path.py\""
    code, log, outputs, summary = run_main(env, layout, engine=boom(message))
    assert code == 2
    assert outputs["passed"] == "false" and outputs["exit-code"] == "2"
    assert outputs["summary"].startswith("ERROR: internal error: RuntimeError")
    [comment] = ours(fake_github)
    body = comment["body"]
    assert "PASSED" not in body and "RuntimeError" in body and "bad state near" in body
    assert TOKEN not in body and "Traceback" not in body and "forged" not in body and "/secret" not in body
    assert "internal error" in summary and "RuntimeError" in summary and TOKEN not in summary
    assert "Traceback" in log  # the log has the traceback, with the token masked
    assert TOKEN not in log.replace(f"::add-mask::{TOKEN}", "")
    assert not any(line.startswith("::error title=forged") for line in log.splitlines())
    assert outputs["comment-url"] == comment["html_url"]


class BrokenClient:
    """A client whose every call fails with something other than GitHubError."""

    def __getattr__(self, name):
        raise ConnectionResetError("peer went away")


def test_a_failure_while_publishing_the_error_does_not_raise(tmp_path, fake_github):
    env, layout = action_env(tmp_path, fake_github)
    code, log, outputs, summary = run_main(env, layout, engine=boom("first failure"),
                                           client_factory=lambda s: BrokenClient())
    assert code == 2 and outputs["exit-code"] == "2" and outputs["passed"] == "false"
    assert "first failure" in summary
    assert "cannot replace the pull request comment" in log and "ConnectionResetError" in log


def test_a_crash_after_a_passing_verdict_does_not_report_it(tmp_path, fake_github):
    """The engine passed, then rendering the report failed: the outputs must not keep passed=true."""
    from kalibra_action.action import Renderer

    class BadJson(Renderer):
        def json(self, result):
            raise OverflowError("cannot convert float infinity to integer")

    fake_github.seed(PR, OLD_PASS, "github-actions[bot]", "Bot")
    env, layout = action_env(tmp_path, fake_github)
    code, _, outputs, summary = run_main(env, layout, renderer=BadJson())
    assert code == 2 and outputs["passed"] == "false" and outputs["exit-code"] == "2"
    [comment] = ours(fake_github)
    assert "OverflowError" in comment["body"] and "PASSED" not in comment["body"]
    assert "OverflowError" in summary


class ExplodingEnv(dict):
    """An environment whose reading fails in an unexpected way (not an InputError)."""

    def get(self, key, default=None):
        if key.startswith("GITHUB_EVENT"):
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return super().get(key, default)


def test_a_crash_while_reading_the_settings_exits_2_with_outputs(tmp_path, fake_github):
    env, layout = action_env(tmp_path, fake_github)
    code, log, outputs, _ = run_main(ExplodingEnv(env), layout)
    assert code == 2 and outputs["exit-code"] == "2" and outputs["passed"] == "false"
    assert "UnicodeDecodeError" in log and TOKEN not in log.replace(f"::add-mask::{TOKEN}", "")
