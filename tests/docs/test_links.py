"""Every link a reader follows leads somewhere: each relative link in README.md,
README.ja.md and docs/*.md names an existing file, and an anchor, where one is given, a
heading of that file. And no file sends a reader to a design document the repository
does not have."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.docs.markdown import ROOT, anchors, documents, relative_links

MISSING_DOCUMENT = "DESIGN" + ".md"  # spelled in two parts so this file does not name it
SKIPPED_DIRS = {".git", ".venv", "__pycache__", ".ruff_cache", ".pytest_cache", ".hypothesis"}
SKIPPED_DIRS |= {"comparison-output", "build", "dist", "node_modules"}


@pytest.mark.parametrize("document", documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_to_a_file_and_a_heading(document):
    links = relative_links(document.read_text(encoding="utf-8"))
    assert links, f"{document.name} links nowhere: not even back to the README?"
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        if not target.is_relative_to(ROOT) or not target.exists():
            broken.append(f"{link}: no file {path}")
        elif anchor and (target.suffix != ".md" or anchor not in anchors(target)):
            broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, f"{document.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_the_anchor_check_catches_a_wrong_heading(tmp_path):
    """The check above could pass by never looking at anchors: a wrong one must fail."""
    readme = ROOT / "README.md"
    good = [link for link in relative_links(readme.read_text(encoding="utf-8")) if "#" in link]
    assert good, "the README has no link with an anchor to try"
    path, _, anchor = good[0].partition("#")
    assert anchor in anchors(ROOT / path)
    assert anchor + "-x" not in anchors(ROOT / path)


def test_no_file_mentions_a_design_document_the_repository_lacks():
    assert not (ROOT / MISSING_DOCUMENT).exists()  # were it added, this test would go
    mentions = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder, name)
            data = path.read_bytes()
            if b"\0" not in data and MISSING_DOCUMENT.encode() in data:
                mentions.append(path.relative_to(ROOT).as_posix())
    assert not mentions, f"{MISSING_DOCUMENT} is not in the repository; named in {mentions}"
