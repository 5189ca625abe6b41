"""The baseline artifact: found on the base branch, extracted to a temporary directory, and named by its
provenance (never by the temporary path) in logs, errors and the report.

When there is none, `if-no-baseline` decides: `fail` is an InputError (exit 2), `warn` and `skip` leave
the run to the current-traces-only path (kalibra_action.action.current).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kalibra_action.errors import InputError
from kalibra_action.github.artifacts import (
    HISTORY_SUFFIX,
    STALE_DAYS,
    BaselineArtifact,
    NoBaseline,
    fetch_baseline,
    fetch_history,
    if_no_baseline,
)
from kalibra_action.github.client import GitHubClient, GitHubError
from kalibra_action.github.commands import Commands
from kalibra_action.github.provenance import age_text, provenance_extra
from kalibra_action.github.settings import ActionSettings
from kalibra_action.history import RunSummary, read_summary
from kalibra_action.result import Result

_COMMIT = re.compile(r"[0-9a-f]{7,64}")  # what a history summary accepts (history.summary)
_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
ACTIONS_READ_FIX = (
    "give the job `permissions: actions: read` (with `contents: read`), and check that "
    "baseline-workflow names the workflow that uploads the artifact"
)


@dataclass(frozen=True)
class Fetched:
    """An extracted baseline artifact and its provenance as the templates and the JSON report show it."""

    artifact: BaselineArtifact
    provenance: dict[str, Any]

    def spec(self, path_glob: str) -> str:
        """The engine's `baseline`: the one extracted file, or the glob under the extraction directory."""
        if len(self.artifact.paths) == 1:
            return str(Path(self.artifact.paths[0]).resolve())
        return f"{glob.escape(str(Path(self.artifact.directory).resolve()))}/{path_glob}"

    @property
    def directory(self) -> Path:
        return Path(self.artifact.directory)

    def remove(self) -> None:
        """The extracted files live only as long as the comparison."""
        shutil.rmtree(self.directory.parent, ignore_errors=True)

    def strip_dir(self, text: str) -> str:
        """Paths under the (temporary, soon removed) extraction directory, shown inside the artifact."""
        root = str(self.directory.resolve())
        return text.replace(root + os.sep, f"{self.artifact.provenance.artifact}:").replace(root, "")

    def input_error(self, err: InputError) -> InputError:
        """An input error about an extracted file names it inside the artifact, not by a temporary path."""
        if not err.file or self.strip_dir(err.file) == err.file:
            return err
        return InputError(f"baseline {self.strip_dir(err.file)}"
                          f"{f':{err.line}' if err.line is not None else ''}: {err.message}",
                          key=err.key, hint=err.hint)

    def relabel(self, result: Result) -> None:
        """The baseline side is named by the artifact (the provenance line names run, branch and commit)."""
        side = result.baseline
        side.label = self.artifact.provenance.artifact
        side.files = [self.strip_dir(f) for f in side.files]
        side.warnings = [self.strip_dir(w) for w in side.warnings]
        result.warnings = [self.strip_dir(w) for w in result.warnings]


def fetch(s: ActionSettings, cmd: Commands,
          client_factory: Callable[[ActionSettings], GitHubClient]) -> Fetched | NoBaseline:
    """Download the baseline artifact; the NoBaseline when there is none and `if-no-baseline` allows it."""
    assert s.baseline_artifact and s.baseline_workflow and s.baseline_branch
    if not s.token:
        raise InputError("input 'baseline-artifact' needs input 'github-token' to read the artifacts",
                         hint=ACTIONS_READ_FIX)
    if not s.repository:
        raise InputError("GITHUB_REPOSITORY is not set: cannot look for the baseline artifact")
    cmd.log(f"looking for artifact '{s.baseline_artifact}' from the newest successful run of "
            f"workflow '{s.baseline_workflow}' on branch '{s.baseline_branch}' "
            f"(files: {s.baseline_path}; if none: {s.if_no_baseline})")
    try:
        got = fetch_baseline(client_factory(s), s.repository, artifact=s.baseline_artifact,
                             workflow=s.baseline_workflow, branch=s.baseline_branch,
                             path_glob=s.baseline_path)
    except NoBaseline as err:
        line = if_no_baseline(s.if_no_baseline, err)  # `fail`: InputError, exit 2
        cmd.log(line)
        title = "kalibra-action: no baseline"
        if s.if_no_baseline == "warn":
            cmd.warning(line, title=title)
        else:
            cmd.notice(line, title=title)
        return err
    except GitHubError as err:
        fix = ACTIONS_READ_FIX if err.status in (401, 403, 404) else None
        raise InputError(f"cannot fetch the baseline artifact '{s.baseline_artifact}': {err}",
                         hint=fix) from None
    except InputError as err:  # an unsafe or oversized archive, no file matching baseline-path
        raise InputError(f"baseline artifact '{s.baseline_artifact}': {err.message}", hint=err.hint) from None
    try:
        fetched = Fetched(got, provenance_extra(got.provenance, server_url=s.server_url,
                                                repository=s.repository))
        _log_provenance(fetched, cmd)
    except BaseException:
        shutil.rmtree(Path(got.directory).parent, ignore_errors=True)
        raise
    return fetched


