"""Strict JSON: Kalibra's keys are all there, NaN/inf become null, numpy becomes plain (Kalibra bug 9)."""

from __future__ import annotations

import json
import math

import numpy as np

from kalibra_action.report.json import plain, to_dict, to_json
from kalibra_action.result import FieldValue
from tests.fixtures.sample import sample_result

KALIBRA_TOP = {"direction", "passed", "baseline", "current", "warnings", "metrics", "gates"}
KALIBRA_METRIC = {"name", "description", "direction", "delta", "baseline", "current", "metadata", "warnings"}
KALIBRA_GATE = {"expr", "passed", "actual", "warning"}


def _strict_loads(text: str):
    def bad(token: str):
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=bad)


def test_superset_of_kalibra_keys() -> None:
    data = to_dict(sample_result())
    assert data.keys() >= KALIBRA_TOP
    assert {"source", "count"} <= data["baseline"].keys()
    for m in data["metrics"].values():
        assert m.keys() >= KALIBRA_METRIC
    for g in data["gates"]:
        assert g.keys() >= KALIBRA_GATE
        assert {"status", "field", "op", "threshold", "ci", "mde", "underpowered", "source"} <= g.keys()
    assert {"files", "format", "filters"} <= data["current"].keys()
    assert {"settings", "exit_code", "version", "fields"} <= data.keys()
    assert data["exit_code"] == 1 and data["passed"] is False
    assert data["fields"]["cost_delta_pct"]["ci"] == [-55.0, -21.1]  # the gate CI is BCa
    assert data["metrics"]["cost"]["metadata"]["ci_95"] == [-53.9, -20.3]  # Kalibra's percentile CI
    per_task = data["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    assert per_task[0]["verdict"] == "regressed" and {"p", "q", "delta_pp", "naive"} <= per_task[0].keys()
    assert data["gates"][1]["status"] == "inconclusive"
    assert data["gates"][2]["source"] == "cli"


def test_nan_inf_and_numpy_are_strict_json() -> None:
    r = sample_result()
    obs = r.observations["cost"]
    obs.delta = float("inf")
    obs.baseline = {"median": float("nan"), "arr": np.array([1.5, np.nan, np.inf]),
                    "i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True), "t": (1, -math.inf)}
    obs.metadata = {"ci_95": (np.float64(-1.0), np.float64(np.nan)), 7: "int key"}
    obs.fields["cost_delta_pct"] = FieldValue(float("-inf"), True, True, (float("nan"), 1.0))
    r.gates[0].actual = float("nan")
    text = to_json(r)
    data = _strict_loads(text)
    m = data["metrics"]["cost"]
    assert m["delta"] is None
    assert m["baseline"] == {"median": None, "arr": [1.5, None, None], "i": 3, "f": 0.5, "b": True,
                             "t": [1, None]}
    assert m["metadata"] == {"ci_95": [-1.0, None], "7": "int key"}
    assert data["fields"]["cost_delta_pct"]["value"] is None
    assert data["gates"][0]["actual"] is None
    assert "NaN" not in text and "Infinity" not in text


def test_plain_types() -> None:
    assert plain({1, 2}) in ([1, 2], [2, 1])
    assert plain(np.arange(3)) == [0, 1, 2]
    assert plain(b"x") == "x"
    assert plain(object.__new__(object)).startswith("<object")


def test_to_json_round_trips_hostile_text() -> None:
    r = sample_result(task_ids=['a"b\\c\n</script>'])
    data = _strict_loads(to_json(r))
    ids = [t["task_id"] for t in data["metrics"]["trace_breakdown"]["metadata"]["regressions"]]
    assert ids == ['a"b\\c\n</script>']
