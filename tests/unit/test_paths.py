"""kalibra_action.paths: confinement, the loop-safe glob, and the write that never follows a symlink."""

from __future__ import annotations

import glob
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalibra_action.errors import InputError
from kalibra_action.paths import confine, glob_paths, make_roots, write_text
from kalibra_action.traces.load import load_population
from kalibra_action.traces.source import resolve_files
from tests.conftest import EXAMPLES, ROOT

DEMO = EXAMPLES / "demo_data"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A regular tree (no links) with hidden names, nesting, and names glob treats specially."""
    root = tmp_path / "tree"
    for rel in ("a.jsonl", "b.jsonl.gz", ".hidden.jsonl", "x/c.jsonl", "x/y/d.jsonl", "x/.h/e.jsonl",
                ".dot/f.jsonl", "x/y/z/g.txt", "br[1].jsonl", "q?.jsonl"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}\n")
    return root


PATTERNS = ["*.jsonl", "**/*.jsonl", "**", "x/**", "x/*/*.jsonl", "**/y/*", ".*", ".*/*", "*/**/*.jsonl",
            "x/**/z/*.txt", "?.jsonl", "[ab].jsonl*", "x/.h/*", "**/.h/*", "nope/*", "x/y/d.jsonl"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_glob_matches_glob_glob_on_a_tree_without_links(tree: Path, pattern: str) -> None:
    expected = sorted(Path(m) for m in glob.glob(str(tree / pattern), recursive=True))
    assert sorted(set(glob_paths(tree / pattern))) == sorted(set(expected))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["*", "**", "x", "y", "?", ".*", "*.jsonl", "[xy]", ".h", "z"]),
                min_size=1, max_size=4))
def test_glob_agrees_with_glob_glob_on_generated_patterns(tree: Path, parts: list[str]) -> None:
    pattern = str(tree.joinpath(*parts))  # glob.glob also yields `D/` for `D/**` when D is missing
    expected = {Path(m) for m in glob.glob(pattern, recursive=True) if os.path.lexists(m)}
    assert set(glob_paths(pattern)) == expected


def test_recursive_glob_does_not_enter_symlinked_directories(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.jsonl").write_text("{}\n")
    for name in ("a", "b", "c"):
        (tmp_path / "d" / name).symlink_to("..", target_is_directory=True)
    assert glob_paths(tmp_path / "d" / "**" / "*.jsonl") == [tmp_path / "d" / "t.jsonl"]


def test_link_loops_cannot_stall_trace_resolution(tmp_path: Path) -> None:
    """Through resolve_files, in a child process with a deadline: on main the walk never ends."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.jsonl").write_text("{}\n")
    for name in ("a", "b"):
        (tmp_path / "d" / name).symlink_to("..", target_is_directory=True)
    code = ("import sys; from pathlib import Path; from kalibra_action.traces.source import resolve_files; "
            "print(len(resolve_files(['d/**/*.jsonl'], Path(sys.argv[1]))))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=20, check=True)
    assert done.stdout.strip() == "1"


def test_single_wildcards_and_literal_parts_follow_links(tmp_path: Path) -> None:
    """`runs/latest/*.jsonl` with `latest` a link to a run directory keeps working."""
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "t.jsonl").write_text("{}\n")
    (tmp_path / "runs" / "latest").symlink_to("r1", target_is_directory=True)
    roots = make_roots([tmp_path])
    [tf] = resolve_files(["runs/latest/*.jsonl"], tmp_path, roots)
    assert tf.path == (tmp_path / "runs" / "r1" / "t.jsonl").resolve()
    assert [p.name for p in glob_paths(tmp_path / "runs" / "*" / "t.jsonl")] == ["t.jsonl", "t.jsonl"]


# ---- confinement ------------------------------------------------------------------------------------------

@pytest.fixture
def jail(tmp_path: Path) -> tuple[Path, Path]:
    ws, out = tmp_path / "ws", tmp_path / "out"
    ws.mkdir()
    out.mkdir()
    for name in ("baseline.jsonl", "current.jsonl"):
        (out / name).write_bytes((DEMO / name).read_bytes())
        (ws / name).write_bytes((DEMO / name).read_bytes())
    return ws, out


