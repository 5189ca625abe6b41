"""The supply chain: hash-locked runtime dependencies, a patched jinja2, actions and base image pinned.

The lock (requirements.txt, compiled by `make lock`) is what the image and `make setup` install with
`--require-hashes --no-deps`, so it must hold every runtime dependency and each of theirs, pinned with hashes.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.txt"
JINJA2_FIXED = Version("3.1.6")  # the sandbox escapes through str.format are fixed from 3.1.5/3.1.6 on
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\b")
PLACEHOLDER = "your-org/kalibra-action@"  # the examples' stand-in for this action: users pin their own copy


def parse_lock(text: str) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (specifier, [sha256, ...])} from a pip-compile file with hashes."""
    entries: dict[str, tuple[str, list[str]]] = {}
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        parts = line.split()
        req = Requirement(parts[0])
        hashes = [p.removeprefix("--hash=sha256:") for p in parts[1:] if p.startswith("--hash=sha256:")]
        entries[canonicalize_name(req.name)] = (str(req.specifier), hashes)
    return entries


def runtime_requirements() -> list[Requirement]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(d) for d in meta["project"]["dependencies"]]


LOCKED = parse_lock(LOCK.read_text())


def locked_version(name: str) -> Version:
    spec, _ = LOCKED[canonicalize_name(name)]
    assert spec.startswith("=="), f"{name} is not pinned with ==: {spec}"
    return Version(spec[2:])


def test_lock_parser_reads_multiline_entries_with_hashes() -> None:
    text = "# header\nfoo==1.2 \\\n    --hash=sha256:" + "a" * 64 + " \\\n    --hash=sha256:" + "b" * 64 + \
           "\n    # via -r requirements.in\nbar>=2\n"
    assert parse_lock(text) == {"foo": ("==1.2", ["a" * 64, "b" * 64]), "bar": (">=2", [])}


@pytest.mark.parametrize("req", runtime_requirements(), ids=lambda r: r.name)
def test_every_runtime_dependency_is_pinned_with_hashes_in_the_lock(req: Requirement) -> None:
    name = canonicalize_name(req.name)
    assert name in LOCKED, f"{req.name} is missing from requirements.txt (run `make lock`)"
    version = locked_version(name)
    assert version in req.specifier, f"the lock's {req.name} {version} is outside pyproject's {req.specifier}"
    assert LOCKED[name][1], f"{req.name} has no --hash=sha256: in requirements.txt"


def test_every_locked_package_has_hashes_and_the_lock_is_closed() -> None:
    """With --no-deps nothing else is installed: each locked package's own requirements are locked too."""
    for name, (spec, hashes) in LOCKED.items():
        assert spec.startswith("==") and hashes, f"{name} is not pinned with hashes: {spec}"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name
        for dep in metadata.requires(name) or []:
            req = Requirement(dep)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an optional extra (e.g. requests[socks]) or another platform's dependency
            assert canonicalize_name(req.name) in LOCKED, f"{name} needs {req.name}, which is not locked"


def test_jinja2_is_a_fixed_release_in_the_lock_pyproject_and_the_venv() -> None:
    assert locked_version("jinja2") >= JINJA2_FIXED
    [jinja] = [r for r in runtime_requirements() if canonicalize_name(r.name) == "jinja2"]
    assert "3.1.5" not in jinja.specifier and "3.1.6" in jinja.specifier
    assert Version(metadata.version("jinja2")) >= JINJA2_FIXED


def test_the_venv_runs_the_locked_versions() -> None:
    """`make setup` installs the lock first, so the tests run on the versions the image ships."""
    for name in LOCKED:
        assert Version(metadata.version(name)) == locked_version(name), name


def test_the_image_and_the_venv_install_the_lock_with_hashes_only() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for text in (dockerfile, makefile):
        assert re.search(r"pip install [^\n]*--require-hashes --no-deps -r requirements\.txt", text)
    assert re.search(r"^lock:", makefile, re.M)


def test_the_default_base_image_is_pinned_by_digest() -> None:
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match and re.fullmatch(r"python:3\.12[\w.-]*@sha256:[0-9a-f]{64}", match.group(1)), match


def workflow_uses() -> list[tuple[str, str]]:
    files = sorted((ROOT / ".github" / "workflows").glob("*.y*ml")) + \
        sorted((ROOT / "examples" / "workflows").rglob("*.y*ml")) + [ROOT / "composite" / "action.yml"]
    found = []
    for path in files:
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(.+)$", line)
            if match:
                found.append((str(path.relative_to(ROOT)), match.group(1).strip()))
    return found


def test_workflows_are_found() -> None:
    assert len(workflow_uses()) >= 10


@pytest.mark.parametrize(("path", "uses"), workflow_uses())
def test_every_action_is_pinned_by_commit_sha_with_its_version(path: str, uses: str) -> None:
    if uses.startswith("./") or uses.startswith(PLACEHOLDER):
        return
    assert SHA_PIN.match(uses), f"{path}: `uses: {uses}` is not pinned by a full commit SHA # vX.Y.Z"


def test_dependabot_watches_pip_docker_and_actions_weekly() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u["schedule"]["interval"] for u in config["updates"]}
    assert ecosystems == {"pip": "weekly", "docker": "weekly", "github-actions": "weekly"}
    [actions] = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    assert {"/", "/composite"} <= set(actions.get("directories", [actions.get("directory")]))
