"""tests/data/formats/: every file written by the real tools is listed in VERSIONS.json and parses.

Standard library only: JSON documents, JSON lines, concatenated pretty objects (the OTel console exporter),
and Inspect `.eval` logs, whose members are Zstandard-compressed (checked by name, not decompressed).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

FORMATS = Path(__file__).resolve().parents[1] / "data" / "formats"
VERSIONS = FORMATS / "VERSIONS.json"
NOT_FIXTURES = {"VERSIONS.json", "README.md"}
MAX_FILE = 200_000
MAX_TOTAL = 3_500_000  # ~2.9 MB today; Inspect indents its .json logs (13 KB a sample)
ZIP_ZSTD = 93  # zipfile compress_type of a Zstandard member


def listed() -> dict[str, str]:
    """file (relative to tests/data/formats) → the tool whose entry lists it."""
    tools = json.loads(VERSIONS.read_text())["tools"]
    return {path: tool for tool, entry in tools.items() for path in entry["files"]}


def on_disk() -> set[str]:
    return {p.relative_to(FORMATS).as_posix() for p in FORMATS.rglob("*")
            if p.is_file() and p.relative_to(FORMATS).as_posix() not in NOT_FIXTURES}


def concatenated(text: str) -> list[object]:
    """Pretty JSON objects written one after another (no separator but whitespace)."""
    decoder, pos, items = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return items
        item, pos = decoder.raw_decode(text, pos)
        items.append(item)


def test_versions_lists_exactly_the_files_on_disk() -> None:
    files = listed()
    assert set(files) == on_disk()
    assert files, "no fixture files listed"


@pytest.mark.parametrize("tool", sorted(json.loads(VERSIONS.read_text())["tools"]))
def test_each_tool_entry_says_how_it_was_made(tool: str) -> None:
    entry = json.loads(VERSIONS.read_text())["tools"][tool]
    assert entry["packages"] and all(re.fullmatch(r"\d+(\.\d+)+\S*", v) for v in entry["packages"].values())
    assert entry.get("python") or entry.get("node")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["date"])
    assert entry["command"] and entry["how"]


def test_files_are_small() -> None:
    sizes = {name: (FORMATS / name).stat().st_size for name in on_disk()}
    assert {name: size for name, size in sizes.items() if size > MAX_FILE} == {}
    assert sum(sizes.values()) < MAX_TOTAL


@pytest.mark.parametrize("name", sorted(on_disk()))
def test_file_parses_with_the_standard_library(name: str) -> None:
    path = FORMATS / name
    if name.endswith(".eval"):
        with zipfile.ZipFile(path) as log:
            members = log.namelist()
            assert "_journal/start.json" in members
            if "/crashed/" not in name:  # a killed eval never wrote its header and summaries
                assert {"header.json", "summaries.json"} <= set(members)
            assert any(re.fullmatch(r"samples/.+_epoch_\d+\.json", m) for m in members)
            assert {info.compress_type for info in log.infolist()} == {ZIP_ZSTD}
    elif name.endswith(".jsonl"):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    elif name.endswith(".json"):
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict | list)
    elif name.endswith(".console.txt"):
        items = concatenated(path.read_text(encoding="utf-8"))
        assert items and all(isinstance(item, dict) and "context" in item for item in items)
    elif name.endswith(".eval-set-id"):
        assert path.read_text(encoding="utf-8").strip()
    else:
        pytest.fail(f"{name}: no parser for this kind of fixture file")
