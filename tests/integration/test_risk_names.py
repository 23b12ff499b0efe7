"""
The risk plan names what the target means (an outside tester's findings): a risk line or refusal on an
unqualified name names the table schema-qualified as the target resolves it (``"$user", public``: the
role's own schema first), and a partitioned table's writes are its partitions' (the parent has no
counters in ``pg_stat_user_tables``). PostgreSQL is the oracle; the assertions read latest-run.json's
structured plan, never the wording.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster


def recorded(project) -> dict:
    return json.loads((project.tmp / "reports" / "latest-run.json").read_text())["plan"]


def test_a_refusal_names_the_table_the_target_resolves_not_the_bare_name(project):
    role = urlsplit(project.target_url).username
    schema = str(role)  # a plain identifier (whynot_owner)
    project.write_migration(
        "005_twins.sql",
        f"CREATE SCHEMA {schema};\n"
        f"CREATE TABLE {schema}.t (id int PRIMARY KEY, pad text);\n"
        "CREATE TABLE public.t (id int PRIMARY KEY, pad text);\n",
    )
    assert project.deploy().code == 0
    query(
        project.target_db,
        f"INSERT INTO {schema}.t SELECT g, repeat('p', 100) FROM generate_series(1, 20000) g; ANALYZE {schema}.t",
    )
    before = catalog_and_data(project.target_db)
    project.write_migration("006_retype.sql", "ALTER TABLE t ALTER COLUMN pad TYPE varchar(200);\n")
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0, done.output
    plan = recorded(project)
    qualified = f"{schema}.t"
    assert [p["subject"] for p in plan["risk"]["problems"]] == [f"006_retype.sql:1 {qualified}"], plan["risk"]
    locks = [f for f in plan["risk"]["findings"] if f["kind"] == "lock"]
    assert [(f["table"], f["high"]) for f in locks] == [(qualified, True)], locks
    assert catalog_and_data(project.target_db) == before


def test_a_partitioned_parents_writes_are_its_partitions(project):
    project.write_migration(
        "005_parts.sql",
        "CREATE TABLE pw (id int NOT NULL, k int NOT NULL) PARTITION BY RANGE (id);\n"
        "CREATE TABLE pw_1 PARTITION OF pw FOR VALUES FROM (0) TO (100000) PARTITION BY LIST (k);\n"
        "CREATE TABLE pw_1a PARTITION OF pw_1 FOR VALUES IN (0, 1);\n"
        "CREATE TABLE pw_2 PARTITION OF pw FOR VALUES FROM (100000) TO (200000);\n",
    )
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO pw SELECT g, g % 2 FROM generate_series(1, 5000) g")  # a second session
    query(project.target_db, "INSERT INTO pw_2 SELECT g, 0 FROM generate_series(100000, 105000) g")
    query(project.target_db, "UPDATE pw SET k = 1 - k WHERE id < 2000")
    project.write_migration("006_note.sql", "ALTER TABLE pw ADD COLUMN note text;\n")
    done = project.deploy()  # a --dry writes no report: the run records the plan it went by
    assert done.code == 0, done.output
    locks = {f["table"]: f for f in recorded(project)["risk"]["findings"] if f["kind"] == "lock"}
    assert {"public.pw", "public.pw_1a", "public.pw_2"} <= set(locks), locks  # the proof saw the partitions locked
    assert locks["public.pw"]["writes_per_s"] >= locks["public.pw_1a"]["writes_per_s"] > 0, locks
    assert locks["public.pw"]["writes_per_s"] >= locks["public.pw_2"]["writes_per_s"] > 0, locks


def problems(project) -> list[tuple[str, str]]:
    return [(p["code"], p["subject"]) for p in recorded(project)["risk"]["problems"]]


def refused_unchanged(project, pending: dict[str, str], **settings) -> list[tuple[str, str]]:
    """Write ``pending``, deploy: the run is refused before the backup and the target is unchanged."""
    before = catalog_and_data(project.target_db)
    backups = sorted((project.tmp / "backups" / "target").glob("*"))
    for name, text in pending.items():
        project.write_migration(name, text)
    done = project.deploy(**settings)
    assert done.code != 0, done.output
    assert catalog_and_data(project.target_db) == before
    assert sorted((project.tmp / "backups" / "target").glob("*")) == backups
    assert recorded(project)["risk"] is not None, done.output  # refused by the risk plan, not before it
    return problems(project)


def test_a_search_path_of_several_schemas_finds_the_table_in_the_first_that_holds_it(project):
    """Adversary finding (a): under 'SET search_path = app, public' a SET NOT NULL over NULLs on public.u
    was planned as app.u, 'made in this run', and failed on the target after the backup."""
    project.write_migration("005_u.sql", "CREATE SCHEMA app;\nCREATE TABLE u (id int PRIMARY KEY, x int);\n")
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO u VALUES (1, NULL), (2, 3)")  # the application's rows
    pending = {"006_x.sql": "SET search_path = app, public;\nALTER TABLE u ALTER COLUMN x SET NOT NULL;\n"}
    assert refused_unchanged(project, pending) == [("risk-data", "006_x.sql:2 public.u")]


def test_user_in_a_files_search_path_is_the_targets_role(project):
    """Adversary finding (b): 'SET LOCAL search_path = "$user", app' was read as app alone, so the duplicates
    of the role's own schema's t went unseen (app.t has none) and the file failed after the backup."""
    role = str(urlsplit(project.target_url).username)
    project.write_migration(
        "005_t.sql",
        f"CREATE SCHEMA {role};\nCREATE SCHEMA app;\n"
        f"CREATE TABLE {role}.t (id int PRIMARY KEY, w int);\nCREATE TABLE app.t (id int PRIMARY KEY, w int);\n",
    )
    assert project.deploy().code == 0
    query(project.target_db, f"INSERT INTO {role}.t VALUES (1, 7), (2, 7); INSERT INTO app.t VALUES (1, 1), (2, 2)")
    pending = {"006_w.sql": 'SET LOCAL search_path = "$user", app;\nALTER TABLE t ADD UNIQUE (w);\n'}
    assert refused_unchanged(project, pending) == [("risk-data", f"006_w.sql:2 {role}.t")]


def test_a_schema_the_target_lacks_is_skipped_as_postgresql_skips_it(project):
    """Adversary finding (c): under 'SET search_path = nosuch, app' an index build on app's 20k-row t was
    planned on nosuch.t, 'made in this run': --dry showed no high risk, and in a no-transaction file (whose
    locks the proof does not observe) the gate let the build through."""
    project.write_migration("005_t.sql", "CREATE SCHEMA app;\nCREATE TABLE app.t (id int PRIMARY KEY, pad text);\n")
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO app.t SELECT g, repeat('p', 100) FROM generate_series(1, 20000) g")
    query(project.target_db, "ANALYZE app.t")
    build = "SET search_path = nosuch, app;\nCREATE INDEX t_pad ON t (pad);\n"
    project.write_migration("006_i.sql", build)
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    (line,) = [one for one in dry.output.splitlines() if "006_i.sql:2 " in one and "SHARE" in one]
    assert "app.t (" in line and "made in this run" not in line, dry.output
    pending = {"006_i.sql": "-- pgconverge:no-transaction\n" + build}
    assert refused_unchanged(project, pending, RISK_TABLE_MB="1") == [("risk-high", "006_i.sql:3 app.t")]


def test_after_the_run_drops_the_roles_table_the_name_is_publics(project):
    """Second adversary pass, finding 2: after 'DROP TABLE <role>.c' the next 'ALTER TABLE c … SET NOT NULL'
    was checked on the dropped table (no NULLs), and failed on public.c after the backup."""
    role = str(urlsplit(project.target_url).username)
    project.write_migration(
        "005_c.sql",
        f"CREATE SCHEMA {role};\nCREATE TABLE {role}.c (id int PRIMARY KEY, v int);\n"
        "CREATE TABLE public.c (id int PRIMARY KEY, v int);\n",
    )
    assert project.deploy().code == 0
    query(project.target_db, f"INSERT INTO {role}.c VALUES (1, 1); INSERT INTO public.c VALUES (1, NULL)")
    pending = {"006_c.sql": f"DROP TABLE {role}.c;\nALTER TABLE c ALTER COLUMN v SET NOT NULL;\n"}
    assert refused_unchanged(project, pending) == [("risk-data", "006_c.sql:2 public.c")]


def test_a_table_renamed_in_the_run_keeps_its_size_and_the_gate(project):
    """Second adversary pass, finding 7: 'RENAME TO big2' then a rewrite of big2 was 'made in this run', and a
    20k-row table was rewritten under ACCESS EXCLUSIVE with no refusal."""
    project.write_migration(
        "005_big.sql", "CREATE SCHEMA app;\nCREATE TABLE app.big (id int PRIMARY KEY, v int, pad text);\n"
    )
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO app.big SELECT g, g, repeat('p', 100) FROM generate_series(1, 20000) g")
    query(project.target_db, "ANALYZE app.big")
    pending = {"006_big.sql": "ALTER TABLE app.big RENAME TO big2;\nALTER TABLE app.big2 ALTER v TYPE bigint;\n"}
    assert refused_unchanged(project, pending, RISK_TABLE_MB="1") == [("risk-high", "006_big.sql:2 app.big")]


def test_temporary_tables_last_when_the_path_names_pg_temp_last(project):
    """Second adversary pass, finding 6: under 'SET search_path = public, pg_temp' the ALTER meets public.t
    (PostgreSQL searches the temporary schema last), not the file's temporary t."""
    project.write_migration("005_t.sql", "CREATE TABLE t (id int PRIMARY KEY, v int);\n")
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO t VALUES (1, NULL)")
    pending = {
        "006_t.sql": "SET search_path = public, pg_temp;\nCREATE TEMP TABLE t (id int, v int);\n"
        "ALTER TABLE t ALTER COLUMN v SET NOT NULL;\n"
    }
    assert refused_unchanged(project, pending) == [("risk-data", "006_t.sql:3 public.t")]


