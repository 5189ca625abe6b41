"""The release process, as one script the release workflow runs (and a maintainer can dry-run locally).

    release.py prepare X.Y.Z [--date YYYY-MM-DD] [--dry-run]
        On main, before tagging: set kalibra_action.__version__ (the one version source) to X.Y.Z and turn
        CHANGELOG.md's Unreleased section into `## [X.Y.Z] - date`; commits both.
    release.py check vX.Y.Z --owner OWNER [--github-output FILE]
        The pushed tag must be the version source's version and have a CHANGELOG section; prints (and writes
        as step outputs) the version and the image tags X.Y.Z, X.Y and X that the workflow pushes.
    release.py publish vX.Y.Z --owner OWNER --digest sha256:HEX [--notes FILE] [--push REMOTE] [--dry-run]
        After the image is pushed: cut the release notes from CHANGELOG.md, point action.yml's `image:` at
        `docker://ghcr.io/<owner>/kalibra-action@sha256:<digest>` on a release commit (a child of the tagged
        commit, so `@vX.Y.Z` runs one immutable image), tag it vX.Y.Z, move vX and vX.Y to it unless a newer
        release holds them, and push the three tags.

Every step is printed. `--dry-run` runs the same steps in a throw-away clone under a temporary directory and
pushes nothing, so the repository it is run in is never changed. Bad input (a malformed tag or digest, a
version that does not match, a missing CHANGELOG section, a dirty work tree) is one error line and exit 2.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = Path("kalibra_action/__init__.py")
CHANGELOG = Path("CHANGELOG.md")
ACTION_YML = Path("action.yml")
IMAGE_NAME = "kalibra-action"
REGISTRY = "ghcr.io"

VERSION_RE = re.compile(r"(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})")
TAG_RE = re.compile(rf"v{VERSION_RE.pattern}")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
OWNER_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")  # GitHub's user/org names
HEADING_RE = re.compile(r"^## \[(?P<name>[^\]\n]+)\](?P<rest>[^\n]*)$", re.M)
LINK_REFS_RE = re.compile(r"^\[[^\]\n]+\]:\s", re.M)  # Keep a Changelog's link references at the end
IMAGE_LINE_RE = re.compile(r"^(?P<indent>[ \t]+)image:[ \t]*\S.*$", re.M)
EXIT_BAD_INPUT = 2


class ReleaseError(Exception):
    """A release that must not go ahead; the message is the one line the user sees."""


# --- pure steps (text in, text out) ---------------------------------------------------------------------

def parse_version(text: str) -> tuple[int, int, int]:
    match = VERSION_RE.fullmatch(text)
    if not match:
        raise ReleaseError(f"not a version X.Y.Z: {text!r}")
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def parse_tag(tag: str) -> tuple[int, int, int]:
    if not TAG_RE.fullmatch(tag):
        raise ReleaseError(f"not a release tag vX.Y.Z: {tag!r}")
    return parse_version(tag[1:])


def read_version(source: str) -> str:
    """`__version__` of the package's __init__.py, read without importing it (it may be another commit's)."""
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        named = any(getattr(t, "id", "") == "__version__" for t in targets)
        if named and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    raise ReleaseError(f"{VERSION_FILE}: no `__version__ = \"X.Y.Z\"`")


def write_version(source: str, version: str) -> str:
    parse_version(version)
    new, count = re.subn(r'^__version__ = "[^"\n]*"$', f'__version__ = "{version}"', source, flags=re.M)
    if count != 1:
        raise ReleaseError(f"{VERSION_FILE}: expected one `__version__ = \"…\"` line, found {count}")
    return new


def _sections(text: str) -> list[tuple[str, int, int]]:
    """(name, start of heading, end of body) of each `## [name]` section, in order."""
    heads = list(HEADING_RE.finditer(text))
    refs = LINK_REFS_RE.search(text, heads[-1].end()) if heads else None
    end_of_last = refs.start() if refs else len(text)
    return [(h.group("name"), h.start(), heads[i + 1].start() if i + 1 < len(heads) else end_of_last)
            for i, h in enumerate(heads)]


def release_notes(changelog: str, version: str) -> str:
    """The body of `## [version]` (without its heading): the GitHub release's notes."""
    for name, start, end in _sections(changelog):
        if name == version:
            body = changelog[start:end].split("\n", 1)[1].strip() if "\n" in changelog[start:end] else ""
            if not body:
                raise ReleaseError(f"{CHANGELOG}: the section for {version} is empty")
            return body + "\n"
    raise ReleaseError(f"{CHANGELOG}: no `## [{version}]` section")


