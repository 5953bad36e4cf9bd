"""The Rosetta's HTML in a real browser: headless Chromium lays the page out and a small
script measures, in pixels, what a reader sees: each <pre> keeps its indentation, the
frameworks stand in three columns from 1600 px (two at 1280), every snippet of one step
starts on the same row, no code is smaller than 13 px or hidden behind a scroll bar.
Screenshots at 1280 and 1920 px, English and Japanese, are written for a person to look
at: under $ROSETTA_SCREENSHOTS when it names a directory, else under pytest's tmp_path."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from comparisons import rosetta

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI has it)")

INDENTS = """<script>
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

BOXES = """<script>
const grids = [];
for (const section of document.querySelectorAll('#rosetta')) {
  for (const grid of section.querySelectorAll('.code')) {
    grids.push([...grid.children].map((el) => {
      const r = el.getBoundingClientRect();
      return {framework: el.dataset.framework, step: el.dataset.step ?? null,
              pre: el.tagName === 'PRE', left: r.left, right: r.right, top: r.top,
              width: r.width, font: parseFloat(getComputedStyle(el).fontSize),
              hidden: el.scrollWidth - el.clientWidth};
    }));
  }
}
document.body.setAttribute('data-boxes', JSON.stringify({width: innerWidth, grids}));
</script>"""


def chromium(page: str, width: int, height: int, *, screenshot: Path | None = None) -> str:
    """Lay `page` out in a `width` x `height` window: the DOM after its scripts ran, or
    (with `screenshot`) a PNG of the window written there."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.html"
        path.write_text(page, encoding="utf-8")
        what = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        proc = subprocess.run(
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
                f"--window-size={width},{height}",
                *what,
                path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return proc.stdout


def attribute(dom: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', dom)
    assert found, dom[:500]
    return html.unescape(found.group(1))


@functools.cache
def boxes(width: int) -> dict:
    """The boxes of every grid item of the English and the Japanese page, `width` wide."""
    fragments = "\n".join(rosetta.render_html(lang=lang) for lang in ("en", "ja"))
    page = rosetta.render_html(page=True).replace(
        rosetta.render_html(), fragments + BOXES
    )  # the page `rosetta --format html` writes, with both languages and the script
    return json.loads(attribute(chromium(page, width, 1000), "data-boxes"))


def test_chromium_keeps_the_indentation_of_every_snippet():
    # a host page whose own CSS collapses whitespace in <pre>: the section must win
    fragments = "\n".join(rosetta.render_html(lang=lang) for lang in ("en", "ja"))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<style>pre { white-space: normal; } body { width: 1200px; }</style></head>"
        f"<body>{fragments}{INDENTS}</body></html>"
    )
    found = attribute(chromium(page, 1280, 1000), "data-indents")
    pairs = [tuple(map(int, item.split(":"))) for item in found.split(",")]
    assert len(pairs) >= 2 * len(rosetta.CONCEPTS)  # most snippets have an indented line
    for pixels, spaces in pairs:  # a monospace space is about 7.8 px at 13 px
        assert 6 * spaces <= pixels <= 10 * spaces, (pixels, spaces)


def columns(grid: list[dict]) -> list[list[dict]]:
    """The grid's items by column: items whose left edges agree within a pixel."""
    out: list[list[dict]] = []
    for item in sorted(grid, key=lambda it: it["left"]):
        if out and abs(out[-1][0]["left"] - item["left"]) < 1:
            out[-1].append(item)
        else:
            out.append([item])
    return out


@pytest.mark.parametrize("width", [1600, 1920])
def test_three_columns_side_by_side_with_each_step_on_one_row(width):
    measured = boxes(width)
    assert measured["width"] == width
    grids = measured["grids"]
    assert len(grids) == 2 * len(rosetta.CONCEPTS)  # English and Japanese
    for grid in grids:
        cols = columns(grid)
        assert [{it["framework"] for it in col} for col in cols] == [
            {"numpy"},
            {"torch"},
            {"jax"},
        ], grid
        assert all(a[0]["right"] <= b[0]["left"] for a, b in zip(cols, cols[1:], strict=False))
        widths = {round(col[0]["width"]) for col in cols}
        assert len(widths) == 1 and min(widths) >= 500, widths  # three equal columns
        labels = [it for it in grid if not it["pre"]]
        assert len({round(it["top"]) for it in labels}) == 1  # one row of captions
        by_step: dict[str, set[int]] = {}
        for it in grid:
            if it["pre"]:
                by_step.setdefault(it["step"], set()).add(round(it["top"]))
        assert all(len(tops) == 1 for tops in by_step.values()), by_step  # aligned by step
        tops = [next(iter(by_step[s])) for s in sorted(by_step, key=int)]
        assert tops == sorted(tops) and len(set(tops)) == len(tops)  # steps go down


def test_two_columns_at_1280_and_the_third_framework_below():
    grids = boxes(1280)["grids"]
    for grid in grids:
        cols = columns(grid)
        assert [{it["framework"] for it in col} for col in cols] == [{"numpy", "jax"}, {"torch"}]
        numpy_bottom = max(it["top"] for it in grid if it["framework"] in ("numpy", "torch"))
        assert min(it["top"] for it in grid if it["framework"] == "jax") > numpy_bottom


@pytest.mark.parametrize("width", [1280, 1600, 1920])
def test_code_is_13_px_or_more_and_no_line_hides_behind_a_scroll_bar(width):
    pres = [it for grid in boxes(width)["grids"] for it in grid if it["pre"]]
    assert len(pres) >= 3 * len(rosetta.CONCEPTS)
    assert min(it["font"] for it in pres) >= 13
    assert max(it["hidden"] for it in pres) <= 0, [it for it in pres if it["hidden"] > 0]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("width", [1280, 1920])
def test_screenshots_for_a_person_to_look_at(tmp_path, lang, width):
    folder = Path(os.environ.get("ROSETTA_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"rosetta-{lang}-{width}.png"
    shot.unlink(missing_ok=True)
    chromium(rosetta.render_html(lang=lang, page=True), width, 2400, screenshot=shot)
    assert png_size(shot) == (width, 2400)