def test_names_are_quoted_as_postgresql_quotes_them(sandbox):
    """PostgreSQL's quote_ident is the oracle: keywords other than unreserved ones are quoted ("order"),
    so the data checks' SQL and the proof's observed names (format('%I')) name the same table."""
    from pglast import keywords

    from tasks.risk.names import quote

    names = sorted(keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS)
    names += sorted(keywords.UNRESERVED_KEYWORDS) + ["t", "a$b", "Mixed", "x y", "_x", "x1", "ü", 'a"b', "9a"]
    rows = query("postgres", "SELECT n, quote_ident(n) FROM unnest(%s::text[]) n", (names,))
    assert [(name, quote(name)) for name, _ in rows] == rows


def test_a_table_named_by_a_keyword_is_checked(project):
    """A table named "order" (a reserved word): the data check's SQL must quote it, and the proof's observed
    name must meet the parse tree's."""
    project.write_migration("005_order.sql", 'CREATE TABLE "order" (id int PRIMARY KEY, v int);\n')
    assert project.deploy().code == 0
    query(project.target_db, 'INSERT INTO "order" VALUES (1, NULL), (2, 2)')
    pending = {"006_v.sql": 'ALTER TABLE "order" ALTER COLUMN v SET NOT NULL;\n'}
    assert refused_unchanged(project, pending) == [("risk-data", '006_v.sql:1 public."order"')]


