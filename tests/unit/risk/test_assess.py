"""The parse tree's risks corrected by what the proof observed (pure: the observation is given)."""

from types import SimpleNamespace

from tasks.migrations.sqlsplit import split_statements
from tasks.risk.assess import file_assessment
from tasks.risk.observe import Seen


def migration(sql: str) -> SimpleNamespace:
    return SimpleNamespace(filename="f.sql", sql=sql, statements=split_statements(sql), no_transaction=False)


def test_an_observed_share_lock_from_a_do_block_is_an_index_build():
    """Tester item 4: CREATE INDEX inside a DO block / EXECUTE / a function: the parse tree names no
    table, the proof saw SHARE on bigt; that was 'rewrite no, 0 high'."""
    sql = "DO $$ BEGIN EXECUTE 'CREATE INDEX bigt_k_idx ON bigt (k)'; END $$;\n"
    (risk,) = file_assessment(migration(sql), [Seen(1, {"bigt": "ShareLock"}, [])])
    assert (risk.table, risk.lock, risk.index_build, risk.heavy) == ("bigt", "SHARE", True, True)


def test_an_observed_weaker_lock_is_not_heavy():
    sql = "DO $$ BEGIN EXECUTE 'ALTER TABLE bigt ADD COLUMN c int'; END $$;\n"
    (risk,) = file_assessment(migration(sql), [Seen(1, {"bigt": "AccessExclusiveLock"}, [])])
    assert (risk.lock, risk.heavy) == ("ACCESS EXCLUSIVE", False)


def test_a_statement_the_proof_saw_lock_another_table_is_moved_to_it():
    """Fourth adversary pass on issue 27, finding 3: a search_path changed by code (UPDATE pg_settings, a DO
    block) that the parse tree cannot follow: the plan validated public.t, the proof saw app.t locked and not
    public.t; the NOT NULL validation (and its gate) is on app.t."""
    sql = "UPDATE pg_settings SET setting = 'app' WHERE name = 'search_path';\nALTER TABLE t ALTER x SET NOT NULL;\n"
    seen = [Seen(1, {}, []), Seen(2, {"app.t": "AccessExclusiveLock"}, [])]
    (risk,) = file_assessment(migration(sql), seen)
    assert (risk.table, risk.validation != "", risk.heavy) == ("app.t", True, True)
    # the named table locked too (a partition or child beside it): nothing moves
    seen = [Seen(1, {}, []), Seen(2, {"t": "AccessExclusiveLock", "app.t": "AccessExclusiveLock"}, [])]
    assert [r.table for r in file_assessment(migration(sql), seen)] == ["t", "app.t"]


def test_a_parents_validation_reaches_a_child_joined_in_the_run():
    """Fourth adversary pass on issue 27, finding 4: after 'ALTER TABLE app.t INHERIT public.t' the NOT NULL of
    public.t scans app.t's rows too; the child is gated and checked on its own size and rows (an observed lock
    on it keeps the proof's level); UNIQUE does not reach it."""
    from tasks.risk.assess import run_states, with_joined

    sql = "ALTER TABLE app.t INHERIT t;\nALTER TABLE t ALTER x SET NOT NULL;\nALTER TABLE t ADD UNIQUE (x);\n"
    m = migration(sql)
    states = run_states([m])
    found = with_joined(file_assessment(m, None), states)
    assert [(r.line, r.table, r.check.kind if r.check else "") for r in found if r.line > 1] == [
        (2, "t", "notnull"),
        (2, "app.t", "notnull"),
        (3, "t", "unique"),
    ]
    seen = [Seen(1, {}, []), Seen(2, {"t": "AccessExclusiveLock", "app.t": "ShareLock"}, []), Seen(3, {}, [])]
    found = with_joined(file_assessment(m, seen), states)
    child = next(r for r in found if r.line == 2 and r.table == "app.t")
    assert (child.lock, child.check is not None, child.heavy) == ("SHARE", True, True)



def test_where_the_parse_tree_knows_the_table_the_proofs_lock_elsewhere_moves_nothing():
    """The proof runs as its own role: a file's own '"$user"' is that role there, not the target's, so the
    proof may lock app.t where the target's run will lock owner.t; only a path set by code is the proof's."""
    from tasks.risk.names import Catalog, scopes

    sql = 'SET LOCAL search_path = "$user", app;\nALTER TABLE t ADD UNIQUE (w);\n'
    m = migration(sql)
    catalog = Catalog("owner", frozenset({"owner", "app", "public"}), frozenset({("owner", "t"), ("app", "t")}))
    found = scopes([("f.sql", s.kind, s.node) for s in m.statements], catalog)["f.sql"]
    seen = [Seen(1, {}, []), Seen(2, {"app.t": "AccessExclusiveLock"}, [])]
    risks = file_assessment(m, seen, found)
    checked = [r.table for r in risks if r.check is not None]
    assert checked == ["owner.t"], risks
