"""
Target privileges sufficient: before any backup or change, the target's role may do what the
pending migrations do (CREATE on the schemas they write to, on the database for a new schema).
"""

from __future__ import annotations

from tasks.facts import SchemaPrivileges, Unreadable, read
from tasks.migrations import privileges
from tasks.operations.common import converged, operation, refuse
from tasks.plan import Planner


@operation()
def privileges_sufficient(plan: Planner):
    """
    Ensure the target's role holds the privileges the pending migrations need.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the pending migrations and the target's history

    Read-only. Nothing pending, or a history the migrations step will refuse → nothing to check
    here. A missing privilege stops the run, naming the role, the schema, the file and the GRANT.

    **Example:**

    .. code:: python

        preflight.privileges_sufficient(
            name="Target privileges sufficient",
            plan=Planner.of(run),
        )
    """
    part = plan.migrations_part()
    if part.history is None:
        converged("history not readable here: the migrations step reports it")
        return
    if part.problems or not part.pending:
        converged("no pending migration needs a privilege")
        return
    needs = privileges.needs_of(list(part.pending), part.history.table_exists)
    schemas = sorted({*needs.schemas, *needs.new_schemas} - {""})
    try:
        granted = read(SchemaPrivileges, plan.target, privileges.privileges_sql(schemas))
    except Unreadable as exc:
        yield from refuse(f"cannot read the target role's privileges: {exc.error}")
        return
    problems = privileges.missing(needs, granted)
    if problems:
        yield from refuse(problems[0])
        return
    converged(f"role {granted['user']} may create what {len(part.pending)} pending migration(s) create")
