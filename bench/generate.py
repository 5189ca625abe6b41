"""Seeded generators of synthetic agent-trace populations in the formats Kalibra reads.

One simulated population (tasks, outcomes, span trees, tokens, costs, durations, error flags) is drawn
from a seed; writers turn it into:

  flat           one trace per line with nested ``spans`` (start_ns/end_ns, cost, tokens, error, parent ids)
  flat-nospans   one trace per line with trace-level cost, input_tokens, output_tokens, duration_s
  openinference  one span per line, Phoenix/OpenInference attributes (context.trace_id, span_kind,
                 llm.token_count.*, llm.cost.total, llm.model_name), outcome from the root status
  otel-genai     one span per line, OTel GenAI attributes (gen_ai.*), outcome from finish reasons

The draws do not depend on the format, so the same seed gives the same population in every format
(OTel GenAI has no standard cost attribute, so it carries no cost).

Task ids: flat traces carry both ``metadata.task_id`` and a trace id ``task-07__baseline__3`` (Kalibra's
trace-id heuristic strips ``__<side>__<run>``); span formats carry ``task.id`` on the root span (use
``--task-id task.id``). Every span format also carries ``variant`` = baseline/current on the root span.

Scenarios (``--plant``, comma-separated): none; tasks (a few high-pass tasks drop 30-60 pp); cost (+40 %
price); duration (+25 %); tokens (+30 %); errors (span error rate x3); regression = tasks,cost,duration.

CLI:
  python bench/generate.py --format flat --n 1000 --seed 1 --out DIR [--spans K] [--plant regression]
      [--tasks 25] [--missing-outcome 0.0] [--combined]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

FORMATS = ("flat", "flat-nospans", "openinference", "otel-genai")
SIDES = ("baseline", "current")

# name, is_llm, median duration (s), median input tokens, median output tokens, draw weight
SPAN_KINDS: tuple[tuple[str, bool, float, float, float, float], ...] = (
    ("plan", True, 1.5, 900.0, 250.0, 0.0),  # always the first child
    ("llm.call", True, 2.0, 1500.0, 400.0, 3.0),
    ("summarize", True, 1.2, 1200.0, 300.0, 1.0),
    ("edit", True, 2.5, 2000.0, 600.0, 1.5),
    ("rerank", True, 0.4, 400.0, 20.0, 0.8),
    ("search", False, 0.8, 0.0, 0.0, 2.0),
    ("retrieve", False, 0.5, 0.0, 0.0, 1.2),
    ("tool.exec", False, 1.0, 0.0, 0.0, 1.5),
    ("validate", False, 0.3, 0.0, 0.0, 0.8),
    ("submit", False, 0.2, 0.0, 0.0, 0.6),
)
ROOT_NAME = "agent"
MODEL = "gpt-4o"
PRICE_IN = 2.5e-6  # $ per input token
PRICE_OUT = 10e-6  # $ per output token
T0_NS = 1_760_000_000 * 1_000_000_000  # 2025-10-09

PLANTS: dict[str, tuple[str, ...]] = {
    "none": (),
    "regression": ("tasks", "cost", "duration"),
    "tasks": ("tasks",),
    "cost": ("cost",),
    "duration": ("duration",),
    "tokens": ("tokens",),
    "errors": ("errors",),
}


@dataclass(frozen=True)
class Effects:
    """Multipliers applied to the current side."""

    task_drop: bool = False
    cost: float = 1.0
    duration: float = 1.0
    tokens: float = 1.0
    errors: float = 1.0

    @classmethod
    def parse(cls, plant: str) -> Effects:
        parts: set[str] = set()
        for word in (w.strip() for w in plant.split(",")):
            if not word:
                continue
            if word not in PLANTS:
                raise ValueError(f"unknown plant {word!r}; choose from {', '.join(PLANTS)}")
            parts.update(PLANTS[word])
        return cls(
            task_drop="tasks" in parts,
            cost=1.4 if "cost" in parts else 1.0,
            duration=1.25 if "duration" in parts else 1.0,
            tokens=1.3 if "tokens" in parts else 1.0,
            errors=3.0 if "errors" in parts else 1.0,
        )


@dataclass
class TaskPlan:
    names: list[str]
    pass_rate: dict[str, np.ndarray]  # side -> per-task success probability
    cost_scale: np.ndarray
    duration_scale: np.ndarray
    regressed: list[str]


@dataclass
class SpanRec:
    span_id: str
    name: str
    parent: str | None
    start_ns: int
    end_ns: int
    is_llm: bool
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    error: bool = False
    finish: str | None = None  # OTel finish reason for LLM spans


@dataclass
class TraceRec:
    index: int
    side: str
    task: str
    run: int
    outcome: bool | None
    spans: list[SpanRec] = field(default_factory=list)

    @property
    def flat_id(self) -> str:
        return f"{self.task}__{self.side}__{self.run}"

    def hex_id(self, seed: int) -> str:
        return f"{SIDES.index(self.side) + 1:02x}{seed & 0xFFFFFFFF:08x}{self.index:022x}"


def plan_tasks(seed: int, tasks: int, effects: Effects) -> TaskPlan:
    """Per-task parameters shared by both sides."""
    rng = np.random.default_rng([seed, 0])
    names = [f"task-{i:02d}" for i in range(tasks)]
    base = rng.permutation(np.linspace(0.2, 0.95, tasks)) if tasks > 1 else np.array([0.8])
    cur = base.copy()
    regressed: list[str] = []
    if effects.task_drop:
        k = max(1, round(tasks * 0.12))
        top = np.argsort(-base, kind="stable")[:k]
        drops = rng.uniform(0.30, 0.60, size=k)
        for i, d in zip(top, drops, strict=True):
            cur[i] = max(0.02, base[i] - d)
            regressed.append(names[i])
    return TaskPlan(
        names=names,
        pass_rate={"baseline": base, "current": cur},
        cost_scale=rng.lognormal(0.0, 0.25, size=tasks),
        duration_scale=rng.lognormal(0.0, 0.2, size=tasks),
        regressed=sorted(regressed),
    )


def iter_traces(
    side: str,
    n: int,
    seed: int,
    *,
    spans: int = 5,
    tasks: int = 25,
    plant: str = "none",
    missing_outcome: float = 0.0,
    chunk: int = 20_000,
) -> Iterator[TraceRec]:
    """Yield the n traces of one side; draws are vectorised per chunk and independent of the format."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}")
    effects = Effects.parse(plant)
    plan = plan_tasks(seed, tasks, effects)
    eff = effects if side == "current" else Effects()
    rng = np.random.default_rng([seed, 1 + SIDES.index(side)])
    k_spans = max(1, spans)
    weights = np.array([w for *_, w in SPAN_KINDS[1:]], dtype=float)
    weights /= weights.sum()
    p_err = 0.02 * eff.errors

    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        idx = np.arange(lo, lo + m)
        task_idx = idx % tasks
        runs = idx // tasks
        u_out = rng.random(m)
        u_missing = rng.random(m)
        # span count per trace (root included): K-1, K, K+1 with probabilities .25/.5/.25
        n_sp = k_spans + rng.choice(np.array([-1, 0, 0, 1]), size=m)
        n_sp = np.maximum(n_sp, 2 if k_spans >= 2 else 1)
        if spans <= 0:
            n_sp[:] = 4  # span-less output still aggregates a small simulated tree
        total = int(n_sp.sum())
        kind_draw = rng.choice(np.arange(1, len(SPAN_KINDS)), size=total, p=weights)
        nest = rng.random(total) < 0.3
        frac = rng.uniform(0.2, 0.8, size=total)
        dur_z = rng.normal(0.0, 0.5, size=total)
        tin_z = rng.normal(0.0, 0.6, size=total)
        tout_z = rng.normal(0.0, 0.6, size=total)
        u_err = rng.random(total)
        gap = rng.exponential(0.05, size=total)

        pos = 0
        for j in range(m):
            ti = int(task_idx[j])
            p = plan.pass_rate[side][ti]
            outcome: bool | None = bool(u_out[j] < p)
            if u_missing[j] < missing_outcome:
                outcome = None
            tr = TraceRec(
                index=int(idx[j]), side=side, task=plan.names[ti], run=int(runs[j]), outcome=outcome
            )
            start = T0_NS + int(idx[j]) * 120_000_000_000
            cursor = start
            root_id = f"s{idx[j]:x}-0"
            children: list[SpanRec] = []
            prev_top: SpanRec | None = None
            cnt = int(n_sp[j])
            for s in range(1, cnt):
                q = pos + s
                kind = 0 if s == 1 else int(kind_draw[q])
                name, is_llm, med_d, med_in, med_out, _ = SPAN_KINDS[kind]
                dur = med_d * plan.duration_scale[ti] * eff.duration * math.exp(dur_z[q])
                dur_ns = max(1_000, int(dur * 1e9))
                sid = f"s{idx[j]:x}-{s}"
                nested = bool(nest[q]) and prev_top is not None
                if nested:
                    parent = prev_top
                    st = parent.start_ns + int((parent.end_ns - parent.start_ns) * (1 - frac[q]) * 0.5)
                    en = min(parent.end_ns, st + int((parent.end_ns - parent.start_ns) * frac[q]))
                    en = max(en, st + 1_000)
                    rec = SpanRec(sid, name, parent.span_id, st, en, is_llm)
                else:
                    cursor += int(gap[q] * 1e9)
                    rec = SpanRec(sid, name, root_id, cursor, cursor + dur_ns, is_llm)
                    cursor += dur_ns
                    prev_top = rec
                if is_llm:
                    scale = plan.cost_scale[ti] * eff.tokens
                    tin = max(1, int(med_in * scale * math.exp(tin_z[q])))
                    tout = max(1, int(med_out * scale * math.exp(tout_z[q])))
                    rec.input_tokens, rec.output_tokens = tin, tout
                    rec.cost = round((tin * PRICE_IN + tout * PRICE_OUT) * eff.cost, 8)
                    rec.finish = "stop"
                rec.error = bool(u_err[q] < p_err)
                children.append(rec)
            pos += cnt
            if outcome is False:
                # the last LLM span of a failed trace was cut off (OTel finish reason "length")
                for rec in reversed(children):
                    if rec.is_llm:
                        rec.finish = "length"
                        break
            end = max([cursor] + [c.end_ns for c in children]) + 10_000_000
            root = SpanRec(root_id, ROOT_NAME, None, start, end, False, error=outcome is False)
            tr.spans = [root, *children]
            yield tr


