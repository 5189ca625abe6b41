"""The native reader registry, proved with a made-up binary format read into both pipelines.

The "toy" format: a binary header, then `task;epoch;score;in;out;ms` records. A record is one flat trace
(the flat toy reader) or one OTel GenAI span of the trace `task/epoch` (the span toy reader), so a trace
may be split across files. The expected numbers are computed here from the records themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces import registry
from kalibra_action.traces.convert import convert_lines
from kalibra_action.traces.load import load_population
from kalibra_action.traces.registry import ReadOptions, reader_error
from kalibra_action.traces.source import TraceFile
from tests.fixtures.cli import call

MAGIC = b"TOY\x00\xff\xfe"  # not UTF-8: the file must never reach the JSON Lines reader


def _records(tf: TraceFile) -> Iterator[tuple[str, list[str]]]:
    data = tf.path.read_bytes()
    for n, raw in enumerate(data[len(MAGIC):].decode("ascii").splitlines(), 1):
        fields = raw.split(";")
        if len(fields) != 6:
            raise reader_error(tf, f"record {n}", f"expected 6 fields, got {len(fields)}")
        yield f"record {n}", fields


def _outcome(score: str, options: ReadOptions) -> str:
    threshold = 1.0 if options.score_threshold is None else options.score_threshold
    return "success" if float(score) >= threshold else "failure"


def _flat_objects(tf: TraceFile, options: ReadOptions, warnings: list[str]):
    for where, (task, epoch, score, tin, tout, ms) in _records(tf):
        yield where, {"trace_id": f"{task}__run__{epoch}", "outcome": _outcome(score, options),
                      "input_tokens": int(tin), "output_tokens": int(tout), "duration_s": int(ms) / 1000,
                      "metadata": {"epoch": int(epoch)}}


def _span_objects(tf: TraceFile, options: ReadOptions, warnings: list[str]):
    for n, (where, (task, epoch, _score, tin, tout, ms)) in enumerate(_records(tf)):
        start = 1_700_000_000_000_000_000 + n
        yield where, {"context": {"trace_id": f"{task}__run__{epoch}", "span_id": f"{tf.name}-{n}"},
                      "name": "chat", "start_time": start, "end_time": start + int(ms) * 1_000_000,
                      "attributes": {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": int(tin),
                                     "gen_ai.usage.output_tokens": int(tout)}}


def _sniff(tf: TraceFile, head: bytes) -> bool:
    return head.startswith(MAGIC)


FLAT_TOY = SimpleNamespace(NAME="toy", PIPELINE="flat", sniff=_sniff, objects=_flat_objects)
SPAN_TOY = SimpleNamespace(NAME="toyspans", PIPELINE="otel-genai", sniff=_sniff, objects=_span_objects)

RECORDS = {
    "base.toy": ["t1;1;1.0;10;5;1500", "t1;2;0.0;12;6;2500", "t2;1;0.9;7;3;500", "t2;2;1;8;4;750"],
    "cur.toy": ["t1;1;1;11;5;1000", "t2;1;1;9;9;250", "t3;1;0.2;1;1;100"],
}


def write_toy(path: Path, records: list[str]) -> Path:
    path.write_bytes(MAGIC + "\n".join(records).encode("ascii") + b"\n")
    return path


@pytest.fixture
def toy_files(tmp_path: Path) -> dict[str, Path]:
    return {name: write_toy(tmp_path / name, records) for name, records in RECORDS.items()}


def expected(records: list[str], threshold: float = 1.0) -> dict[str, tuple[int, int]]:
    """Per task (passes, traces), straight from the records."""
    out: dict[str, tuple[int, int]] = {}
    for rec in records:
        task, _epoch, score, *_ = rec.split(";")
        k, n = out.get(task, (0, 0))
        out[task] = (k + (float(score) >= threshold), n + 1)
    return out


def per_task(pop) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for code, outcome in zip(pop.task, pop.outcome, strict=True):
        task = pop.task_names[code]
        k, n = out.get(task, (0, 0))
        out[task] = (k + int(outcome == 1), n + 1)
    return out


def test_a_native_file_is_sniffed_and_read_into_the_flat_pipeline(toy_files: dict[str, Path]) -> None:
    records = RECORDS["base.toy"]
    with registry.register(FLAT_TOY):
        pop = load_population([str(toy_files["base.toy"])], label="b")
    assert pop.format == "toy"
    assert per_task(pop) == expected(records)
    fields = [r.split(";") for r in records]
    assert list(pop.input_tokens) == [float(f[3]) for f in fields]
    assert list(pop.output_tokens) == [float(f[4]) for f in fields]
    assert list(pop.duration) == pytest.approx([int(f[5]) / 1000 for f in fields])


def test_read_options_reach_the_reader(toy_files: dict[str, Path]) -> None:
    with registry.register(FLAT_TOY):
        pop = load_population([str(toy_files["base.toy"])], label="b",
                              options=ReadOptions(score_threshold=0.5))
    assert per_task(pop) == expected(RECORDS["base.toy"], threshold=0.5)


def test_span_pipeline_groups_a_trace_split_across_native_files(tmp_path: Path) -> None:
    first = write_toy(tmp_path / "a.toy", ["t1;1;1;10;5;100", "t2;1;1;3;3;100"])
    second = write_toy(tmp_path / "b.toy", ["t1;1;1;20;7;100"])  # a second span of trace t1__run__1
    with registry.register(SPAN_TOY):
        pop = load_population([str(first), str(second)], label="b")
    assert pop.format == "toyspans"
    assert len(pop) == 2
    assert list(pop.n_spans) == [2, 1]
    assert list(pop.input_tokens) == [30.0, 3.0]
    assert list(pop.output_tokens) == [12.0, 3.0]


def test_native_and_jsonl_files_in_one_side(toy_files: dict[str, Path], tmp_path: Path) -> None:
    flat = tmp_path / "more.jsonl"
    flat.write_text(json.dumps({"trace_id": "t9__run__1", "outcome": "success"}) + "\n")
    with registry.register(FLAT_TOY):
        pop = load_population([str(toy_files["cur.toy"]), str(flat)], label="c")
    assert pop.format == "mixed"
    assert per_task(pop) == {**expected(RECORDS["cur.toy"]), "t9": (1, 1)}


def test_errors_name_the_file_and_the_readers_location(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_toy(tmp_path / "bad.toy", ["t1;1;1;10;5;100", "t1;2;1;10"])
    write_toy(tmp_path / "cur.toy", RECORDS["cur.toy"])
    with registry.register(FLAT_TOY), pytest.raises(InputError) as exc:
        load_population(["bad.toy"], label="b", base_dir=tmp_path)
    assert str(exc.value) == "bad.toy: record 2: expected 6 fields, got 4"
    monkeypatch.chdir(tmp_path)
    with registry.register(SPAN_TOY):
        code, out, err = call("compare", "bad.toy", "cur.toy", "-q")
    assert (code, out) == (2, "")
    assert err == "kalibra-action: error: bad.toy: record 2: expected 6 fields, got 4\n"


def test_a_reader_that_yields_a_non_object_is_an_input_error(tmp_path: Path) -> None:
    path = write_toy(tmp_path / "x.toy", ["t1;1;1;1;1;1"])
    broken = SimpleNamespace(NAME="broken", PIPELINE="flat", sniff=_sniff,
                             objects=lambda tf, options, warnings: iter([("item 0", ["not", "a dict"])]))
    with registry.register(broken), pytest.raises(InputError, match=r"item 0: the broken reader made a list"):
        load_population([str(path)], label="b")


def test_without_the_reader_the_file_is_bad_input_not_traces(toy_files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        load_population([str(toy_files["base.toy"])], label="b")


def test_conversion_to_jsonl_reads_back_to_the_same_numbers(toy_files: dict[str, Path],
                                                            tmp_path: Path) -> None:
    for reader in (FLAT_TOY, SPAN_TOY):
        with registry.register(reader):
            native = load_population([str(toy_files["base.toy"])], label="b")
            converted = tmp_path / f"{reader.NAME}.jsonl"
            converted.write_text("".join(convert_lines([str(toy_files["base.toy"])])))
        again = load_population([str(converted)], label="b")
        assert again.format == reader.PIPELINE
        assert per_task(again) == per_task(native)
        for column in ("input_tokens", "output_tokens", "duration", "n_spans"):
            np.testing.assert_array_equal(getattr(again, column), getattr(native, column))



def test_cli_convert_and_compare_flags_reach_the_reader(toy_files: dict[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with registry.register(FLAT_TOY):
        code, out, _ = call("convert", "base.toy", "--score-threshold", "0.5")
        assert code == 0
        outcomes = [json.loads(line)["outcome"] for line in out.splitlines()]
        assert outcomes == ["success", "failure", "success", "success"]
        code, out, err = call("compare", "base.toy", "cur.toy", "--trace-format", "toy", "--format", "json",
                              "--resamples", "200", "-q")
        assert code == 0, err
        assert json.loads(out)["baseline"]["format"] == "toy"
    code, _, err = call("compare", "base.toy", "cur.toy", "--trace-format", "toy")
    assert code == 2 and "invalid choice: 'toy'" in err


def test_config_format_and_read_options_come_from_the_registry(toy_files: dict[str, Path], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kalibra.yml").write_text("baseline: {path: base.toy, format: toy}\n"
                                          "current: {path: cur.toy, format: toy,"
                                          " read: {score_threshold: 0.1}}\n"
                                          "read: {score_threshold: 0.5}\n")
    with registry.register(FLAT_TOY):
        code, out, err = call("compare", "--format", "json", "--resamples", "200", "-q")
    assert code == 0, err
    rates = json.loads(out)["metrics"]["success_rate"]
    passes = {side: sum(k for k, _ in expected(RECORDS[name], threshold).values())
              for side, name, threshold in (("baseline", "base.toy", 0.5), ("current", "cur.toy", 0.1))}
    assert rates["baseline"]["successes"] == passes["baseline"]  # the top-level read: option
    assert rates["current"]["successes"] == passes["current"]  # the source's read: wins over it
    code, _, err = call("compare", "--format", "json", "-q")
    assert code == 2 and "unknown trace format 'toy'" in err


def test_read_options_are_checked_in_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kalibra.yml").write_text("baseline: {path: a.jsonl}\ncurrent: {path: b.jsonl}\n"
                                          "read:\n  duration_unit: hours\n")
    code, _, err = call("compare")
    assert code == 2
    assert "kalibra.yml:4: read.duration_unit: must be one of s, ms, us, ns" in err
