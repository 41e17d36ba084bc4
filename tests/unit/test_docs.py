"""The project's docs (docs/*.md) are what the code cites: every `docs/<page>.md#<section>` in
the code, the tests and the README, and every link between the pages, names a page and a
section heading that exist (anchors as GitHub makes them from headings)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CITATION = re.compile(r"docs/([a-z_]+\.md)(?:#([a-z0-9_-]+))?")
LINK = re.compile(r"\]\(([a-z_]+\.md)(?:#([a-z0-9_-]+))?\)")


def anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def cited() -> list[tuple[str, str, str | None]]:
    sources = [*ROOT.glob("app/**/*.py"), *ROOT.glob("app/**/*.sql"), *ROOT.glob("workers/**/*.py"),
               *ROOT.glob("tests/**/*.py"), *ROOT.glob("deploy/**/*"), ROOT / "README.md"]
    found = [(str(path.relative_to(ROOT)), page, section) for path in sources if path.is_file()
             for page, section in CITATION.findall(path.read_text(errors="replace"))]
    found += [(f"docs/{path.name}", page, section) for path in DOCS.glob("*.md")
              for page, section in LINK.findall(path.read_text())]
    return found


def test_the_five_pages_exist_and_are_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in ("metrics", "pipeline", "api", "configuration", "operations"):
        assert (DOCS / f"{page}.md").is_file() and f"docs/{page}.md" in readme


def test_every_cited_section_exists():
    citations = cited()
    assert len(citations) > 40
    broken = [(where, page, section) for where, page, section in citations
              if not (DOCS / page).is_file() or (section and section not in anchors(DOCS / page))]
    assert broken == []
