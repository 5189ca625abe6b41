"""Helpers for the differential tests: run Kalibra (the oracle) and kalibra-action on the same files and
list every difference between their JSON reports.

Both tools run as subprocesses in a scratch directory (Kalibra auto-discovers ./kalibra.yml, so the
working directory must not hold one unless a test means it to).
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "data" / "kalibra-examples"
BIN = Path(sys.executable).parent

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _tool(name: str) -> str | None:
    cand = BIN / name
    if cand.exists():
        return str(cand)
    return shutil.which(name)


KALIBRA = _tool("kalibra")
OURS = _tool("kalibra-action")

# ── tolerances ───────────────────────────────────────────────────────────────
REL_TOL = 1e-9
CI_ABS_PP = 2.0  # CI bounds: within max(2 pp, 10 % of Kalibra's CI width)
CI_REL_WIDTH = 0.10
GATE_ACTUAL_ABS = 5e-5 + 1e-12  # Kalibra rounds gate actuals to 4 decimals
# Below this many values a side, the bootstrap distribution of a median is lumpy and Kalibra's 1,000-draw
# percentile bound can jump across a gap (crewai cost_explosion, "LLM (Technical Writer)" duration, 40 spans
# a side: Kalibra [33.7, 135.3], a 20,000-draw percentile reference [4.3, 144.1]); CI bounds are then not
# compared (KNOWN_DIFFERENCES["small_sample_ci"]); the direction still is.
SMALL_N = 100
ISO_TIME_TOL = 2e-6  # s per duration: Kalibra's int(datetime.timestamp() * 1e9) is off by up to ~0.5 us
# keys whose values Kalibra rounds, and to how many decimals
ROUNDED = {
    ("success_rate", "delta"): 2,
    ("error_rate", "delta"): 2,
    "pvalue": 6,
    "z": 4,
    "delta": 1,  # every other metric's % delta
    "duration_pct": 1,
    "cost_pct": 1,
    "tokens_pct": 1,
    "error_rate_pp": 1,
}
# which metric decides a Kalibra gate field
FIELD_METRIC = {
    "success_rate_delta": "success_rate",
    "success_rate": "success_rate",
    "cost_delta_pct": "cost",
    "total_cost": "cost",
    "avg_cost": "cost",
    "duration_delta_pct": "duration",
    "total_duration": "duration",
    "steps_delta_pct": "steps",
    "avg_steps": "steps",
    "median_steps": "steps",
    "error_rate_delta": "error_rate",
    "token_delta_pct": "token_usage",
    "total_tokens": "token_usage",
    "avg_tokens": "token_usage",
    "token_efficiency_delta_pct": "token_efficiency",
    "cost_quality_delta_pct": "cost_quality",
    "cost_per_success": "cost_quality",
    "regressions": "trace_breakdown",
    "improvements": "trace_breakdown",
    "span_regressions": "span_breakdown",
    "span_improvements": "span_breakdown",
}
# noise floors (Kalibra's defaults), to spot directions decided by a hair
NOISE = {
    "cost": 3.0,
    "duration": 5.0,
    "steps": 3.0,
    "token_usage": 3.0,
    "token_efficiency": 5.0,
    "cost_quality": 5.0,
    "span_breakdown": 5.0,
}


@dataclass
class Run:
    tool: str
    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    report: dict | None = None

    def describe(self) -> str:
        return (
            f"{self.tool} rc={self.rc}\n  argv={self.argv}\n  stdout={self.stdout[:800]!r}\n"
            f"  stderr={self.stderr[-800:]!r}"
        )


@functools.cache
def ours_available() -> bool:
    """True once kalibra-action has a working `compare` command."""
    if OURS is None:
        return False
    try:
        p = subprocess.run([OURS, "compare", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0 and "--require" in p.stdout


def run_tool(which: str, args: list[str], cwd: Path, timeout: float = 300) -> Run:
    """Run `<tool> compare *args` in cwd; parse stdout as JSON when it is JSON."""
    exe = KALIBRA if which == "kalibra" else OURS
    if exe is None:
        raise RuntimeError(f"{which} is not installed")
    argv = [exe, "compare", *map(str, args)]
    env = dict(os.environ, NO_COLOR="1", PYTHONHASHSEED="0", COLUMNS="200")
    for k in list(env):
        if k.startswith(("GITHUB_", "INPUT_", "RUNNER_")):  # never let the action mode kick in
            del env[k]
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    rep = None
    try:
        rep = json.loads(p.stdout)
    except ValueError:
        rep = None
    return Run(which, argv, p.returncode, p.stdout, p.stderr, rep if isinstance(rep, dict) else None)


def run_both(args: list[str], cwd: Path, ours_extra: list[str] | None = None) -> tuple[Run, Run]:
    k = run_tool("kalibra", [*args, "--format", "json"], cwd)
    o = run_tool("ours", [*args, *(ours_extra or []), "--format", "json"], cwd)
    return k, o


# ── report comparison ────────────────────────────────────────────────────────


@dataclass
class Mismatch:
    path: str
    kalibra: Any
    ours: Any
    note: str = ""

    def __str__(self) -> str:
        s = f"{self.path}: kalibra={self.kalibra!r} ours={self.ours!r}"
        return f"{s} ({self.note})" if self.note else s


@dataclass
class Diff:
    mismatches: list[Mismatch] = field(default_factory=list)
    # comparisons skipped because Kalibra's call was decided by a hair's breadth
    borderline: list[str] = field(default_factory=list)
    borderline_metrics: set[str] = field(default_factory=set)
    verdict_may_differ: bool = False  # a gate on a borderline metric came out differently
    no_data_gates: list[str] = field(default_factory=list)
    small_sample: list[str] = field(
        default_factory=list
    )  # CI bounds not compared (n < SMALL_N)  # documented: no-data gates fail for us
    time_tol: float = 0.0  # abs tolerance (s) on a duration read from ISO timestamps (Kalibra's float parse)
    n_max: int = 0
    inconclusive_gates: list[str] = field(default_factory=list)
    checked: int = 0

    def add(self, path: str, k: Any, o: Any, note: str = "") -> None:
        self.mismatches.append(Mismatch(path, k, o, note))

    def report(self) -> str:
        lines = [str(m) for m in self.mismatches]
        if self.borderline:
            lines.append("borderline (not compared): " + "; ".join(self.borderline))
        return "\n".join(lines)


_MISSING = object()


def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if (isinstance(d, dict) and k in d) or (
            isinstance(d, list) and isinstance(k, int) and -len(d) <= k < len(d)
        ):
            d = d[k]
        else:
            return _MISSING
    return d


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _rounding_for(metric: str, key: str) -> int | None:
    if (metric, key) in ROUNDED:
        return ROUNDED[(metric, key)]
    return ROUNDED.get(key)


def num_equal(k: Any, o: Any, decimals: int | None = None) -> bool:
    if k is None or o is None:
        return k is None and o is None
    if not (_is_num(k) and _is_num(o)):
        return k == o
    if decimals is not None:
        return abs(o - k) <= 0.5 * 10**-decimals + 1e-9 * max(1.0, abs(k))
    return math.isclose(k, o, rel_tol=REL_TOL, abs_tol=1e-12)


def ci_close(k: Any, o: Any) -> bool:
    if k is None or o is None or k is _MISSING or o is _MISSING:
        return k is o or (k is None and o is None)
    if not (isinstance(k, list | tuple) and isinstance(o, list | tuple) and len(k) == 2 and len(o) == 2):
        return False
    if any(v is None for v in (*k, *o)):
        return list(k) == list(o)
    tol = max(CI_ABS_PP, CI_REL_WIDTH * abs(k[1] - k[0]))
    return abs(k[0] - o[0]) <= tol and abs(k[1] - o[1]) <= tol


def _ci_borderline(metric: str, ci: Any, delta: Any) -> bool:
    """Kalibra's direction for this metric could flip under a different (valid) bootstrap."""
    noise = NOISE.get(metric)
    if noise is not None and _is_num(delta):
        if abs(abs(delta) - noise) <= 0.1:
            return True
        if abs(delta) < noise:
            return False  # "same" by the noise floor whatever the CI says
    if not (isinstance(ci, list | tuple) and len(ci) == 2) or any(v is None for v in ci):
        return False
    lo, hi = ci
    tol = max(CI_ABS_PP, CI_REL_WIDTH * abs(hi - lo))
    return min(abs(lo), abs(hi)) <= tol


