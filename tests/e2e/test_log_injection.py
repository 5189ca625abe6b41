"""Hostile trace file names cannot forge workflow commands in the log, nor reach a shell through outputs.

The log is read the way the runner reads it (tests/runner_commands.py models actions/runner's parser).
"""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.conftest import DEMO, TOKEN, Layout
from tests.runner_commands import ours_only

# Each one would be a command if it reached a log line as is: `##[` anywhere, `::` after (Unicode) white
# space, a line break the runner or Python's splitlines() honours, hidden behind format characters.
HOSTILE_NAMES = [
    "##[error title=forged]x .jsonl",
    "x\u2028\u00a0::add-mask::Kalibra.jsonl",
    "y\u0085\u3000::stop-commands::tok.jsonl",
    "z\r::warning title=forged::w.jsonl",
    "\u200b::notice title=forged::n.jsonl",
    "a\u202e##[group]forged.jsonl",
    "$(touch pwned)`id`'\"\\;|&<>.jsonl",
]
ATTACK_WORDS = ("forged", "Kalibra", "tok")


def write_traces(ws, bad_name: str) -> None:
    """A valid baseline; the current side is a glob that also matches a malformed file named `bad_name`."""
    (ws / "traces" / "cur").mkdir(parents=True)
    shutil.copy(DEMO / "baseline.jsonl", ws / "traces" / "baseline.jsonl")
    shutil.copy(DEMO / "current.jsonl", ws / "traces" / "cur" / "current.jsonl")
    (ws / "traces" / "cur" / bad_name).write_text('{"trace_id": "t1", "outcome": \n')
    (ws / "kalibra.yml").write_text("fields:\n  task_id: metadata.task_id\n")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_file_name_forges_no_command_and_no_shell_output(run_action, tmp_path, name):
    layout = Layout(tmp_path / "runner")
    write_traces(layout.workspace, name)
    run = run_action(layout=layout, inputs={"INPUT_BASELINE": "traces/baseline.jsonl",
                                            "INPUT_CURRENT": "traces/cur/*.jsonl"})
    assert run.code == 2, run.log
    assert "cur/" in run.stdout  # the error names the file (what carries the attack into the log)
    ours_only(run.stdout, token=TOKEN, words=ATTACK_WORDS)
    ours_only(run.stderr, token=TOKEN, words=ATTACK_WORDS)
    for value in run.outputs.values():
        assert not set(value) & set("$`'\"\\;|&<>()\n"), run.outputs
    assert run.outputs["summary"].startswith("ERROR")


def test_a_report_path_unsafe_in_a_shell_is_written_but_not_output(run_action):
    run = run_action(inputs={"INPUT_REPORT": "out/$(touch pwned)`id`.json", "INPUT_FAIL-ON-GATE": "false"})
    assert run.code == 0, run.log
    assert (run.workspace / "out" / "$(touch pwned)`id`.json").is_file()
    assert run.outputs["report"] == ""
    assert "output 'report' is left empty" in run.stdout
    for value in run.outputs.values():
        assert not set(value) & set("$`'\"\\;|&<>()\n"), run.outputs


def test_a_plain_report_path_is_output_as_is(run_action):
    run = run_action(inputs={"INPUT_REPORT": "out/kalibra-report.json"})
    assert run.outputs["report"] == "out/kalibra-report.json"
