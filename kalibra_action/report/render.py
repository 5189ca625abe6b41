"""Every Markdown the project writes, and the terminal text, through Jinja2 templates.

`render` is the one path for Markdown: the comparison (comment, job summary), the current-traces-only
report, the error notice and the pull-request refusal all come from templates in `templates/`, fitted to
the comment's or the job summary's size limit. One environment for the package templates; a user template
renders with the same filters and context in Jinja's immutable sandbox, in a child process with time,
memory and output caps (report.sandbox). Autoescape is off: every template passes untrusted text through
the `md` filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from kalibra_action import __version__
from kalibra_action.errors import InputError
from kalibra_action.limits import COMMENT_BUDGET, SUMMARY_BUDGET, TEMPLATE_OUTPUT_FACTOR
from kalibra_action.report import format as fmt
from kalibra_action.report import sandbox, story
from kalibra_action.report.context import Caps, build
from kalibra_action.report.escape import md, plain
from kalibra_action.result import Result

if TYPE_CHECKING:
    from kalibra_action.current_only.model import CurrentOnly

ContextOf = Callable[[Caps], dict[str, Any]]  # a template's variables, long lists cut to the caps given

TEMPLATES = Path(__file__).parent / "templates"
MARKDOWN = "markdown.md.j2"
TERMINAL = "terminal.txt.j2"
CURRENT_ONLY = "current_only.md.j2"
ERROR = "error.md.j2"
REFUSED = "refused.md.j2"
_CAP_STEPS = (None, 500, 200, 100, 50, 20, 10, 5, 2, 0)
_ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
_DEFAULT_POINTER = "the job summary or the JSON report (`--format json`) has the full list"


def _filters(color: bool = False) -> dict[str, Callable]:
    def paint(text: object, style: str) -> str:
        if not color or style not in _ANSI:
            return str(text)
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m"

    return {**fmt.FILTERS, "md": md, "plain": plain, "color": paint}


def grid(headers: list[str], rows: list[list[object]], indent: int = 2) -> str:
    """Left-aligned text columns (for the terminal); cells are made one-line with `plain`."""
    table = [[plain(h) for h in headers]] + [[plain(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    return "\n".join(" " * indent + line for line in lines)


def _configure(env: jinja2.Environment, color: bool) -> jinja2.Environment:
    env.filters.update(_filters(color))
    env.globals.update(default_pointer=_DEFAULT_POINTER, grid=grid)
    return env


def _package_env(color: bool) -> jinja2.Environment:
    return _configure(jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined), color=color)


_ENV = _package_env(color=False)
_COLOR_ENV = _package_env(color=True)


def _user_template(path: Path) -> jinja2.Template:
    """A custom template, loaded and compiled in the sandbox (in the render child: parsing is work too)."""
    env = sandbox.user_environment(path.parent, TEMPLATES, autoescape=False, trim_blocks=True,
                                   lstrip_blocks=True, keep_trailing_newline=True)
    try:
        return _configure(env, color=False).get_template(path.name)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}", line=exc.lineno) from None
    except jinja2.TemplateError as exc:
        raise InputError(f"cannot read template: {exc}") from None


def _render(tpl: jinja2.Template, ctx: dict, cap: int | None = None) -> str | None:
    """The text of a custom template (None past `cap` characters); its errors become InputError."""
    try:
        return sandbox.stream(tpl, ctx, cap)
    except Exception as exc:  # SecurityError, UndefinedError, OverflowError, ... from a user template
        raise InputError(f"template error: {type(exc).__name__}: {exc}", line=_template_line(exc)) from None


def _template_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith((".j2", ".md", ".txt", ".jinja", ".html")):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render(name: str, context: ContextOf, *, template: str | Path | None = None,
           root: str | Path | None = None, limit: int = COMMENT_BUDGET, size: Callable[[str], int] = len,
           pointer: str = _DEFAULT_POINTER, limits: sandbox.Limits | None = None) -> str:
    """The one way Markdown is made: the built-in template `name`, or a custom `template`, at most `limit`.

    `context(caps)` gives the template's variables with long lists cut to `caps`; over the limit the lists
    are cut step by step, and a text that never fits is cut at a line with a note naming `pointer` (where
    the rest is). The size is measured by `size` (default characters).

    A custom `template` must be a file inside `root` (default: the current directory); it renders in a
    sandboxed child process within `limits` (default: 10 s, and output up to twice `limit`), see
    kalibra_action.report.sandbox.
    """
    if template is None:
        tpl = _ENV.get_template(name)
        return _fit(tpl.render, context, limit, size, pointer)
    path = sandbox.confine_template(template, Path.cwd() if root is None else root)
    limits = limits or sandbox.Limits(output=TEMPLATE_OUTPUT_FACTOR * limit)

    def work() -> str:
        tpl = _user_template(path)
        return _fit(lambda ctx: _render(tpl, ctx, limits.output), context, limit, size, pointer,
                    cap=limits.output)

    return sandbox.run_isolated(work, limits, source=str(template))


def _fit(render: Callable[[dict], str | None], context: ContextOf, limit: int, size: Callable[[str], int],
         pointer: str, cap: int | None = None) -> str:
    """Render with ever shorter lists until the text fits `limit`; a text that never does is cut.

    `render` gives None for a text it stopped past `cap` characters; with the shortest lists that is an error.
    """
    text = None
    for items in _CAP_STEPS:
        text = render(context(Caps(items)))
        if text is not None and size(text) <= limit:
            return text
    if text is None:
        raise InputError(f"template output is larger than {cap:,} characters (the limit) "
                         "even with the shortest lists")
    text = hard_cut(text, limit, pointer)
    while size(text) > limit:  # multi-byte characters under a byte budget
        text = hard_cut(text, limit - (size(text) - limit) - 1, pointer)
    return text


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def render_markdown(result: Result, *, template: str | Path | None = None, extra: Mapping | None = None,
                    limit: int = COMMENT_BUDGET, verbose: bool = False,
                    size: Callable[[str], int] = len, root: str | Path | None = None,
                    limits: sandbox.Limits | None = None) -> str:
    """The comparison as Markdown (PR comment), through `render` with markdown.md.j2 or a custom template.

    Over the limit, long lists (regressed tasks, spans, warnings, files) are cut to their worst items
    step by step; the verdict and the gate table always stay.
    """
    extra = {"full_report": _DEFAULT_POINTER, **(extra or {})}
    return render(MARKDOWN, lambda caps: build(result, caps=caps, extra=extra, verbose=verbose),
                  template=template, root=root, limit=limit, size=size, pointer=str(extra["full_report"]),
                  limits=limits)


def render_summary(result: Result, *, extra: Mapping | None = None, template: str | Path | None = None,
                   limit: int = SUMMARY_BUDGET, root: str | Path | None = None) -> str:
    """The job summary: the same Markdown with every list (verbose), within the 1 MiB step-summary cap."""
    extra = {"full_report": "the JSON report has everything", "target": "summary", **(extra or {})}
    return render_markdown(result, template=template, extra=extra, limit=limit, verbose=True,
                           size=_utf8_size, root=root)


def render_current_only(report: CurrentOnly, *, extra: Mapping | None = None, summary: bool = False) -> str:
    """The current traces alone (no baseline): the comment, or with `summary` the job summary."""
    ctx = {"report": report, "extra": dict(extra or {}), "version": __version__}
    return render(CURRENT_ONLY, lambda _caps: ctx, **_budget(summary))


def render_error(message: str, *, title: str, extra: Mapping | None = None, summary: bool = False) -> str:
    """The notice that no comparison ran (bad input, internal error): the comment, or the job summary's."""
    ctx = {"where": "summary" if summary else "comment", "title": title, "message": message,
           "extra": dict(extra or {})}
    return render(ERROR, lambda _caps: ctx, **_budget(summary))


