"""The Dockerfile installs nothing it did not lock: every `pip install` either takes a hash-locked file
(wheels only, no dependency resolution) or builds our package offline with the locked build backend (no
build isolation, which would fetch the newest setuptools); and the stage users run installs nothing at all,
it copies the builder's folder. What the built image holds is checked by tests/e2e/test_container.py.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from tests.unit.test_supply_chain import parse_lock

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"requirements.txt", "requirements-build.txt"}
SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each Dockerfile instruction, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        keyword, _, args = line.strip().partition(" ")
        if keyword:
            out.append((keyword.upper(), args.strip()))
    return out


def pip_installs(run: str) -> list[list[str]]:
    """The arguments of each `pip install` (or `python -m pip install`) in one RUN's shell line."""
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found, words = [], list(lexer)
    for start in range(len(words) - 1):
        if words[start:start + 2] == ["pip", "install"]:
            args = []
            for word in words[start + 2:]:
                if word in SHELL_OPERATORS:
                    break
                args.append(word)
            found.append(args)
    return found


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, in order (the last one is the image users run)."""
    out: list[list[tuple[str, str]]] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, args))
    return out


DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_parser_sees_each_pip_install_and_stage() -> None:
    text = ("ARG B=x\nFROM ${B} AS b\nRUN pip install -r a.txt \\\n"
            "    && python -m pip install --no-index . ; echo 'a;b'\n"
            "# RUN pip install nope\nFROM ${B}\nCOPY --from=b /x /x\n")
    assert [len(s) for s in stages(text)] == [2, 2]
    assert pip_installs(stages(text)[0][1][1]) == [["-r", "a.txt"], ["--no-index", "."]]


def test_every_pip_install_is_hash_locked_wheels_or_an_offline_build_without_isolation() -> None:
    installs = [args for keyword, args in instructions(DOCKERFILE) if keyword == "RUN"
                for args in pip_installs(args)]
    assert installs, "the Dockerfile installs nothing?"
    locked = set()
    for args in installs:
        assert "--no-deps" in args, args  # the locks are closed; nothing is resolved at build time
        if "--require-hashes" in args:
            assert "--only-binary=:all:" in args, f"an sdist would be built with unpinned tools: {args}"
            lock = args[args.index("-r") + 1]
            assert lock in LOCKS, args
            locked.add(lock)
        else:
            assert {"--no-index", "--no-build-isolation"} <= set(args), \
                f"pip would fetch an unpinned build backend: {args}"
    assert locked == LOCKS


def test_the_image_users_run_installs_nothing_and_copies_the_builders_folder() -> None:
    *builders, final = stages(DOCKERFILE)
    assert builders, "a single-stage build ships pip's leftovers and the build tools"
    assert not [args for keyword, args in final if keyword == "RUN" and pip_installs(args)]
    assert any(keyword == "COPY" and args.startswith("--from=") for keyword, args in final)


def test_the_build_backend_is_locked_with_hashes_within_pyprojects_range() -> None:
    locked = parse_lock((ROOT / "requirements-build.txt").read_text())
    [backend] = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    req = Requirement(backend)
    spec, hashes = locked[req.name]
    assert spec.startswith("==") and hashes, f"{req.name} is not pinned with hashes: {spec}"
    assert Version(spec[2:]) in req.specifier
    assert set(locked) == {req.name}
