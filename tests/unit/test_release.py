"""scripts/release.py on a temporary git repository (with a bare one as the remote): the tags it makes and
moves, the action.yml of the release commit, the notes, the version bump, the dry run, and its refusals."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from kalibra_action import __version__
from scripts import release
from tests.conftest import ROOT

DIGEST = "sha256:" + "ab12" * 16
OWNER = "Octo-Org"
IMAGE = f"docker://ghcr.io/octo-org/kalibra-action@{DIGEST}"
NOTES_1_0_0 = "### Added\n- The first release.\n  Second line of the entry."
CHANGELOG = f"""# Changelog

Intro text.

## [Unreleased]

### Fixed
- A fix waiting for 1.1.0.

## [1.0.0] - 2026-11-01

{NOTES_1_0_0}

## [0.9.0] - 2026-10-01

### Added
- Older.

[1.0.0]: https://example.invalid/v1.0.0
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def state(repo: Path) -> tuple[str, str, str]:
    """Everything a release could change: refs, HEAD and the work tree's status."""
    return git(repo, "show-ref"), git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository like ours at 1.0.0 (the real action.yml, a known CHANGELOG), tagged v1.0.0 as a
    maintainer pushes it, with a bare `origin`."""
    path = tmp_path / "repo"
    (path / "kalibra_action").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", path / "action.yml")
    (path / "kalibra_action" / "__init__.py").write_text('"""pkg"""\n\n__version__ = "1.0.0"\n')
    (path / "CHANGELOG.md").write_text(CHANGELOG)
    git(tmp_path, "init", "--quiet", "-b", "main", str(path))
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "add", ".")
    git(path, "commit", "--quiet", "-m", "1.0.0")
    git(path, "tag", "v1.0.0")
    git(tmp_path, "init", "--quiet", "--bare", str(tmp_path / "origin.git"))
    git(path, "remote", "add", "origin", str(tmp_path / "origin.git"))
    return path


def call(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = release.main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def publish(repo: Path, tag: str = "v1.0.0", *extra: str | Path) -> tuple[int, str, str]:
    return call("--repo", repo, "publish", tag, "--owner", OWNER, "--digest", DIGEST, *extra)


# --- publish ------------------------------------------------------------------------------------------------

def test_publish_tags_a_release_commit_running_the_image_by_digest(repo: Path, tmp_path: Path) -> None:
    tagged = git(repo, "rev-parse", "v1.0.0^{commit}")
    notes = tmp_path / "notes.md"
    code, out, err = publish(repo, "v1.0.0", "--notes", notes, "--push", "origin")
    assert code == 0, err

    release_commit = git(repo, "rev-parse", "v1.0.0^{commit}")
    assert release_commit != tagged and git(repo, "rev-parse", f"{release_commit}^") == tagged
    for name in ("v1", "v1.0"):
        assert git(repo, "rev-parse", f"{name}^{{commit}}") == release_commit
    assert git(repo, "cat-file", "-t", "v1.0.0") == "tag"  # annotated

    shipped = git(repo, "show", "v1.0.0:action.yml")
    assert yaml.safe_load(shipped)["runs"] == {"using": "docker", "image": IMAGE}
    before, after = (ROOT / "action.yml").read_text().splitlines(), shipped.splitlines()
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [("  image: Dockerfile",
                                                                                f"  image: {IMAGE}")]
    assert git(repo, "diff", "--name-only", tagged, release_commit) == "action.yml"

    assert notes.read_text() == NOTES_1_0_0 + "\n"
    remote = git(tmp_path / "origin.git", "show-ref", "--tags")
    for name in ("v1.0.0", "v1", "v1.0"):
        assert f"refs/tags/{name}" in remote
    assert git(tmp_path / "origin.git", "rev-parse", "v1^{commit}") == release_commit
    assert "git commit" in out and "git tag --force v1 " in out and "git push --atomic --force origin" in out


def test_a_fix_release_for_an_older_minor_leaves_the_major_tag_on_the_newer_release(repo: Path) -> None:
    git(repo, "tag", "v1.1.0")
    git(repo, "tag", "v1", "v1.1.0")
    (repo / "kalibra_action" / "__init__.py").write_text('__version__ = "1.0.1"\n')
    (repo / "CHANGELOG.md").write_text(CHANGELOG.replace("## [Unreleased]", "## [Unreleased]\n\n## [1.0.1]"))
    git(repo, "commit", "--quiet", "-am", "1.0.1")
    code, _, err = publish(repo, "v1.0.1")
    assert code == 0, err
    release_commit = git(repo, "rev-parse", "v1.0.1^{commit}")
    assert git(repo, "rev-parse", "v1.0^{commit}") == release_commit
    assert git(repo, "rev-parse", "v1^{commit}") == git(repo, "rev-parse", "v1.1.0^{commit}")


def test_the_dry_run_prints_every_step_and_changes_nothing(repo: Path, tmp_path: Path) -> None:
    before = state(repo)
    code, out, err = publish(repo, "v1.0.0", "--push", "origin", "--dry-run")
    assert code == 0, err
    assert state(repo) == before
    remote = subprocess.run(["git", "-C", str(tmp_path / "origin.git"), "show-ref"], capture_output=True,
                            text=True, check=False)
    assert remote.stdout == ""  # nothing pushed
    assert all(line.startswith("[dry run] ") for line in out.splitlines() if line.startswith("["))
    for step in ("write action.yml", "git commit", "git tag --force --annotate", "git tag --force v1 ",
                 "git tag --force v1.0 ", "would run git push --atomic --force origin refs/tags/v1.0.0",
                 f"+  image: {IMAGE}", "-  image: Dockerfile", NOTES_1_0_0):
        assert step in out, step
    assert not list(tmp_path.glob("kalibra-release-*"))


@pytest.mark.parametrize(("args", "reason"), [
    (["v1.0.1"], "does not match"),
    (["v1.0"], "not a release tag"),
    (["1.0.0"], "not a release tag"),
    (["v1.0.0-rc.1"], "not a release tag"),
    (["v01.0.0"], "not a release tag"),
    (["v1.0.0", "--digest", "sha256:abc"], "not an image digest"),
    (["v1.0.0", "--digest", DIGEST + "\n  using: node20"], "not an image digest"),
    (["v1.0.0", "--digest", "sha256:" + "AB12" * 16], "not an image digest"),
    (["v1.0.0", "--owner", "evil/../x"], "not a GitHub owner"),
    (["v1.0.0", "--owner", "octo\nimage: x"], "not a GitHub owner"),
    (["v1.0.0", "--owner=-octo"], "not a GitHub owner"),
])
def test_publish_refuses_bad_input_with_one_line_and_changes_nothing(repo: Path, args: list[str],
                                                                     reason: str) -> None:
    before = state(repo)
    tag, *extra = args
    code, _, err = call("--repo", repo, "publish", tag, "--owner", OWNER, "--digest", DIGEST, *extra)
    assert (code, err.count("\n")) == (2, 1) and reason in err and "Traceback" not in err, err
    assert state(repo) == before


def test_publish_refuses_a_dirty_tree_a_missing_section_and_a_tag_elsewhere(repo: Path) -> None:
    (repo / "action.yml").write_text((repo / "action.yml").read_text() + "# local edit\n")
    code, _, err = publish(repo)
    assert code == 2 and "uncommitted changes" in err
    git(repo, "checkout", "--", "action.yml")

    (repo / "CHANGELOG.md").write_text(CHANGELOG.replace("## [1.0.0] - 2026-11-01", "## [1.0.0-draft]"))
    git(repo, "commit", "--quiet", "-am", "no section")
    code, _, err = publish(repo)
    assert code == 2 and "no `## [1.0.0]` section" in err

    git(repo, "revert", "--no-edit", "--quiet", "HEAD")
    code, _, err = publish(repo)  # v1.0.0 is the commit before the revert's parent
    assert code == 2 and "is not the checked-out commit" in err


def test_publish_refuses_an_action_yml_whose_image_line_is_not_the_docker_image(repo: Path) -> None:
    text = (repo / "action.yml").read_text().replace("  using: docker\n", "  using: node20\n  main: x.js\n")
    (repo / "action.yml").write_text(text)
    git(repo, "commit", "--quiet", "-am", "node")
    git(repo, "tag", "--force", "v1.0.0")
    code, _, err = publish(repo)
    assert code == 2 and "not runs.image of a Docker action" in err


# --- prepare and check ------------------------------------------------------------------------------------

def test_prepare_bumps_the_version_and_cuts_the_unreleased_section(repo: Path, tmp_path: Path) -> None:
    code, _, err = call("--repo", repo, "prepare", "1.1.0", "--date", "2026-12-24")
    assert code == 0, err
    assert git(repo, "show", "HEAD:kalibra_action/__init__.py").endswith('__version__ = "1.1.0"')
    changelog = (repo / "CHANGELOG.md").read_text()
    cut = "## [Unreleased]\n\n## [1.1.0] - 2026-12-24\n\n### Fixed\n- A fix waiting for 1.1.0.\n\n## [1.0.0]"
    assert cut in changelog
    assert changelog.endswith("[1.0.0]: https://example.invalid/v1.0.0\n")
    assert git(repo, "status", "--porcelain") == ""

    outputs = tmp_path / "github_output"
    code, _, err = call("--repo", repo, "check", "v1.1.0", "--owner", OWNER, "--github-output", outputs)
    assert code == 0, err
    image = "ghcr.io/octo-org/kalibra-action"
    assert outputs.read_text() == (f"version=1.1.0\nimage={image}\ntags<<KALIBRA_TAGS\n"
                                   f"{image}:1.1.0\n{image}:1.1\n{image}:1\nKALIBRA_TAGS\n")
    code, _, _ = call("--repo", repo, "prepare", "1.2.0")
    assert code == 2  # the Unreleased section is empty now


def test_prepare_dry_run_shows_the_bump_and_changes_nothing(repo: Path) -> None:
    before = state(repo)
    code, out, err = call("--repo", repo, "prepare", "2.0.0", "--date", "2027-01-01", "--dry-run")
    assert code == 0, err
    assert state(repo) == before
    assert '+__version__ = "2.0.0"' in out and "+## [2.0.0] - 2027-01-01" in out


@pytest.mark.parametrize(("version", "reason"), [("1.0.0", "not newer"), ("0.9.9", "not newer"),
                                                 ("1.1", "not a version"), ("1.1.0\n", "not a version")])
def test_prepare_refuses_a_version_that_is_not_a_newer_x_y_z(repo: Path, version: str, reason: str) -> None:
    before = state(repo)
    code, _, err = call("--repo", repo, "prepare", version)
    assert code == 2 and reason in err and err.count("\n") == 1
    assert state(repo) == before


# --- this repository ----------------------------------------------------------------------------------------

def test_this_repository_agrees_on_one_version() -> None:
    """The version source, the installed metadata, the CHANGELOG's newest release and the image tags."""
    source = release.read_version((ROOT / "kalibra_action" / "__init__.py").read_text())
    assert source == __version__ == metadata.version("kalibra-action")
    sections = [name for name, _, _ in release._sections((ROOT / "CHANGELOG.md").read_text())]
    assert sections[0] == "Unreleased" and sections[1] == __version__
    assert release.release_notes((ROOT / "CHANGELOG.md").read_text(), __version__)
    assert release.image_tags("your-org", __version__)[0].endswith(f":{__version__}")