def render_refusal(message: str) -> str:
    """The job summary's note that the pull request was refused (kalibra_action.github.target)."""
    return render(REFUSED, lambda _caps: {"message": message}, **_budget(summary=True))


def _budget(summary: bool) -> dict:
    """The size limit of a job summary (bytes) or of a comment (characters)."""
    return {"limit": SUMMARY_BUDGET, "size": _utf8_size} if summary else {"limit": COMMENT_BUDGET}


_DETAILS_OPEN = re.compile(r"<details\b", re.I)
_DETAILS_CLOSE = re.compile(r"</details\s*>", re.I)


def hard_cut(text: str, limit: int, pointer: str = _DEFAULT_POINTER) -> str:
    """Last resort: cut at a line boundary, close open `<details>`, say where the rest is."""
    note = f"\n\n**Report truncated** to fit {limit:,} characters — {pointer}.\n"
    budget = max(0, limit - len(note) - 200)
    cut = text[:budget]
    if "\n" in cut:
        cut = cut[: cut.rfind("\n")]
    open_details = len(_DETAILS_OPEN.findall(cut)) - len(_DETAILS_CLOSE.findall(cut))
    closing = "\n\n" + "\n".join(["</details>"] * open_details) if open_details > 0 else ""
    return (cut + closing + note)[:limit]


