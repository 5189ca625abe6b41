"""Differential tests: kalibra-action against Kalibra 0.2.4 (the oracle), run on the same files.

Every expectation comes from Kalibra run in the same test; nothing of ours is hard-coded. Where we
deliberately differ, the difference is listed once in KNOWN_DIFFERENCES (with Kalibra's bug number from
docs/kalibra-reference.md) and the test checks Kalibra's wrong behaviour and our fixed behaviour on the
same file.

Tolerances (see kdiff.py): trace counts, deltas (to Kalibra's rounding), medians, rates, totals,
averages (rel 1e-9), per-task and per-span lists exact; CI bounds within max(2 pp, 10 % of Kalibra's CI
width) because we resample 10,000 times (BCa) where Kalibra uses 1,000 percentile resamples; a direction
whose Kalibra CI bound lies within that tolerance of 0 (or whose delta is within 0.1 of the noise floor)
is "borderline" and not compared.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench import generate as gen
from tests.differential.kdiff import (
    EXAMPLES,
    KALIBRA,
    Run,
    compare_reports,
    ours_available,
    rewrite_example_config,
    run_both,
    run_tool,
    write_jsonl,
)

pytestmark = pytest.mark.skipif(KALIBRA is None, reason="kalibra (the oracle) is not installed")


# ── the one table of documented differences ──────────────────────────────────


@dataclass(frozen=True)
class KnownDifference:
    bug: int | None  # Kalibra bug number in docs/kalibra-reference.md (None: a design difference)
    kalibra: str
    ours: str


KNOWN_DIFFERENCES: dict[str, KnownDifference] = {
    # design differences, allowed in every scenario
    "non_significant_gate": KnownDifference(
        None,
        "a gate on a non-significant *_delta* field is skipped and passes",
        "the gate is `inconclusive`; under the default on_inconclusive=warn it still passes (same exit code)",
    ),
    "resamples": KnownDifference(
        None,
        "1,000 percentile bootstrap resamples (seed 42)",
        "10,000 BCa resamples: CI bounds agree within max(2 pp, 10 % of Kalibra's width)",
    ),
    "no_data_gate": KnownDifference(
        2,
        "a gate whose field has no data (metric n/a, e.g. cost on OTel GenAI, steps without spans) is "
        "skipped and passes",
        "the gate fails and says which data is missing; exit 1",
    ),
    "small_sample_ci": KnownDifference(
        None,
        "1,000 percentile draws: with < 100 values a side the bound can jump across a gap in the "
        "bootstrap distribution (crewai cost_explosion span CI [33.7, 135.3]; 20,000 draws: [4.3, 144.1])",
        "10,000 BCa draws; CI bounds are not compared below 100 values a side (directions still are)",
    ),
    "iso_timestamp_precision": KnownDifference(
        None,
        "ISO-8601 times parsed via int(datetime.timestamp() * 1e9): up to ~0.5 us off per timestamp",
        "exact integer nanoseconds: durations from span formats agree within 2 us (totals: 2 us x n)",
    ),
    "missing_file_exit": KnownDifference(
        10,
        "missing file: exit 1, the error printed to stdout even with --format json",
        "exit 2 (bad input), nothing but JSON (or nothing) on stdout, the error on stderr",
    ),
    # bugs reproduced with small files (one test each below)
    "bug1_dotted_task_id": KnownDifference(
        1,
        "fields.task_id: metadata.task_name ignored for flat traces; a 4/4 -> 0/4 task passes "
        "regressions <= 0",
        "tasks grouped by metadata.task_name; regressions = 1, the gate fails (exit 1)",
    ),
    "bug2_empty_files": KnownDifference(2, "two empty files: gates pass, exit 0", "input error, exit 2"),
    "bug2_where_matches_nothing": KnownDifference(
        2, "a `where` that matches nothing: 0 traces, gates pass, exit 0", "input error, exit 2"
    ),
    "bug2_no_files": KnownDifference(
        2, "no files and no config: a welcome screen, exit 0", "usage error, exit 2"
    ),
    "bug3_trace_level_cost_with_spans": KnownDifference(
        3,
        "trace-level cost ignored when spans carry none: avg_cost gate has no data and passes",
        "the trace-level cost is used; avg_cost is measured and the gate fails",
    ),
    "bug4_undefined_pct": KnownDifference(
        4,
        "cost $0 -> $1: % change undefined, `cost_delta_pct <= 10` skipped (passes)",
        "the gate fails for want of data (no-data), exit 1",
    ),
    "bug5_threshold_below_noise": KnownDifference(
        5,
        "a significant +2.5 % cost rise passes `cost_delta_pct <= 1` ('not statistically significant')",
        "the explicit threshold is honoured: the gate fails, exit 1",
    ),
    "bug7_require_combines": KnownDifference(
        7, "-r replaces the config's require", "-r gates are added to the config's require"
    ),
    "bug9_infinity": KnownDifference(9, "--format json prints Infinity (not JSON)", "strict JSON"),
    "bug11_bom": KnownDifference(
        11, "a UTF-8 BOM makes line 1 malformed: exit 1", "the BOM is skipped; the file loads"
    ),
    "bug8_traceback": KnownDifference(
        8, "duration_s Infinity: a Python traceback", "an input error naming the file and line, exit 2"
    ),
    "bug13_duplicates": KnownDifference(
        13, "duplicate traces counted twice, no warning", "a warning about the duplicates"
    ),
    "bug14_where_true": KnownDifference(
        14, "`where: canary == true` does not match a JSON true: 0 traces", "matches the JSON booleans"
    ),
    "bug16_per_source_task_id": KnownDifference(
        16,
        "the current source's fields.task_id is ignored (the baseline's is used for both)",
        "each side uses its own fields.task_id; the regression is found",
    ),
    "bug17_missing_task": KnownDifference(
        17,
        "a task missing from current counts as unchanged",
        "reported as missing: `missing_tasks` = 1 (Kalibra rejects the field)",
    ),
}


def _need_ours() -> None:
    if not ours_available():
        pytest.skip("kalibra-action compare is not available yet")


def _assert_same(
    k: Run, o: Run, *, gate_rules: dict[str, str] | None = None, rc: bool = True, iso: bool = False
) -> None:
    assert k.report is not None, f"Kalibra gave no JSON:\n{k.describe()}"
    assert o.report is not None, f"kalibra-action gave no JSON:\n{o.describe()}"
    diff = compare_reports(k.report, o.report, gate_rules=gate_rules, iso_timestamps=iso)
    msgs = diff.report()
    expected_rc = 1 if diff.no_data_gates else k.rc  # KNOWN_DIFFERENCES["no_data_gate"]
    if rc and not diff.verdict_may_differ and o.rc != expected_rc:
        msgs = f"exit code: kalibra={k.rc} ours={o.rc} (expected {expected_rc})\n{msgs}"
    elif not diff.mismatches:
        msgs = ""
    assert not msgs, f"{len(diff.mismatches)} mismatches (checked {diff.checked} values):\n{msgs}"


# ── the comparator itself must catch differences ─────────────────────────────


def test_comparator_flags_perturbed_reports(tmp_path: Path) -> None:
    """Kalibra against itself: no mismatch; each single perturbation of its report: flagged."""
    import copy

    d = EXAMPLES / "demo_data"
    k = run_tool(
        "kalibra",
        [d / "baseline.jsonl", d / "current.jsonl", *_req(DEMO_GATES), "--format", "json"],
        tmp_path,
    )
    assert k.report is not None, k.describe()
    assert compare_reports(k.report, k.report).mismatches == []

    def mutate(fn) -> list:
        o = copy.deepcopy(k.report)
        fn(o)
        return compare_reports(k.report, o).mismatches

    m = k.report["metrics"]
    assert mutate(lambda o: o["current"].update(count=99))
    assert mutate(lambda o: o["metrics"]["cost"].update(delta=m["cost"]["delta"] + 0.1))
    assert mutate(
        lambda o: o["metrics"]["cost"]["baseline"].update(median=m["cost"]["baseline"]["median"] * 1.001)
    )
    assert mutate(lambda o: o["metrics"]["cost"]["metadata"].update(ci_95=[-70.0, -20.3]))
    assert mutate(lambda o: o["metrics"]["success_rate"].update(direction="same"))
    assert mutate(lambda o: o["metrics"]["trace_breakdown"]["metadata"]["regressions"].pop())
    assert mutate(
        lambda o: o["metrics"]["span_breakdown"]["metadata"]["per_span"]["plan"]["deltas"].update(
            duration_pct=80.0
        )
    )
    assert mutate(lambda o: o["gates"][1].update(passed=not o["gates"][1]["passed"]))
    assert mutate(lambda o: o["gates"][0].update(actual=o["gates"][0]["actual"] + 1))
    assert mutate(lambda o: o["metrics"].pop("error_rate"))
    # rounding: an unrounded delta within Kalibra's rounding is the same number
    assert not mutate(lambda o: o["metrics"]["cost"].update(delta=m["cost"]["delta"] + 0.04))


# ── scenarios: Kalibra's examples ────────────────────────────────────────────

DEMO_GATES = [
    "success_rate_delta >= -5",
    "regressions <= 0",
    "cost_delta_pct <= 10",
    "token_delta_pct <= 5",
    "duration_delta_pct <= 50",
    "span_regressions <= 0",
    "avg_cost <= 0.05",
    "error_rate_delta <= 1",
    "steps_delta_pct <= 0",
    "cost_per_success <= 1",
    "success_rate >= 60",
    "improvements >= 1",
]


def _req(gates: list[str]) -> list[str]:
    out: list[str] = []
    for g in gates:
        out += ["-r", g]
    return out


def test_example_demo_data(tmp_path: Path) -> None:
    _need_ours()
    d = EXAMPLES / "demo_data"
    k, o = run_both([d / "baseline.jsonl", d / "current.jsonl", *_req(DEMO_GATES)], tmp_path)
    _assert_same(k, o)


def test_example_demo_data_no_gates(tmp_path: Path) -> None:
    _need_ours()
    d = EXAMPLES / "demo_data"
    k, o = run_both([d / "baseline.jsonl", d / "current.jsonl"], tmp_path)
    assert k.rc == 0
    _assert_same(k, o)


def test_example_traces_mixed_openinference(tmp_path: Path) -> None:
    """traces/traces.jsonl holds both variants; split with `where` (the crewai configs' shape)."""
    _need_ours()
    cfg = tmp_path / "kalibra.yml"
    src = str(EXAMPLES / "traces" / "traces.jsonl")
    cfg.write_text(
        yaml.safe_dump(
            {
                "sources": {
                    "baseline": {"path": src, "where": ["variant == baseline"]},
                    "current": {"path": src, "where": ["variant == current"]},
                },
                "baseline": "baseline",
                "current": "current",
                "fields": {"task_id": "task.id"},
                "require": ["regressions <= 3", "token_delta_pct <= 20", "duration_delta_pct <= 20"],
            }
        )
    )
    k, o = run_both(["--config", cfg], tmp_path)
    _assert_same(k, o, iso=True)


@pytest.mark.parametrize("name", ["scenario_redistribution", "scenario_cost_explosion"])
def test_example_crewai(tmp_path: Path, name: str) -> None:
    _need_ours()
    cfg = rewrite_example_config(EXAMPLES / "crewai" / f"{name}.yml", tmp_path)
    k, o = run_both(["--config", cfg], tmp_path)
    assert k.report and k.report["baseline"]["count"] > 0
    _assert_same(k, o, iso=True)


def test_example_otel_genai(tmp_path: Path) -> None:
    _need_ours()
    cfg = rewrite_example_config(EXAMPLES / "otel_genai" / "kalibra.yml", tmp_path)
    k, o = run_both(["--config", cfg], tmp_path)
    _assert_same(k, o, iso=True)


# ── scenarios: generated trace sets ──────────────────────────────────────────

GEN_N = 300
GEN_SEED = 1  # a seed whose Kalibra CIs are rarely within tolerance of 0 (few borderline calls)
GEN_GATES = [
    "success_rate_delta >= -5",
    "regressions <= 5",
    "cost_delta_pct <= 20",
    "duration_delta_pct <= 10",
    "token_delta_pct <= 10",
    "steps_delta_pct <= 5",
    "error_rate_delta <= 2",
    "token_efficiency_delta_pct <= 15",
    "cost_quality_delta_pct <= 25",
    "span_regressions <= 1",
    "avg_cost <= 0.05",
    "total_tokens <= 5000000",
    "success_rate >= 50",
    "avg_steps <= 6",
    "cost_per_success <= 0.1",
    "improvements >= 0",
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[tuple, dict[str, Path]] = {}

    def make(fmt: str, plant: str, seed: int = GEN_SEED, n: int = GEN_N, **kw) -> dict[str, Path]:
        key = (fmt, plant, seed, n, tuple(sorted(kw.items())))
        if key not in cache:
            out = tmp_path_factory.mktemp(f"gen-{fmt}-{plant}")
            cache[key] = gen.generate(out, fmt=fmt, n=n, seed=seed, plant=plant, **kw)
        return cache[key]

    return make


@pytest.mark.parametrize("plant", ["none", "regression"])
@pytest.mark.parametrize("fmt", gen.FORMATS)
def test_generated(tmp_path: Path, generated, fmt: str, plant: str) -> None:
    paths = generated(fmt, plant)
    extra = ["--task-id", "task.id"] if fmt in ("openinference", "otel-genai") else []
    k = run_tool(
        "kalibra",
        [paths["baseline"], paths["current"], *extra, *_req(GEN_GATES), "--format", "json"],
        tmp_path,
    )
    assert k.report is not None, k.describe()
    assert k.report["baseline"]["count"] == GEN_N and k.report["current"]["count"] == GEN_N
    if plant == "regression":  # the planted effects are clear for the oracle, so the scenario is a fair test
        m = k.report["metrics"]
        assert m["duration"]["direction"] == "degradation"
        if fmt != "otel-genai":
            assert m["cost"]["direction"] == "degradation"
        regressed = {r["task_id"] for r in m["trace_breakdown"]["metadata"]["regressions"]}
        assert set(gen.regressed_tasks(GEN_SEED, 25, plant)) <= regressed
    _need_ours()
    o = run_tool(
        "ours", [paths["baseline"], paths["current"], *extra, *_req(GEN_GATES), "--format", "json"], tmp_path
    )
    _assert_same(k, o, iso=fmt in ("openinference", "otel-genai"))


def test_generated_combined_with_config(tmp_path: Path, generated) -> None:
    """One OpenInference file holding both variants, split by `where`, task ids from fields.task_id."""
    paths = generated("openinference", "regression", seed=11, combined=True)
    cfg = tmp_path / "kalibra.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "sources": {
                    "base": {"path": str(paths["baseline"]), "where": ["variant == baseline"]},
                    "cand": {"path": str(paths["current"]), "where": ["variant =~ cur.*"]},
                },
                "baseline": "base",
                "current": "cand",
                "fields": {"task_id": "task.id"},
                "require": ["regressions <= 2", "cost_delta_pct <= 10"],
            }
        )
    )
    k = run_tool("kalibra", ["--config", cfg, "--format", "json"], tmp_path)
    assert k.report and k.report["baseline"]["count"] == GEN_N, k.describe()
    _need_ours()
    o = run_tool("ours", ["--config", cfg, "--format", "json"], tmp_path)
    _assert_same(k, o, iso=True)


