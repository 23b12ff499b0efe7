"""
Schema verified: the target's catalog equals the expected schema proven on the shadow database.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from pyinfra.api import operation

from tasks import catalog, expected
from tasks.facts import CatalogSnapshot, FactError, read
from tasks.migration_files import Migration
from tasks.operations.common import planning, refuse

MAX_DIFF_LINES = 40


@operation()
def verified(service: str, migrations: list[Migration], state_dir: str):
    """
    Ensure the target's schema equals the expected schema (the shadow database's catalog).

    + service: the service name of the target database
    + migrations: the files whose proof holds the expected schema
    + state_dir: where the proof cached the expected schema

    Tables, columns, types, defaults, constraints, indexes, triggers, functions, views,
    sequences, types and extensions are compared; a difference fails the run with a diff.
    This operation never changes anything.

    **Example:**

    .. code:: python

        schema.verified(
            name="Schema verified",
            service="target",
            migrations=read_migrations(Path("files/migrations")),
            state_dir=".pgconverge",
        )
    """
    wanted = expected.load_expected(Path(state_dir), migrations)
    if wanted is None:
        if planning():
            host.noop("expected schema not proven yet: verified after the proof")
            return
        yield from refuse("no expected schema: the migrations were not proven (run the whole deploy)")
        return
    if planning():
        # Before the migrations run the target is expected to differ; verify at execute time.
        host.noop("verified after the migrations run")
        return
    actual = read(CatalogSnapshot, service)
    if isinstance(actual, FactError):
        yield from refuse(f"cannot read the target's catalog: {actual['error']}")
        return
    differences = catalog.diff(wanted, actual)
    if not differences:
        host.noop("target schema equals the expected schema")
        return
    shown = differences[:MAX_DIFF_LINES]
    more = f"\n  … and {len(differences) - len(shown)} more" if len(differences) > len(shown) else ""
    yield from refuse(
        f"the target schema differs from what the migrations describe ({len(differences)} difference(s), "
        "- missing, + extra, ~ changed):\n  " + "\n  ".join(shown) + more
    )
