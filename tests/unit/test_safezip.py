"""safe_extract on real zip files: what it writes, and each unsafe archive it refuses (exit 2)."""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from kalibra_action.errors import EXIT_INPUT_ERROR, InputError
from kalibra_action.github.safezip import safe_extract

MB = 1024 * 1024


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """tmp_path/src holds the zip, tmp_path/box/out is the destination; tmp_path/box must stay that way."""
    (tmp_path / "src").mkdir()
    (tmp_path / "box").mkdir()
    return tmp_path


def extract(box: Path, entries, *, max_bytes: int = 10 * MB, max_files: int = 100) -> list[Path]:
    zp = make_zip(box / "src" / "a.zip", entries)
    return safe_extract(zp, box / "box" / "out", max_bytes=max_bytes, max_files=max_files)


def refused(box: Path, entries, match: str, **kw) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        extract(box, entries, **kw)
    assert info.value.exit_code == EXIT_INPUT_ERROR
    assert "\n" not in str(info.value)
    assert tree(box / "box") in (["out"], [])  # nothing left, nothing outside the destination
    assert tree(box / "src") == ["a.zip"]
    return info.value


def test_extracts_nested_files_and_returns_them(box):
    out = extract(box, [("a.jsonl", b"1\n"), ("dir/", b""), ("dir/sub/b.jsonl.gz", b"22"), ("./c.txt", b"3")])
    dest = box / "box" / "out"
    rel = [p.relative_to(dest.resolve()).as_posix() for p in out]
    assert rel == ["a.jsonl", "dir/sub/b.jsonl.gz", "c.txt"]
    assert (dest / "dir" / "sub" / "b.jsonl.gz").read_bytes() == b"22"


@pytest.mark.parametrize("name", ["../x", "a/../../x", "..\\x", "a/../b/../../x"])
def test_zip_slip_is_refused(box, name):
    refused(box, [("ok.jsonl", b"1"), (name, b"evil")], "'..'")
    assert not (box / "box" / "x").exists() and not (box / "x").exists()


@pytest.mark.parametrize("name", ["/tmp/kalibra-evil", "/x", "C:/x", "c:\\x"])
def test_absolute_path_is_refused(box, name):
    refused(box, [(name, b"evil")], "absolute path")
    assert not Path("/tmp/kalibra-evil").exists()


def test_symlink_entry_is_refused(box):
    refused(box, [("ok.jsonl", b"1"), (symlink_info("link.jsonl"), b"/etc/passwd")], "symbolic link")


def test_other_file_types_are_refused(box):
    info = zipfile.ZipInfo("fifo")
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    refused(box, [(info, b"")], "not a regular file")


def test_zip_bomb_over_the_cap_is_refused(box):
    err = refused(box, [("bomb.jsonl", b"\0" * (5 * MB))], "limit of 1048576", max_bytes=MB)
    assert (box / "src" / "a.zip").stat().st_size < 50_000  # it really is a bomb: tiny compressed
    assert err.file == "a.zip"


def test_many_entries_summing_over_the_cap_are_refused(box):
    refused(box, [(f"f{i}.jsonl", b"x" * 1000) for i in range(20)], "limit", max_bytes=10_000)


def lie_about_size(zp: Path, declared: int, entry: int = 0) -> Path:
    """Rewrite the uncompressed size of entry number `entry` in the central directory (what zipfile reads)."""
    raw = bytearray(zp.read_bytes())
    at = -1
    for _ in range(entry + 1):
        at = raw.index(b"PK\x01\x02", at + 1)
    struct.pack_into("<I", raw, at + 24, declared)
    zp.write_bytes(bytes(raw))
    assert zipfile.ZipFile(zp).infolist()[entry].file_size == declared
    return zp


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_header_that_lies_about_its_size_meets_the_cap(box, method):
    # 5 MiB declared as 10 bytes: zipfile alone would stop after 10 bytes and fail on the CRC; the cap must
    # be what refuses it, having counted the decompressed bytes itself (one byte past the 1 MiB limit).
    zp = box / "src" / "a.zip"
    with zipfile.ZipFile(zp, "w", method) as zf:
        zf.writestr("bomb.jsonl", b"\0" * (5 * MB))
    lie_about_size(zp, 10)
    with pytest.raises(InputError, match="expands to more than the limit of 1048576 bytes"):
        safe_extract(zp, box / "box" / "out", max_bytes=MB, max_files=10)
    assert tree(box / "box") == ["out"]