# ── writers ──────────────────────────────────────────────────────────────────


def _iso(ns: int) -> str:
    sec, rem = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 1000:06d}+00:00"


def _outcome_word(o: bool | None) -> str | None:
    return None if o is None else ("success" if o else "failure")


def flat_line(tr: TraceRec) -> dict:
    spans = []
    for s in tr.spans:
        d: dict = {"span_id": s.span_id, "name": s.name}
        if s.parent is not None:
            d["parent_id"] = s.parent
        d["start_ns"] = s.start_ns
        d["end_ns"] = s.end_ns
        if s.is_llm:
            d["cost"] = s.cost
            d["input_tokens"] = s.input_tokens
            d["output_tokens"] = s.output_tokens
            d["model"] = MODEL
        d["error"] = s.error
        spans.append(d)
    row: dict = {"trace_id": tr.flat_id}
    if tr.outcome is not None:
        row["outcome"] = _outcome_word(tr.outcome)
    row["metadata"] = {"task_id": tr.task, "variant": tr.side, "run": tr.run}
    row["spans"] = spans
    return row


def flat_nospans_line(tr: TraceRec) -> dict:
    llm = [s for s in tr.spans if s.is_llm]
    root = tr.spans[0]
    row: dict = {"trace_id": tr.flat_id}
    if tr.outcome is not None:
        row["outcome"] = _outcome_word(tr.outcome)
    row["metadata"] = {"task_id": tr.task, "variant": tr.side, "run": tr.run}
    row["cost"] = round(sum(s.cost or 0.0 for s in llm), 8)
    row["input_tokens"] = sum(s.input_tokens or 0 for s in llm)
    row["output_tokens"] = sum(s.output_tokens or 0 for s in llm)
    row["duration_s"] = (root.end_ns - root.start_ns) / 1e9
    return row


