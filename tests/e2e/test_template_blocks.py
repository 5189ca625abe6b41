"""A custom template that extends the built-in one, through entrypoint.py (runner environment, fake GitHub).

The posted comment is the built-in comment with the one block replaced; the job summary (always the
built-in template) is untouched by it.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import FAILING_GATES, PR, Layout, write_workspace

MARKER = "<!-- kalibra-action:kalibra -->"


def test_an_extending_template_replaces_only_its_block(run_action, fake_github, tmp_path: Path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, FAILING_GATES)
    (layout.workspace / ".github").mkdir()
    (layout.workspace / ".github" / "comment.md.j2").write_text(
        '{% extends "markdown.md.j2" %}\n'
        "{% block gates %}Gates: {{ gates|map(attribute='label')|join(', ') }}\n\n{% endblock %}\n"
        "{% block footer %}Ask #evals about {{ extra.marker|length }}\n{% endblock %}\n")
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": ".github/comment.md.j2"})
    assert run.code == 1, run.log
    assert "::warning" not in run.stdout  # the template did not fail over to the built-in one
    [body] = [c["body"] for c in fake_github.comments.get(PR, []) if c["body"].startswith(MARKER)]
    assert body.startswith(MARKER + "\n## ❌ Kalibra · FAILED")
    assert "Gates: FAIL, PASS\n\n### Per-task results" in body and "### Quality gates" not in body
    assert body.endswith(f"Ask #evals about {len(MARKER)}\n") and "<sub>kalibra-action" not in body
    assert "### Metrics" in body and "<summary>Provenance</summary>" in body
    assert "### Quality gates" in run.summary and "Ask #evals" not in run.summary
