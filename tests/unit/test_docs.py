"""What the code and the README cite under docs/ is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"docs/([a-z0-9-]+\.md)")


def cited_docs() -> dict[str, set[str]]:
    """Each cited doc, with the files citing it."""
    found: dict[str, set[str]] = {}
    sources = [
        ROOT / "README.md",
        *(ROOT / "function").rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
    ]
    for path in sources:
        for name in CITED.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_cited_doc_exists() -> None:
    cited = cited_docs()
    assert {"architecture.md", "contract.md", "metrika-api.md"} <= cited.keys()
    missing = {name: files for name, files in cited.items() if not (ROOT / "docs" / name).is_file()}
    assert missing == {}


def test_the_docs_link_to_each_other_and_to_files_that_exist() -> None:
    for doc in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name} links to {target}"
