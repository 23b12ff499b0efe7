"""
Issue 31 item 1, through the real pyinfra CLI: in copy mode, a new migration that the source does not
follow is foreseen from the expected schema and refused by the dry run and the run alike, before the
backup and before any migration; made in the source first, it is applied and the copy converges.
"""

from __future__ import annotations

import pytest

from tests.support import query

pytestmark = pytest.mark.cluster

RATING = "ALTER TABLE messages ADD COLUMN rating int; CREATE INDEX messages_rating ON messages (rating);"
REFUSAL = ("table public.messages: column rating is in the schema after the pending migrations but not in the "
           "source: nothing was changed")


def _backups(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_a_migration_the_source_lacks_is_refused_before_the_backup_then_made_in_the_source_it_converges(
        project, source_db):
    """Old code: --dry said "Data copied converged"; the run migrated the target, then the copy failed."""
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"  # the copy alone
    assert project.deploy().code == 0
    versions, backups = project.applied_versions(), _backups(project)
    project.write_migration("900_rating.sql", RATING)
    for result in (project.dry(), project.deploy(), project.deploy()):
        assert result.code != 0, result.output[-3000:]
        assert REFUSAL in result.output, result.output[-3000:]
        assert project.applied_versions() == versions
        assert _backups(project) == backups

    query(source_db, RATING, which="source")  # the change made in the source first, as the docs say
    dry = project.dry()
    assert dry.code == 0 and REFUSAL not in dry.output, dry.output[-3000:]
    applied = project.deploy()
    assert applied.code == 0, applied.output[-3000:]
    assert 900 in project.applied_versions()
    again = project.deploy()
    assert again.code == 0 and again.changed() == [], again.output[-3000:]


def test_a_column_the_source_fills_and_a_migration_adds_is_refused_before_the_backup(project, source_db):
    """Old code: --dry passed; the run took a backup, applied the migration, then the copy failed
    'table public.users in the target is not empty and differs from the source'."""
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    assert project.deploy().code == 0
    versions, backups = project.applied_versions(), _backups(project)
    query(source_db, "ALTER TABLE users ADD COLUMN nickname text; UPDATE users SET nickname = 'n' || id",
          which="source")
    project.write_migration("900_nickname.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    for result in (project.dry(), project.deploy()):
        assert result.code != 0, result.output[-3000:]
        assert "add column(s) nickname, which the source fills" in result.output, result.output[-3000:]
        assert "COPY_CONFLICT=replace" in result.output
        assert project.applied_versions() == versions and _backups(project) == backups


@pytest.mark.parametrize("default, refused", [("false", False), ("now()", True)], ids=["constant", "volatile"])
def test_a_column_with_a_default_made_in_the_source_first_converges_unless_its_values_would_differ(
        project, source_db, default, refused):
    """Adversary pass 6, finding 1: a column with a constant default, made in the source first and by the
    same file, was refused ("the source fills" it; its advice, filling it in the migration, was refused in
    turn), though the target's rows get the source's values from the default. It now applies and the
    copy finds the tables equal; a default the rows' values do not equal (``now()``, evaluated later) is
    still refused before the backup, pointing at COPY_CONFLICT=replace."""
    from tests.copy_support import fingerprints, with_rows

    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    assert project.deploy().code == 0
    versions, backups = project.applied_versions(), _backups(project)
    kind = "boolean" if default == "false" else "timestamptz"
    text = f"ALTER TABLE users ADD COLUMN flag {kind} NOT NULL DEFAULT {default};\n"
    query(source_db, text, which="source")
    project.write_migration("900_flag.sql", text)
    result = project.deploy()
    if refused:
        assert result.code != 0 and "COPY_CONFLICT=replace" in result.output, result.output[-3000:]
        assert project.applied_versions() == versions and _backups(project) == backups
        return
    assert result.code == 0, result.output[-3000:]
    assert 900 in project.applied_versions()
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    again = project.deploy()
    assert again.code == 0 and again.changed() == [], again.output[-3000:]
