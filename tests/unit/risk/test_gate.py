"""The gate and the plan's risk lines: pure decisions over risks and the target's table sizes."""

from types import SimpleNamespace

from tasks.migrations.sqlsplit import split_statements
from tasks.risk.classify import Risk
from tasks.risk.gate import refusals
from tasks.risk.lint import Finding
from tasks.risk.render import folded_line, on_the_target, risk_line, risk_lines
from tasks.risk.size import TableSize, human_bytes

GB = 1024**3


def size(mb: float, empty: bool = False, rows: int = 14_000_000) -> TableSize:
    return TableSize("public.messages", "messages", int(mb * 1024 * 1024), rows, 300 * 3600, 3600, 0, "id", empty)


REWRITE = Risk("004_retype.sql", 3, "public.messages", "ACCESS EXCLUSIVE", rewrite=True)


def test_the_line_the_issue_asks_for():
    line = risk_line(REWRITE, size(2.1 * 1024), 100)
    assert line.startswith("004_retype.sql:3 ACCESS EXCLUSIVE + rewrite of messages (2.1 GB, 14 M rows, ~300 writes/s)")
    assert "HIGH RISK" in line


def test_a_large_rewrite_is_refused_naming_file_line_table_size_and_ways_on():
    (message,) = refusals([REWRITE], {"public.messages": size(150)}, 100, "high")
    assert "004_retype.sql line 3 rewrites messages (150.0 MB, over RISK_TABLE_MB=100)" in message
    assert "-- pgconverge: accept-risk" in message


def test_no_refusal_for_small_empty_new_accepted_or_never():
    assert refusals([REWRITE], {"public.messages": size(99)}, 100, "high") == []
    assert refusals([REWRITE], {"public.messages": size(500, empty=True)}, 0, "high") == []
    assert refusals([REWRITE], {}, 0, "high") == []  # made in this run: the target has no such table
    accepted = Risk("004_retype.sql", 3, "public.messages", "ACCESS EXCLUSIVE", rewrite=True, accepted=True)
    assert refusals([accepted], {"public.messages": size(500)}, 100, "high") == []
    assert refusals([REWRITE], {"public.messages": size(500)}, 100, "never") == []


def test_ways_on_fit_the_statement():
    index = Risk("f.sql", 1, "public.messages", "SHARE", index_build=True)
    fk = Risk("f.sql", 1, "public.messages", "SHARE ROW EXCLUSIVE", validation="FOREIGN KEY")
    assert "CREATE INDEX CONCURRENTLY" in refusals([index], {"public.messages": size(500)}, 100, "high")[0]
    assert "NOT VALID, then VALIDATE" in refusals([fk], {"public.messages": size(500)}, 100, "high")[0]


def test_human_bytes():
    assert [human_bytes(v) for v in (512, 8192, 5 * 1024 * 1024, 2.1 * GB)] == ["512 bytes", "8 kB", "5.0 MB", "2.1 GB"]


def test_the_index_advice_is_what_a_no_transaction_file_accepts():
    """Tester item 11: the advice said CREATE INDEX CONCURRENTLY, which a no-transaction file refuses
    without IF NOT EXISTS (a retried file must not fail on the index it made)."""
    build = Risk("005_index.sql", 1, "public.messages", "SHARE", index_build=True)
    (message,) = refusals([build], {"public.messages": size(150)}, 100, "high")
    safe = "CREATE INDEX CONCURRENTLY IF NOT EXISTS in a file whose first line is -- pgconverge:no-transaction"
    assert safe in message


def test_a_table_with_rows_but_stale_statistics_does_not_say_0_rows():
    """Tester item 12: reltuples 0 (never analyzed since the load) showed '0 rows' for 150k rows."""
    line = risk_line(REWRITE, size(150, rows=0), 100)
    assert "~0 rows (statistics stale)" in line and " 0 rows" not in line.replace("~0 rows", "")


def test_a_reindex_is_gated_before_the_proof_and_told_to_reindex_concurrently():
    """Adversary finding 8: REINDEX TABLE had no risk line before the proof, and its advice was CREATE INDEX
    CONCURRENTLY; PostgreSQL's way without blocking writes is REINDEX CONCURRENTLY."""
    from tasks.migrations.sqlsplit import split_statements
    from tasks.risk.classify import statement_risks
    from tasks.risk.gate import how_to_go_on, refusals

    (statement,) = split_statements("REINDEX TABLE messages")
    (risk,) = statement_risks("f.sql", 1, statement.kind, statement.node, statement.text)
    assert risk.index_build and risk.lock == "SHARE"
    assert "REINDEX (CONCURRENTLY)" in how_to_go_on(risk)
    (message,) = refusals([risk], {"messages": size(200)}, 100, "high")
    assert "under a SHARE lock" in message
    (rewrite,) = refusals([REWRITE], {"public.messages": size(200)}, 100, "high")
    assert "under an ACCESS EXCLUSIVE lock" in rewrite  # was "a ACCESS"


def test_statements_on_tables_the_target_lacks_are_one_line_per_file_and_never_high():
    """A fresh target's hundreds of statements on the tables the run makes were one line each (2,261
    lines for Lemmy's migrations); now one per file, after the lines of tables the target has."""
    made = [
        Risk("006_new.sql", line, table, "ACCESS EXCLUSIVE", rewrite=True)
        for line, table in ((2, "audit"), (3, "audit"), (5, "log"))
    ]
    lines = risk_lines([REWRITE, *made], {"public.messages": size(150)}, 100)
    assert [(risk.file, risk.line, high) for risk, _, high in lines] == [
        ("004_retype.sql", 3, True),
        ("006_new.sql", 2, False),
    ]
    assert lines[1][1] == "006_new.sql:2 3 statement(s) on audit, log (not in the target: made in this run, no risk)"


def test_squawk_findings_are_shown_on_statements_that_touch_a_table_the_target_has():
    """A finding inside a statement on an existing table is shown (its line may be inside the
    statement); the others, on what the run itself makes, are folded into one counted line."""
    sql = "CREATE TABLE t (id int);\nALTER TABLE messages\n  ALTER COLUMN n TYPE bigint;\nCREATE TABLE u (id int);\n"
    file = SimpleNamespace(filename="004_retype.sql", sql=sql, statements=split_statements(sql), no_transaction=False)
    risk = Risk("004_retype.sql", 2, "public.messages", "ACCESS EXCLUSIVE", rewrite=True)
    found = [
        Finding("004_retype.sql", line, rule, "m")
        for line, rule in ((1, "prefer-bigint-over-int"), (3, "changing-column-type"), (4, "prefer-bigint-over-int"))
    ]
    shown, folded = on_the_target(found, [risk], {"public.messages": size(1)}, [file])
    assert [f.line for f in shown] == [3] and [f.line for f in folded] == [1, 4]
    assert "squawk: 2 finding(s) on statements that touch no table the target has" in folded_line(folded)
    assert "prefer-bigint-over-int ×2" in folded_line(folded)