@pytest.mark.parametrize("entry", ["../out/baseline.jsonl", "OUT/baseline.jsonl", "../out/*.jsonl",
                                   "sub/../../out/*.jsonl", "OUT/**/*.jsonl", "/*/*.jsonl"])
def test_paths_leaving_the_roots_are_refused_before_any_walk(jail, entry: str) -> None:
    ws, out = jail
    entry = entry.replace("OUT", str(out))
    with pytest.raises(InputError, match="outside") as err:
        load_population([entry], label="b", base_dir=ws, roots=make_roots([ws]))
    assert err.value.file == entry


def test_tilde_is_a_name_inside_the_roots_not_home(jail, monkeypatch) -> None:
    ws, out = jail
    monkeypatch.setenv("HOME", str(out))
    with pytest.raises(InputError, match="not found"):
        load_population(["~/baseline.jsonl"], label="b", base_dir=ws, roots=make_roots([ws]))
    (ws / "~").mkdir()
    (ws / "~" / "baseline.jsonl").write_bytes((ws / "baseline.jsonl").read_bytes())
    assert len(load_population(["~/baseline.jsonl"], label="b", base_dir=ws, roots=make_roots([ws]))) > 0


def test_the_same_paths_load_without_roots(jail) -> None:
    ws, _ = jail
    assert len(load_population(["../out/*.jsonl"], label="b", base_dir=ws)) > 0


def test_a_link_to_a_file_outside_is_refused_and_named(jail) -> None:
    ws, out = jail
    (ws / "evil.jsonl").symlink_to(out / "current.jsonl")
    with pytest.raises(InputError, match="symbolic link") as err:
        resolve_files(["*.jsonl"], ws, make_roots([ws]))
    assert err.value.file == "evil.jsonl"


def test_a_link_inside_the_roots_is_fine(jail) -> None:
    ws, _ = jail
    (ws / "alias.jsonl").symlink_to(ws / "current.jsonl")
    files = resolve_files(["alias.jsonl", "current.jsonl"], ws, make_roots([ws]))
    assert [tf.name for tf in files] == ["current.jsonl"]  # the same file once


def test_several_roots(jail) -> None:
    ws, out = jail
    files = resolve_files([str(out / "baseline.jsonl"), "current.jsonl"], ws, make_roots([ws, out]))
    assert len(files) == 2


def test_confine_reports_lexical_and_resolved_escapes(jail) -> None:
    ws, out = jail
    roots = make_roots([ws])
    (ws / "link").symlink_to(out, target_is_directory=True)
    with pytest.raises(InputError, match="is outside"):
        confine("../out/x", roots, what="config", base=ws)
    with pytest.raises(InputError, match="symbolic link"):
        confine("link/new.yml", roots, what="config", base=ws)
    assert confine("a/../b.yml", roots, what="config", base=ws) == ws.resolve() / "b.yml"


# ---- writing ----------------------------------------------------------------------------------------------

def test_write_replaces_a_symlink_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    write_text(link, "{}")
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() == "{}"


def test_write_with_roots_refuses_links_out(jail) -> None:
    ws, out = jail
    roots = make_roots([ws])
    (ws / "r.json").symlink_to(out / "baseline.jsonl")
    (ws / "dir").symlink_to(out, target_is_directory=True)
    before = (out / "baseline.jsonl").read_bytes()
    for target in (ws / "r.json", ws / "dir" / "baseline.jsonl", ws / "dir" / "new.json", out / "x.json"):
        with pytest.raises(InputError):
            write_text(target, "{}", roots=roots, parents=True)
    assert (out / "baseline.jsonl").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["baseline.jsonl", "current.jsonl"]


def test_write_mode_is_0644_whatever_the_umask_and_leaves_no_temp(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        path = write_text(tmp_path / "a" / "r.json", "{}", parents=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(path.parent) == ["r.json"]


def test_write_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    (tmp_path / "r.json").mkdir()  # rename over a directory fails
    with pytest.raises(OSError):
        write_text(tmp_path / "r.json", "{}")
    assert os.listdir(tmp_path) == ["r.json"]


def test_write_without_parents_needs_the_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_text(tmp_path / "missing" / "r.json", "{}")
