"""The terminal report through a real pseudo-terminal: colour on a TTY, never with NO_COLOR, never in a pipe;
and the story (the broken tasks with their counts) in every case."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.story import BROKEN, write_story

ROOT = Path(__file__).resolve().parents[2]


def _run(folder: Path, *, tty: bool, no_color: str | None) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TERM": "xterm"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    args = [sys.executable, "-m", "kalibra_action", "compare", "--config", "kalibra.yml",
            "baseline.jsonl", "current.jsonl", "--resamples", "200"]
    if not tty:
        return subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=120).stdout
    main, child = pty.openpty()
    with subprocess.Popen(args, cwd=folder, env=env, stdout=child, stderr=subprocess.DEVNULL) as proc:
        os.close(child)
        chunks = []
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode("utf-8")


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("story")
    write_story(folder)
    return folder


@pytest.mark.parametrize(("tty", "no_color", "coloured"), [
    (True, None, True), (True, "1", False), (False, None, False)])
def test_colour_only_on_a_terminal_without_no_color(story, tty, no_color, coloured):
    out = _run(story, tty=tty, no_color=no_color)
    assert ("\x1b[" in out) is coloured
    plain = out.replace("\r\n", "\n")
    regressed = plain[plain.index("Regressed tasks"):plain.index("Metrics")]
    for task in BROKEN:
        assert task in regressed and "45/50" in regressed
