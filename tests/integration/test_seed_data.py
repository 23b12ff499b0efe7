"""
Seed rows travel as data (issue 16.1), against the sandbox's real PostgreSQL: a hostile seed file runs
no command, even under --dry, and any CSV value round-trips byte for byte through the seed state.
"""

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sandbox
from tasks.data import seed_load
from tasks.data.seed import read_seed_file
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

TAGS = "CREATE TABLE tags (id int PRIMARY KEY, name text);\n"


def _hostile_project(project, csv_text):
    project.write_migration("005_tags.sql", TAGS)
    seeds = project.tmp / "seed"
    seeds.mkdir()
    (seeds / "tags.csv").write_text(csv_text)
    project.seeds = seeds
    return project.tmp / "leaked.txt"


def test_a_psql_command_inside_a_quoted_value_is_data_not_a_command(project):
    """The value holds a ``\\.`` line then ``\\!`` (psql's shell escape): seeded as text, nothing runs."""
    leaked = project.tmp / "leaked.txt"
    value = f'x\n\\.\n\\! echo ran > {leaked}\n'
    _hostile_project(project, 'id,name\n1,"' + value.replace('"', '""') + '"\n')
    dry = project.dry()
    assert not leaked.exists(), "the dry run ran a command from a seed file"
    assert "insert the 1 row(s) of tags.csv" in dry.output, dry.output[-2000:]
    first = project.deploy()
    assert first.code == 0, first.output[-2000:]
    assert not leaked.exists(), "the deploy ran a command from a seed file"
    assert query(project.target_db, "SELECT id, name FROM tags") == [(1, value)]
    assert project.deploy().changed() == []


def test_an_unquoted_end_of_data_line_is_refused_before_anything_runs(project):
    leaked = _hostile_project(project, "id\n1\n\\.\n\\! echo ran > {}\n".format(project.tmp / "leaked.txt"))
    dry = project.dry()
    assert dry.code != 0
    assert "seed file tags.csv line 3: an unquoted \\. line ends CSV data" in dry.output, dry.output[-2000:]
    assert not leaked.exists()
    result = project.deploy()
    assert result.code != 0 and not leaked.exists()
    assert project.tables() == []


VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "\\.", "\\", '"', '""', "\r\n", "\n\\.\n", "\ufeff", ",", "\\N", "NULL", " "]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
)


def _csv(values, eol: str, bom: bool) -> bytes:
    """NULL is an unquoted empty field, every string is quoted (so "" is the empty string)."""
    lines = ["id,body"] + [f"{i},{'' if v is None else chr(34) + v.replace(chr(34), chr(34) * 2) + chr(34)}"
                           for i, v in enumerate(values, 1)]
    return (b"\xef\xbb\xbf" if bom else b"") + (eol.join(lines) + eol).encode()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(VALUES, min_size=1, max_size=6), eol=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
def test_any_csv_value_round_trips_through_the_seed_state(target_db, tmp_path, values, eol, bom):
    conninfo = sandbox.admin_conninfo("target", target_db)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text); TRUNCATE notes")
    path = tmp_path / "notes.csv"
    path.write_bytes(_csv(values, eol, bom))
    seed = read_seed_file(path)
    assert seed.rows == len(values)
    counted = seed_load.load(conninfo, [seed], "count")
    assert counted["tables"]["notes.csv"].missing == len(values)
    seed_load.load(conninfo, [seed], "insert")
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT body FROM notes ORDER BY id").fetchall()
    assert [r[0] for r in rows] == values
    assert seed_load.load(conninfo, [seed], "count")["tables"]["notes.csv"].missing == 0