def render_terminal(result: Result, *, color: bool = False, verbose: bool = False) -> str:
    """Plain-text report for a terminal; ANSI colour only when asked (the CLI checks TTY and NO_COLOR)."""
    env = _COLOR_ENV if color else _ENV
    ctx = build(result, caps=Caps(None if verbose else 20), verbose=verbose)
    ctx["metric_table"] = [[m["label"], m["baseline"], m["current"], m["delta"], m["ci"],
                            f"{m['badge']} {m['word']}"] for m in ctx["metrics"]]
    ctx.update(_terminal_task_tables(ctx["tasks"]))
    ctx["decomposition_table"] = [[d["label"], d["baseline"], d["current"],
                                   f"{d['change']} ({d['change_pct']})",
                                   *(d[g] for g in story.GROUPS)]
                                  for d in ctx["decomposition"]]
    ctx["span_table"] = [[s["name"], f"{s['badge']} {s['direction']}", s["duration"], s["cost"],
                          s["tokens"], s["errors"]] for s in ctx["spans"]["rows"]]
    return env.get_template(TERMINAL).render(ctx)


def _terminal_task_tables(tasks: dict) -> dict:
    """The terminal's task tables: the regressed tasks first, then every changed task with its range bar;
    the CI and median columns only when the statistics gave them (as in the comment)."""
    ci = ["ci"] if tasks["has_ci"] else []
    medians = list(story.MEDIAN_METRICS) if tasks["has_medians"] else []
    ci_head = ["95% CI"] if ci else []
    out = {
        "regressed_header": ["task", "baseline", "current", "change pp", *ci_head, "q", *medians],
        "regressed_table": [[t[k] for k in ("task_id", "baseline", "current", "change", *ci, "q", *medians)]
                            for t in tasks["top_regressed"]],
    }
    if not tasks["summary"].get("tested"):
        out["task_table"] = [[t["task_id"], t["baseline"], t["current"], t["change"]]
                             for t in tasks["regressed"]]
        return out
    out["task_header"] = ["task", "baseline", "current", "change pp", *ci_head, "p", "q", "verdict",
                          story.caption(tasks["range_half"])]
    out["task_table"] = [[t["task_id"], t["baseline"], t["current"], t["change"], *(t[k] for k in ci), t["p"],
                          t["q"], f"{t['badge']} {t['verdict']}", story.range_bar(t["_delta"], t["_ci"],
                                                                                  tasks["range_half"])]
                         for t in tasks["rows"]]
    return out


def render_starter_config(baseline: str, current: str, inspected: object | None = None) -> str:
    """The starter kalibra.yml written by `init` (paths quoted as YAML strings); with the InspectReport of
    the current traces, set to their detected format and suggested fields."""
    import json

    from kalibra_action.report.escape import plain
    from kalibra_action.report.inspect import suggest_block
    from kalibra_action.report.json import plain as jsonable
    from kalibra_action.traces.registry import format_names

    detected = looks = block = ""
    if inspected is not None:
        data = jsonable(inspected)
        if data["format"] in format_names():
            detected = data["format"]
        looks = "; ".join(f"Looks like {plain(v, 300)}" for v in data["looks_like"].values())
        detected = "" if looks else detected  # not flat after all: no `format: flat` to pin it
        block = suggest_block(data).rstrip("\n")
        block = "" if block.startswith("#") else block
    tpl = _ENV.get_template("starter.yml.j2")
    return tpl.render(baseline=json.dumps(baseline), current=json.dumps(current), detected=detected,
                      looks_like=looks, fields_block=block,
                      formats=", ".join(format_names()))
