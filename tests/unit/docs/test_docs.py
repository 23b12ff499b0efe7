"""The README and docs/ (issue 26): the README stays short, every relative link in it and in docs/
resolves (file and, for a ``#fragment``, heading), and docs/configuration.md names every setting that
tasks/core/settings.py and setting_sources.py read and .env.example lists, and none that neither knows (pure)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SETTING_READ = re.compile(r'(?:\(values, |values\.get\(|values\[|environ\.get\()"([A-Z][A-Z0-9_]+)"')
ENV_EXAMPLE_KEY = re.compile(r"^#? ?([A-Z][A-Z0-9_]+)=", re.MULTILINE)
TABLE_SETTING = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \|", re.MULTILINE)
ONLY_IN_ENVIRONMENT = {"HEROKU_API_KEY", "HEROKU_CLI"}  # read where they are used (tasks/heroku/cli.py)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_the_readme_is_at_most_12_kb():
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links that do not resolve: {broken}"


def test_the_readme_links_to_every_page_of_docs():
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in PAGES[1:] if f"(docs/{p.name})" not in readme]
    assert not missing, f"pages of docs/ the README does not link to: {missing}"


def test_configuration_names_every_setting_and_no_other():
    readers = ("settings.py", "setting_sources.py")  # the modules that name the variables they read
    code = {key for name in readers for key in SETTING_READ.findall((ROOT / "tasks" / "core" / name).read_text())}
    example = set(ENV_EXAMPLE_KEY.findall((ROOT / ".env.example").read_text()))
    documented = set(TABLE_SETTING.findall((ROOT / "docs" / "configuration.md").read_text()))
    assert {"SOURCE_DATABASE_URL", "BACKUP_DIR", "DATA_MIGRATION"} <= code  # the pattern still finds them
    assert sorted((code | example) - documented) == [], "settings missing from docs/configuration.md"
    assert sorted(documented - code - example - ONLY_IN_ENVIRONMENT) == [], "documented, but no such setting"