def test_main_builds_the_image_from_the_dockerfile_and_a_release_only_changes_that() -> None:
    """`uses: ./` (the self-test) needs a buildable Dockerfile on main; the release rewrites just one line."""
    text = (ROOT / "action.yml").read_text()
    assert yaml.safe_load(text)["runs"] == {"using": "docker", "image": "Dockerfile"}
    rewritten = release.rewrite_image(text, IMAGE)
    assert rewritten.replace(f"image: {IMAGE}", "image: Dockerfile") == text


def test_the_docs_name_this_action_by_one_placeholder() -> None:
    """README, CHANGELOG and the examples: `your-org/kalibra-action` wherever this action is meant."""
    docs = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "examples").rglob("*.y*ml"))]
    uses = []
    for path in docs:
        text = path.read_text()
        assert not re.search(r"<owner>|OWNER/kalibra|[\w-]+/kalibra-action@(?!v1\b)", text.replace(
            "your-org/kalibra-action", "")), path
        uses += re.findall(r"uses:\s*([\w./-]*kalibra-action[\w./@-]*)", text)
    assert len(uses) >= 6
    assert set(uses) <= {"your-org/kalibra-action@v1", "your-org/kalibra-action/composite@v1"}, uses


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["real", "dry-run"])
def test_a_folder_that_is_no_repository_is_one_error_line(tmp_path: Path, dry_run: list[str]) -> None:
    code, _, err = call("--repo", tmp_path / "nowhere", "publish", "v1.0.0", "--owner", OWNER, "--digest",
                        DIGEST, *dry_run)
    assert code == 2 and err.count("\n") == 1 and "git rev-parse failed" in err, err