def test_generated_missing_outcomes_and_unequal_sizes(tmp_path: Path, generated) -> None:
    paths = generated("flat", "tasks,tokens", seed=3, n=240, n_current=360, missing_outcome=0.05)
    args = [paths["baseline"], paths["current"], *_req(GEN_GATES)]
    _need_ours()
    k, o = run_both(args, tmp_path)
    _assert_same(k, o)


# ── Kalibra's bugs: its wrong behaviour and our fix on the same file ─────────


def _flat_rows(prefix: str, n: int, **fields) -> list[dict]:
    return [{"trace_id": f"{prefix}{i}", "outcome": "success", **fields} for i in range(n)]


def _gate(run: Run, expr: str) -> dict:
    assert run.report is not None, run.describe()
    for g in run.report.get("gates") or []:
        if g.get("expr") == expr:
            return g
    raise AssertionError(f"no gate {expr!r} in {run.tool}'s report: {run.report.get('gates')}")


def test_bug1_dotted_task_id_flat(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug1_dotted_task_id"].bug == 1
    base, cur = [], []
    for task, (b_ok, c_ok) in {"alpha": (4, 0), "beta": (2, 2), "gamma": (3, 3)}.items():
        for i in range(4):
            base.append(
                {
                    "trace_id": f"b-{task}-{i}",
                    "outcome": "success" if i < b_ok else "failure",
                    "metadata": {"task_name": task},
                    "cost": 0.01,
                }
            )
            cur.append(
                {
                    "trace_id": f"c-{task}-{i}",
                    "outcome": "success" if i < c_ok else "failure",
                    "metadata": {"task_name": task},
                    "cost": 0.01,
                }
            )
    b, c = write_jsonl(tmp_path / "b.jsonl", base), write_jsonl(tmp_path / "c.jsonl", cur)
    cfg = tmp_path / "k.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "baseline": {"path": str(b)},
                "current": {"path": str(c)},
                "fields": {"task_id": "metadata.task_name"},
                "require": ["regressions <= 0"],
            }
        )
    )
    k = run_tool("kalibra", ["--config", cfg, "--format", "json"], tmp_path)
    assert k.rc == 0 and _gate(k, "regressions <= 0")["actual"] == 0, k.describe()  # Kalibra: wrong
    assert k.report["metrics"]["trace_breakdown"]["baseline"]["tasks"] == 12  # every trace its own task
    _need_ours()
    o = run_tool("ours", ["--config", cfg, "--format", "json"], tmp_path)
    g = _gate(o, "regressions <= 0")
    assert (o.rc, g["passed"], g["actual"]) == (1, False, 1), o.describe()
    assert o.report["metrics"]["trace_breakdown"]["baseline"]["tasks"] == 3


