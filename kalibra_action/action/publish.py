"""What every path of the action shares: the outputs, the JSON report, the job summary, the sticky comment
and the error notices.

None of these steps ends the run: a file that cannot be written or a comment that cannot be posted (a
fork's read-only token, an API outage) is a warning, so the outputs and the exit code still follow. Every
Markdown comes from kalibra_action.report.render (through `Renderer`, which tests may replace).

Before writing to a pull request the publisher checks that it may (kalibra_action.github.target); a refusal
writes no comment, adds a note to the job summary and sets `refused`, so the run exits 2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from kalibra_action.current_only import CurrentOnly
from kalibra_action.errors import EXIT_INPUT_ERROR, InputError
from kalibra_action.github.client import GitHubClient, GitHubError
from kalibra_action.github.commands import Commands, append_summary, output_is_safe, write_outputs
from kalibra_action.github.comments import CommentResult, StickyComment, author_of
from kalibra_action.github.identity import Identity, cached_identity
from kalibra_action.github.settings import ActionSettings
from kalibra_action.github.target import TargetRefused, check_pr_input, verify_workflow_run
from kalibra_action.paths import make_roots, write_text
from kalibra_action.report import render
from kalibra_action.report.escape import md
from kalibra_action.result import Result

FORK_FIX = (
    "The token cannot write to pull request #{pr} (403 Resource not accessible by integration). "
    "A pull request from a fork always gets a read-only GITHUB_TOKEN. "
    "The report is in the job summary and in {report}, and the exit code is the gates'.\n"
    "To get the comment: on same-repository pull requests give the job\n"
    "  permissions:\n    pull-requests: write\n"
    "For forks, split the workflow: the pull_request workflow runs kalibra-action with comment: off and "
    "uploads the traces and the PR number as an artifact; a workflow_run workflow (base-repository token) "
    "downloads them and runs kalibra-action with pr-number. See examples/fork-safe/ in kalibra-action."
)


class Renderer:
    """The report package's renderers as the action uses them (one object, so a test can replace one)."""

    def comment(self, result: Result, extra: Mapping[str, Any], template: Path | None,
                root: Path | None = None) -> str:
        """The comment; a custom `template` must lie inside `root` (the workspace), see report.sandbox."""
        return render.render_markdown(result, template=template, extra=extra, root=root)

    def summary(self, result: Result, extra: Mapping[str, Any]) -> str:
        return render.render_summary(result, extra=extra)

    def json(self, result: Result) -> str:
        from kalibra_action.report.json import to_json

        return to_json(result)

    def current_only(self, report: CurrentOnly, extra: Mapping[str, Any], *, summary: bool = False) -> str:
        return render.render_current_only(report, extra=extra, summary=summary)

    def current_only_json(self, report: CurrentOnly) -> str:
        from kalibra_action.report.json import current_only_json

        return current_only_json(report)

    def error(self, text: str, *, title: str, extra: Mapping[str, Any], summary: bool = False) -> str:
        return render.render_error(text, title=title, extra=extra, summary=summary)

    def refusal(self, text: str) -> str:
        return render.render_refusal(text)