BIG_PUBLIC_SMALL_APP = (
    "CREATE SCHEMA app;\nCREATE TABLE public.c (id int PRIMARY KEY, v int, pad text);\n"
    "CREATE TABLE app.c (id int PRIMARY KEY, v int, pad text);\n"
)


def big_public_small_app(project, big: str = "public", small: str = "app") -> None:
    """<big>.c: 20k rows, one v NULL; <small>.c: clean rows (the application's, written by a second session)."""
    project.write_migration("005_c.sql", BIG_PUBLIC_SMALL_APP)
    assert project.deploy().code == 0
    query(
        project.target_db,
        f"INSERT INTO {big}.c SELECT g, nullif(g, 5), repeat('p', 100) FROM generate_series(1, 20000) g; "
        f"INSERT INTO {small}.c VALUES (1, 1, ''), (2, 2, ''); ANALYZE {big}.c; ANALYZE {small}.c",
    )


def test_set_local_in_a_no_transaction_file_changes_nothing(project):
    """Third adversary pass, finding 1: in a no-transaction file PostgreSQL ignores SET LOCAL, so the index is
    built on the 20k-row public.c; the plan sized the 2-row app.c and let the build through."""
    big_public_small_app(project)
    pending = {
        "006_i.sql": "-- pgconverge:no-transaction\nSET LOCAL search_path = app, public;\nCREATE INDEX c_v ON c (v);\n"
    }
    assert refused_unchanged(project, pending, RISK_TABLE_MB="1") == [("risk-high", "006_i.sql:3 public.c")]


