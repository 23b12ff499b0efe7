"""
Issue 29 class 6: the copy and the seed handle every schema PostgreSQL accepts: a foreign-key cycle
where a key is DEFERRABLE INITIALLY DEFERRED, GENERATED ALWAYS identity columns and stored generated
columns; a seed table keyed by a GENERATED ALWAYS identity; and any seed failure names its file.
PostgreSQL is the oracle (an independent fingerprint of the rows, the application's next INSERT).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.data import copy as datacopy
from tasks.data import seed_load
from tasks.data.seed import read_seed_file
from tests.copy_support import fingerprints, migrate_target, with_rows
from tests.support import query

pytestmark = pytest.mark.cluster

OWNER = "SET ROLE whynot_owner;"
CYCLE = """
CREATE TABLE c (id int PRIMARY KEY);
CREATE TABLE a (id int PRIMARY KEY, b_id int);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a, c_id int REFERENCES c DEFERRABLE INITIALLY DEFERRED,
                up int REFERENCES b DEFERRABLE INITIALLY DEFERRED);
ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
"""
CYCLE_ROWS = ("INSERT INTO c VALUES (1), (2); INSERT INTO a VALUES (1, NULL), (2, NULL);"
              "INSERT INTO b VALUES (1, 1, 1, 2), (2, 2, 2, 1); UPDATE a SET b_id = id;")


def _same(source_db: str, target_db: str) -> bool:
    return with_rows(fingerprints(target_db, "target")) == with_rows(fingerprints(source_db, "source"))


def test_a_cycle_with_a_deferred_key_is_copied_and_replaced(services, source_db):
    """Old code: "cannot ALTER TABLE "b" because it has pending trigger events", blamed on the schema."""
    migrate_target(services.target_url)
    query(source_db, CYCLE + CYCLE_ROWS, which="source")
    query(services.target_db, OWNER + CYCLE)
    done = datacopy.copy_data("source", "target", False, lambda line: None, jobs=2)
    assert {"public.a", "public.b", "public.c"} <= set(done.copy)
    assert _same(source_db, services.target_db)
    assert datacopy.copy_data("source", "target", False, lambda line: None).copy == []
    query(services.target_db, "UPDATE b SET up = 1 WHERE id = 1")  # the target differs: replace it
    replaced = datacopy.copy_data("source", "target", True, lambda line: None)
    assert "public.b" in replaced.replace and _same(source_db, services.target_db)
    assert datacopy.copy_data("source", "target", True, lambda line: None).replace == []


def test_identity_always_and_stored_generated_columns_are_copied_and_the_app_inserts_after(services, source_db):
    migrate_target(services.target_url)
    ddl = ("CREATE TABLE items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, price int, "
           "doubled int GENERATED ALWAYS AS (price * 2) STORED);")
    query(source_db, ddl + "INSERT INTO items (price) SELECT g FROM generate_series(1, 20) g;", which="source")
    query(services.target_db, OWNER + ddl)
    datacopy.copy_data("source", "target", False, lambda line: None)
    assert _same(source_db, services.target_db)
    assert query(services.target_db, "SELECT sum(doubled) FROM items")[0][0] == 420
    assert datacopy.copy_data("source", "target", False, lambda line: None).sequences == 0
    assert query(services.target_db, "INSERT INTO items (price) VALUES (5) RETURNING id")[0][0] == 21


def _seed(folder: Path, name: str, text: str):
    path = folder / name
    path.write_text(text)
    return read_seed_file(path)


def test_a_seed_table_keyed_by_a_generated_always_identity_is_seeded_once(services, tmp_path):
    """Old code: 'cannot insert a non-DEFAULT value into column "id"', naming no seed file."""
    query(services.target_db, OWNER + "CREATE TABLE plans (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)")
    files = [_seed(tmp_path, "plans.csv", "id,name\n1,free\n2,pro\n")]
    first = seed_load.load("service=target", files, "insert")
    assert first["tables"]["plans.csv"].missing == 2
    assert seed_load.load("service=target", files, "insert")["tables"]["plans.csv"].missing == 0
    assert query(services.target_db, "INSERT INTO plans (name) VALUES ('team') RETURNING id")[0][0] == 3


def test_a_seed_failure_names_the_seed_file(services, tmp_path):
    query(services.target_db, OWNER + "CREATE TABLE prices (id int PRIMARY KEY, amount int CHECK (amount > 0))")
    files = [_seed(tmp_path, "prices.csv", "id,amount\n1,5\n2,-1\n")]
    with pytest.raises(seed_load.SeedError) as failed:
        seed_load.load("service=target", files, "insert")
    assert str(failed.value).startswith('seed file prices.csv: new row for relation "prices" violates check constraint')
    assert query(services.target_db, "SELECT count(*) FROM prices")[0][0] == 0


def test_every_loaded_table_is_analysed_so_the_estimates_are_the_real_counts(services, source_db):
    """Issue 31 item 5. Old code: reltuples stayed -1 (never analysed) until autovacuum came round."""
    migrate_target(services.target_url)
    estimate = ("SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relname IN ('users', 'rooms', 'messages') ORDER BY 1")
    lines: list[str] = []
    done = datacopy.copy_data("source", "target", False, lines.append, jobs=3)
    assert {"public.users", "public.rooms", "public.messages"} <= set(done.analyzed)
    assert query(services.target_db, estimate) == [("messages", 500), ("rooms", 5), ("users", 50)]
    assert any(line.startswith("statistics: ") for line in lines)
    again = datacopy.copy_data("source", "target", False, lines.append, jobs=3)
    assert again.analyzed == [] and again.copy == []
