"""No documented or shipped workflow pastes untrusted values into a shell script.

`${{ … }}` inside `run:` is substituted into the script before the shell runs it, so an output carrying a
file name, or a field of the event (a branch name, a PR title) becomes code. Such values must reach the shell
through `env:` and be used as "$NAME".
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted([*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob("examples/workflows/**/*.yml")])
MARKDOWN = sorted([ROOT / "README.md", *ROOT.glob("examples/**/*.md"), *ROOT.glob("docs/**/*.md")])
UNTRUSTED = re.compile(r"\$\{\{[^}]*\b(outputs|github\.event|github\.head_ref|inputs|env)\b[^}]*\}\}")


def yaml_blocks(path: Path) -> Iterator[tuple[str, str]]:
    text = path.read_text(encoding="utf-8")
    for n, m in enumerate(re.finditer(r"^```ya?ml\n(.*?)^```", text, re.S | re.M)):
        yield f"{path.name} yaml block {n + 1}", m.group(1)


def sources() -> list[tuple[str, str]]:
    found = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in WORKFLOWS]
    for md in MARKDOWN:
        if md.exists():
            found.extend(yaml_blocks(md))
    return found


def run_scripts(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            else:
                yield from run_scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from run_scripts(item)


def scripts_of(text: str) -> list[str]:
    """The `run:` scripts; for a block that is no YAML (two files side by side), what follows each `run:`."""
    try:
        return list(run_scripts(yaml.safe_load(textwrap.dedent(text))))
    except yaml.YAMLError:
        return [part for line in text.splitlines() for part in line.split("run:")[1:]]


@pytest.mark.parametrize(("where", "text"), sources(), ids=[w for w, _ in sources()])
def test_no_untrusted_expression_inside_run(where, text):
    for script in scripts_of(text):
        bad = UNTRUSTED.search(script)
        assert bad is None, f"{where}: {bad.group(0)} inside run: pass it through env: instead"


def test_the_check_catches_the_old_readme_pattern():
    old = '- if: always()\n  run: echo "::notice::${{ steps.kalibra.outputs.summary }}"\n'
    assert UNTRUSTED.search(scripts_of(old)[0])
    assert UNTRUSTED.search(scripts_of("a: b   - run: x ${{ github.event.pull_request.title }}\n- c: d")[0])
    assert WORKFLOWS and len(sources()) > len(WORKFLOWS)  # the README's blocks were found