def test_set_config_names_the_setting_in_any_case(project):
    """Third adversary pass, finding 2: set_config('SEARCH_PATH', 'app', false) was not read as a search_path,
    so SET NOT NULL was planned on public.c, not on app.c; here app.c holds the NULL."""
    project.write_migration("005_c.sql", BIG_PUBLIC_SMALL_APP)
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO public.c VALUES (1, 1, ''); INSERT INTO app.c VALUES (1, NULL, '')")
    pending = {"006_v.sql": "SELECT set_config('SEARCH_PATH', 'app', false);\nALTER TABLE c ALTER v SET NOT NULL;\n"}
    assert refused_unchanged(project, pending) == [("risk-data", "006_v.sql:2 app.c")]


def test_a_rename_if_exists_of_a_missing_table_renames_nothing(project):
    """Third adversary pass, finding 3: 'ALTER TABLE IF EXISTS app.nosuch RENAME TO c' made c 'made in this
    run', so the NULL in the target's public.c went unchecked and the file failed after the backup."""
    big_public_small_app(project)
    pending = {
        "006_v.sql": "ALTER TABLE IF EXISTS app.nosuch RENAME TO c;\nSET search_path = nosuch, public;\n"
        "ALTER TABLE c ALTER v SET NOT NULL;\n"
    }
    assert refused_unchanged(project, pending) == [("risk-data", "006_v.sql:3 public.c")]


def test_a_table_in_pg_temp_is_not_refused_by_the_privileges_check(project):
    """Third adversary pass, finding 10: CREATE TABLE pg_temp.t was refused as writing to a schema pg_temp
    'which does not exist' (PostgreSQL forbids creating it); the file applies."""
    project.write_migration("005_t.sql", "CREATE TABLE pg_temp.scratch (id int);\nCREATE TABLE kept (id int);\n")
    done = project.deploy()
    assert done.code == 0, done.output
    assert query(project.target_db, "SELECT to_regclass('public.kept') IS NOT NULL")[0][0]


def test_a_foreign_key_to_a_parent_made_empty_in_the_run_counts_every_set_key(project):
    """Third adversary pass, finding 9: a foreign key to a parent the run creates (empty) was never checked, and
    the file failed after the backup ('Key (v)=(1) is not present'). With the parent filled first, the rows
    it meets are not the target's: not checked, and the file applies."""
    project.write_migration("005_fk.sql", "CREATE SCHEMA app;\nCREATE TABLE app.fk1 (id int PRIMARY KEY, v int);\n")
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO app.fk1 VALUES (1, 1), (2, NULL), (3, 1)")
    fk = "ALTER TABLE app.fk1 ADD CONSTRAINT fk1_v FOREIGN KEY (v) REFERENCES parent (id);\n"
    pending = {"006_fk.sql": "CREATE TABLE parent (id int PRIMARY KEY);\n" + fk}
    assert refused_unchanged(project, pending) == [("risk-data", "006_fk.sql:2 app.fk1")]
    project.write_migration(
        "006_fk.sql", "CREATE TABLE parent (id int PRIMARY KEY);\nINSERT INTO parent VALUES (1);\n" + fk
    )
    done = project.deploy()
    assert done.code == 0, done.output
    assert query(project.target_db, "SELECT count(*) FROM pg_constraint WHERE conname = 'fk1_v'") == [(1,)]


