"""Screenshot of a comment as GitHub shows it: cmark-gfm HTML, GitHub-like CSS, headless Chromium.

    .venv/bin/python scripts/screenshot.py     # the motivating story → docs/story-comment{,-dark}.png
    .venv/bin/python scripts/screenshot.py COMMENT.md OUT.png [--dark]

The colours are GitHub's light and dark themes, so the picture shows that the comment (the range chart in
particular: plain characters in the text colour) reads in both.

Needs `chromium` (Debian: apt-get install -y chromium). Not part of `make test`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

ROOT = Path(__file__).resolve().parent.parent
CSS = """
body { font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; margin: 16px;
       max-width: 1000px; color: #1f2328; background: #ffffff; }
body.dark { color: #e6edf3; background: #0d1117; }
table { border-collapse: collapse; margin: 8px 0; display: block; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 4px 10px; }
.dark th, .dark td { border-color: #3d444d; }
tr:nth-child(2n) { background: #f6f8fa; } .dark tr:nth-child(2n) { background: #151b23; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; background: #eff1f3; padding: 1px 4px;
       border-radius: 6px; } .dark code { background: #262c36; }
blockquote { margin: 0; padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
.dark blockquote { color: #9198a1; border-color: #3d444d; }
h2, h3 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
"""


def story_markdown() -> str:
    """The comment for the motivating story (tests/fixtures/story.py)."""
    sys.path.insert(0, str(ROOT))
    from kalibra_action.report.render import render_markdown
    from tests.fixtures.story import story_result

    with tempfile.TemporaryDirectory() as tmp:
        return render_markdown(story_result(Path(tmp)))


def screenshot(markdown: str, out: Path, dark: bool = False) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("screenshot: chromium not found (apt-get install -y chromium)")
    body = cmarkgfm.markdown_to_html_with_extensions(
        markdown, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "strikethrough", "autolink"])
    page = (f"<!doctype html><meta charset=utf-8><style>{CSS}</style>"
            f"<body class={'dark' if dark else 'light'}>{body}</body>")
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "comment.html"
        html.write_text(page, encoding="utf-8")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={out.resolve()}", "--window-size=1040,1400", html.as_uri()],
                       check=True, capture_output=True, timeout=120)


def main(argv: list[str]) -> None:
    args = [a for a in argv if a != "--dark"]
    if len(args) == 2:
        screenshot(Path(args[0]).read_text(encoding="utf-8"), Path(args[1]), "--dark" in argv)
        print(args[1])
        return
    if args:
        sys.exit(__doc__)
    markdown = story_markdown()
    for name, dark in (("story-comment.png", False), ("story-comment-dark.png", True)):
        screenshot(markdown, ROOT / "docs" / name, dark)
        print(ROOT / "docs" / name)


if __name__ == "__main__":
    main(sys.argv[1:])
