"""Hostile and broken Inspect AI logs: each is one exit-2 error line naming the file and "Inspect AI log".

The .eval files are written here byte by byte (local headers, central directory, end record), so that a
member can lie about its size, claim Zstandard and hold something else, or be cut short, which zipfile's
writer would not allow. Every case runs the CLI in a subprocess, the path a user's file takes.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import zstandard

GOOD = Path(__file__).resolve().parents[1] / "data" / "formats" / "inspect" / "baseline.eval"
ZSTD = 93
HEADER = {"version": 2, "status": "success", "eval": {"eval_id": "e1", "task": "t", "model": "m/x-1.0",
                                                      "scorers": [{"name": "match"}]}}


def sample(sid: str = "a", epoch: int = 1, value: object = "C", **extra) -> dict:
    return {"id": sid, "epoch": epoch, "scores": {"match": {"value": value}},
            "model_usage": {"m/x-1.0": {"input_tokens": 10, "output_tokens": 2, "total_cost": 0.1}},
            "total_time": 1.5, **extra}


def member(name: str, data: bytes, *, method: int = ZSTD, payload: bytes | None = None,
           size: int | None = None, crc: int | None = None) -> tuple:
    """(name, stored bytes, method, declared size, CRC): Zstandard-compressed unless a payload is given."""
    if payload is None:
        payload = zstandard.ZstdCompressor().compress(data) if method == ZSTD else data
    return (name, payload, method, len(data) if size is None else size,
            zlib.crc32(data) if crc is None else crc)


def write_zip(path: Path, members: list[tuple]) -> Path:
    """A ZIP written by hand, declaring exactly what each member tuple says."""
    body, central = bytearray(), bytearray()
    for name, payload, method, size, crc in members:
        raw = name.encode()
        offset = len(body)
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 63, 0, method, 0, 0x21, crc, len(payload), size,
                            len(raw), 0) + raw + payload
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 0x33F, 63, 0, method, 0, 0x21, crc,
                               len(payload), size, len(raw), 0, 0, 0, 0, 0o100644 << 16, offset) + raw
    count = len(members)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    path.write_bytes(bytes(body + central + end))
    return path


def eval_log(path: Path, samples: list, **overrides) -> Path:
    """A finished .eval log: header.json and summaries.json, each member replaceable."""
    members = {"header.json": member("header.json", json.dumps(HEADER).encode()),
               "summaries.json": member("summaries.json", json.dumps(samples).encode())}
    members.update(overrides)
    return write_zip(path, list(members.values()))


def run(bad: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kalibra_action", "compare", str(bad), str(GOOD), *flags],
                          capture_output=True, text=True, timeout=120)


def assert_clear_error(result: subprocess.CompletedProcess, bad: Path, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr
    assert str(bad) in errors[0] and "Inspect AI log" in errors[0], errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_the_hand_written_log_itself_reads(tmp_path: Path) -> None:
    """The builder makes logs the reader accepts: the broken variants below differ in one thing only."""
    path = eval_log(tmp_path / "ok.eval", [sample("a"), sample("b", value="I")])
    result = run(path, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["baseline"]["count"] == 2


def test_a_zip_bomb_member_stops_at_the_limit(tmp_path: Path) -> None:
    """8 MiB of spaces in a few hundred bytes, declared as 20 bytes; the member limit is 1 MiB."""
    bomb = b"[" + b" " * (8 << 20) + b"]"
    path = eval_log(tmp_path / "bomb.eval", [], **{"summaries.json": member(
        "summaries.json", bomb, size=20)})
    assert path.stat().st_size < 10_000
    assert_clear_error(run(path, "--limit", "max_line_bytes=1048576"), path, "unpacks to more than")


def test_a_member_declaring_more_than_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    bomb = b"[" + b" " * (2 << 20) + b"]"
    path = eval_log(tmp_path / "big.eval", [], **{"summaries.json": member("summaries.json", bomb)})
    assert_clear_error(run(path, "--limit", "max_line_bytes=1048576"), path, "summaries.json",
                       "more than the limit")


@pytest.mark.parametrize("declared", [5, 10_000])
def test_a_member_lying_about_its_size(tmp_path: Path, declared: int) -> None:
    data = json.dumps([sample()]).encode()
    path = eval_log(tmp_path / "lying.eval", [], **{"summaries.json": member(
        "summaries.json", data, size=declared)})
    assert_clear_error(run(path), path, "summaries.json", f"declares {declared:,} bytes but holds")


def test_a_member_that_is_not_zstandard(tmp_path: Path) -> None:
    data = json.dumps([sample()]).encode()
    path = eval_log(tmp_path / "notzstd.eval", [], **{"summaries.json": member(
        "summaries.json", data, payload=data)})
    assert_clear_error(run(path), path, "summaries.json", "not valid Zstandard data")


def test_a_member_with_a_wrong_crc(tmp_path: Path) -> None:
    data = json.dumps([sample()]).encode()
    path = eval_log(tmp_path / "crc.eval", [], **{"summaries.json": member(
        "summaries.json", data, crc=zlib.crc32(data) ^ 1)})
    assert_clear_error(run(path), path, "CRC")


def test_a_zip_that_is_not_an_inspect_log(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "other.zip", [member("readme.txt", b"hello", method=0)])
    assert_clear_error(run(path), path, "not an Inspect log")


def test_an_eval_file_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "text.eval"
    path.write_text('{"samples": []}\n')
    assert_clear_error(run(path), path, "ZIP archive")


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.98])
def test_a_truncated_eval_log(tmp_path: Path, keep: float) -> None:
    data = GOOD.read_bytes()
    path = tmp_path / "cut.eval"
    path.write_bytes(data[:int(len(data) * keep)])
    assert_clear_error(run(path), path, "truncated")


def test_a_member_cut_short_inside_an_intact_directory(tmp_path: Path) -> None:
    """A Zstandard frame cut in half inside an otherwise intact ZIP (sizes and CRC as declared)."""
    data = json.dumps([sample()] * 50).encode()
    good = member("summaries.json", data)
    cut = (good[0], good[1][: len(good[1]) // 2], ZSTD, good[3], good[4])
    path = eval_log(tmp_path / "short.eval", [], **{"summaries.json": cut})
    assert_clear_error(run(path), path, "summaries.json")


def test_deep_json_in_a_member(tmp_path: Path) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    path = eval_log(tmp_path / "deep.eval", [], **{"summaries.json": member("summaries.json", deep)})
    assert_clear_error(run(path), path, "nested too deeply")


def test_deep_json_in_a_json_log(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(HEADER)[:-1] + ', "samples": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert_clear_error(run(path), path, "nested too deeply")


def test_a_json_log_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps({**HEADER, "samples": [sample()]}, indent=2)[:-40])
    assert_clear_error(run(path), path, "not valid JSON")


def test_a_json_log_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "header-only.json"
    path.write_text(json.dumps(HEADER, indent=2))
    assert_clear_error(run(path), path, "no samples")


@pytest.mark.parametrize(("bad_sample", "fragment"), [
    ({"epoch": 1, "scores": {}}, "`id`"),
    (sample(epoch="one"), "`epoch`"),
    (sample(epoch=0), "`epoch`"),
    (sample(scores="C"), "`scores`"),
    (sample(model_usage={"m/x": {"input_tokens": "ten"}}), "input_tokens"),
    (sample(model_usage={"m/x": {"input_tokens": -3}}), "input_tokens"),
    (sample(model_usage={"m/x": {"input_tokens": True}}), "input_tokens"),
    (sample(model_usage={"m/x": 12}), "model_usage"),
    (sample(total_time="1.5s"), "total_time"),
    (sample(model_usage={"m/x": {"total_cost": "0.1"}}), "total_cost"),
    ("a sample", "must be an object"),
])
def test_a_sample_with_missing_fields_or_wrong_types(tmp_path: Path, bad_sample: object,
                                                     fragment: str) -> None:
    path = eval_log(tmp_path / "types.eval", [sample("ok"), bad_sample])
    assert_clear_error(run(path), path, "summaries.json[1]", fragment)


def test_a_summaries_member_that_is_not_an_array(tmp_path: Path) -> None:
    path = eval_log(tmp_path / "obj.eval", [], **{"summaries.json": member("summaries.json", b'{"id": 1}')})
    assert_clear_error(run(path), path, "not an array")


def test_a_numeric_score_outside_0_1_needs_a_threshold(tmp_path: Path) -> None:
    path = eval_log(tmp_path / "scale.eval", [sample("a", value=7), sample("b", value=3)])
    assert_clear_error(run(path), path, "outside 0–1", "score-threshold")
    assert run(path, "--score-threshold", "5").returncode == 0


def test_values_that_are_no_verdict_give_no_outcome_and_a_warning(tmp_path: Path) -> None:
    """Never a silent pass: an unknown value is not counted either way, and the report says how many."""
    path = eval_log(tmp_path / "odd.eval", [sample("a"), sample("b", value="maybe"),
                                            sample("c", value=float("nan"))])
    result = run(path, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["metrics"]["success_rate"]["baseline"]["with_outcome"] == 1
    assert any("2 sample(s) have no usable `match` score" in w for w in report["baseline"]["warnings"])