def _is_duration(metric: str, path: str, key: str) -> bool:
    if key == "median_duration":
        return True
    return metric == "duration" and key in ("median", "avg", "total") and ".metadata." not in path


def _walk(diff: Diff, metric: str, path: str, k: Any, o: Any, skip_keys: set[str]) -> None:
    """Compare every leaf of Kalibra's value k with ours at the same place."""
    key = path.rsplit(".", 1)[-1]
    if key in skip_keys:
        return
    if o is _MISSING:
        diff.add(path, k, "<missing>")
        return
    diff.checked += 1
    if key.startswith("ci_95") or path.endswith(".ci_95"):
        if isinstance(k, dict):
            for kk, kv in k.items():
                ov = _get(o, kk)
                if not ci_close(kv, ov):
                    diff.add(f"{path}.{kk}", kv, None if ov is _MISSING else ov, "CI bound off")
            return
        if not ci_close(k, o):
            diff.add(path, k, o, "CI bound off")
        return
    if isinstance(k, dict):
        if not isinstance(o, dict):
            diff.add(path, "<dict>", o)
            return
        for kk, kv in k.items():
            _walk(diff, metric, f"{path}.{kk}", kv, _get(o, kk), skip_keys)
        return
    if isinstance(k, list):
        ident = next(
            (i for i in ("task_id", "span_name") if k and all(isinstance(x, dict) and i in x for x in k)),
            None,
        )
        if ident and isinstance(o, list):
            # per-task / per-span lists: same members (order is presentation), then the same numbers
            kmap = {x[ident]: x for x in k}
            omap = {x.get(ident): x for x in o if isinstance(x, dict)}
            if set(kmap) != set(omap):
                diff.add(f"{path}[{ident}]", sorted(map(str, kmap)), sorted(map(str, omap)), "members differ")
            for name in sorted(set(kmap) & set(omap), key=str):
                _walk(diff, metric, f"{path}[{name}]", kmap[name], omap[name], skip_keys)
            return
        if not isinstance(o, list) or len(o) != len(k):
            diff.add(path, k, o, "list differs")
            return
        for i, (kv, ov) in enumerate(zip(k, o, strict=True)):
            _walk(diff, metric, f"{path}[{i}]", kv, ov, skip_keys)
        return
    if _is_num(k) or _is_num(o) or k is None or o is None:
        if diff.time_tol and _is_num(k) and _is_num(o) and _is_duration(metric, path, key):
            tol = diff.time_tol * (max(diff.n_max, 1) if key == "total" else 1)
            if abs(k - o) > tol:
                diff.add(path, k, o, f"beyond the ISO-timestamp tolerance {tol:g} s")
            return
        if not num_equal(k, o, _rounding_for(metric, key)):
            diff.add(path, k, o)
        return
    if k != o:
        diff.add(path, k, o)