def _span_common(tr: TraceRec, s: SpanRec, trace_id: str) -> dict:
    return {
        "name": s.name,
        "context": {"trace_id": trace_id, "span_id": s.span_id},
        "parent_id": s.parent,
        "start_time": _iso(s.start_ns),
        "end_time": _iso(s.end_ns),
    }


def openinference_lines(tr: TraceRec, seed: int) -> list[dict]:
    tid = tr.hex_id(seed)
    out = []
    for s in tr.spans:
        d = _span_common(tr, s, tid)
        if s.parent is None:
            kind = "CHAIN"
            status = "OK" if tr.outcome else ("ERROR" if tr.outcome is False else "UNSET")
            attrs: dict = {"variant": tr.side, "task.id": tr.task, "task.run_id": tr.run}
        else:
            kind = "LLM" if s.is_llm else "TOOL"
            status = "ERROR" if s.error else "OK"
            attrs = {"openinference.span.kind": kind}
            if s.is_llm:
                attrs.update(
                    {
                        "llm.model_name": MODEL,
                        "llm.token_count.prompt": s.input_tokens,
                        "llm.token_count.completion": s.output_tokens,
                        "llm.token_count.total": (s.input_tokens or 0) + (s.output_tokens or 0),
                        "llm.cost.total": s.cost,
                    }
                )
            else:
                attrs["tool.name"] = s.name
        d["span_kind"] = kind
        d["status_code"] = status
        d["status_message"] = ""
        d["attributes"] = attrs
        d["events"] = []
        out.append(d)
    # exporters usually write children before their parents (ordered by end time)
    return out[1:] + out[:1]


