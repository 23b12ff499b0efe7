"""
Target privileges sufficient: before any backup or change, the target's role may do what the
pending migrations do (CREATE on the schemas they write to, on the database for a new schema).
"""

from __future__ import annotations

from tasks.facts import FactError, MigrationHistory, SchemaPrivileges, read
from tasks.migrations import privileges
from tasks.migrations.files import Migration
from tasks.migrations.plan import plan_migrations
from tasks.operations.common import converged, operation, refuse


@operation()
def privileges_sufficient(service: str, migrations: list[Migration], baseline_version: int | None = None):
    """
    Ensure the target's role holds the privileges the pending migrations need.

    + service: the service name of the target database
    + migrations: the files, as read by ``tasks.migrations.files.read_migrations``
    + baseline_version: as for ``migrations.applied`` (files up to it are recorded, not run)

    Read-only. Nothing pending, or a history the migrations step will refuse → nothing to check
    here. A missing privilege stops the run, naming the role, the schema, the file and the GRANT.

    **Example:**

    .. code:: python

        preflight.privileges_sufficient(
            name="Target privileges sufficient",
            service="target",
            migrations=read_migrations(Path("files/migrations")),
        )
    """
    history = read(MigrationHistory, service)
    if isinstance(history, FactError):
        converged("history not readable here: the migrations step reports it")
        return
    plan = plan_migrations(migrations, history, baseline_version)
    if plan.problems or not plan.pending:
        converged("no pending migration needs a privilege")
        return
    needs = privileges.needs_of(plan.pending, history.table_exists)
    granted = read(SchemaPrivileges, service, privileges.privileges_sql(sorted({*needs.schemas, *needs.new_schemas} - {''})))
    if isinstance(granted, FactError):
        yield from refuse(f"cannot read the target role's privileges: {granted['error']}")
        return
    problems = privileges.missing(needs, granted)
    if problems:
        yield from refuse(problems[0])
        return
    converged(f"role {granted['user']} may create what {len(plan.pending)} pending migration(s) create")