def _log_provenance(fetched: Fetched, cmd: Commands) -> None:
    p = fetched.artifact.provenance
    run_number = fetched.provenance["run_number"]
    cmd.log(f"baseline: artifact '{p.artifact}' from run #{run_number} ({p.run_url or p.run_id}) on "
            f"'{p.branch}' at {p.commit[:12]}, created {p.created_at} ({age_text(p.age_days)} ago); "
            f"{len(fetched.artifact.paths)} file(s)")
    if p.stale:
        cmd.warning(f"the baseline artifact '{p.artifact}' is {age_text(p.age_days)} old (run "
                    f"#{run_number} on {p.branch}), more than {STALE_DAYS} days: "
                    "re-run the workflow that uploads it on that branch",
                    title="kalibra-action: stale baseline")


@dataclass(frozen=True)
class History:
    """The older base-branch runs for a pooled baseline: their summaries (oldest first), the runs left out
    before reading (with the reason), the newest run's own config hash, the API calls it took, and the
    newest run's (run id, commit, created) from the API, so the pool names the newest run too."""

    runs: tuple[RunSummary, ...]
    skipped: tuple[tuple[str, str, str | None], ...]  # (name, reason, run id)
    newest_hash: str | None
    calls: int
    newest: tuple[str | None, str | None, str | None] = (None, None, None)


def fetch_older(s: ActionSettings, cmd: Commands, client_factory: Callable[[ActionSettings], GitHubClient],
                fetched: Fetched) -> History:
    """The `<baseline-artifact>-history` summaries of the newest run and of up to baseline-runs − 1 older
    ones. A run without a usable summary is left out with the reason (a warning), never a failed check."""
    assert s.baseline_artifact
    art = fetched.artifact
    runs, left_out = art.history_window(s.baseline_runs)
    dest = fetched.directory.parent / "history"
    dest.mkdir(exist_ok=True)
    try:
        got, calls = fetch_history(client_factory(s), s.repository, artifact=s.baseline_artifact,
                                   runs=runs, dest=dest, listed=art.artifact_lists)
    except GitHubError as err:
        cmd.warning(f"cannot list the history of the base branch: {err}; the baseline is one run",
                    title="kalibra-action: history")
        return History((), (), None, 0)
    summaries: list[RunSummary] = []
    skipped = [(_run_name(r), why, str(rid) if (rid := _run_id(r)) else None) for r, why in left_out]
    newest_hash = None
    for i, h in enumerate(got):
        label = f"run {h.run_id} ({s.baseline_artifact}{HISTORY_SUFFIX})"
        summary, why = _read(h, label)
        if i == 0:
            newest_hash = summary.config_hash if summary is not None else None
            continue
        if summary is None:
            skipped.append((f"run {h.run_id}", why or "no summary", str(h.run_id)))
            cmd.warning(f"base-branch run {h.run_id} left out of the pooled baseline: {why}",
                        title="kalibra-action: history")
        else:
            summaries.append(summary)
    cmd.log(f"history: {len(summaries)} older run summary(ies) read, {len(skipped)} run(s) left out, "
            f"{calls} API call(s)")
    p = art.provenance
    newest = (str(p.run_id), p.commit.lower() if _COMMIT.fullmatch(p.commit.lower()) else None,
              p.created_at if _CREATED.fullmatch(p.created_at) else None)
    return History(tuple(reversed(summaries)), tuple(skipped), newest_hash, calls, newest)


def _run_id(run: dict[str, Any]) -> int | None:
    rid = run.get("id")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None


def _run_name(run: dict[str, Any]) -> str:
    """How a left-out run is named in the report: by its id, when the API gave a number."""
    rid = _run_id(run)
    return f"run {rid}" if rid is not None else "a run without an id"


def _read(h, label: str) -> tuple[RunSummary | None, str | None]:
    """The run's summary with the API's run id, commit and time, or why not: also when the summary names
    another run or commit than the API's (a copy of another run's summary would count that run twice)."""
    if h.path is None:
        return None, h.reason
    try:
        summary = read_summary(Path(h.path), name=label)
    except InputError as err:
        return None, f"its history summary is invalid: {err.message}"
    commit = h.commit.lower() if _COMMIT.fullmatch(h.commit.lower()) else None
    if summary.run_id is not None and summary.run_id != str(h.run_id):
        return None, f"its history summary was written by run {summary.run_id}, not by this run"
    if summary.commit and commit and not (commit.startswith(summary.commit) or
                                          summary.commit.startswith(commit)):
        return None, (f"its history summary records commit {summary.commit[:12]}, but this run built "
                      f"{commit[:12]}")
    created = h.created_at if _CREATED.fullmatch(h.created_at) else None
    return replace(summary, run_id=str(h.run_id), commit=commit, created=created, source=label), None