def otel_genai_lines(tr: TraceRec, seed: int) -> list[dict]:
    tid = tr.hex_id(seed)
    out = []
    for s in tr.spans:
        d = _span_common(tr, s, tid)
        if s.parent is None:
            attrs: dict = {"variant": tr.side, "task.id": tr.task, "task.run_id": tr.run}
            status = "UNSET"
        elif s.is_llm:
            d["name"] = f"chat {MODEL}"
            attrs = {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": MODEL,
                "gen_ai.usage.input_tokens": s.input_tokens,
                "gen_ai.usage.output_tokens": s.output_tokens,
                "agent.step": s.name,
            }
            if tr.outcome is not None:  # no finish reason and an UNSET root: outcome unknown
                attrs["gen_ai.response.finish_reasons"] = [s.finish or "stop"]
            status = "ERROR" if s.error else "UNSET"
        else:
            d["name"] = f"execute_tool {s.name}"
            attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": s.name}
            status = "ERROR" if s.error else "UNSET"
        d["span_kind"] = "UNKNOWN"
        d["status_code"] = status
        d["status_message"] = ""
        d["attributes"] = attrs
        d["events"] = []
        out.append(d)
    return out


def trace_rows(tr: TraceRec, fmt: str, seed: int) -> list[dict]:
    if fmt == "flat":
        return [flat_line(tr)]
    if fmt == "flat-nospans":
        return [flat_nospans_line(tr)]
    if fmt == "openinference":
        return openinference_lines(tr, seed)
    if fmt == "otel-genai":
        return otel_genai_lines(tr, seed)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def write_side(path: Path, side: str, fmt: str, n: int, seed: int, **kw) -> int:
    """Write one side to path; returns the number of lines written."""
    lines = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    with open(path, "w", encoding="utf-8") as f:
        buf: list[str] = []
        for tr in iter_traces(side, n, seed, **kw):
            for row in trace_rows(tr, fmt, seed):
                buf.append(dumps(row))
            if len(buf) >= 5000:
                f.write("\n".join(buf) + "\n")
                lines += len(buf)
                buf.clear()
        if buf:
            f.write("\n".join(buf) + "\n")
            lines += len(buf)
    return lines


def generate(
    out: Path | str,
    *,
    fmt: str = "flat",
    n: int = 1000,
    seed: int = 1,
    spans: int = 5,
    tasks: int = 25,
    plant: str = "none",
    missing_outcome: float = 0.0,
    combined: bool = False,
    n_current: int | None = None,
) -> dict[str, Path]:
    """Write baseline.jsonl and current.jsonl (or one traces.jsonl with both) into out.

    Returns {"baseline": path, "current": path} (both the same file when combined).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "flat" and spans <= 0:
        fmt = "flat-nospans"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kw = {"spans": spans, "tasks": tasks, "plant": plant, "missing_outcome": missing_outcome}
    sizes = {"baseline": n, "current": n if n_current is None else n_current}
    if combined:
        path = out / "traces.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for side in SIDES:
                for tr in iter_traces(side, sizes[side], seed, **kw):
                    for row in trace_rows(tr, fmt, seed):
                        f.write(json.dumps(row) + "\n")
        return {"baseline": path, "current": path}
    paths = {}
    for side in SIDES:
        paths[side] = out / f"{side}.jsonl"
        write_side(paths[side], side, fmt, sizes[side], seed, **kw)
    return paths


def regressed_tasks(seed: int, tasks: int = 25, plant: str = "regression") -> list[str]:
    """Task names whose pass rate was planted to drop."""
    return plan_tasks(seed, tasks, Effects.parse(plant)).regressed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", default="flat", choices=FORMATS)
    ap.add_argument("--n", type=int, default=1000, help="traces per side")
    ap.add_argument("--n-current", type=int, default=None, help="traces on the current side (default --n)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--spans", type=int, default=5, help="spans per trace incl. the root (0: flat-nospans)")
    ap.add_argument("--plant", default="none", help=f"comma list of: {', '.join(PLANTS)}")
    ap.add_argument("--tasks", type=int, default=25)
    ap.add_argument("--missing-outcome", type=float, default=0.0, help="share of traces with no outcome")
    ap.add_argument("--combined", action="store_true", help="one traces.jsonl; split with variant == ...")
    a = ap.parse_args(argv)
    try:
        paths = generate(
            a.out,
            fmt=a.format,
            n=a.n,
            seed=a.seed,
            spans=a.spans,
            tasks=a.tasks,
            plant=a.plant,
            missing_outcome=a.missing_outcome,
            combined=a.combined,
            n_current=a.n_current,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for side, p in paths.items():
        print(f"{side}: {p}")
    reg = regressed_tasks(a.seed, a.tasks, a.plant)
    if reg:
        print(f"planted task regressions: {', '.join(reg)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
