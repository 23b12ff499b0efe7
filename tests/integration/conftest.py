"""Integration tests use the fixtures of tests/conftest.py (sandbox, target_db, project, source_db)."""
