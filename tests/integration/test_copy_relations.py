"""
Data copied (DATA_MIGRATION=copy) for every relation a real database has: partitions at any depth
with default partitions, inheritance, other schemas and names that need quoting, generated and
identity columns, materialized views, columns in another order, a column on one side only, large
objects, the dry run on an empty target, and the backup planner. Real sandbox clusters and the
real pyinfra CLI.
"""

import pytest

from tests.copy_support import fingerprints, same_schema, with_rows
from tests.support import query, report_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

RELATIONS_DDL = """
CREATE SCHEMA "Sales-Data";
CREATE TABLE "Sales-Data".measurements (
    id bigint GENERATED ALWAYS AS IDENTITY, taken date NOT NULL, city text NOT NULL, reading numeric(8, 2),
    doubled numeric GENERATED ALWAYS AS (reading * 2) STORED, tags text[], extra jsonb,
    PRIMARY KEY (id, taken, city)
) PARTITION BY RANGE (taken);
CREATE TABLE "Sales-Data".m_2024 PARTITION OF "Sales-Data".measurements
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (city);
CREATE TABLE "Sales-Data"."m_2024_Oslo" PARTITION OF "Sales-Data".m_2024 FOR VALUES IN ('Oslo');
CREATE TABLE "Sales-Data".m_2024_other PARTITION OF "Sales-Data".m_2024 DEFAULT;
CREATE TABLE "Sales-Data".m_default PARTITION OF "Sales-Data".measurements DEFAULT;
CREATE TABLE public.animals (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE public."Dogs""good" (bark text) INHERITS (public.animals);
CREATE MATERIALIZED VIEW public.city_totals AS
    SELECT city, count(*) AS n, sum(reading) AS total FROM "Sales-Data".measurements GROUP BY city;
"""
RELATIONS_DATA = """
INSERT INTO "Sales-Data".measurements (taken, city, reading, tags, extra)
SELECT date '2024-01-01' + (g % 700), (ARRAY['Oslo', 'Lima', 'Pune'])[1 + g % 3], g / 7.0, ARRAY['a', g::text],
       jsonb_build_object('g', g) FROM generate_series(1, 3000) g;
INSERT INTO public.animals (name) VALUES ('cat'), ('cow');
INSERT INTO public."Dogs""good" (name, bark) VALUES ('rex', 'woof');
REFRESH MATERIALIZED VIEW public.city_totals;
"""


def _copy_project(project):
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"  # compare the copy alone
    return project


def _relations_project(project, source_db):
    """Copy mode with the partitions, inheritance, schemas and views above, in both databases."""
    _copy_project(project)
    same_schema(project, source_db, RELATIONS_DDL)
    query(source_db, RELATIONS_DATA, which="source")


def test_partitions_inheritance_schemas_views_and_identities_are_all_copied_then_a_rerun_takes_no_backup(
    project, source_db
):
    _relations_project(project, source_db)
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    source = with_rows(fingerprints(source_db, "source"))
    assert '"Sales-Data"."m_2024_Oslo"' in source and '"Sales-Data".m_default' in source  # leaf partitions
    assert with_rows(fingerprints(project.target_db, "target")) == source
    # the materialized view was refreshed: populated, with the source's rows
    assert query(project.target_db, "SELECT ispopulated FROM pg_matviews WHERE matviewname = 'city_totals'") == [
        (True,)
    ]
    totals = "SELECT * FROM city_totals ORDER BY 1"
    assert query(project.target_db, totals) == query(source_db, totals, which="source") != []
    # Rows counted once: 3,000 through the partitioned parent, 3 through the inheritance parent.
    assert query(project.target_db, 'SELECT count(*) FROM "Sales-Data".measurements')[0][0] == 3000
    assert query(project.target_db, "SELECT count(*) FROM animals")[0][0] == 3
    # Identity and serial sequences at the source's values, past the copied ids: new rows get new ids
    # (read, not drawn: the state is compared with the source's).
    assert query(project.target_db, "SELECT last_value, is_called FROM animals_id_seq")[0] == (3, True)
    assert query(project.target_db, """SELECT last_value FROM "Sales-Data".measurements_id_seq""")[0][0] == 3000

    backups = len(list((project.tmp / "backups" / "target").glob("*.dump")))
    for _ in range(2):
        rerun = project.deploy()
        assert rerun.code == 0, rerun.output[-3000:]
        assert rerun.operations()["Data copied"] == "no_change"
        assert rerun.operations()["Target backup captured"] == "no_change"
    assert len(list((project.tmp / "backups" / "target").glob("*.dump"))) == backups


def test_dry_run_on_an_empty_target_lists_tables_partitions_views_and_sequences(project, source_db):
    _relations_project(project, source_db)
    dry = project.dry()
    assert dry.code == 0, dry.output[-3000:]
    assert "psql is not installed" not in dry.output
    assert 'copy 3,000 rows into "Sales-Data".measurements (3 partition(s) or child table(s)):' in dry.output
    assert '  "Sales-Data"."m_2024_Oslo": ' in dry.output
    assert "copy 500 rows into public.messages" in dry.output
    assert "move sequence public.messages_id_seq forward to the source's (next value 501)" in dry.output
    assert "refresh materialized view public.city_totals" in dry.output
    assert project.tables() == []  # nothing was touched


def _pets(project, source_db, source_ddl: str, target_ddl: str, rows: str):
    """A deploy in copy mode with a table ``pets`` made by ``source_ddl`` there, ``target_ddl`` here."""
    _copy_project(project)
    same_schema(project, source_db, source_ddl, target_ddl)
    query(source_db, rows, which="source")
    return project.deploy()