def _compare_span_breakdown(diff: Diff, k: dict, o: dict) -> None:
    path = "metrics.span_breakdown"
    kb = k.get("metadata") or {}
    ob = o.get("metadata") or {}
    for side in ("baseline", "current"):
        _walk(diff, "span_breakdown", f"{path}.{side}", k.get(side), _get(o, side), set())
    kper = kb.get("per_span") or {}
    oper = ob.get("per_span") if isinstance(ob.get("per_span"), dict) else {}
    borderline: set[str] = set()
    for name, ks in kper.items():
        os_ = oper.get(name, _MISSING)
        cis = ks.get("ci_95") or {}
        deltas = ks.get("deltas") or {}
        dkey = {"duration": "duration_pct", "tokens": "tokens_pct", "cost": "cost_pct"}
        if any(_ci_borderline("span_breakdown", ci, deltas.get(dkey.get(m))) for m, ci in cis.items()):
            borderline.add(name)
        skip = {"direction"} if name in borderline else set()
        n_small = min(int(_get(ks, "baseline", "count") or 0), int(_get(ks, "current", "count") or 0))
        if n_small < SMALL_N:
            skip.add("ci_95")
            diff.small_sample.append(f"span {name} (n={n_small})")
        _walk(diff, "span_breakdown", f"{path}.metadata.per_span.{name}", ks, os_, skip)
    if borderline:
        diff.borderline.append(f"span_breakdown spans {sorted(borderline)}")
        diff.borderline_metrics.add("span_breakdown")
    for cat in ("regressions", "improvements", "mixed"):
        kn = {s["span_name"] for s in kb.get(cat) or []} - borderline
        on = {s.get("span_name") for s in ob.get(cat) or [] if isinstance(s, dict)} - borderline
        if kn != on:
            diff.add(f"{path}.metadata.{cat}[span_name]", sorted(kn), sorted(x for x in on if x))
    if not borderline:
        for key in ("n_regressions", "n_improvements", "n_mixed", "n_regressions_for_gate", "matched"):
            if key in kb and not num_equal(kb[key], ob.get(key)):
                diff.add(f"{path}.metadata.{key}", kb[key], ob.get(key, "<missing>"))
        if k.get("direction") != o.get("direction"):
            diff.add(f"{path}.direction", k.get("direction"), o.get("direction"))


