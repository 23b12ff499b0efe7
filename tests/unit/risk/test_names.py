"""Where a pending statement's unqualified names go: the file's whole search_path, "$user" as the target's
user, looked up on the target's tables and the run's own (an outside tester's findings on issue 27, two
passes). Every name is schema-qualified, public's too: a bare name would be looked up again by the facts
session's own search_path, which puts the role's schema first."""

from __future__ import annotations

from types import SimpleNamespace

from tasks.migrations.sqlsplit import split_statements
from tasks.risk.classify import COMPUTED_PATH, file_risks
from tasks.risk.names import Catalog, named_schemas, scopes
from tasks.risk.runstate import walk

TABLES = {("public", "u"), ("app", "t"), ("owner", "t"), ("public", "t"), ("public", "Odd")}
TABLES |= {("owner", "c"), ("public", "c"), ("app", "c"), ("app", "big"), ("Mixed", "t"), ("mixed", "t")}
TARGET = Catalog("owner", frozenset({"public", "app", "owner", "Mixed", "mixed"}), frozenset(TABLES))


def tables(sql: str, catalog: Catalog | None = TARGET, name: str = "f.sql") -> list[tuple[int, str]]:
    return [(r.line, r.table) for r in risks(sql, catalog, name)]


def risks(sql: str, catalog: Catalog | None = TARGET, name: str = "f.sql") -> list:
    statements = split_statements(sql)
    found = scopes([(name, s.kind, s.node) for s in statements], catalog)
    return file_risks(SimpleNamespace(filename=name, sql=sql, statements=statements), found[name])


