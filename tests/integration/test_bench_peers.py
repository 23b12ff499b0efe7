"""
The bench's sqitch adapter (bench/peers.py) writes scripts that real ``psql`` runs as sqitch would
(``psql -f deploy/<change>.sql``, ON_ERROR_STOP) on the sandbox target: a migration whose last
statement has no semicolon (Lemmy's 20250307094522 ends with ``END\\n$$``) still commits.
"""

import subprocess

import pytest

from bench import peers
from bench.databases import Target
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

UNTERMINATED = "CREATE TABLE widgets (id int);\nDO $$\nBEGIN\n    INSERT INTO widgets VALUES (1);\nEND\n$$"


def test_a_file_whose_last_statement_has_no_semicolon_commits_in_the_sqitch_script(tmp_path, target_db):
    target = Target.from_sandbox()
    sqitch = peers.Sqitch(target, tmp_path)
    sqitch.prepare([("001_widgets.sql", UNTERMINATED)])
    script = tmp_path / "sqitch" / "deploy" / "001_widgets.sql"
    done = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script)],
        env=target.libpq_env({"PATH": "/usr/bin:/bin"}, target_db),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert query(target_db, "SELECT id FROM widgets") == [(1,)]
