"""The history artifact: what `summarize` keeps of a run, and the strict reader of untrusted summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.history import (
    dumps,
    is_summary_file,
    parse_summary,
    read_summary,
    summarize,
    write_summary,
)
from kalibra_action.limits import HISTORY_MAX_BYTES, HISTORY_MAX_TASKS
from kalibra_action.traces.population import PopulationBuilder


def _population():
    b = PopulationBuilder("base")
    for r in range(4):  # task a: 3 pass, 1 fail; tokens 100..400
        b.add_trace(f"a{r}", "a", int(r < 3), input_tokens=100.0 * (r + 1), cost=0.01, duration=2.0)
    b.add_trace("b0", "b", 0, input_tokens=50.0)
    b.add_trace("b1", "b", -1)  # unknown outcome
    return b.build()


def test_summary_counts_and_medians_round_trip(tmp_path: Path) -> None:
    s = summarize(_population(), run_id="123", commit="abcdef1", created="2026-11-29T10:00:00Z",
                  config_hash="0" * 64)
    assert (s.tasks["a"].passed, s.tasks["a"].failed, s.tasks["a"].unknown) == (3, 1, 0)
    assert (s.tasks["b"].passed, s.tasks["b"].failed, s.tasks["b"].unknown) == (0, 1, 1)
    assert s.tasks["a"].median["tokens"] == 250.0  # median of 100, 200, 300, 400
    assert s.headline()["success_rate"] == pytest.approx(100 * 3 / 5, rel=1e-5)
    path = write_summary(tmp_path / "h.json", s)
    assert is_summary_file(path)
    back = read_summary(path)
    assert back.as_json() == s.as_json()
    assert len(path.read_bytes()) < 2_000


def _valid() -> dict:
    return json.loads(dumps(summarize(_population())))


def _bad(data: object) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.update(schema="kalibra-action-history/9"), "schema"),
    (lambda d: d.update(extra=1), "unknown key"),
    (lambda d: d.pop("tasks"), "missing"),
    (lambda d: d["tasks"]["a"].update(n=[3, 1]), "passed, failed, unknown"),
    (lambda d: d["tasks"]["a"].update(n=[3, -1, 0]), "integer between"),
    (lambda d: d["tasks"]["a"].update(n=[True, 1, 0]), "integer between"),
    (lambda d: d["tasks"]["a"].update(n=[10**12, 0, 0]), "integer between"),
    (lambda d: d.update(traces=999), "sum of the tasks"),
    (lambda d: d.update(commit="$(reboot)"), "commit"),
    (lambda d: d.update(run_id="12; rm -rf /"), "run_id"),
    (lambda d: d["overall"].update(success_rate=101), "between 0 and 100"),
    (lambda d: d["overall"].update(tokens={"median": 1, "q": [1] * 3}), "list of 11"),
    (lambda d: d["tasks"].update({"": {"n": [0, 0, 0]}}), "empty or longer"),
    (lambda d: d.update(tasks=[]), "must be an object"),
])
def test_hostile_summaries_are_one_error_naming_the_file(mutate, needle) -> None:
    data = _valid()
    mutate(data)
    with pytest.raises(InputError) as err:
        parse_summary(_bad(data), "runs/evil.json")
    assert str(err.value).startswith("runs/evil.json: ")
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("raw, needle", [
    (b'{"schema": "kalibra-action-history/1", "schema": 1}', "duplicate key"),
    (b'{"traces": NaN}', "NaN is not a number"),
    (b"[" * 200_000, "nested too deeply"),
    (b"\xff\xfe", "not UTF-8"),
    (b"{", "not valid JSON"),
])
def test_malformed_json_is_one_error(raw: bytes, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_summary(raw, "x.json")


def test_size_and_task_count_are_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (HISTORY_MAX_BYTES + 1))
    with pytest.raises(InputError, match="larger than"):
        read_summary(big)
    data = _valid()
    data["tasks"] = {f"t{i}": {"n": [0, 0, 0]} for i in range(HISTORY_MAX_TASKS + 1)}
    data["traces"] = 0
    with pytest.raises(InputError, match="more than"):
        parse_summary(_bad(data), "x.json")


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    import os
    fifo = tmp_path / "h.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_summary(fifo)