def cut_unreleased(changelog: str, version: str, date: dt.date) -> str:
    """Unreleased's entries become `## [version] - date`; a new, empty Unreleased stays above them."""
    sections = _sections(changelog)
    if any(name == version for name, _, _ in sections):
        raise ReleaseError(f"{CHANGELOG}: {version} already has a section")
    unreleased = [(s, e) for name, s, e in sections if name.lower() == "unreleased"]
    if not unreleased:
        raise ReleaseError(f"{CHANGELOG}: no `## [Unreleased]` section")
    start, end = unreleased[0]
    body = changelog[start:end].split("\n", 1)[1].strip() if "\n" in changelog[start:end] else ""
    if not body:
        raise ReleaseError(f"{CHANGELOG}: the Unreleased section is empty: nothing to release")
    cut = f"## [Unreleased]\n\n## [{version}] - {date.isoformat()}\n\n{body}\n\n"
    return changelog[:start] + cut + changelog[end:].lstrip("\n")


def image_repository(owner: str) -> str:
    if not OWNER_RE.fullmatch(owner):
        raise ReleaseError(f"not a GitHub owner name: {owner!r}")
    return f"{REGISTRY}/{owner.lower()}/{IMAGE_NAME}"  # registry paths are lower case


def image_tags(owner: str, version: str) -> list[str]:
    """The image's tags for a release: X.Y.Z, X.Y and X."""
    major, minor, patch = parse_version(version)
    repo = image_repository(owner)
    return [f"{repo}:{major}.{minor}.{patch}", f"{repo}:{major}.{minor}", f"{repo}:{major}"]


def image_by_digest(owner: str, digest: str) -> str:
    if not DIGEST_RE.fullmatch(digest):
        raise ReleaseError(f"not an image digest sha256:<64 hex>: {digest!r}")
    return f"docker://{image_repository(owner)}@{digest}"


def rewrite_image(action_yml: str, image: str) -> str:
    """action.yml with `runs.image` set to `image`; the rest of the file byte for byte as it was."""
    matches = list(IMAGE_LINE_RE.finditer(action_yml))
    if len(matches) != 1:
        raise ReleaseError(f"{ACTION_YML}: expected one `image:` line, found {len(matches)}")
    line = matches[0]
    new = action_yml[:line.start()] + f"{line.group('indent')}image: {image}" + action_yml[line.end():]
    runs = (yaml.safe_load(new) or {}).get("runs") or {}
    if runs.get("using") != "docker" or runs.get("image") != image:
        raise ReleaseError(f"{ACTION_YML}: the `image:` line is not runs.image of a Docker action")
    return new


def tags_to_move(version: str, existing: Sequence[str]) -> list[str]:
    """vX and vX.Y, each unless a newer release of that line already exists (a 1.0.x fix after 1.1.0 does
    not take v1 back)."""
    ours = parse_version(version)
    released = [parse_tag(t) for t in existing if TAG_RE.fullmatch(t)]
    moving = []
    for width in (1, 2):
        if all(r <= ours for r in released if r[:width] == ours[:width]):
            moving.append("v" + ".".join(str(n) for n in ours[:width]))
    return moving


# --- the repository -------------------------------------------------------------------------------------