def test_bug2_empty_files(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug2_empty_files"].bug == 2
    b, c = tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    b.write_text("")
    c.write_text("")
    args = [b, c, "-r", "success_rate_delta >= -5", "-r", "regressions <= 0"]
    k = run_tool("kalibra", [*args, "--format", "json"], tmp_path)
    assert k.rc == 0 and k.report["passed"] is True and k.report["baseline"]["count"] == 0
    _need_ours()
    o = run_tool("ours", [*args, "--format", "json"], tmp_path)
    assert o.rc == 2, o.describe()


def test_bug2_where_matches_nothing(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug2_where_matches_nothing"].bug == 2
    d = EXAMPLES / "demo_data"
    cfg = tmp_path / "k.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "baseline": {"path": str(d / "baseline.jsonl"), "where": ["task_id == no-such-task"]},
                "current": {"path": str(d / "current.jsonl")},
                "require": ["success_rate_delta >= -5"],
            }
        )
    )
    k = run_tool("kalibra", ["--config", cfg, "--format", "json"], tmp_path)
    assert k.rc == 0 and k.report["baseline"]["count"] == 0 and k.report["passed"] is True, k.describe()
    _need_ours()
    o = run_tool("ours", ["--config", cfg, "--format", "json"], tmp_path)
    assert o.rc == 2, o.describe()
    assert "where" in (o.stderr + o.stdout).lower() or "no trace" in (o.stderr + o.stdout).lower()


