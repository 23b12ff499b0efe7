"""Integration tests use the fixtures of tests/conftest.py (sandbox, target_db, project, source_db), and these."""

import pytest

from tasks.core.connections import ServiceFile
from tasks.core.urls import parse_database_url
from tests.copy_support import services  # noqa: F401  (a fixture: the copy tests' source and target services)
from tests.support import create_target_db, drop_db, sandbox_urls, with_dbname


@pytest.fixture
def owner_service(sandbox, monkeypatch, tmp_path):
    """A fresh target database reached as its owner (not a superuser) through ``service=target``."""
    name = create_target_db()
    url = parse_database_url(with_dbname(sandbox_urls()["target"], name))
    service_file = ServiceFile({"target": url.service_params()})
    monkeypatch.setenv("PGSERVICEFILE", str(service_file.path))
    yield name
    service_file.remove()
    drop_db(name)