def _one_line(failed) -> list[str]:
    """The run failed with exactly one ``pgconverge:`` line; returns it (as a list)."""
    assert failed.code != 0
    lines = [line for line in failed.stderr.splitlines() if "pgconverge:" in line]
    assert len(lines) == 1, failed.output[-3000:]
    return lines


def test_same_columns_in_another_order_copy_and_converge(project, source_db):
    first = _pets(
        project,
        source_db,
        "CREATE TABLE pets (id int PRIMARY KEY, name text, age int);",
        "CREATE TABLE pets (id int PRIMARY KEY, age int, name text);",
        "INSERT INTO pets SELECT g, 'pet ' || g, g % 20 FROM generate_series(1, 200) g",
    )
    assert first.code == 0, first.output[-3000:]
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert project.deploy().operations()["Data copied"] == "no_change"


def test_a_column_in_the_target_only_is_named_with_the_fix(project, source_db):
    """Issue 31 item 1: foreseen from the expected schema, before the backup and any migration (the
    copy itself used to refuse after the migrations had changed the target)."""
    failed = _pets(
        project,
        source_db,
        "CREATE TABLE pets (id int PRIMARY KEY, name text);",
        'CREATE TABLE pets (id int PRIMARY KEY, name text, "Nick Name" text);',
        "INSERT INTO pets VALUES (1, 'rex')",
    )
    lines = _one_line(failed)
    assert (
        'table public.pets: column "Nick Name" is in the schema after the pending migrations but not in the '
        "source: nothing was changed; make the same change in the source first"
    ) in lines[0]
    assert report_rows(project.tmp / "reports")["Target backup captured"][0] == "failed"
    assert report_rows(project.tmp / "reports")["Migrations applied"][0] == "skipped"
    assert 900 not in project.applied_versions()


def test_a_column_of_another_type_is_refused_by_name_before_any_row_or_backup(project, source_db):
    """Adversary finding 1: binary COPY wrote text into bytea and bigint into timestamp, "complete"."""
    failed = _pets(
        project,
        source_db,
        "CREATE TABLE pets (id int PRIMARY KEY, name text, born bigint, tag text);",
        "CREATE TABLE pets (id int PRIMARY KEY, name bytea, born timestamp, tag varchar(3));",
        "INSERT INTO pets VALUES (1, 'rex', 1, 'abcdef')",
    )
    lines = _one_line(failed)
    foreseen = (
        "table public.pets: column name is text in the source but bytea in the schema after the pending migrations"
    )
    assert foreseen in lines[0]
    assert "(and 2 more problem(s))" in lines[0]
    # refused before the target backup and any migration, on every run
    backups = sorted((project.tmp / "backups").rglob("*"))
    again = project.deploy()
    assert again.code != 0
    assert foreseen in again.output
    assert sorted((project.tmp / "backups").rglob("*")) == backups, again.output[-4000:]
    assert report_rows(project.tmp / "reports")["Migrations applied"][0] == "skipped"
    assert 900 not in project.applied_versions()


TRIGGERS_DDL = """
CREATE TABLE posts (id int PRIMARY KEY, body text, updated_at timestamptz);
CREATE TABLE audit (id serial PRIMARY KEY, post int);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION remember() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit (id, post) VALUES (NEW.id, NEW.id); RETURN NULL; END $$;
CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER remember AFTER INSERT ON posts FOR EACH ROW EXECUTE FUNCTION remember();
"""


def test_target_triggers_do_not_rewrite_the_copied_rows_and_stay_enabled(project, source_db):
    """Adversary finding 2: a BEFORE INSERT trigger changed every copied row (failing every run) and an
    AFTER INSERT audit trigger inserted duplicates; a data load runs with the table's triggers off."""
    _copy_project(project)
    same_schema(
        project,
        source_db,
        "CREATE TABLE posts (id int PRIMARY KEY, body text, updated_at timestamptz);"
        "CREATE TABLE audit (id serial PRIMARY KEY, post int);",
        TRIGGERS_DDL,
    )
    query(
        source_db,
        "INSERT INTO posts SELECT g, 'post ' || g, timestamptz '2020-01-01' + g * interval '1 day' "
        "FROM generate_series(1, 5) g; INSERT INTO audit (post) VALUES (1), (2)",
        which="source",
    )
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert project.deploy().operations()["Data copied"] == "no_change"
    enabled = query(
        project.target_db,
        "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'posts'::regclass AND NOT tgisinternal ORDER BY 1",
    )
    assert enabled == [("remember", "O"), ("touch", "O")]


def test_large_objects_are_refused_by_oid(project, source_db):
    _copy_project(project)
    oid = query(source_db, "SELECT lo_from_bytea(0, 'hello')", which="source")[0][0]
    failed = project.deploy()
    assert failed.code != 0
    assert f"the source has 1 large object(s) (oid {oid}): the copy does not move large objects" in failed.output


def test_every_parent_of_a_multiple_inheritance_child_is_analysed(services, source_db):
    """Tester's finding 10: with INHERITS (a, b) only the first parent's statistics were taken."""
    from tasks.data import copy as datacopy
    from tests.copy_support import migrate_target

    migrate_target(services.target_url)
    ddl = "CREATE TABLE a (x int); CREATE TABLE b (y int); CREATE TABLE c (z int) INHERITS (a, b);"
    query(source_db, ddl + "INSERT INTO c VALUES (1, 2, 3), (4, 5, 6);", which="source")
    query(services.target_db, "SET ROLE whynot_owner;" + ddl)
    plan = datacopy.copy_data("source", "target", False, lambda line: None)
    assert {"public.a", "public.b", "public.c"} <= set(plan.analyzed), plan.analyzed