def test_bug2_no_files(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug2_no_files"].bug == 2
    args = ["-r", "success_rate_delta >= -5", "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    assert k.rc == 0, k.describe()
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    assert o.rc == 2, o.describe()


def test_bug3_trace_level_cost_with_spans(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug3_trace_level_cost_with_spans"].bug == 3

    def rows(p: str, cost: float) -> list[dict]:
        return [
            {
                "trace_id": f"{p}{i}",
                "outcome": "success",
                "cost": cost,
                "spans": [{"span_id": "s", "name": "step", "start_ns": 1_000, "end_ns": 2_000_000_000}],
            }
            for i in range(40)
        ]

    b, c = (
        write_jsonl(tmp_path / "b.jsonl", rows("a", 0.01)),
        write_jsonl(tmp_path / "c.jsonl", rows("b", 0.05)),
    )
    args = [b, c, "-r", "avg_cost <= 0.02", "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    kg = _gate(k, "avg_cost <= 0.02")
    assert k.rc == 0 and kg["passed"] is True and kg["actual"] is None
    assert k.report["metrics"]["cost"]["direction"] == "n/a"
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    og = _gate(o, "avg_cost <= 0.02")
    assert o.rc == 1 and og["passed"] is False and math.isclose(og["actual"], 0.05, rel_tol=1e-9), (
        o.describe()
    )


def test_bug4_undefined_pct_change(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug4_undefined_pct"].bug == 4
    b = write_jsonl(tmp_path / "b.jsonl", _flat_rows("a", 40, cost=0.0))
    c = write_jsonl(tmp_path / "c.jsonl", _flat_rows("b", 40, cost=1.0))
    args = [b, c, "-r", "cost_delta_pct <= 10", "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    kg = _gate(k, "cost_delta_pct <= 10")
    assert k.rc == 0 and kg["passed"] is True and kg["actual"] is None and "no data" in kg["warning"]
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    og = _gate(o, "cost_delta_pct <= 10")
    assert o.rc == 1 and og["passed"] is False and og.get("status") == "fail", o.describe()
    assert og.get("warning"), "the failure must say which data is missing"


def test_bug5_threshold_below_noise_floor(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug5_threshold_below_noise"].bug == 5
    rng = np.random.default_rng(5)
    b = write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"trace_id": f"a{i}", "outcome": "success", "cost": round(float(x), 8)}
            for i, x in enumerate(rng.lognormal(0, 0.01, 200))
        ],
    )
    c = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"trace_id": f"b{i}", "outcome": "success", "cost": round(float(x) * 1.025, 8)}
            for i, x in enumerate(rng.lognormal(0, 0.01, 200))
        ],
    )
    args = [b, c, "-r", "cost_delta_pct <= 1", "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    kg = _gate(k, "cost_delta_pct <= 1")
    ci = k.report["metrics"]["cost"]["metadata"]["ci_95"]
    assert ci[0] > 0, "the rise is significant for Kalibra's own CI"
    assert k.rc == 0 and kg["passed"] is True and "not statistically significant" in kg["warning"]
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    og = _gate(o, "cost_delta_pct <= 1")
    assert o.rc == 1 and og["passed"] is False and og.get("status") == "fail", o.describe()
    assert abs(og["actual"] - kg["actual"]) <= 0.05


def test_bug7_require_flags_combine_with_config(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug7_require_combines"].bug == 7
    d = EXAMPLES / "demo_data"
    cfg = tmp_path / "k.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "baseline": {"path": str(d / "baseline.jsonl")},
                "current": {"path": str(d / "current.jsonl")},
                "require": ["regressions <= 0"],
            }
        )
    )
    args = ["--config", cfg, "-r", "success_rate_delta >= -50", "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    assert k.rc == 0 and [g["expr"] for g in k.report["gates"]] == ["success_rate_delta >= -50"]
    # the config's gate on its own fails for Kalibra too:
    k2 = run_tool("kalibra", ["--config", cfg, "--format", "json"], tmp_path)
    assert k2.rc == 1
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    exprs = {g["expr"] for g in o.report["gates"]}
    assert {"regressions <= 0", "success_rate_delta >= -50"} <= exprs and o.rc == 1, o.describe()


def test_bug8_infinite_duration_is_an_input_error(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug8_traceback"].bug == 8
    b = write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"trace_id": f"a{i}", "outcome": "success", "duration_s": 1.0 if i != 3 else math.inf}
            for i in range(40)
        ],
    )
    c = write_jsonl(tmp_path / "c.jsonl", _flat_rows("b", 40, duration_s=1.0))
    args = [b, c, "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    assert k.rc != 0 and "Traceback" in k.stderr
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    assert "Traceback" not in o.stderr, o.describe()
    if o.rc == 2:  # rejected as bad input: the message names the file and the line
        assert "b.jsonl" in o.stderr and "4" in o.stderr, o.describe()
    else:  # or read as "not measured" with a warning that names the file
        assert o.rc == 0 and o.report is not None, o.describe()
        warns = [*o.report.get("warnings", []), *o.report["baseline"].get("warnings", [])]
        assert any("b.jsonl" in str(w) and "duration" in str(w) for w in warns), warns
        assert o.report["baseline"]["count"] == 40


def test_bug9_strict_json(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug9_infinity"].bug == 9
    b = write_jsonl(tmp_path / "b.jsonl", _flat_rows("a", 40, cost=1e308))
    c = write_jsonl(tmp_path / "c.jsonl", _flat_rows("b", 40, cost=1e308))
    args = [b, c, "--format", "json"]

    def strict(s: str):
        return json.loads(s, parse_constant=lambda x: (_ for _ in ()).throw(ValueError(x)))

    k = run_tool("kalibra", args, tmp_path)
    with pytest.raises(ValueError):
        strict(k.stdout)
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    if o.rc == 2:  # rejecting the overflow as bad input is a fix too
        assert o.stdout.strip() == "" or strict(o.stdout)
    else:
        strict(o.stdout)


def test_missing_file_exit_code_and_streams(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["missing_file_exit"].bug == 10
    c = write_jsonl(tmp_path / "c.jsonl", _flat_rows("b", 40, cost=1.0))
    args = [tmp_path / "nope.jsonl", c, "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    assert k.rc == 1 and "nope.jsonl" in k.stdout and k.report is None
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    assert o.rc == 2 and "nope.jsonl" in o.stderr, o.describe()
    if o.stdout.strip():
        json.loads(o.stdout)


def test_bug11_utf8_bom(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug11_bom"].bug == 11
    b = tmp_path / "b.jsonl"
    b.write_text(
        "\ufeff" + "".join(json.dumps(r) + "\n" for r in _flat_rows("a", 40, cost=1.0)), encoding="utf-8"
    )
    c = write_jsonl(tmp_path / "c.jsonl", _flat_rows("b", 40, cost=1.0))
    args = [b, c, "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    assert k.rc == 1 and "malformed" in k.stdout
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    assert o.rc == 0 and o.report["baseline"]["count"] == 40, o.describe()


def test_bug13_duplicate_traces(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug13_duplicates"].bug == 13
    rows = _flat_rows("a", 40, cost=1.0)
    b = write_jsonl(tmp_path / "b.jsonl", rows + rows[:10])
    c = write_jsonl(tmp_path / "c.jsonl", _flat_rows("b", 40, cost=1.0))
    args = [b, c, "--format", "json"]
    k = run_tool("kalibra", args, tmp_path)
    assert k.report["baseline"]["count"] == 50
    assert not any("duplic" in w.lower() for w in k.report["warnings"])
    _need_ours()
    o = run_tool("ours", args, tmp_path)
    assert o.report is not None, o.describe()
    assert any("duplic" in str(w).lower() for w in o.report.get("warnings") or []), o.report.get("warnings")


def test_bug14_where_matches_json_true(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug14_where_true"].bug == 14
    f = write_jsonl(
        tmp_path / "t.jsonl",
        [{"trace_id": f"a{i}", "outcome": "success", "cost": 1.0, "canary": i % 2 == 0} for i in range(80)],
    )
    cfg = tmp_path / "k.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "baseline": {"path": str(f), "where": ["canary == false"]},
                "current": {"path": str(f), "where": ["canary == true"]},
            }
        )
    )
    k = run_tool("kalibra", ["--config", cfg, "--format", "json"], tmp_path)
    assert k.report["baseline"]["count"] == 0 and k.report["current"]["count"] == 0
    _need_ours()
    o = run_tool("ours", ["--config", cfg, "--format", "json"], tmp_path)
    assert o.rc == 0 and (o.report["baseline"]["count"], o.report["current"]["count"]) == (40, 40), (
        o.describe()
    )


def test_bug16_per_source_task_id(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug16_per_source_task_id"].bug == 16
    base, cur = [], []
    for task, (b_ok, c_ok) in {"alpha": (4, 0), "beta": (3, 3)}.items():
        for i in range(4):
            base.append(
                {"trace_id": f"b-{task}-{i}", "outcome": "success" if i < b_ok else "failure", "job": task}
            )
            cur.append(
                {"trace_id": f"c-{task}-{i}", "outcome": "success" if i < c_ok else "failure", "case": task}
            )
    b, c = write_jsonl(tmp_path / "b.jsonl", base), write_jsonl(tmp_path / "c.jsonl", cur)
    cfg = tmp_path / "k.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "sources": {
                    "old": {"path": str(b), "fields": {"task_id": "job"}},
                    "new": {"path": str(c), "fields": {"task_id": "case"}},
                },
                "baseline": "old",
                "current": "new",
                "require": ["regressions <= 0"],
            }
        )
    )
    k = run_tool("kalibra", ["--config", cfg, "--format", "json"], tmp_path)
    assert k.rc == 0 and _gate(k, "regressions <= 0")["actual"] == 0, k.describe()
    _need_ours()
    o = run_tool("ours", ["--config", cfg, "--format", "json"], tmp_path)
    g = _gate(o, "regressions <= 0")
    assert (o.rc, g["actual"]) == (1, 1), o.describe()


def test_bug17_task_missing_from_current(tmp_path: Path) -> None:
    assert KNOWN_DIFFERENCES["bug17_missing_task"].bug == 17
    base, cur = [], []
    for task in ("alpha", "beta", "gamma"):
        for i in range(4):
            base.append({"trace_id": f"{task}__base__{i}", "outcome": "success", "cost": 0.01})
            if task != "gamma":
                cur.append({"trace_id": f"{task}__cur__{i}", "outcome": "success", "cost": 0.01})
    b, c = write_jsonl(tmp_path / "b.jsonl", base), write_jsonl(tmp_path / "c.jsonl", cur)
    k = run_tool("kalibra", [b, c, "--format", "json"], tmp_path)
    tb = k.report["metrics"]["trace_breakdown"]["metadata"]
    assert tb["n_unchanged"] == 3 and tb["n_regressions"] == 0  # gamma counted as unchanged
    k2 = run_tool("kalibra", [b, c, "-r", "missing_tasks <= 0", "--format", "json"], tmp_path)
    assert k2.rc == 2  # Kalibra has no such field
    _need_ours()
    o = run_tool("ours", [b, c, "-r", "missing_tasks <= 0", "--format", "json"], tmp_path)
    g = _gate(o, "missing_tasks <= 0")
    assert (o.rc, g["passed"], g["actual"]) == (1, False, 1), o.describe()
    otb = o.report["metrics"]["trace_breakdown"]["metadata"]
    assert otb.get("n_unchanged") == 2, otb
