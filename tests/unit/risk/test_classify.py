"""What a statement does to a table, read from PostgreSQL's parse tree (pglast)."""

from hypothesis import given
from hypothesis import strategies as st

from tasks.migrations.sqlsplit import split_statements
from tasks.risk.classify import accepted, quote, statement_risks


def risks(sql: str):
    return [r for s in split_statements(sql) for r in statement_risks("f.sql", s.line, s.kind, s.node, s.text)]


def test_a_type_change_rewrites_under_access_exclusive():
    (risk,) = risks("ALTER TABLE public.messages ALTER COLUMN n TYPE bigint")
    assert (risk.table, risk.lock, risk.rewrite, risk.heavy) == ("public.messages", "ACCESS EXCLUSIVE", True, True)


def test_index_builds_concurrent_or_not():
    plain, concurrent = risks("CREATE UNIQUE INDEX i ON m (a, b);\nCREATE INDEX CONCURRENTLY j ON m (a)")
    assert (plain.lock, plain.index_build, plain.check.kind, plain.check.columns) == (
        "SHARE",
        True,
        "unique",
        ("a", "b"),
    )
    assert (concurrent.lock, concurrent.heavy, concurrent.check, concurrent.line) == (
        "SHARE UPDATE EXCLUSIVE",
        False,
        None,
        2,
    )


def test_validations_and_not_valid():
    notnull, check, fk, fk_later = risks(
        "ALTER TABLE m ALTER COLUMN a SET NOT NULL;\nALTER TABLE m ADD CONSTRAINT c CHECK (a > 0 AND b <> 'x');\n"
        "ALTER TABLE m ADD FOREIGN KEY (a) REFERENCES o (id);\n"
        "ALTER TABLE m ADD FOREIGN KEY (a) REFERENCES o (id) NOT VALID"
    )
    assert (notnull.validation, notnull.check.columns) == ("NOT NULL", ("a",))
    assert check.check.expression == "a > 0 AND b <> 'x'"
    assert (fk.lock, fk.validation, fk.check.references, fk.check.ref_columns) == (
        "SHARE ROW EXCLUSIVE",
        "FOREIGN KEY",
        "o",
        ("id",),
    )
    assert (fk_later.heavy, fk_later.check) == (False, None)


def test_a_primary_key_using_an_index_builds_nothing():
    (risk,) = risks("ALTER TABLE m ADD CONSTRAINT m_pkey PRIMARY KEY USING INDEX m_id")
    assert not risk.heavy and risk.check is None


def test_statements_that_lock_no_table_have_no_risk():
    assert (
        risks(
            "CREATE TABLE t (id int); INSERT INTO t VALUES (1); CREATE FUNCTION f() RETURNS int "
            "LANGUAGE sql AS 'SELECT 1'"
        )
        == []
    )


def test_accept_risk_is_a_line_of_its_own():
    assert accepted("-- pgconverge: accept-risk\nALTER TABLE m ALTER a TYPE bigint;")
    assert accepted("--   PGCONVERGE:   accept-risk  \n")
    # adversary finding 8: a reason after the directive was silently ignored; it counts (docs/risk.md)
    assert accepted("-- pgconverge: accept-risk: the table is empty at night\nALTER TABLE m ALTER a TYPE bigint;")
    assert not accepted("-- pgconverge: accept-risky\nALTER TABLE m ALTER a TYPE bigint;")
    assert not accepted("ALTER TABLE m ALTER a TYPE bigint; -- not -- pgconverge: accept-risk")


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=20)
)
def test_a_quoted_name_parses_back_to_itself(name):
    (risk,) = risks(f"ALTER TABLE {quote('s')}.{quote(name)} ALTER COLUMN a TYPE bigint")
    assert risk.table == f"s.{quote(name)}"


def test_accept_risk_inside_a_string_literal_does_not_accept():
    """Tester item 10: only a comment line outside any statement accepts (PostgreSQL's scanner decides)."""
    assert not accepted("ALTER TABLE m ALTER a TYPE bigint;\nCOMMENT ON TABLE m IS '\n-- pgconverge: accept-risk\n';\n")
    assert not accepted("SELECT $$\n-- pgconverge: accept-risk\n$$;\n")
    assert accepted("SELECT 'é';\n  -- pgconverge: accept-risk\nALTER TABLE m ALTER a TYPE bigint;\n")


def test_statements_that_rewrite_without_a_type_change_are_rewrites_before_any_proof():
    """Tester item 2: the first --dry (parse tree only) said 'rewrite no' where the real run (the proof's
    relfilenode) refused: SET UNLOGGED/LOGGED, SET ACCESS METHOD, ADD COLUMN serial or identity."""
    for sql in (
        "ALTER TABLE m SET UNLOGGED",
        "ALTER TABLE m SET LOGGED",
        "ALTER TABLE m ADD COLUMN s serial",
        "ALTER TABLE m ADD COLUMN s bigserial",
        "ALTER TABLE m ADD COLUMN s bigint GENERATED ALWAYS AS IDENTITY",
    ):
        (risk,) = risks(sql)
        assert (risk.table, risk.lock, risk.rewrite) == ("m", "ACCESS EXCLUSIVE", True), sql
    (plain,) = risks("ALTER TABLE m ADD COLUMN s bigint DEFAULT 0")
    assert not plain.rewrite


def test_the_files_search_path_names_the_schema_of_unqualified_tables():
    """Tester item 5: 'SET search_path = app; ALTER TABLE sq ...' was looked up as public's sq (not
    there: 'made in this run, no risk')."""
    from tasks.risk.classify import file_risks

    sql = (
        "ALTER TABLE a ALTER COLUMN id TYPE bigint;\nSET search_path = app, public;\n"
        "ALTER TABLE sq ALTER COLUMN id TYPE bigint;\n"
        'ALTER TABLE "Odd.Name" ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES parent (id);\n'
        "ALTER TABLE other.t ALTER COLUMN id TYPE bigint;\nRESET search_path;\nCREATE INDEX i ON b (x);\n"
    )
    found = file_risks(_migration(sql))
    assert [(r.line, r.table) for r in found] == [
        (1, "a"),
        (3, "app.sq"),
        (4, 'app."Odd.Name"'),
        (5, "other.t"),
        (7, "b"),
    ]
    assert found[2].check is not None and found[2].check.references == "app.parent"


def _migration(sql: str):
    from types import SimpleNamespace

    return SimpleNamespace(filename="f.sql", sql=sql, statements=split_statements(sql))


def test_vacuum_full_and_cluster_rewrite_the_table():
    """Tester item 3: a no-transaction file's VACUUM FULL or CLUSTER was invisible to the gate."""
    found = risks("VACUUM FULL bigt;\nVACUUM (FULL, ANALYZE) a, b;\nCLUSTER c USING i;\nVACUUM d;\nVACUUM ANALYZE e")
    assert [(r.line, r.table, r.lock, r.rewrite) for r in found] == [
        (1, "bigt", "ACCESS EXCLUSIVE", True),
        (2, "a", "ACCESS EXCLUSIVE", True),
        (2, "b", "ACCESS EXCLUSIVE", True),
        (3, "c", "ACCESS EXCLUSIVE", True),
    ]