def remade(sql: str, line: int) -> set[str]:
    statements = [("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(sql)]
    found = scopes([(name, kind, node) for name, _, kind, node, _ in statements], TARGET)
    return walk(statements, found)[("f.sql", line)].remade


def test_a_name_goes_to_the_first_schema_of_the_path_that_holds_it():
    """Defect (a): 'SET search_path = app, public' named app.u, which the target does not have ('made in this
    run'), where PostgreSQL finds public.u."""
    assert tables("SET search_path = app, public;\nALTER TABLE u ALTER COLUMN x SET NOT NULL;\n") == [(2, "public.u")]


def test_user_in_the_path_is_the_targets_user():
    """Defect (b): 'SET LOCAL search_path = "$user", app' skipped "$user" and named app.t."""
    sql = 'SET LOCAL search_path = "$user", app;\nALTER TABLE t ADD UNIQUE (w);\n'
    assert tables(sql) == [(2, "owner.t")]
    sql = "SELECT pg_catalog.set_config('search_path', '\"$user\", app', false);\nCREATE INDEX ON t (w);\n"
    assert tables(sql) == [(2, "owner.t")]


def test_a_schema_the_target_lacks_is_skipped():
    """Defect (c): 'SET search_path = nosuch, app' named nosuch.t ('made in this run', no risk)."""
    assert tables("SET search_path = nosuch, app;\nCREATE INDEX ON t (w);\n") == [(2, "app.t")]


def test_public_is_named_so_the_users_schema_cannot_take_its_place():
    """Second pass, finding 1: a name resolved to public was written bare, and the target's sizes and data
    checks looked it up again with "$user" first (owner.c instead of public.c)."""
    assert tables("SET search_path = public;\nALTER TABLE c ALTER v SET NOT NULL;\n") == [(2, "public.c")]
    assert tables("SELECT set_config('search_path', 'public', false);\nCREATE INDEX ON c (v);\n") == [(2, "public.c")]
    assert tables("ALTER TABLE t ADD UNIQUE (w);\nALTER TABLE u ADD UNIQUE (w);\n") == [(1, "owner.t"), (2, "public.u")]
    nobody = Catalog("nobody", frozenset({"public"}), TARGET.tables)
    assert tables("ALTER TABLE t ADD UNIQUE (w);\n", nobody) == [(1, "public.t")]


def test_a_table_the_run_dropped_or_renamed_away_no_longer_answers_to_its_name():
    """Second pass, findings 2 and 3: after DROP TABLE, RENAME, ALTER SCHEMA … RENAME or DROP SCHEMA, the name
    resolves to the next schema of the path that holds it."""
    assert tables("DROP TABLE owner.c;\nALTER TABLE c ALTER v SET NOT NULL;\n") == [(2, "public.c")]
    assert tables("ALTER TABLE owner.c RENAME TO c_old;\nALTER TABLE c ADD UNIQUE (v);\n") == [(2, "public.c")]
    assert tables("ALTER SCHEMA owner RENAME TO wo_old;\nALTER TABLE c ADD UNIQUE (v);\n") == [(2, "public.c")]
    sql = "SET search_path = app, public;\nDROP TABLE app.c;\nALTER TABLE c ADD UNIQUE (v);\n"
    assert tables(sql) == [(3, "public.c")]
    sql = 'SET search_path = "Mixed", mixed;\nDROP SCHEMA "Mixed" CASCADE;\nALTER TABLE t ALTER v SET NOT NULL;\n'
    assert tables(sql) == [(3, "mixed.t")]
    assert "public.c" not in remade("DROP TABLE owner.c;\nALTER TABLE c ALTER v SET NOT NULL;\n", 2)


def test_a_renamed_or_moved_table_is_the_targets_table_under_its_old_name():
    """Second pass, finding 7: a table renamed or moved in the run was 'made in this run', so a rewrite of it
    passed the gate; it holds the target's rows, sized and checked by its name on the target."""
    sql = "ALTER TABLE app.big RENAME TO big2;\nALTER TABLE app.big2 ALTER v TYPE bigint;\n"
    assert tables(sql)[-1] == (2, "app.big") and remade(sql, 2) == set()
    sql = "ALTER TABLE app.big SET SCHEMA y;\nALTER TABLE y.big ALTER v TYPE bigint;\n"
    assert tables(sql)[-1] == (2, "app.big") and remade(sql, 2) == set()
    sql = "ALTER SCHEMA app RENAME TO app2;\nALTER TABLE app2.big ALTER v TYPE bigint;\n"
    assert tables(sql) == [(2, "app.big")]
    # a new table under the old name is the run's: the renamed one keeps its new name (not the target's)
    sql = "ALTER TABLE app.big RENAME TO big2;\nCREATE TABLE app.big (v int);\nALTER TABLE app.big ADD UNIQUE (v);\n"
    assert tables(sql)[-1] == (3, "app.big") and "app.big" in remade(sql, 3)


def test_reset_all_and_discard_all_return_to_the_runs_path():
    """Second pass, finding 4: RESET ALL was ignored (app.c checked where PostgreSQL uses owner.c)."""
    for reset in ("RESET ALL", "DISCARD ALL", "RESET search_path", "SET search_path TO DEFAULT"):
        assert tables(f"SET search_path = app;\n{reset};\nALTER TABLE c ADD UNIQUE (v);\n") == [(3, "owner.c")]


def test_a_computed_search_path_leaves_the_data_unchecked():
    """Second pass, finding 5: set_config with a value that is not a literal was ignored, and the check run on
    the table of the path before it."""
    (risk,) = risks("SELECT set_config('search_path', 'ap' || 'p', false);\nALTER TABLE c ALTER v SET NOT NULL;\n")
    assert risk.check is not None and risk.check.inexact == COMPUTED_PATH


def test_temporary_tables_come_first_unless_the_path_names_pg_temp():
    """Second pass, finding 6: 'SET search_path = public, pg_temp' puts temporary tables last, so the ALTER
    meets public.t (with its NULLs), not the temporary t."""
    temp = "CREATE TEMP TABLE t (id int, v int);\nALTER TABLE t ALTER v SET NOT NULL;\n"
    sql = "SET search_path = public, pg_temp;\n" + temp
    assert tables(sql) == [(3, "public.t")] and "public.t" not in remade(sql, 3)
    assert tables(temp) == [(2, "pg_temp.t")] and "pg_temp.t" in remade(temp, 2)


def test_the_file_path_starts_again_in_each_file_and_after_a_set_on_the_same_line():
    sql = "SET search_path = nosuch, app, public;\nCREATE TABLE u (x int);\nALTER TABLE u ADD UNIQUE (x);\n"
    assert tables(sql) == [(3, "app.u")]
    statements = [("a.sql", s.kind, s.node) for s in split_statements(sql)]
    statements += [("b.sql", s.kind, s.node) for s in split_statements("ALTER TABLE u ADD UNIQUE (x);\n")]
    assert scopes(statements, TARGET)["b.sql"][0].qualify("u") == "public.u"
    assert tables("ALTER TABLE t ADD UNIQUE (w); SET search_path = app;\n") == [(1, "owner.t")]
    assert tables("SET search_path = app; ALTER TABLE t ADD UNIQUE (w);\n") == [(1, "app.t")]


def test_quoted_and_mixed_case_entries_are_read_as_postgresql_reads_them():
    sql = "SELECT set_config('search_path', 'NoSuch, \"Odd Schema\", APP', false);\nCREATE INDEX ON t (w);\n"
    assert tables(sql) == [(2, "app.t")]
    catalog = Catalog("owner", frozenset({"Odd Schema"}), frozenset({("Odd Schema", "t")}))
    assert tables(sql, catalog) == [(2, '"Odd Schema".t')]
    assert tables('SET search_path = app, public;\nCREATE INDEX ON "Odd" (w);\n') == [(2, 'public."Odd"')]


def test_without_the_targets_catalog_the_files_first_schema_is_kept():
    assert tables('SET search_path = "$user", app, public;\nALTER TABLE t ADD UNIQUE (w);\n', None) == [(2, "app.t")]
    assert tables("ALTER TABLE t ADD UNIQUE (w);\n", None) == [(1, "t")]


def test_the_schemas_read_are_those_the_paths_name():
    sql = "SET search_path = a, \"$user\";\nRESET search_path;\nSELECT set_config('search_path', 'b', false);\n"
    sql += "SELECT set_config('search_path', 'c' || 'd', false);\nSET search_path = '';\nALTER TABLE e.t ADD x int;\n"
    assert named_schemas((s.kind, s.node) for s in split_statements(sql)) == {"public", "a", "b", "e"}


def no_transaction_tables(sql: str) -> list[tuple[int, str]]:
    statements = split_statements(sql)
    found = scopes([("f.sql", s.kind, s.node) for s in statements], TARGET, frozenset({"f.sql"}))
    migration = SimpleNamespace(filename="f.sql", sql=sql, statements=statements, no_transaction=True)
    return [(r.line, r.table) for r in file_risks(migration, found["f.sql"])]


def test_set_local_has_no_effect_in_a_no_transaction_file():
    """Third pass, finding 1: SET LOCAL (and set_config(…, true)) outside a transaction block changes
    nothing, so the index build meets public.c, not app.c."""
    for local in ("SET LOCAL search_path = app, public", "SELECT set_config('search_path', 'app', true)"):
        sql = f"-- pgconverge:no-transaction\n{local};\nCREATE INDEX ON c (v);\n"
        assert no_transaction_tables(sql) == [(3, "owner.c")], local
        assert tables(sql) == [(3, "app.c")], local  # in a transaction it lasts to the file's end
    sql = "-- pgconverge:no-transaction\nSET search_path = app;\nCREATE INDEX ON c (v);\n"
    assert no_transaction_tables(sql) == [(3, "app.c")]


def test_the_settings_name_is_read_in_any_case():
    """Third pass, finding 2: set_config('SEARCH_PATH', 'app', false) sets search_path."""
    assert tables("SELECT set_config('SEARCH_PATH', 'app', false);\nALTER TABLE c ADD UNIQUE (v);\n") == [(2, "app.c")]


def test_a_rename_of_a_table_that_is_not_there_renames_nothing():
    """Third pass, finding 3: ALTER TABLE IF EXISTS mixed.nosuch RENAME TO mixb made mixb 'made in this run',
    where PostgreSQL then finds app.mixb on the target."""
    catalog = Catalog("owner", TARGET.schemas, TARGET.tables | {("app", "mixb")})
    sql = (
        "ALTER TABLE IF EXISTS mixed.nosuch RENAME TO mixb;\nALTER TABLE IF EXISTS mixed.nosuch SET SCHEMA app;\n"
        "SET search_path = mixed, app, public;\nALTER TABLE mixb ALTER v SET NOT NULL;\n"
    )
    assert tables(sql, catalog) == [(4, "app.mixb")]


def test_tables_made_by_create_schema_elements_and_select_into_are_the_runs():
    """Third pass, findings 5, 6 and 8: CREATE SCHEMA s CREATE TABLE t, CREATE SCHEMA AUTHORIZATION role and
    SELECT … INTO t make tables (a good file was refused on public's table of the same name)."""
    sql = "CREATE SCHEMA newapp CREATE TABLE c (id int, v int);\nSET search_path = newapp, public;\n"
    sql += "ALTER TABLE c ALTER v SET NOT NULL;\n"
    assert tables(sql) == [(3, "newapp.c")] and "newapp.c" in remade(sql, 3)
    sql = "SET search_path = mixed, public;\nSELECT 1 AS id, 1 AS v INTO c;\nALTER TABLE c ALTER v SET NOT NULL;\n"
    assert tables(sql) == [(3, "mixed.c")] and "mixed.c" in remade(sql, 3)
    sql = "CREATE SCHEMA AUTHORIZATION bob;\nSET search_path = bob, public;\nCREATE TABLE u (v int);\n"
    sql += "ALTER TABLE public.u ALTER v SET NOT NULL;\nALTER TABLE u ADD UNIQUE (v);\n"
    assert tables(sql) == [(4, "public.u"), (5, "bob.u")] and "public.u" not in remade(sql, 4)


def test_rollback_to_a_savepoint_restores_the_path_it_saw():
    """Third pass, finding 7."""
    sql = "SET search_path = app, public;\nSAVEPOINT s1;\nSET search_path = public;\nROLLBACK TO SAVEPOINT s1;\n"
    assert tables(sql + "ALTER TABLE c ADD UNIQUE (v);\n") == [(5, "app.c")]


def test_refresh_materialized_view_is_a_rewrite_under_access_exclusive():
    """Third pass, finding 11: REFRESH MATERIALIZED VIEW had no risk line before the proof."""
    (plain,) = risks("REFRESH MATERIALIZED VIEW app.m;\n")
    (concurrent,) = risks("REFRESH MATERIALIZED VIEW CONCURRENTLY app.m;\n")
    assert (plain.table, plain.lock, plain.rewrite) == ("app.m", "ACCESS EXCLUSIVE", True)
    assert (concurrent.lock, concurrent.rewrite) == ("EXCLUSIVE", False)


def test_code_that_may_set_the_path_leaves_it_unknown():
    """Fourth pass, findings 1 and 2: set_config in EXPLAIN ANALYZE, CREATE TABLE AS, or a SELECT whose WHERE or
    LIMIT decides whether it runs; an UPDATE of pg_settings; a DO block that names search_path."""
    for code in (
        "EXPLAIN ANALYZE SELECT set_config('search_path', 'app', false)",
        "CREATE TABLE zz AS SELECT set_config('search_path', 'app', false) AS v",
        "SELECT set_config('search_path', 'public', false) WHERE false",
        "SELECT set_config('search_path', 'app', false) LIMIT 0",
        "UPDATE pg_settings SET setting = 'app' WHERE name = 'search_path'",
        "DO $$ BEGIN PERFORM set_config('search_path', 'app', false); END $$",
    ):
        (risk,) = risks(f"SET search_path = app;\n{code};\nALTER TABLE c ALTER v SET NOT NULL;\n")
        assert risk.check is not None and risk.check.inexact == COMPUTED_PATH, code
    for other in ("SELECT set_config('app.mode', 'x', false) WHERE true", "DO $$ BEGIN NULL; END $$"):
        (risk,) = risks(f"SET search_path = app;\n{other};\nALTER TABLE c ALTER v SET NOT NULL;\n")
        assert risk.table == "app.c" and not risk.check.inexact, other


def test_with_pg_temp_first_an_unqualified_table_is_made_temporary():
    sql = "SET search_path = pg_temp, public;\nCREATE TABLE t (id int, v int);\nALTER TABLE t ALTER v SET NOT NULL;\n"
    assert tables(sql) == [(3, "pg_temp.t")] and "pg_temp.t" in remade(sql, 3)
