"""Attacks through the real CLI in a subprocess: special files among the inputs, crafted kalibra.yml values
that crashed the YAML constructors, and a gate that made the parser's regex backtrack.

Each must end in one `kalibra-action: error: FILE…` line and exit 2, promptly: a FIFO used to block the run
forever, so the subprocess timeout here is the failure, not a safety net.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "data" / "kalibra-examples" / "demo_data"


def run(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", "kalibra_action", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=timeout,
                              env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s: {' '.join(args)}")


def one_error(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    errors = [line for line in r.stderr.splitlines() if line.startswith("kalibra-action: error: ")]
    assert len(errors) == 1, r.stderr
    assert "Traceback" not in r.stderr and "unexpected" not in errors[0], errors[0]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    for name in ("baseline.jsonl", "current.jsonl"):
        shutil.copy(DEMO / name, tmp_path / name)
    return tmp_path


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@needs_fifo
def test_fifo_as_trace_file_is_refused_not_waited_on(ws: Path) -> None:
    os.mkfifo(ws / "pipe.jsonl")
    r = run("compare", "pipe.jsonl", "current.jsonl", cwd=ws)
    one_error(r, "pipe.jsonl", "FIFO")


@needs_fifo
def test_symlink_to_a_fifo_is_refused(ws: Path) -> None:
    os.mkfifo(ws / "pipe")
    (ws / "traces.jsonl").symlink_to(ws / "pipe")
    r = run("compare", "baseline.jsonl", "traces.jsonl", cwd=ws)
    one_error(r, "FIFO")


@needs_fifo
def test_fifo_as_config_is_refused(ws: Path) -> None:
    os.mkfifo(ws / "kalibra.yml")
    r = run("compare", "--config", "kalibra.yml", cwd=ws)
    one_error(r, "kalibra.yml", "FIFO")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_device_behind_a_trace_name_is_refused(ws: Path) -> None:
    (ws / "zero.jsonl.gz").symlink_to("/dev/zero")
    r = run("compare", "baseline.jsonl", "zero.jsonl.gz", cwd=ws)
    one_error(r, "device")


@pytest.mark.parametrize(("config", "needle"), [
    (b"seed: !!float\n", "invalid YAML"),  # IndexError in PyYAML's float constructor
    (b"seed: !!float x\n", "invalid YAML"),  # ValueError
    (b"\x00", "invalid YAML"),  # ReaderError raised while the loader was built, outside the try
    (b"resamples: " + b"9" * 5000 + b"\n", "integer of more than"),  # int() past 4,300 digits
    (b"metrics: [0x" + b"f" * 4000 + b"]\n", "integer of more than"),  # repr() in the message would raise
    (b"sources:\n  ? 0x" + b"f" * 4000 + b"\n  : {path: x.jsonl}\n", "integer of more than"),  # str(key)
])
def test_crafted_config_values_are_input_errors(ws: Path, config: bytes, needle: str) -> None:
    (ws / "kalibra.yml").write_bytes(config)
    r = run("compare", "baseline.jsonl", "current.jsonl", "--config", "kalibra.yml", cwd=ws)
    one_error(r, "kalibra.yml", needle)


def test_long_gate_does_not_backtrack(ws: Path) -> None:
    """`-r 'regressions <= 1<60k spaces>x'` took minutes (quadratic regex); a 1 MiB config's gate, hours."""
    (ws / "kalibra.yml").write_text("require:\n  - 'regressions <= 1" + " " * 60_000 + "x'\n")
    r = run("compare", "baseline.jsonl", "current.jsonl", "--config", "kalibra.yml", cwd=ws, timeout=20)
    one_error(r, "kalibra.yml", "require[0]", "not a number")


def test_tilde_in_a_config_path_is_not_the_home_directory(ws: Path, tmp_path_factory) -> None:
    """`path: ~/…` in a pull request's kalibra.yml read a file from $HOME (Path.expanduser): a compact JSON
    file there (a token store such as ~/.docker/config.json) then became "traces"."""
    home = tmp_path_factory.mktemp("home")
    shutil.copy(DEMO / "current.jsonl", home / "secret.jsonl")
    (ws / "kalibra.yml").write_text("baseline: {path: baseline.jsonl}\ncurrent: {path: ~/secret.jsonl}\n")
    r = subprocess.run([sys.executable, "-m", "kalibra_action", "compare", "--config", "kalibra.yml"],
                       cwd=ws, capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(ROOT),
                            "HOME": str(home)})
    one_error(r, "~/secret.jsonl", "not found")


@pytest.mark.parametrize("pattern", ["(a+)+b", "(.*a){12}x"])
def test_where_regex_that_backtracks_is_stopped(ws: Path, pattern: str) -> None:
    """Both the `where` pattern (kalibra.yml) and the text it runs on (the traces) come from the pull
    request: each of these ran for hours on a 40-character task id. The regex time budget (10 s) ends it."""
    task = "a" * 40 + "!"
    rows = "".join(f'{{"trace_id": "t{i}", "task_id": "{task}", "outcome": "success"}}\n' for i in range(3))
    (ws / "evil.jsonl").write_text(rows)
    (ws / "kalibra.yml").write_text(f"baseline: {{path: evil.jsonl, where: 'task_id =~ {pattern}'}}\n"
                                    "current: {path: current.jsonl}\n")
    r = run("compare", "--config", "kalibra.yml", cwd=ws, timeout=40)
    one_error(r, "where", pattern, "time limit")


def test_a_config_with_thousands_of_gates_is_refused(ws: Path) -> None:
    (ws / "kalibra.yml").write_text("require:\n" + "".join(f"  - regressions <= {i}\n" for i in range(3000)))
    r = run("compare", "baseline.jsonl", "current.jsonl", "--config", "kalibra.yml", cwd=ws)
    one_error(r, "kalibra.yml:1", "require", "3,000 gates, more than the limit")