INHERITED = "CREATE TABLE ip (id int, v int);\nCREATE SCHEMA app;\nCREATE TABLE app.ic () INHERITS (ip);\n"


def test_an_inheritance_parent_is_sized_and_checked_with_its_children(project):
    """Third adversary pass, finding 4: a parent whose rows live in an inheriting child was 'empty': its CHECK
    (which the child inherits) went unchecked and failed after the backup, and its size left out the child's."""
    project.write_migration("005_ip.sql", INHERITED)
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO app.ic SELECT g, g % 20 FROM generate_series(1, 20000) g; ANALYZE app.ic")
    pending = {"006_ck.sql": "ALTER TABLE ip ADD CONSTRAINT ip_ck CHECK (v > 10);\n"}
    assert refused_unchanged(project, pending) == [("risk-data", "006_ck.sql:1 public.ip")]
    pending = {"006_ck.sql": "-- pgconverge: accept-risk\nALTER TABLE ip ALTER v TYPE bigint;\n"}
    project.write_migration("006_ck.sql", pending["006_ck.sql"])
    dry = project.dry(RISK_TABLE_MB="0.5")
    (line,) = [one for one in dry.output.splitlines() if "006_ck.sql:2 " in one and "public.ip (" in one]
    assert "20 k rows" in line and "HIGH RISK" in line, dry.output


def test_a_unique_key_on_an_inheritance_parent_reads_the_parents_own_rows(project):
    """UNIQUE is not inherited: duplicates between the parent and a child do not stop it (PostgreSQL applies
    the file), where the check read the child's rows too and refused it."""
    project.write_migration("005_ip.sql", INHERITED)
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO ip VALUES (1, 1); INSERT INTO app.ic VALUES (2, 1)")
    project.write_migration("006_u.sql", "ALTER TABLE ip ADD CONSTRAINT ip_v UNIQUE (v);\n")
    done = project.deploy()
    assert done.code == 0, done.output
    assert query(project.target_db, "SELECT count(*) FROM pg_constraint WHERE conname = 'ip_v'") == [(1,)]


@pytest.mark.parametrize(
    "code",
    [
        "EXPLAIN ANALYZE SELECT set_config('search_path', 'app', false)",
        "UPDATE pg_settings SET setting = 'app' WHERE name = 'search_path'",
    ],
)
def test_a_path_set_by_code_is_found_by_the_proof(project, code):
    """Fourth adversary pass, findings 1 and 3: code set the search_path to app (EXPLAIN ANALYZE of set_config,
    an UPDATE of pg_settings); the plan validated the small public.c and let the file through, PostgreSQL
    validated the 20k-row app.c and failed after the backup. The parse tree cannot follow it, the proof
    does: it locked app.c, not public.c, and the gate stands on app.c."""
    big_public_small_app(project, big="app", small="public")
    pending = {"006_v.sql": f"SET search_path = public;\n{code};\nALTER TABLE c ALTER COLUMN v SET NOT NULL;\n"}
    assert refused_unchanged(project, pending, RISK_TABLE_MB="1") == [("risk-high", "006_v.sql:3 app.c")]


def test_a_child_joined_in_the_run_is_checked_with_its_parents_not_null(project):
    """Fourth adversary pass, finding 4: after 'ALTER TABLE app.c INHERIT public.c' the NOT NULL of public.c
    reads app.c's rows too (one NULL): the plan checked public.c alone and the file failed after the backup."""
    project.write_migration("005_c.sql", BIG_PUBLIC_SMALL_APP)
    assert project.deploy().code == 0
    query(
        project.target_db, "INSERT INTO app.c VALUES (1, NULL, ''), (2, 2, ''); INSERT INTO public.c VALUES (1, 1, '')"
    )
    pending = {"006_v.sql": "ALTER TABLE app.c INHERIT public.c;\nALTER TABLE public.c ALTER COLUMN v SET NOT NULL;\n"}
    assert refused_unchanged(project, pending) == [("risk-data", "006_v.sql:2 app.c")]
