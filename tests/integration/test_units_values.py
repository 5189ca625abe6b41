"""Issue 9 item 6: duration units for flat fields, outcome value maps, `where` operators it lacks.

Through the CLI (`python -m kalibra_action compare ... --format json`), the user's path. Expected
numbers are computed here from the raw rows with the standard library.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMPTFOO = ROOT / "tests" / "data" / "formats" / "promptfoo"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kalibra_action", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                                       "PYTHONPATH": str(ROOT)})


def report(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def per_task(data: dict) -> dict[str, tuple[int, int, int, int]]:
    """task → (baseline passes, baseline n, current passes, current n) from the JSON report."""
    out = {}
    for t in data["metrics"]["trace_breakdown"]["metadata"]["per_task"]:
        out[t["task_id"]] = (t["baseline"]["success"], t["baseline"]["total"],
                             t["current"]["success"], t["current"]["total"])
    return out


# --- duration units -------------------------------------------------------------------------------------

PROMPTFOO_FLAGS = ("--task-id", "testCase.description", "--outcome", "success", "--cost", "cost",
                   "--duration", "latencyMs")


def _latency_seconds(path: Path) -> list[float]:
    return [r["latencyMs"] / 1000 for r in rows(path)]


@pytest.mark.parametrize("how", ["flag", "config"])
def test_promptfoo_latency_in_ms_reads_as_ms(tmp_path: Path, how: str) -> None:
    """promptfoo's latencyMs through --duration: 16 ms must not be reported as 16 s."""
    base, cur = PROMPTFOO / "baseline.jsonl", PROMPTFOO / "current.jsonl"
    if how == "flag":
        args = (*PROMPTFOO_FLAGS, "--duration-unit", "ms")
    else:
        (tmp_path / "kalibra.yml").write_text("read:\n  duration_unit: ms\n")
        args = (*PROMPTFOO_FLAGS, "--config", str(tmp_path / "kalibra.yml"))
    data = report(run("compare", str(base), str(cur), "--format", "json", "-q", *args))
    duration = data["metrics"]["duration"]
    for side, path in (("baseline", base), ("current", cur)):
        seconds = _latency_seconds(path)
        assert duration[side]["median"] == pytest.approx(statistics.median(seconds), rel=1e-9)
        assert duration[side]["total"] == pytest.approx(sum(seconds), rel=1e-9)


def test_duration_units_us_and_ns_on_a_flat_field(tmp_path: Path) -> None:
    values = [1_500_000, 2_500_000, 4_000_000]  # ns → 1.5, 2.5 and 4 ms
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"trace_id": f"t{i}", "outcome": "success", "elapsed": v}) + "\n"
                            for i, v in enumerate(values)))
    for unit, scale in (("ns", 1e-9), ("us", 1e-6), ("s", 1.0)):
        data = report(run("compare", str(path), str(path), "--format", "json", "-q", "--duration", "elapsed",
                          "--duration-unit", unit))
        assert data["metrics"]["duration"]["baseline"]["median"] == pytest.approx(2_500_000 * scale)


# --- outcome value maps ---------------------------------------------------------------------------------

INSPECT_LIKE = [  # task, epoch, scorer value (Inspect's C / I / P / N and a value no map lists)
    ("t1", 1, "C"), ("t1", 2, "I"), ("t1", 3, "P"), ("t1", 4, "N"),
    ("t2", 1, "C"), ("t2", 2, "C"), ("t2", 3, "X"), ("t2", 4, "I"),
]


def _inspect_like(path: Path, values: list[tuple[str, int, object]]) -> Path:
    path.write_text("".join(json.dumps({"trace_id": f"{t}-{e}", "sample": {"id": t, "epoch": e},
                                        "scores": {"match": {"value": v}}, "cost": 0.01}) + "\n"
                            for t, e, v in values))
    return path


