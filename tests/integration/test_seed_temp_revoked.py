"""
A target whose role may not create temporary tables (``REVOKE TEMPORARY ON DATABASE``, from PUBLIC and
from the owner): the seed files' rows are compared in temporary tables, so a --dry stops in one line
that names the missing privilege and the GRANT that gives it, with no traceback, and changes nothing on
the target. Real pyinfra CLI, real clusters.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster


def test_dry_without_temporary_names_the_grant_and_changes_nothing(project):
    assert project.deploy().code == 0  # the seed files' tables exist: their rows are compared
    role = urlsplit(project.target_url).username
    query(project.target_db, f'REVOKE TEMPORARY ON DATABASE "{project.target_db}" FROM PUBLIC, "{role}"')
    before = catalog_and_data(project.target_db)
    dry = project.dry()
    assert dry.code == 1, dry.output
    assert "Traceback" not in dry.output, dry.output
    assert f'GRANT TEMPORARY ON DATABASE "{project.target_db}" TO "{role}"' in dry.output, dry.output
    assert catalog_and_data(project.target_db) == before
