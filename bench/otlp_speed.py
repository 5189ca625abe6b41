"""OTLP/JSON load speed against the same traces as flat JSON Lines.

Usage: .venv/bin/python bench/otlp_speed.py [N_TRACES] [TRACES_PER_LINE] [REPEATS]   (default 100000 100 3)

Generates N seeded runs (a root `invoke_agent` span and two `chat` spans with tokens; a failed run's root
has status ERROR), writes them once as Kalibra flat traces (one a line, the spans inside) and once as the
Collector's file exporter writes OTLP/JSON (one request a line, TRACES_PER_LINE traces a request), loads
each with load_population as `compare` does, checks both give the same per-trace numbers, and prints the
CPU seconds and the ratio OTLP / flat (the target: at most 2). Both files are loaded REPEATS times, in turn
(flat, OTLP, flat, ...) so that both meet the same load of a shared machine, and the least CPU time of each
is compared: other jobs only ever add to it.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population

T0 = 1_768_471_200_000_000_000


def _runs(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    runs = []
    for i in range(n):
        start = T0 + i * 3_000_000_000 + rng.randrange(1_000_000)
        calls = [(start + 10_000_000 + k * 400_000_000, rng.randrange(50, 500), rng.randrange(5, 80))
                 for k in range(2)]
        runs.append({"id": f"{i + 1:032x}", "task": f"task-{i % 25}", "ok": rng.random() < 0.7,
                     "start": start, "end": start + 900_000_000 + rng.randrange(100_000_000), "calls": calls})
    return runs


def _flat(run: dict) -> dict:
    spans = [{"span_id": f"{run['id'][-14:]}00", "name": "invoke_agent", "start_ns": run["start"],
              "end_ns": run["end"]}]
    spans += [{"span_id": f"{run['id'][-14:]}0{k + 1}", "parent_id": f"{run['id'][-14:]}00", "name": "chat",
               "start_ns": s, "end_ns": s + 300_000_000, "input_tokens": tin, "output_tokens": tout}
              for k, (s, tin, tout) in enumerate(run["calls"])]
    return {"trace_id": run["id"], "outcome": "success" if run["ok"] else "failure",
            "metadata": {"task": run["task"]}, "spans": spans}


def _attr(key: str, value: object) -> dict:
    typed = {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}
    return {"key": key, "value": typed}


def _otlp_spans(run: dict) -> list[dict]:
    root_id = f"{run['id'][-14:]}00"
    spans = [{"traceId": run["id"], "spanId": root_id, "parentSpanId": "", "name": "invoke_agent", "kind": 1,
              "startTimeUnixNano": str(run["start"]), "endTimeUnixNano": str(run["end"]),
              "attributes": [_attr("gen_ai.operation.name", "invoke_agent"),
                             _attr("app.task.id", run["task"])],
              "status": {"code": 1} if run["ok"] else {"code": 2, "message": "wrong answer"}}]
    for k, (s, tin, tout) in enumerate(run["calls"]):
        spans.append({"traceId": run["id"], "spanId": f"{run['id'][-14:]}0{k + 1}", "parentSpanId": root_id,
                      "name": "chat", "kind": 3, "startTimeUnixNano": str(s),
                      "endTimeUnixNano": str(s + 300_000_000),
                      "attributes": [_attr("gen_ai.operation.name", "chat"),
                                     _attr("gen_ai.usage.input_tokens", tin),
                                     _attr("gen_ai.usage.output_tokens", tout)],
                      "status": {}})
    return spans


def write_both(folder: Path, n: int, per_line: int) -> tuple[Path, Path]:
    runs = _runs(n)
    flat, otlp = folder / "traces.jsonl", folder / "traces.otlp.jsonl"
    with flat.open("w") as f:
        for run in runs:
            f.write(json.dumps(_flat(run), separators=(",", ":")) + "\n")
    resource = {"attributes": [_attr("service.name", "bench-agent"), _attr("service.version", "1.0.0")]}
    with otlp.open("w") as f:
        for i in range(0, n, per_line):
            spans = [s for run in runs[i:i + per_line] for s in _otlp_spans(run)]
            request = {"resourceSpans": [{"resource": resource,
                                          "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]}
            f.write(json.dumps(request, separators=(",", ":")) + "\n")
    return flat, otlp


def timed(path: Path, fields: FieldMap):
    start = time.process_time()
    pop = load_population([str(path)], label=path.name, fields=fields)
    return pop, time.process_time() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    per_line = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    t_flat = t_otlp = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        flat_path, otlp_path = write_both(Path(tmp), n, per_line)
        sizes = flat_path.stat().st_size / 1e6, otlp_path.stat().st_size / 1e6
        for _ in range(max(1, repeats)):
            flat, seconds = timed(flat_path, FieldMap(task_id="metadata.task"))
            t_flat = min(t_flat, seconds)
            otlp, seconds = timed(otlp_path, FieldMap(task_id="app.task.id"))
            t_otlp = min(t_otlp, seconds)
    for column in ("outcome", "input_tokens", "output_tokens", "duration", "n_spans"):
        np.testing.assert_array_equal(getattr(flat, column), getattr(otlp, column), err_msg=column)
    assert list(flat.trace_id) == list(otlp.trace_id)
    print(f"{n:,} traces, 3 spans each; flat {sizes[0]:.0f} MB, OTLP/JSON {sizes[1]:.0f} MB "
          f"({per_line} traces a line)")
    print(f"flat JSONL  {t_flat:6.2f} s CPU (least of {repeats})")
    print(f"OTLP/JSON   {t_otlp:6.2f} s CPU (least of {repeats})")
    print(f"ratio OTLP / flat: {t_otlp / t_flat:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