def _expected(values, passes, fails) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for task, _epoch, value in values:
        if value in passes or value in fails:
            counts[task][0] += value in passes
            counts[task][1] += 1
    return {t: (k, n) for t, (k, n) in counts.items()}


def _compare_with_config(tmp_path: Path, path: Path, outcome_yaml: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "kalibra.yml"
    cfg.write_text(f"fields:\n  task_id: sample.id\n  outcome:\n{outcome_yaml}")
    return run("compare", str(path), str(path), "--format", "json", "-q", "--config", str(cfg))


def test_outcome_pass_and_fail_lists(tmp_path: Path) -> None:
    path = _inspect_like(tmp_path / "log.jsonl", INSPECT_LIKE)
    data = report(_compare_with_config(tmp_path, path, "    path: scores.match.value\n"
                                                       "    pass: [C, P]\n    fail: [I, N]\n"))
    want = _expected(INSPECT_LIKE, {"C", "P"}, {"I", "N"})
    assert {t: v[:2] for t, v in per_task(data).items()} == want  # X is unknown, not a pass or fail


def test_outcome_numeric_threshold(tmp_path: Path) -> None:
    scores = [("a", 1, 1.0), ("a", 2, 0.25), ("a", 3, "0.75"), ("b", 1, 0.5), ("b", 2, 0.49),
              ("b", 3, "n/a")]
    path = _inspect_like(tmp_path / "log.jsonl", scores)
    data = report(_compare_with_config(tmp_path, path, "    path: scores.match.value\n    threshold: 0.5\n"))
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for task, _e, value in scores:
        try:
            number = float(value)
        except ValueError:
            continue
        want[task][0] += number >= 0.5
        want[task][1] += 1
    assert {t: v[:2] for t, v in per_task(data).items()} == {t: tuple(v) for t, v in want.items()}


@pytest.mark.parametrize(("outcome_yaml", "message"), [
    ("    path: scores.match.value\n    passes: [C]\n", "outcome.passes: unknown key"),
    ("    path: scores.match.value\n", "needs pass and/or fail values, or a threshold"),
    ("    path: scores.match.value\n    pass: [C]\n    fail: [C, I]\n", "both pass and fail: C"),
    ("    pass: [C]\n", "outcome.path: must be a dot path"),
    ("    path: s\n    threshold: high\n", "outcome.threshold: must be a number"),
    ("    path: s\n    pass: [{a: 1}]\n", "outcome.pass: must be a list of values"),
])
def test_bad_outcome_maps_exit_2_naming_the_key(tmp_path: Path, outcome_yaml: str, message: str) -> None:
    path = _inspect_like(tmp_path / "log.jsonl", INSPECT_LIKE)
    proc = _compare_with_config(tmp_path, path, outcome_yaml)
    assert proc.returncode == 2, proc.stdout[-500:] + proc.stderr
    assert message in proc.stderr and "kalibra.yml" in proc.stderr and "Traceback" not in proc.stderr


# --- where operators ------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", ["cost <= 0.5", "cost>1", "model ~= gpt", "model !== gpt-4",
                                  "model in [a, b]", "cost => 1", "model not in x"])
def test_unsupported_where_operators_are_refused(tmp_path: Path, expr: str) -> None:
    """On main these were misparsed: `model !== gpt-4` kept every trace (`!=` against `= gpt-4`)."""
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"trace_id": f"t{i}", "outcome": "success", "cost": i / 4,
                                        "model": "gpt-4"}) + "\n" for i in range(4)))
    cfg = tmp_path / "kalibra.yml"
    cfg.write_text(f"baseline:\n  path: {path}\n  where: {json.dumps(expr)}\ncurrent:\n  path: {path}\n")
    proc = run("compare", "--config", str(cfg), "--format", "json", "-q")
    assert proc.returncode == 2, proc.stdout[-500:]
    assert "unsupported operator" in proc.stderr and "==, =~, !~, !=, =" in proc.stderr, proc.stderr
    assert "baseline.where" in proc.stderr
