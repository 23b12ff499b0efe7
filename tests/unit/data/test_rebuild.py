"""What the rebuild after a copy says and does with what it set aside (issue 30's adversary, finding 1)."""

import dataclasses

import psycopg

from tasks.data import rebuild
from tasks.data.journal import Aside

KEY = Aside("public.big", "fkey:big_parent_fk", "fkey", "ALTER TABLE public.big ADD CONSTRAINT ... NOT VALID", True)
NOT_VALID = Aside("public.big", "notvalid:big_old_fk", "notvalid", "ALTER TABLE public.big ADD ... NOT VALID", False)


def test_a_key_that_fails_its_validation_is_said_committed_not_rolled_back():
    """The rows of a table whose key cannot be validated are committed: the line says so."""
    exc = psycopg.errors.ForeignKeyViolation('insert or update on table "big" violates foreign key constraint')
    line = str(rebuild.refused(KEY, exc, validate=True))
    assert "rolled back" not in line and "committed" in line and "big_parent_fk" in line


def test_a_foreign_key_the_targets_rows_break_names_the_application_as_well_as_the_source():
    """Adversary pass 2, finding 7: the application deleted a parent while the foreign key (ON DELETE
    CASCADE) was set aside; its validation failed with "fix those rows in the source", whose rows were fine. The
    line now says the target's rows break it, and gives both ways forward."""
    exc = psycopg.errors.ForeignKeyViolation('insert or update on table "big" violates foreign key constraint')
    line = str(rebuild.refused(KEY, exc, validate=True))
    assert "application" in line and "in the target" in line and "COPY_CONFLICT=replace" in line
    assert "NOT VALID" in line and "committed" in line


def test_a_not_valid_key_is_added_back_and_never_validated():
    """A key NOT VALID in the expected schema stays NOT VALID: it is in no validating stage."""
    staged = rebuild.stages([NOT_VALID, KEY])
    validated = [item for work, validate in staged if validate for batch in work for item in batch]
    added = [item for work, validate in staged if not validate for batch in work for item in batch]
    assert NOT_VALID in added and NOT_VALID not in validated and KEY in validated


KEY_INDEX = Aside("public.big", "keyindex:big_pkey", "keyindex", "CREATE UNIQUE INDEX big_pkey ON ...", False)
PRIMARY = Aside("public.big", "key:big_pkey", "key", "ALTER TABLE public.big ADD CONSTRAINT big_pkey ...", False)
REFERENCING = Aside("public.detail", "fkey:detail_big_fk", "fkey", "ALTER TABLE public.detail ADD ... NOT VALID", False)


def test_a_key_is_built_with_the_indexes_then_put_on_its_index_before_the_foreign_keys_resting_on_it():
    """A primary key's unique index is built at once with the other indexes (it takes their lock), the
    constraint is put on it before the foreign keys that need it are added; a kill after the index
    was built (marked added) leaves only the constraint to put on."""
    (indexes, _), (quick, _), _ = rebuild.stages([REFERENCING, PRIMARY, KEY_INDEX])
    assert indexes == [[KEY_INDEX]] and quick == [[PRIMARY, REFERENCING]]
    built = dataclasses.replace(KEY_INDEX, added=True)
    (indexes, _), (quick, _), _ = rebuild.stages([PRIMARY, built])
    assert indexes == [] and quick == [[PRIMARY]]


def test_a_key_the_target_rows_break_is_said_committed_and_what_to_do():
    """Rows written into the target during its copy (the source has the key: its rows pass it) break
    the key's build: the line names the key, says the rows are committed and what to do."""
    exc = psycopg.errors.UniqueViolation('could not create unique index "big_pkey"')
    line = str(rebuild.refused(KEY_INDEX, exc, validate=False))
    assert "big_pkey" in line and "committed" in line and "COPY_CONFLICT=replace" in line


def test_the_schema_check_takes_a_key_set_aside_and_its_index_built_alone_as_set_aside():
    """The journal's key entries name the constraint missing and its index without the constraint."""
    from tasks.schema.catalog import Difference, set_aside, set_aside_names

    names = set_aside_names(["keyindex:public.big_pkey", "key:public.big.big_pkey"])
    found = [
        Difference("-", "constraint", "big.big_pkey", "- PRIMARY KEY big.big_pkey"),
        Difference("~", "index", "public.big_pkey", "~ index big_pkey: constraint True → False"),
        Difference("-", "constraint", "big.other_key", "- UNIQUE big.other_key"),
    ]
    assert set_aside(found, names) == found[:2]


def test_what_rests_on_an_object_not_put_back_waits_and_nothing_else_does():
    """A key whose index could not be built is not put on it, a foreign key not added is not
    validated; every other object is still put back."""
    failed = {(KEY_INDEX.table, KEY_INDEX.name), (KEY.table, KEY.name)}
    assert rebuild.waiting(PRIMARY, failed, validate=False) and rebuild.waiting(KEY, failed, validate=True)
    assert not rebuild.waiting(REFERENCING, failed, validate=False) and not rebuild.waiting(KEY, set(), True)


def test_a_table_whose_lock_was_held_through_every_try_is_left_whole_for_the_rerun():
    """Its other objects would wait on the same lock, try after try: they stay set aside too."""
    assert rebuild.waiting(KEY_INDEX, {("public.big", "*")}, validate=False)
    assert not rebuild.waiting(REFERENCING, {("public.big", "*")}, validate=False)


def test_a_second_object_that_failed_is_named_with_its_own_cause():
    """Third adversary pass, finding D: the line named the first failure only and listed a foreign key that
    failed on its own (an application's orphan) as "still set aside ... a rerun puts them back once this is
    fixed"; following it led to another refusal. Each failure now comes with its own cause; what only
    rests on a failed one is listed apart."""
    orphan = psycopg.errors.ForeignKeyViolation('insert or update on table "casc" violates foreign key constraint')
    first = rebuild.refused(KEY_INDEX, psycopg.errors.UniqueViolation("could not create unique index"), False)
    line = str(rebuild.summary(first, [KEY_INDEX, PRIMARY, KEY, REFERENCING], [(KEY, orphan)]))
    also, _, resting = line.partition("resting on those")
    assert "also failed" in also and "big_parent_fk" in also and "violates foreign key constraint" in also
    assert "detail_big_fk" in resting and "big_parent_fk" not in resting