def test_the_cap_counts_the_bytes_of_earlier_entries(box):
    # 600 kB told truly, then 600 kB declared as 10 bytes: the declared sum (600,010) is under 1 MiB, the
    # second entry alone is too; only the running count over both entries passes the cap
    zp = make_zip(box / "src" / "a.zip", [("a.jsonl", b"\0" * 600_000), ("b.jsonl", b"\0" * 600_000)])
    lie_about_size(zp, 10, entry=1)
    with pytest.raises(InputError, match="expands to more than the limit of 1048576 bytes"):
        safe_extract(zp, box / "box" / "out", max_bytes=MB, max_files=10)
    assert tree(box / "box") == ["out"]


@pytest.mark.parametrize("declared", [10, 5000])
def test_an_entry_that_does_not_hold_its_declared_size_is_refused(box, declared):
    # under the cap either way: 1000 bytes declared as 10 (zipfile would truncate, then fail its CRC) or as
    # 5000 (zipfile would write the 1000 bytes and say nothing)
    zp = lie_about_size(make_zip(box / "src" / "a.zip", [("a.jsonl", b"x" * 1000)]), declared)
    with pytest.raises(InputError, match=f"entry 'a.jsonl' declares {declared} bytes but holds 1000") as info:
        safe_extract(zp, box / "box" / "out", max_bytes=MB, max_files=10)
    assert info.value.file == "a.zip"
    assert tree(box / "box") == ["out"]


def test_too_many_files_are_refused(box):
    refused(box, [(f"f{i}.jsonl", b"x") for i in range(11)], "11 entries, more than the limit of 10",
            max_files=10)


def test_exactly_the_limits_pass(box):
    out = extract(box, [(f"f{i}.jsonl", b"x" * 100) for i in range(10)], max_bytes=1000, max_files=10)
    assert len(out) == 10


def test_files_written_before_an_error_are_removed(box):
    zp = make_zip(box / "src" / "a.zip", [("d/a.jsonl", b"1" * 100), ("d/b.jsonl", b"\0" * (2 * MB))])
    lie_about_size(zp, 10, entry=1)
    with pytest.raises(InputError, match="limit of 1048576"):
        safe_extract(zp, box / "box" / "out", max_bytes=MB, max_files=10)
    assert tree(box / "box") == ["out"]


def test_duplicate_entries_are_refused(box):
    with pytest.warns(UserWarning, match="Duplicate name"):
        zp = make_zip(box / "src" / "a.zip", [("a.jsonl", b"1"), ("a.jsonl", b"2")])
    with pytest.raises(InputError, match=r"duplicate entry 'a\.jsonl'"):
        safe_extract(zp, box / "box" / "out", max_bytes=MB, max_files=10)


def test_not_a_zip_is_an_input_error(box):
    zp = box / "src" / "a.zip"
    zp.write_bytes(b"<html>not a zip</html>")
    with pytest.raises(InputError, match="cannot extract the archive"):
        safe_extract(zp, box / "box" / "out", max_bytes=MB, max_files=10)


def test_encrypted_entry_is_refused(box):
    zp = make_zip(box / "src" / "a.zip", [("a.jsonl", b"1")])
    raw = bytearray(zp.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.index(sig)
        struct.pack_into("<H", raw, at + off, struct.unpack_from("<H", raw, at + off)[0] | 1)
    zp.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="encrypted"):
        safe_extract(zp, box / "box" / "out", max_bytes=MB, max_files=10)
