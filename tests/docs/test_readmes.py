"""The README is a newcomer's front door (at most 300 lines) and README.ja.md is the same
door in Japanese: the same `##` sections in the same order, each with the same commands
in its code blocks (comments may be translated) and the same links into docs/. Every
docs/ page says what it is for and links back."""

from __future__ import annotations

import pytest

from tests.docs.markdown import (
    DOCS,
    README,
    README_JA,
    code_blocks,
    commands,
    relative_links,
    sections,
)

MAX_README_LINES = 300


def test_the_readme_is_at_most_300_lines():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert 0 < lines <= MAX_README_LINES, f"README.md has {lines} lines; move detail to docs/"


def paired_sections() -> list[tuple[tuple[str, str], tuple[str, str]]]:
    en = sections(README.read_text(encoding="utf-8"))
    ja = sections(README_JA.read_text(encoding="utf-8"))
    assert len(en) >= 5, [title for title, _ in en]
    assert len(ja) == len(en), (
        "README.ja.md needs a `##` section for every one of README.md, in the same order:\n"
        f"  README.md:    {[title for title, _ in en]}\n  README.ja.md: {[t for t, _ in ja]}"
    )
    return list(zip(en, ja, strict=True))


@pytest.mark.parametrize("index", range(len(sections(README.read_text(encoding="utf-8")))))
def test_the_japanese_readme_has_the_same_section_with_the_same_commands(index):
    (en_title, en_body), (ja_title, ja_body) = paired_sections()[index]
    en_code, ja_code = code_blocks(en_body), code_blocks(ja_body)
    assert [lang for lang, _ in ja_code] == [lang for lang, _ in en_code], (en_title, ja_title)
    for (lang, en), (_, ja) in zip(en_code, ja_code, strict=True):
        assert commands(lang, ja) == commands(lang, en), f"{en_title} / {ja_title}: {lang} block"
    docs_links = {link for link in relative_links(en_body) if link.startswith("docs/")}
    missing = docs_links - set(relative_links(ja_body))
    assert not missing, f"{ja_title} lacks the links of {en_title}: {sorted(missing)}"


def test_sections_are_told_apart_by_their_code_and_links():
    """Pairing by order holds only if no two sections look alike: each section of the
    README carries a code block or a docs/ link, and no two carry the same ones."""
    seen = []
    for title, body in sections(README.read_text(encoding="utf-8")):
        key = (
            tuple(tuple(commands(*block)) for block in code_blocks(body)),
            tuple(sorted(set(relative_links(body)))),
        )
        assert key != ((), ()), f"{title}: nothing to pair it by"
        assert key not in seen, f"{title} pairs like an earlier section"
        seen.append(key)


def test_the_pairing_check_catches_a_changed_command():
    (en_title, en_body), _ = next(p for p in paired_sections() if code_blocks(p[0][1]))
    lang, code = code_blocks(en_body)[0]
    changed = code.replace("make", "mk", 1) if "make" in code else code + "extra line\n"
    assert commands(lang, changed) != commands(lang, code), en_title


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_a_docs_page_says_what_it_is_for_and_links_back(page):
    lines = page.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# "), f"{page.name} starts with its title"
    top = "\n".join(lines[1:6])
    back = "../README.ja.md" if page.name.endswith(".ja.md") else "../README.md"
    assert f"]({back})" in top, f"{page.name}: a purpose line linking back to {back}"
