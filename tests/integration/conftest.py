"""Fixtures for tests against the sandbox clusters (the session fixture ``sandbox`` of tests/conftest.py)."""

import pytest

from tests.support import Project, create_target_db, drop_db


@pytest.fixture
def target_db(sandbox):
    """A new empty database on the sandbox target, owned by the non-superuser owner role."""
    name = create_target_db()
    yield name
    drop_db(name)


@pytest.fixture
def project(tmp_path, target_db):
    return Project(tmp_path, target_db)
