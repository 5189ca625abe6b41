"""Issue 10 end to end through the CLI: the motivating story (tokens fall because hard tasks broke, easy
high-volume tasks slightly better) gated on savings_from_regressed_pct and task_weighted_success_rate_delta.
Every expected number is worked out from the fixture's counts below."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.cli import call

HARD, EASY = 10, 15
HARD_RUNS, EASY_RUNS = 20, 80


def write_side(path: Path, hard_pass: int, hard_tokens: int, easy_pass: int) -> None:
    """Flat traces: hard tasks HARD_RUNS runs each, easy tasks EASY_RUNS; easy tasks always 1000 tokens."""
    lines = []
    for kind, tasks, runs, passes, tokens in (("hard", HARD, HARD_RUNS, hard_pass, hard_tokens),
                                              ("easy", EASY, EASY_RUNS, easy_pass, 1000)):
        for t in range(tasks):
            for r in range(runs):
                lines.append(json.dumps({"trace_id": f"{path.stem}-{kind}{t}-{r}", "outcome": r < passes,
                                         "metadata": {"task": f"{kind}-{t:02d}"}, "input_tokens": tokens,
                                         "cost": tokens / 1000, "duration_s": 1.0}))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def story(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no kalibra.yml here or above
    write_side(tmp_path / "base.jsonl", hard_pass=18, hard_tokens=4000, easy_pass=68)  # 90 %, 85 %
    write_side(tmp_path / "cur.jsonl", hard_pass=6, hard_tokens=300, easy_pass=76)  # 30 %, 95 %
    return tmp_path


def run(story: Path, *gates: str) -> tuple[int, dict, str]:
    out = story / "report.json"
    args = ["compare", str(story / "base.jsonl"), str(story / "cur.jsonl"), "--task-id", "metadata.task",
            "--format", "json", "-o", str(out), "--resamples", "200"]
    for g in gates:
        args += ["-r", g]
    code, _, err = call(*args)
    assert out.exists(), err
    return code, json.loads(out.read_text()), err


def test_the_story_fails_the_new_gates_and_passes_the_pooled_one(story: Path) -> None:
    code, report, err = run(story, "success_rate_delta >= -5", "savings_from_regressed_pct < 50",
                            "task_weighted_success_rate_delta >= -5")
    gates = {g["field"]: g for g in report["gates"]}
    assert code == 1, err
    n = HARD * HARD_RUNS + EASY * EASY_RUNS
    # pooled: (10·6 + 15·76 − 10·18 − 15·68) / 1400 = 0; task-weighted: (15·10 − 10·60) / 25 = −18 pp
    assert gates["success_rate_delta"]["status"] == "pass"
    assert gates["success_rate_delta"]["actual"] == 0.0
    lo, hi = gates["success_rate_delta"]["ci"]
    assert lo <= 0.0 <= hi
    tw = gates["task_weighted_success_rate_delta"]
    assert tw["status"] == "fail" and tw["actual"] == pytest.approx(-18.0) and tw["ci"][1] < 0
    # tokens: every hard task regressed (18/20 → 6/20); the whole fall 200 · (300 − 4000) / 1400 is theirs
    sav = gates["savings_from_regressed_pct"]
    assert sav["status"] == "fail" and sav["actual"] == pytest.approx(100.0)

    attribution = report["metrics"]["task_attribution"]["metadata"]
    tokens = attribution["decomposition"]["tokens"]
    assert tokens["aggregate"]["baseline"] == pytest.approx((200 * 4000 + 1200 * 1000) / n)
    assert tokens["aggregate"]["current"] == pytest.approx((200 * 300 + 1200 * 1000) / n)
    assert tokens["groups"]["regressed"] == pytest.approx(
        {"tasks": HARD, "contribution": 200 * (300 - 4000) / n, "share_pct": 100.0})
    flag = attribution["savings_from_broken"]
    assert flag["flag"] is True and flag["n_regressed"] == HARD and flag["metric"] in ("tokens", "cost")
    assert report["fields"]["savings_from_regressed_pct"]["value"] == pytest.approx(100.0)

    mix = report["metrics"]["success_rate"]["metadata"]["mix_shift"]
    assert mix["flag"] is True and mix["pooled_delta_pp"] == 0.0 and mix["task_weighted_delta_pp"] == -18.0

    per_task = report["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    hard = [t for t in per_task if t["task_id"].startswith("hard")]
    assert len(hard) == HARD and all(t["verdict"] == "regressed" for t in hard)
    for t in hard:
        assert t["delta_pp"] == -60.0 and t["delta_ci_pp"][0] <= -60.0 <= t["delta_ci_pp"][1] < 0
        assert t["medians"]["tokens"] == {"baseline": 4000.0, "current": 300.0, "delta_pct": -92.5}


def test_nothing_fell_passes_the_savings_gate_with_its_reason(story: Path) -> None:
    write_side(story / "cur.jsonl", hard_pass=18, hard_tokens=4500, easy_pass=68)  # tokens rose
    code, report, err = run(story, "savings_from_regressed_pct < 50")
    (gate,) = report["gates"]
    assert code == 0, err
    assert gate["status"] == "pass" and gate["actual"] is None and "did not fall" in gate["warning"]
