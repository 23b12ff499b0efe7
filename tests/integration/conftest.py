"""Fixtures for tests against the sandbox clusters (started once per session, left running)."""

import pytest

from tasks import sandbox
from tests.support import Project, create_target_db, drop_db


@pytest.fixture(scope="session")
def clusters():
    sandbox.up()
    return sandbox.load_state()


@pytest.fixture
def target_db(clusters):
    name = create_target_db()
    yield name
    drop_db(name)


@pytest.fixture
def project(tmp_path, target_db):
    return Project(tmp_path, target_db)