def _sample_size(metric: str, kobs: dict, k: dict) -> int | None:
    """Values a side behind a metric's CI (successes for the success-only metrics)."""
    if metric in ("token_efficiency", "cost_quality"):
        vals = [_get(kobs, side, "successes") for side in ("baseline", "current")]
    else:
        vals = [_get(k, side, "count") for side in ("baseline", "current")]
    if any(not _is_num(v) for v in vals):
        return None
    return int(min(vals))


def compare_reports(
    k: dict, o: dict, *, gate_rules: dict[str, str] | None = None, iso_timestamps: bool = False
) -> Diff:
    """Every difference between Kalibra's report k and ours o on Kalibra's keys.

    gate_rules maps a gate expression to an expected difference ("no-data-fail", "fail-not-skip") taken
    from the table of documented differences; other gates must match (a non-significant gate may be
    `inconclusive` for us where Kalibra skips it, a gate whose field has no data fails for us where
    Kalibra skips it). iso_timestamps: durations come from ISO-8601 strings, which Kalibra parses through
    a float (sub-microsecond error), so durations agree to ISO_TIME_TOL per duration instead of 1e-9.
    """
    diff = Diff()
    gate_rules = gate_rules or {}
    if iso_timestamps:
        diff.time_tol = ISO_TIME_TOL
        diff.n_max = max(int(_get(k, s, "count") or 0) for s in ("baseline", "current"))
    for side in ("baseline", "current"):
        if _get(k, side, "count") != _get(o, side, "count"):
            diff.add(f"{side}.count", _get(k, side, "count"), _get(o, side, "count"))
    km = k.get("metrics") or {}
    om = o.get("metrics") or {}
    for name, kobs in km.items():
        oobs = om.get(name, _MISSING)
        path = f"metrics.{name}"
        if oobs is _MISSING:
            diff.add(path, "<present>", "<missing>")
            continue
        if name == "span_breakdown":
            _compare_span_breakdown(diff, kobs, oobs)
            continue
        ci = _get(kobs, "metadata", "ci_95")
        border = _ci_borderline(name, ci, kobs.get("delta"))
        if border:
            diff.borderline.append(f"{name} direction (CI {ci}, delta {kobs.get('delta')})")
            diff.borderline_metrics.add(name)
        elif kobs.get("direction") != oobs.get("direction"):
            diff.add(f"{path}.direction", kobs.get("direction"), oobs.get("direction"))
        if not num_equal(kobs.get("delta"), oobs.get("delta"), _rounding_for(name, "delta")):
            diff.add(f"{path}.delta", kobs.get("delta"), oobs.get("delta"))
        n_small = _sample_size(name, kobs, k)
        for part in ("baseline", "current", "metadata"):
            skip = {"significant"} if border else set()
            if n_small is not None and n_small < SMALL_N and _get(kobs, "metadata", "ci_95") is not _MISSING:
                skip.add("ci_95")
                if part == "metadata":
                    diff.small_sample.append(f"{name} (n={n_small})")
            _walk(diff, name, f"{path}.{part}", kobs.get(part), _get(oobs, part), skip)
    # gates, matched by expression
    ogates = {g.get("expr"): g for g in o.get("gates") or [] if isinstance(g, dict)}
    for kg in k.get("gates") or []:
        expr = kg["expr"]
        og = ogates.get(expr)
        gp = f"gates[{expr}]"
        if og is None:
            diff.add(gp, "<present>", "<missing>")
            continue
        rule = gate_rules.get(expr)
        status = og.get("status")
        fld = expr.split()[0] if expr.split() else expr
        if (
            rule is None
            and FIELD_METRIC.get(fld) in diff.borderline_metrics
            and (kg["passed"] != og.get("passed") or status == "inconclusive")
        ):
            diff.borderline.append(
                f"gate {expr!r}: kalibra passed={kg['passed']} ours={status}/{og.get('passed')}"
            )
            diff.verdict_may_differ = diff.verdict_may_differ or kg["passed"] != og.get("passed")
            continue
        if status == "inconclusive":
            diff.inconclusive_gates.append(expr)
        kmetric = km.get(FIELD_METRIC.get(fld, ""), {})
        kalibra_no_data = kg.get("actual") is None or kmetric.get("direction") == "n/a"
        if rule is None and kg["passed"] is True and kalibra_no_data and og.get("actual") is None:
            # documented (bugs 2, 4): Kalibra skips a gate whose field has no data; it fails for us
            if og.get("passed") is False and status == "fail":
                diff.no_data_gates.append(expr)
            else:
                diff.add(
                    f"{gp}.passed/status", kg["passed"], (og.get("passed"), status), "expected no-data fail"
                )
            continue
        if rule == "no-data-fail":
            if not (kg["passed"] is True and og.get("passed") is False and status == "fail"):
                diff.add(
                    f"{gp}.passed/status", kg["passed"], (og.get("passed"), status), "expected no-data fail"
                )
            continue
        if rule == "fail-not-skip":
            if not (kg["passed"] is True and og.get("passed") is False and status == "fail"):
                diff.add(f"{gp}.passed/status", kg["passed"], (og.get("passed"), status), "expected a fail")
        elif status == "inconclusive":
            # documented: Kalibra silently skips a non-significant gate (passes); we report it inconclusive
            # and, under the default on_inconclusive=warn, still pass it.
            skipped = bool(kg.get("warning")) and "skipped" in str(kg.get("warning"))
            if not (skipped and kg["passed"] is True and og.get("passed") is True):
                diff.add(
                    f"{gp}.passed/status",
                    (kg["passed"], kg.get("warning")),
                    (og.get("passed"), status),
                    "inconclusive for us but not a skipped pass for Kalibra",
                )
        elif kg["passed"] != og.get("passed"):
            diff.add(f"{gp}.passed", kg["passed"], og.get("passed"))
        ka, oa = kg.get("actual"), og.get("actual")
        if ka is None or oa is None:
            if (ka is None) != (oa is None):
                diff.add(f"{gp}.actual", ka, oa)
        elif not (abs(ka - oa) <= GATE_ACTUAL_ABS + REL_TOL * abs(ka)):
            diff.add(f"{gp}.actual", ka, oa)
    if diff.no_data_gates:
        if o.get("passed") is not False:
            diff.add("passed", k.get("passed"), o.get("passed"), f"no-data gates {diff.no_data_gates} failed")
    elif k.get("passed") != o.get("passed") and not diff.verdict_may_differ:
        diff.add("passed", k.get("passed"), o.get("passed"))
    return diff


# ── scratch configs ──────────────────────────────────────────────────────────


def rewrite_example_config(src: Path, dest_dir: Path) -> Path:
    """Copy a Kalibra example .yml into dest_dir with `examples/...` paths pointing into tests/data."""
    import yaml

    data = yaml.safe_load(src.read_text())

    def fix(p: str) -> str:
        if p.startswith("examples/"):
            return str(EXAMPLES / p[len("examples/") :])
        return p

    for s in (data.get("sources") or {}).values():
        if isinstance(s, dict) and "path" in s:
            s["path"] = fix(s["path"])
    for side in ("baseline", "current"):
        if isinstance(data.get(side), dict) and "path" in data[side]:
            data[side]["path"] = fix(data[side]["path"])
    dest = dest_dir / src.name
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
