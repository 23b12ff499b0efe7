"""
Real input (issue 16): a public schema's ``pg_dump --schema-only`` output (Pagila, vendored under
tests/samples/pagila, MIT) as a migration file, deployed unedited through the real pyinfra CLI to the
sandbox's non-superuser target: refused up front with the line that must change, and applied once
that line is changed.
"""

import shutil
from pathlib import Path

import pytest

from tests.support import catalog_and_data

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "pagila"


def _only(project, source: Path, text: str | None = None) -> None:
    for old in project.migrations.glob("*.sql"):
        old.unlink()
    project.seeds = project.tmp / "no-seed"
    if text is None:
        shutil.copyfile(source, project.migrations / "001_pagila.sql")
    else:
        (project.migrations / "001_pagila.sql").write_text(text)


def test_pg_dump_15_18_output_is_refused_at_its_restrict_line_before_anything_runs(project):
    _only(project, SAMPLES / "pagila-schema-pg_dump-15.18-no-owner.sql")
    before = catalog_and_data(project.target_db)
    for run in (project.dry, project.deploy):
        result = run()
        assert result.code != 0
        assert "migration 001_pagila.sql line 5: psql meta-command \\restrict is not SQL" in result.output, (
            result.output[-2000:]
        )
        assert "Traceback" not in result.output
    assert catalog_and_data(project.target_db) == before


def test_owner_changes_are_refused_by_the_proof_with_their_line_before_any_backup(project):
    _only(project, SAMPLES / "pagila-schema.sql")
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code != 0
    assert "migration 001_pagila.sql line 26:" in result.output and 'role "postgres"' in result.output, result.output[
        -2000:
    ]
    assert "throw-away shadow database" in result.output
    assert not list((project.tmp / "backups").glob("target/*.dump"))
    assert catalog_and_data(project.target_db) == before


def test_the_dump_applies_to_the_non_superuser_target_once_the_named_lines_go(project):
    dump = (SAMPLES / "pagila-schema-pg_dump-15.18-no-owner.sql").read_text()
    _only(
        project,
        SAMPLES,
        "".join(
            line for line in dump.splitlines(keepends=True) if not line.startswith(("\\restrict ", "\\unrestrict "))
        ),
    )
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert project.applied_versions() == [1]
    assert {"actor", "film", "payment", "rental", "customer"} <= set(project.tables())
    again = project.deploy()
    assert again.code == 0 and "Migrations applied" not in again.changed(), again.output[-2000:]
