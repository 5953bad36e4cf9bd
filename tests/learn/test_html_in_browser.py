"""The Rosetta's HTML in a real browser: headless Chromium lays the page out and a small
script measures, in pixels, how far each <pre>'s first indented line starts from its
left edge. Collapsed whitespace would put it at 0."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from comparisons import rosetta

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

MEASURE = """<script>
const found = [];
for (const code of document.querySelectorAll('#rosetta pre code')) {
  const node = code.firstChild, text = node ? node.textContent : '';
  const m = /\\n( {4,})\\S/.exec(text);
  if (!m) continue;
  const at = (k) => { const r = document.createRange(); r.setStart(node, k);
                      r.setEnd(node, k + 1); return r.getBoundingClientRect().left; };
  const start = m.index + 1;
  found.push(Math.round(at(start + m[1].length) - at(start)) + ':' + m[1].length);
}
document.body.setAttribute('data-indents', found.join(','));
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_chromium_keeps_the_indentation_of_every_snippet():
    # a host page whose own CSS collapses whitespace in <pre>: the section must win
    fragments = "\n".join(rosetta.render_html(lang=lang) for lang in ("en", "ja"))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<style>pre { white-space: normal; } body { width: 1200px; }</style></head>"
        f"<body>{fragments}{MEASURE}</body></html>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rosetta.html"
        path.write_text(page, encoding="utf-8")
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp}/profile",
                "--dump-dom",
                path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    found = re.search(r'data-indents="([^"]*)"', dom)
    assert found, dom[:500]
    pairs = [tuple(map(int, item.split(":"))) for item in found.group(1).split(",")]
    assert len(pairs) >= 2 * len(rosetta.CONCEPTS)  # most snippets have an indented line
    for pixels, spaces in pairs:  # a monospace space is about 7 px at 12 px
        assert 5 * spaces <= pixels <= 10 * spaces, (pixels, spaces)