class Repo:
    """A git work tree; each command is printed as a step before it runs."""

    def __init__(self, path: Path, say) -> None:
        self.path = path
        self.say = say

    def git(self, *args: str, quiet: bool = False) -> str:
        if not quiet:
            self.say("git " + " ".join(args))
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
            raise ReleaseError(f"git {args[0]} failed: {lines[-1]}")
        return proc.stdout.strip()

    def read(self, rel: Path) -> str:
        return (self.path / rel).read_text(encoding="utf-8")

    def write(self, rel: Path, text: str) -> None:
        self.say(f"write {rel}")
        (self.path / rel).write_text(text, encoding="utf-8")

    def require_clean(self) -> None:
        if self.git("status", "--porcelain", "--untracked-files=no", quiet=True):
            raise ReleaseError(f"{self.path}: the work tree has uncommitted changes")

    def release_tags(self) -> list[str]:
        return self.git("tag", "--list", "v*", quiet=True).split()


@contextmanager
def work_tree(path: Path, dry_run: bool, say):
    """The repository itself, or for a dry run a clone of its HEAD (and tags) in a temporary directory."""
    real = Repo(path, say)
    real.git("rev-parse", "--show-toplevel", quiet=True)
    if not dry_run:
        yield real
        return
    with tempfile.TemporaryDirectory(prefix="kalibra-release-") as tmp:
        clone = Path(tmp) / "repo"
        head = real.git("rev-parse", "HEAD", quiet=True)
        say(f"dry run: cloning {path} at {head[:12]} into {clone}; the repository itself is not changed")
        Repo(Path(tmp), say).git("clone", "--quiet", "--no-checkout", str(path.resolve()), str(clone),
                                 quiet=True)
        copy = Repo(clone, say)
        copy.git("checkout", "--quiet", "--detach", head, quiet=True)
        for key in ("user.name", "user.email"):  # the clone commits as the repository would
            value = subprocess.run(["git", "-C", str(path), "config", key], capture_output=True, text=True,
                                   check=False).stdout.strip()
            copy.git("config", key, value or "kalibra-action release dry run", quiet=True)
        yield copy


# --- the commands ---------------------------------------------------------------------------------------

def cmd_prepare(args: argparse.Namespace, say) -> int:
    version = args.version
    parse_version(version)
    date = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(dt.UTC).date()
    with work_tree(args.repo, args.dry_run, say) as repo:
        repo.require_clean()
        old = read_version(repo.read(VERSION_FILE))
        if parse_version(version) <= parse_version(old):
            raise ReleaseError(f"{version} is not newer than the current version {old}")
        say(f"version {old} -> {version}")
        repo.write(VERSION_FILE, write_version(repo.read(VERSION_FILE), version))
        repo.write(CHANGELOG, cut_unreleased(repo.read(CHANGELOG), version, date))
        repo.git("add", str(VERSION_FILE), str(CHANGELOG))
        repo.git("commit", "--quiet", "-m", f"Prepare {version}: version and CHANGELOG")
        if args.dry_run:
            say("dry run: the commit would be:\n" + repo.git("show", "--stat", "--patch", "HEAD", quiet=True))
    return 0


def check_release(repo: Repo, tag: str) -> str:
    """The version of `tag`, after checking it against the version source and the CHANGELOG."""
    parse_tag(tag)
    version = tag[1:]
    source = read_version(repo.read(VERSION_FILE))
    if source != version:
        raise ReleaseError(f"tag {tag} does not match {VERSION_FILE}'s __version__ {source!r}")
    release_notes(repo.read(CHANGELOG), version)
    return version


def cmd_check(args: argparse.Namespace, say) -> int:
    repo = Repo(args.repo, say)
    version = check_release(repo, args.tag)
    tags = image_tags(args.owner, version)
    say(f"release {version}: image tags " + " ".join(tags))
    if args.github_output:
        with open(args.github_output, "a", encoding="utf-8") as out:
            out.write(f"version={version}\nimage={image_repository(args.owner)}\n")
            out.write("tags<<KALIBRA_TAGS\n" + "\n".join(tags) + "\nKALIBRA_TAGS\n")
    return 0


