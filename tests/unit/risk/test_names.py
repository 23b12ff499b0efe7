"""Where a pending statement's unqualified names go: the file's whole search_path, "$user" as the target's
user, looked up on the target's tables and the run's own (an outside tester's findings on issue 27)."""

from __future__ import annotations

from tasks.migrations.sqlsplit import split_statements
from tasks.risk.classify import file_risks
from tasks.risk.names import Catalog, named_schemas, scopes
from tasks.risk.runstate import walk

TARGET = Catalog(
    "owner",
    frozenset({"public", "app", "owner"}),
    frozenset({("public", "u"), ("app", "t"), ("owner", "t"), ("public", "t"), ("public", "Odd")}),
)


def tables(sql: str, catalog: Catalog | None = TARGET, name: str = "f.sql") -> list[tuple[int, str]]:
    from types import SimpleNamespace

    statements = split_statements(sql)
    found = scopes([(name, s.kind, s.node) for s in statements], catalog)
    migration = SimpleNamespace(filename=name, sql=sql, statements=statements)
    return [(r.line, r.table) for r in file_risks(migration, found[name])]


def test_a_name_goes_to_the_first_schema_of_the_path_that_holds_it():
    """Defect (a): 'SET search_path = app, public' named app.u, which the target does not have ('made in this
    run'), where PostgreSQL finds public.u."""
    assert tables("SET search_path = app, public;\nALTER TABLE u ALTER COLUMN x SET NOT NULL;\n") == [(2, "u")]


def test_user_in_the_path_is_the_targets_user():
    """Defect (b): 'SET LOCAL search_path = "$user", app' skipped "$user" and named app.t."""
    sql = 'SET LOCAL search_path = "$user", app;\nALTER TABLE t ADD UNIQUE (w);\n'
    assert tables(sql) == [(2, "owner.t")]
    assert tables(
        "SELECT pg_catalog.set_config('search_path', '\"$user\", app', false);\nCREATE INDEX ON t (w);\n"
    ) == [(2, "owner.t")]


def test_a_schema_the_target_lacks_is_skipped():
    """Defect (c): 'SET search_path = nosuch, app' named nosuch.t ('made in this run', no risk)."""
    assert tables("SET search_path = nosuch, app;\nCREATE INDEX ON t (w);\n") == [(2, "app.t")]


def test_without_a_set_the_pinned_path_puts_the_users_schema_first():
    assert tables("ALTER TABLE t ADD UNIQUE (w);\nALTER TABLE u ADD UNIQUE (w);\n") == [(1, "owner.t"), (2, "u")]
    assert tables("ALTER TABLE t ADD UNIQUE (w);\n", Catalog("nobody", frozenset({"public"}), TARGET.tables)) == [
        (1, "t")
    ]


def test_a_table_the_run_makes_in_an_earlier_schema_hides_the_targets():
    """CREATE TABLE u under 'app, public' makes app.u (the first schema that exists); the next ALTER of u is
    on app.u, made in this run, not on the target's public.u; another file starts from the pinned path."""
    sql = (
        "SET search_path = nosuch, app, public;\nCREATE TABLE u (x int);\nALTER TABLE u ADD UNIQUE (x);\n"
        "ALTER TABLE t RENAME TO t2;\nALTER TABLE t ADD UNIQUE (w);\nALTER TABLE t2 ADD UNIQUE (w);\n"
    )
    assert tables(sql) == [(3, "app.u"), (5, "t"), (6, "app.t2")]
    statements = [("a.sql", s.kind, s.node) for s in split_statements(sql)]
    statements += [("b.sql", s.kind, s.node) for s in split_statements("ALTER TABLE u ADD UNIQUE (x);\n")]
    assert scopes(statements, TARGET)["b.sql"][0].qualify("u") == "u"
    states = walk(
        [("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(sql)],
        scopes([("f.sql", s.kind, s.node) for s in split_statements(sql)], TARGET),
    )
    assert "app.u" in states[("f.sql", 3)].remade and "u" not in states[("f.sql", 3)].remade
    assert "app.t" in states[("f.sql", 6)].remade


def test_a_statement_after_a_set_on_the_same_line_sees_it_and_one_before_does_not():
    assert tables("ALTER TABLE t ADD UNIQUE (w); SET search_path = app;\n") == [(1, "owner.t")]
    assert tables("SET search_path = app; ALTER TABLE t ADD UNIQUE (w);\n") == [(1, "app.t")]


def test_quoted_and_mixed_case_entries_are_read_as_postgresql_reads_them():
    sql = "SELECT set_config('search_path', 'NoSuch, \"Odd Schema\", APP', false);\nCREATE INDEX ON t (w);\n"
    assert tables(sql) == [(2, "app.t")]
    catalog = Catalog("owner", frozenset({"Odd Schema"}), frozenset({("Odd Schema", "t")}))
    assert tables(sql, catalog) == [(2, '"Odd Schema".t')]
    assert tables('SET search_path = app, public;\nCREATE INDEX ON "Odd" (w);\n') == [(2, '"Odd"')]


def test_without_the_targets_catalog_the_files_first_schema_is_kept():
    assert tables('SET search_path = "$user", app, public;\nALTER TABLE t ADD UNIQUE (w);\n', None) == [(2, "app.t")]


def test_the_schemas_read_are_those_the_paths_name():
    sql = "SET search_path = a, \"$user\";\nRESET search_path;\nSELECT set_config('search_path', 'b', false);\n"
    assert named_schemas((s.kind, s.node) for s in split_statements(sql)) == {"public", "a", "b"}
