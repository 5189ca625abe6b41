"""A directory given as a side: the trace files directly in it (JSON Lines by name, or claimed by a
native reader), never its subdirectories, hidden files or other files; confinement as for globs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kalibra_action.errors import InputError
from kalibra_action.paths import make_roots
from kalibra_action.traces import registry
from kalibra_action.traces.load import load_population

ROOT = Path(__file__).resolve().parents[2]
MAGIC = b"DIRTOY\x00\xff"  # not UTF-8: only a reader may read it


def rows(prefix: str, n: int) -> str:
    return "".join(json.dumps({"trace_id": f"{prefix}{i}", "outcome": "success", "cost": 1.0}) + "\n"
                   for i in range(n))


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a.jsonl").write_text(rows("a", 3))
    with gzip.open(d / "b.jsonl.gz", "wt") as f:
        f.write(rows("b", 2))
    (d / "c.ndjson").write_text(rows("c", 1))
    (d / "notes.txt").write_text("not traces\n")
    (d / "logs.json").write_text(json.dumps({"index": ["a.jsonl"]}))  # an index file, as Inspect writes
    (d / ".hidden.jsonl").write_text(rows("h", 5))
    (d / "sub").mkdir()
    (d / "sub" / "deep.jsonl").write_text(rows("d", 7))
    (d / "run.toy").write_bytes(MAGIC + b"t1;1\nt2;0\n")
    return d


def ids(pop) -> list[str]:
    return sorted(pop.trace_id)


def test_directory_reads_the_jsonl_files_directly_in_it(logdir: Path) -> None:
    pop = load_population([str(logdir)], label="b")
    assert ids(pop) == ["a0", "a1", "a2", "b0", "b1", "c0"]
    assert pop.files == tuple(str(logdir / n) for n in ("a.jsonl", "b.jsonl.gz", "c.ndjson"))


def _toy_reader() -> SimpleNamespace:
    def sniff(tf, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def objects(tf, options, warnings):
        text = tf.path.read_bytes()[len(MAGIC):].decode()
        for n, line in enumerate(text.splitlines(), 1):
            task, ok = line.split(";")
            yield f"record {n}", {"trace_id": f"toy-{task}", "outcome": "success" if ok == "1" else "failure"}

    return SimpleNamespace(NAME="dirtoy", PIPELINE="flat", sniff=sniff, objects=objects)


def test_directory_includes_the_files_a_native_reader_claims(logdir: Path) -> None:
    with registry.register(_toy_reader()):
        pop = load_population([str(logdir)], label="b")
    assert ids(pop) == ["a0", "a1", "a2", "b0", "b1", "c0", "toy-t1", "toy-t2"]
    assert sorted(pop.outcome.tolist()) == [0, 1, 1, 1, 1, 1, 1, 1]


def test_directory_and_glob_of_the_same_files_dedupe(logdir: Path) -> None:
    pop = load_population([str(logdir), str(logdir / "*.jsonl")], label="b")
    assert ids(pop) == ["a0", "a1", "a2", "b0", "b1", "c0"]


def test_recursive_needs_a_glob(logdir: Path) -> None:
    pop = load_population([str(logdir / "**" / "*.jsonl")], label="b")
    assert "d0" in ids(pop) and "h0" not in ids(pop)


def test_a_directory_without_trace_files_is_an_error(tmp_path: Path) -> None:
    d = tmp_path / "empty"
    d.mkdir()
    (d / "logs.json").write_text("{}")
    (d / "sub").mkdir()
    (d / "sub" / "x.jsonl").write_text(rows("x", 1))
    with pytest.raises(InputError, match=r"empty: no trace files in this directory.*\*\*"):
        load_population([str(d)], label="b", base_dir=tmp_path)


def test_a_symlink_in_a_directory_to_outside_the_roots_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "ok.jsonl").write_text(rows("o", 2))
    secret = tmp_path / "secret.jsonl"
    secret.write_text(rows("s", 9))
    os.symlink(secret, ws / "logs" / "zz.jsonl")
    with pytest.raises(InputError, match=r"zz\.jsonl: is a symbolic link to .*outside"):
        load_population(["logs"], label="b", base_dir=ws, roots=make_roots([ws]))


def test_a_non_trace_symlink_to_outside_is_refused_before_it_is_sniffed(tmp_path: Path) -> None:
    """A reader's sniff reads the file: a link out of the workspace must be refused before that."""
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "ok.jsonl").write_text(rows("o", 2))
    os.symlink("/etc/hostname", ws / "logs" / "host.txt")
    with pytest.raises(InputError, match=r"host\.txt: is a symbolic link"):
        load_population(["logs"], label="b", base_dir=ws, roots=make_roots([ws]))


def test_a_symlinked_directory_leading_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jsonl").write_text(rows("x", 2))
    ws = tmp_path / "ws"
    ws.mkdir()
    os.symlink(outside, ws / "logs")
    with pytest.raises(InputError, match="outside"):
        load_population(["logs"], label="b", base_dir=ws, roots=make_roots([ws]))


def test_cli_compares_two_directories(tmp_path: Path) -> None:
    for side, n in (("base", 4), ("cur", 5)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "part-1.jsonl").write_text(rows(f"{side}-", n))
        (tmp_path / side / "README.md").write_text("# not traces\n")
    proc = subprocess.run([sys.executable, "-m", "kalibra_action", "compare", "base", "cur", "--format",
                           "json", "-q", "--root", "."], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["baseline"]["count"], data["current"]["count"]) == (4, 5)
