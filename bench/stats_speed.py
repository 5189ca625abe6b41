"""Time each metric at 1k / 10k / 100k / 1M traces a side on synthetic Populations (not a test).

Usage: .venv/bin/python bench/stats_speed.py [sizes...]   e.g. `bench/stats_speed.py 1000 100000`
Each trace has 5 spans over 10 span names; 10,000 resamples (the default StatsOptions).
Prints seconds per metric, the total, and the peak RSS of the process.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalibra_action.metrics import DEFAULT_METRICS, make_metric
from kalibra_action.traces.population import Population

SPANS_PER_TRACE = 5
SPAN_NAMES = 10
TASKS = 100


def synthetic(n: int, shift: float, seed: int) -> Population:
    """n traces with lognormal cost/tokens/duration; `shift` scales the current side."""
    rng = np.random.default_rng(seed)
    s = n * SPANS_PER_TRACE
    span_trace = np.repeat(np.arange(n, dtype=np.int32), SPANS_PER_TRACE)
    span_cost = rng.lognormal(-5 + shift, 1.0, s)
    span_in = np.round(rng.lognormal(6 + shift, 1.0, s))
    span_out = np.round(rng.lognormal(5, 1.0, s))
    span_dur = rng.lognormal(0 + shift, 0.5, s)

    def per_trace(x: np.ndarray) -> np.ndarray:
        return x.reshape(n, SPANS_PER_TRACE).sum(axis=1)
    return Population(
        label="b" if shift == 0 else "c", files=(), format="flat", filters=(), total_before_filter=n,
        trace_id=np.arange(n).astype(str).astype(object),
        task=rng.integers(0, TASKS, n, dtype=np.int32), task_names=tuple(f"task{i}" for i in range(TASKS)),
        outcome=(rng.random(n) < 0.8 - shift).astype(np.int8),
        cost=per_trace(span_cost), input_tokens=per_trace(span_in), output_tokens=per_trace(span_out),
        duration=span_dur.reshape(n, SPANS_PER_TRACE).max(axis=1),
        n_spans=np.full(n, SPANS_PER_TRACE, dtype=np.int32),
        steps=rng.integers(3, 9, n, dtype=np.int32),
        span_trace=span_trace, span_name=rng.integers(0, SPAN_NAMES, s, dtype=np.int32),
        span_names=tuple(f"span{i}" for i in range(SPAN_NAMES)),
        span_cost=span_cost, span_input_tokens=span_in, span_output_tokens=span_out,
        span_duration=span_dur, span_error=rng.random(s) < 0.02 + shift / 10,
    )


def main(sizes: list[int]) -> None:
    print(f"{'traces/side':>11} " + " ".join(f"{m[:12]:>12}" for m in DEFAULT_METRICS) + f" {'total':>8}")
    for n in sizes:
        b, c = synthetic(n, 0.0, 1), synthetic(n, 0.05, 2)
        times = []
        for name in DEFAULT_METRICS:
            t = time.perf_counter()
            make_metric(name).compare(b, c)
            times.append(time.perf_counter() - t)
        print(f"{n:>11,} " + " ".join(f"{x:>12.3f}" for x in times) + f" {sum(times):>8.2f}", flush=True)
        del b, c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000, 1_000_000])
