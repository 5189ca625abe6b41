"""Several files as one side: globs, .gz, names relative to base_dir, per-file formats."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces.load import load_population


def rows(prefix: str, n: int) -> str:
    return "".join(json.dumps({"trace_id": f"{prefix}{i}", "outcome": "success"}) + "\n" for i in range(n))


def test_globs_are_sorted_deduplicated_and_relative(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "b.jsonl").write_text(rows("b", 2))
    (tmp_path / "runs" / "a.jsonl").write_text(rows("a", 3))
    pop = load_population(["runs/*.jsonl", "runs/a.jsonl"], label="b", base_dir=tmp_path)
    assert pop.files == ("runs/a.jsonl", "runs/b.jsonl")
    assert list(pop.trace_id) == ["a0", "a1", "a2", "b0", "b1"]
    assert pop.format == "flat"


def test_recursive_glob_and_absolute_path_outside_base(tmp_path: Path) -> None:
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "deep.jsonl").write_text(rows("d", 1))
    pop = load_population(["**/*.jsonl"], label="b", base_dir=tmp_path)
    assert pop.files == ("x/y/deep.jsonl",)
    other = tmp_path / "elsewhere"
    other.mkdir()
    pop = load_population([str(tmp_path / "x/y/deep.jsonl")], label="b", base_dir=other)
    assert pop.files == (str(tmp_path / "x/y/deep.jsonl"),)


def test_default_base_is_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.jsonl").write_text(rows("t", 1))
    monkeypatch.chdir(tmp_path)
    assert load_population(["t.jsonl"], label="b").files == ("t.jsonl",)


def test_gzip_files(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "t.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\ufeff" + rows("g", 4))
    pop = load_population(["*.gz"], label="b", base_dir=tmp_path)
    assert len(pop) == 4 and pop.files == ("t.jsonl.gz",)
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"bad\.jsonl\.gz: cannot read"):
        load_population(["bad.jsonl.gz"], label="b", base_dir=tmp_path)


def test_mixed_formats_and_duplicates_across_files(tmp_path: Path, examples: Path) -> None:
    shutil.copy(examples / "otel_genai/traces.jsonl", tmp_path / "otel.jsonl")
    (tmp_path / "flat.jsonl").write_text(rows("f", 3))
    (tmp_path / "flat2.jsonl").write_text(rows("f", 2) + rows("g", 1))
    pop = load_population(["flat.jsonl", "otel.jsonl", "flat2.jsonl"], label="b", base_dir=tmp_path)
    assert pop.format == "mixed"
    assert len(pop) == 3 + 200 + 1
    assert pop.total_before_filter == len(pop)
    assert any("2 trace(s) repeat an earlier trace id" in w for w in pop.warnings)


def test_span_traces_split_across_files_are_joined(tmp_path: Path, examples: Path) -> None:
    lines = (examples / "otel_genai/traces.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "part1.jsonl").write_text("".join(lines[::2]))
    (tmp_path / "part2.jsonl").write_text("".join(lines[1::2]))
    whole = load_population([str(examples / "otel_genai/traces.jsonl")], label="w")
    split = load_population(["part*.jsonl"], label="s", base_dir=tmp_path)
    assert len(split) == len(whole) == 200
    assert sorted(split.tokens.tolist()) == sorted(whole.tokens.tolist())
    assert split.warnings == ()


def test_format_override(tmp_path: Path, examples: Path) -> None:
    path = str(examples / "otel_genai/traces.jsonl")
    as_flat = load_population([path], label="b", fmt="flat")  # every span line read as a trace
    assert as_flat.format == "flat" and len(as_flat) == 400
    as_otel = load_population([path], label="b", fmt="otel-genai")
    assert len(as_otel) == 200


def test_empty_file_among_others_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(rows("a", 1))
    (tmp_path / "b.jsonl").write_text("")
    pop = load_population(["*.jsonl"], label="b", base_dir=tmp_path)
    assert len(pop) == 1 and "b.jsonl: no traces in this file" in pop.warnings
