"""Issue 9 item 8: `inspect` names each file's format and the mapping it uses, `--suggest` proposes
outcome paths (words, booleans, 0/1, scorer letters, 0-1 scores) with counts, and `init` writes a config
matching the detected format that then compares the files as they are."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from kalibra_action.traces import registry
from kalibra_action.traces.inspect import inspect_paths

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ROOT / "tests" / "data" / "formats"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kalibra_action", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                                       "PYTHONPATH": str(ROOT)})


LETTERS = {"a": "CICP", "b": "IINC", "c": "CCCN"}  # Inspect-style scorer values per task, one per epoch


def write_letters(path: Path, cost: float = 0.01) -> Path:
    rows = [{"trace_id": f"{t}-{e}", "sample": {"id": t, "epoch": e}, "scores": {"match": {"value": v}},
             "cost": cost} for t, values in LETTERS.items() for e, v in enumerate(values, 1)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_inspect_json_names_format_mapping_and_outcome_candidates(tmp_path: Path) -> None:
    path = write_letters(tmp_path / "log.jsonl")
    proc = run("inspect", str(path), "--format", "json", "--suggest")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["file_formats"] == {str(path): "flat"}
    assert "outcome" in data["mapping"]["flat"]
    counts = Counter(v for values in LETTERS.values() for v in values)
    shown = data["suggested_outcomes"]["scores.match.value"]
    assert shown.startswith(f"{sum(counts.values())} traces (letters)")
    for letter, n in counts.items():
        assert f"{letter} ×{n}" in shown
    assert data["suggested_outcome_map"] == {"path": "scores.match.value", "pass": ["C", "P"],
                                             "fail": ["I", "N"]}


def test_suggest_proposes_scores_with_a_threshold_and_skips_constants(tmp_path: Path) -> None:
    rows = [{"trace_id": f"t{i}", "grade": [1.0, 0.25, 0.5][i % 3], "flag": 0, "cost": 1} for i in range(9)]
    (tmp_path / "g.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = inspect_paths(["g.jsonl"], base_dir=tmp_path)
    assert list(report.suggested_outcomes) == ["grade"]  # `flag` is always 0: it decides nothing
    assert report.suggested_outcome_map == {"path": "grade", "threshold": 1.0}


def test_inspect_uses_a_native_readers_describe(tmp_path: Path) -> None:
    magic = b"DESCTOY\x00\xff"
    (tmp_path / "x.toy").write_bytes(magic + b"1\n0\n")
    reader = SimpleNamespace(
        NAME="desctoy", PIPELINE="flat", sniff=lambda tf, head: head.startswith(magic),
        objects=lambda tf, options, warnings: iter(
            (f"record {i}", {"trace_id": f"r{i}", "outcome": "success" if v == "1" else "failure"})
            for i, v in enumerate(tf.path.read_bytes()[len(magic):].decode().split())),
        describe=lambda: "task = record number; outcome = 1/0")
    with registry.register(reader):
        report = inspect_paths(["x.toy"], base_dir=tmp_path)
    assert report.file_formats == {"x.toy": "desctoy"}
    assert report.mapping == {"desctoy": "task = record number; outcome = 1/0"}


def test_init_writes_a_config_that_reads_the_files_as_they_are(tmp_path: Path) -> None:
    """`init` on Inspect-style letters: the config it writes maps the outcome, and compare then finds
    the per-task pass counts computed here from the raw values."""
    write_letters(tmp_path / "base.jsonl")
    write_letters(tmp_path / "cur.jsonl", cost=0.011)
    proc = run("init", "--baseline", "base.jsonl", "--current", "cur.jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load((tmp_path / "kalibra.yml").read_text())
    assert config["format"] == "flat"
    assert config["fields"]["outcome"] == {"path": "scores.match.value", "pass": ["C", "P"],
                                           "fail": ["I", "N"]}
    proc = run("compare", "--format", "json", "-q", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    tasks = {t["task_id"]: t["baseline"] for t in
             json.loads(proc.stdout)["metrics"]["trace_breakdown"]["metadata"]["per_task"]}
    want: dict[str, dict[str, int]] = defaultdict(lambda: {"success": 0, "total": 0})
    for task, values in LETTERS.items():
        for v in values:
            want[task]["success"] += v in "CP"
            want[task]["total"] += 1
    assert tasks == dict(want)


@pytest.mark.parametrize(("src", "fmt"), [("phoenix/current.spans-dataframe.jsonl", "phoenix"),
                                          ("otel/current.collector.jsonl", "otlp")])
def test_init_on_a_tool_s_file_pins_its_reader(tmp_path: Path, src: str, fmt: str) -> None:
    (tmp_path / "cur.jsonl").write_bytes((FORMATS / src).read_bytes())
    proc = run("init", "--current", "cur.jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load((tmp_path / "kalibra.yml").read_text())["format"] == fmt


def test_init_without_traces_writes_the_plain_starter(tmp_path: Path) -> None:
    proc = run("init", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load((tmp_path / "kalibra.yml").read_text())
    assert "format" not in config and "fields" not in config
