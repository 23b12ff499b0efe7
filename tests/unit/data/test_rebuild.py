"""What the rebuild after a copy says and does with what it set aside (issue 30's adversary, finding 1)."""

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


def test_a_not_valid_key_is_added_back_and_never_validated():
    """A key NOT VALID in the expected schema stays NOT VALID: it is in no validating stage."""
    staged = rebuild.stages([NOT_VALID, KEY])
    validated = [item for work, validate in staged if validate for batch in work for item in batch]
    added = [item for work, validate in staged if not validate for batch in work for item in batch]
    assert NOT_VALID in added and NOT_VALID not in validated and KEY in validated