def scrub(token: str | None, text: str, *, limit: int = 300, one_line: bool = True) -> str:
    """Text from an exception, safe to show: the token replaced, control characters dropped, capped."""
    if token:
        text = text.replace(token, "***")
    if one_line:
        text = text.strip().split("\n", 1)[0]
    text = "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() and ch not in "\u2028\u2029"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Publisher:
    """The outputs, report, summary and comment of one run; each step's failure is contained."""

    def __init__(self, settings: ActionSettings, cmd: Commands, renderer: Renderer,
                 client_factory: Callable[[ActionSettings], GitHubClient]) -> None:
        self.s = settings
        self.cmd = cmd
        self.renderer = renderer
        self.client_factory = client_factory
        self.outputs: dict[str, str] = {
            "passed": "false", "exit-code": str(EXIT_INPUT_ERROR), "regressions": "0",
            "report": "", "comment-url": "", "summary": "",
        }
        self.refused = False  # the PR may not be written to (github.target): exit 2 whatever the gates say

    # --- outputs and files -------------------------------------------------------------------------
    def write_outputs(self, code: int) -> None:
        self.outputs["exit-code"] = str(code)
        try:
            write_outputs(self.s.output_file, self.outputs)
        except OSError as err:
            self.cmd.warning(f"cannot write the outputs: {err}", title="kalibra-action")

    def write_report(self, text: str) -> None:
        """The JSON report at input `report`; its path becomes output `report` when it is shell-safe."""
        try:
            write_text(self.s.report_path, text, roots=make_roots([self.s.workspace]), what="input 'report'",
                       parents=True)
        except (OSError, InputError) as err:  # InputError: a symlink planted after the paths were checked
            self.cmd.warning(f"cannot write the JSON report to {self.s.report}: {err}",
                             title="kalibra-action")
            return
        self.cmd.log(f"JSON report: {self.s.report_display}")
        if not output_is_safe(self.s.report_display):  # a path changed to fit would name another file
            self.cmd.warning("the report's path has characters outside letters, digits and .,:/%+-_=#@ "
                             "(unsafe in a shell): the output 'report' is left empty", title="kalibra-action")
            return
        self.outputs["report"] = self.s.report_display

    def extra(self, provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The templates' `extra`: where the run is, and the baseline artifact's provenance if any."""
        s = self.s
        return {
            "comment_id": s.comment_id, "run_url": s.run_url,
            "report_path": self.outputs["report"] or s.report, "repository": s.repository,
            "event_name": s.event_name, "pr_number": s.pr_number, "sha": s.head_sha,
            "server_url": s.server_url,
            **({"baseline_provenance": provenance} if provenance is not None else {}),
        }

    def pointer(self) -> str:
        """Where a cut list is complete, for the comment's "… N more" lines."""
        report = md(self.outputs["report"] or self.s.report, max_len=2000)
        summary = f"[the job summary]({self.s.run_url})" if self.s.run_url else "the job summary"
        return f"{summary} and the JSON report ({report}) have the full list"

    def write_summary(self, text: Callable[[], str]) -> None:
        if self.s.summary_file is None:
            self.cmd.log("no GITHUB_STEP_SUMMARY: job summary skipped")
            return
        try:
            cut = append_summary(self.s.summary_file, text())
        except OSError as err:
            self.cmd.warning(f"cannot write the job summary: {err}", title="kalibra-action")
            return
        self.cmd.log("job summary written" + (" (cut to 1 MiB)" if cut else ""))

    # --- errors ------------------------------------------------------------------------------------
    def report_error(self, text: str, *, summary_title: str, comment_title: str) -> None:
        """The `summary` output, the job summary and the sticky comment say the run ended in an error; none
        of these steps may raise (the outputs and the exit code must still follow)."""
        self.outputs["summary"] = f"ERROR: {text}"[:1000]
        try:
            append_summary(self.s.summary_file,
                           self.renderer.error(text, title=summary_title, extra={}, summary=True))
        except Exception as err:  # an unwritable or odd summary file must not end the run
            with suppress(Exception):
                self.cmd.warning(f"cannot write the job summary: {err}", title="kalibra-action")
        extra = {"marker": self.s.marker, "run_url": self.s.run_url}
        try:  # an older report must not stay up as if current
            self.comment(lambda: self.renderer.error(text, title=comment_title, extra=extra))
        except Exception as err:  # a failure while reporting the error is only a warning
            with suppress(Exception):
                self.cmd.warning(f"cannot replace the pull request comment with the error: "
                                 f"{type(err).__name__}: {scrub(self.s.token, str(err))}",
                                 title="kalibra-action")

    # --- the pull request comment ------------------------------------------------------------------
    def comment(self, text: Callable[[], str]) -> None:
        """Post or update the sticky comment with `text()`, when there is a pull request we may write to."""
        s = self.s
        pr = s.pr_number
        if s.comment == "off":
            self.cmd.log("comment: off")
            return
        if pr is None:
            self.cmd.log(f"no pull request for event '{s.event_name or '-'}' and no pr-number: no comment")
            return
        if not s.token:
            self.cmd.log("no github-token: no comment (the job summary has the report)")
            return
        if not s.repository:
            self.cmd.warning("GITHUB_REPOSITORY is not set: no comment", title="kalibra-action")
            return
        client = self.client_factory(s)
        try:
            self._check_target(client, pr)
        except TargetRefused as err:
            self._refuse(err)
            return
        try:
            body = text()
        except InputError as err:
            self.cmd.warning(f"cannot render the comment: {err}", title="kalibra-action: template")
            return
        author = cached_identity(client, s.comment_author, self.cmd.log)
        sticky = StickyComment(client, s.repository, pr, s.marker, author=author)
        try:
            done = sticky.publish(body, mode="recreate" if s.comment == "recreate" else "update")
        except GitHubError as err:
            if err.not_permitted:
                self.cmd.warning(FORK_FIX.format(pr=pr, report=self.outputs["report"] or s.report),
                                 title="kalibra-action: cannot comment on the pull request")
            else:
                self.cmd.warning(f"cannot post the pull request comment: {err}. The job summary and "
                                 f"{self.outputs['report'] or 'the JSON report'} have the report.",
                                 title="kalibra-action: cannot comment on the pull request")
            return
        self._note_lookalikes(done, author)
        self.outputs["comment-url"] = done.url
        self.cmd.log(f"comment {done.action}: {done.url}")

    def _check_target(self, client: GitHubClient, pr: int) -> None:
        """Raise TargetRefused unless the action may write to PR `pr` (kalibra_action.github.target)."""
        s = self.s
        check_pr_input(s.event_name, s.event, s.pr_number_input)
        if s.event_name == "workflow_run":
            verify_workflow_run(client, s.repository, pr, s.event)
            self.cmd.log(f"pull request #{pr} has the triggering run's head commit: commenting there")

    def _refuse(self, err: TargetRefused) -> None:
        """No comment; an error annotation and a note in the job summary; the run then exits 2."""
        self.refused = True
        self.cmd.error(f"{err}. No comment was written; the verdict is in the job summary and the outputs.",
                       title="kalibra-action: pull request refused")
        try:
            append_summary(self.s.summary_file, self.renderer.refusal(str(err)))
        except OSError as oserr:
            self.cmd.warning(f"cannot write the job summary: {oserr}", title="kalibra-action")

    def _note_lookalikes(self, done: CommentResult, author: Callable[[], Identity]) -> None:
        """One warning for marker comments someone else wrote: left as they are, never edited or deleted."""
        if not done.ignored:
            return
        shown = ", ".join(f"{author_of(c)} (id {c.get('id') if isinstance(c.get('id'), int) else '?'})"
                          for c in done.ignored[:5])
        more = f" and {len(done.ignored) - 5} more" if len(done.ignored) > 5 else ""
        me = author_of({"user": {"login": author().login}})
        self.cmd.warning(f"{len(done.ignored)} comment(s) carry this report's marker but were not written by "
                         f"the token's identity {me}: {shown}{more}. "
                         "They were left untouched; the report is in the action's own comment. Set input "
                         "'comment-author' if the token writes as another login.",
                         title="kalibra-action: look-alike comment ignored")