def cmd_publish(args: argparse.Namespace, say) -> int:
    tag = args.tag
    image = image_by_digest(args.owner, args.digest)
    with work_tree(args.repo, args.dry_run, say) as repo:
        repo.require_clean()
        version = check_release(repo, tag)
        head = repo.git("rev-parse", "HEAD", quiet=True)
        if tag in repo.release_tags() and repo.git("rev-parse", f"{tag}^{{commit}}", quiet=True) != head:
            raise ReleaseError(f"tag {tag} exists and is not the checked-out commit {head[:12]}")
        notes = release_notes(repo.read(CHANGELOG), version)
        say(f"release notes ({len(notes.splitlines())} lines) from {CHANGELOG} [{version}]")
        if args.dry_run:
            say("dry run: the release notes would be:\n" + notes.rstrip("\n"))
        if args.notes:
            say(f"write {args.notes}")
            args.notes.write_text(notes, encoding="utf-8")
        repo.write(ACTION_YML, rewrite_image(repo.read(ACTION_YML), image))
        repo.git("add", str(ACTION_YML))
        repo.git("commit", "--quiet", "-m", f"Release {tag}\n\naction.yml runs {image}")
        release = repo.git("rev-parse", "HEAD", quiet=True)
        moving = tags_to_move(version, [t for t in repo.release_tags() if t != tag])
        repo.git("tag", "--force", "--annotate", "-m", f"kalibra-action {version}", tag, release)
        for name in moving:
            repo.git("tag", "--force", name, release)
        refs = [f"refs/tags/{name}" for name in (tag, *moving)]
        if args.push and not args.dry_run:
            repo.git("push", "--atomic", "--force", args.push, *refs)
        elif args.push:
            say(f"dry run: would run git push --atomic --force {args.push} " + " ".join(refs))
        say(f"released {tag} as {release[:12]}: " + ", ".join((tag, *moving)) + f" -> {image}")
        if args.dry_run:
            say("dry run: the release commit would be:\n" + repo.git("show", "--patch", release, quiet=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository (default: this one)")
    sub = parser.add_subparsers(dest="command", required=True)
    prepare = sub.add_parser("prepare", help="bump the version and cut the CHANGELOG's Unreleased section")
    prepare.add_argument("version")
    prepare.add_argument("--date", help="the release date, YYYY-MM-DD (default: today, UTC)")
    prepare.add_argument("--dry-run", action="store_true")
    check = sub.add_parser("check", help="check a pushed tag; print the image tags")
    check.add_argument("tag")
    check.add_argument("--owner", required=True)
    check.add_argument("--github-output", type=Path, help="append version, image and tags to this file")
    publish = sub.add_parser("publish", help="release commit with the image by digest; tags; notes")
    publish.add_argument("tag")
    publish.add_argument("--owner", required=True)
    publish.add_argument("--digest", required=True, help="the pushed image's sha256:… digest")
    publish.add_argument("--notes", type=Path, help="write the release notes to this file")
    publish.add_argument("--push", metavar="REMOTE", help="push the tags to this remote")
    publish.add_argument("--dry-run", action="store_true")
    return parser


COMMANDS = {"prepare": cmd_prepare, "check": cmd_check, "publish": cmd_publish}


def main(argv: Sequence[str] | None = None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    prefix = "[dry run] " if getattr(args, "dry_run", False) else ""

    def say(message: str) -> None:
        print(f"{prefix}==> {message}", file=out, flush=True)

    try:
        return COMMANDS[args.command](args, say)
    except (ReleaseError, ValueError) as exc:
        print(f"release.py: error: {exc}", file=err)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
