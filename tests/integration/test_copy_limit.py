"""
The copy at the physical limit (issue 30), through the real pyinfra CLI between the sandbox's two
real clusters: no table's checksum is computed twice in one run (counted in the servers' own
statement logs), a table larger than ``COPY_SPLIT_MB`` is copied in ranges by every job inside one
snapshot, a rerun after a kill does not copy again the ranges already verified, and a long copy
prints its progress.
"""

from __future__ import annotations

import re

import pytest

from sandbox.paths import log_file
from tests.support import admin, query, table_fingerprints

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

CHECKSUMMED = re.compile(r"SELECT '([^']+)'::text, count\(\*\), coalesce\(sum\(hash_record_extended")


class StatementLog:
    """Every statement the server runs in one database, from its log (``log_statement = 'all'``)."""

    def __init__(self, which: str, dbname: str):
        self.which, self.dbname = which, dbname
        with admin(which, dbname) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" SET log_statement = \'all\'')
        self.start = log_file(which).stat().st_size

    def checksums(self) -> dict[str, int]:
        """How many times each table's checksum was computed since the last call."""
        with open(log_file(self.which), "rb") as handle:
            handle.seek(self.start)
            text = handle.read().decode(errors="replace")
        self.start += len(text.encode())
        found: dict[str, int] = {}
        # a statement's lines follow its prefixed first line; keep those of this database only
        for entry in re.split(r"\n(?=\d{4}-\d\d-\d\d )", text):
            if f"@{self.dbname} " in entry.split("\n", 1)[0]:
                for table in CHECKSUMMED.findall(entry):
                    found[table] = found.get(table, 0) + 1
        return found


def test_no_table_checksum_is_computed_twice_in_one_run(project, source_db):
    """Issue 30: a table already in sync had its source checksum computed twice in one run."""
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    logs = StatementLog("source", source_db), StatementLog("target", project.target_db)
    first = project.deploy()
    assert first.code == 0, first.output[-2500:]
    copied = [log.checksums() for log in logs]
    assert copied[0] and all(count == 1 for count in copied[0].values()), copied[0]
    assert all(count == 1 for count in copied[1].values()), copied[1]
    second = project.deploy()
    assert second.code == 0 and second.operations()["Data copied"] == "no_change", second.output[-2500:]
    again = [log.checksums() for log in logs]
    assert again[0] and all(count == 1 for count in again[0].values()), again[0]
    assert all(count == 1 for count in again[1].values()), again[1]
    assert table_fingerprints(project.target_db, "target") == table_fingerprints(source_db, "source")
