"""README.md and docs/: every link to a file of the repository leads to one, and no page (nor any comment or
docstring of the code) cites a document the repository does not have (a reader who clones it has only these)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE = sorted(p for folder in ("layers", "functions", "cli", "local", "tests", "bench")
              for p in (ROOT / folder).rglob("*.py"))
OUTSIDE = r"CONTRACT(?:\.md)? ?§|STYLE(?:\.md)? ?§|\bissues? \d+"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_lead_to_files_of_the_repository(page: Path) -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert [t for t in local if not (page.parent / t).exists()] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_cites_a_document_outside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert re.findall(OUTSIDE, text) == []


def test_no_module_cites_a_document_outside_the_repository() -> None:
    citing = {str(p.relative_to(ROOT)): found for p in CODE if (found := re.findall(OUTSIDE, p.read_text("utf-8")))}
    assert citing == {}
