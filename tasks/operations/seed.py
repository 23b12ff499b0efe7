"""
Seed present: every row of the seed files exists in the target, inserted when missing by key
(and, with ``SEED_MODE=upsert``, updated when it differs).
"""

from __future__ import annotations

from tasks.operations.migrations import migrations_pending
from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.data import seed as seed_files
from tasks.facts import FactError, RowCounts, read
from tasks.operations.common import converged, planning, python_step, refuse, show_plan

SAMPLE_NOTE = "first ten keys"


def _plan_lines(found: dict, upsert: bool) -> list[str]:
    lines = []
    for name, count in found["tables"].items():
        if count.missing or count.updates:
            what = f"insert {count.missing} missing row(s)" + (f", update {count.updates} differing row(s)" if upsert else "")
            lines.append(f"{what} of {name} ({SAMPLE_NOTE}: {count.sample})")
    return lines


@operation()
def present(service: str, files: list[seed_files.SeedFile], upsert: bool = False, copy_from: str | None = None,
            migrations: list | None = None, baseline_version: int | None = None):
    """
    Ensure every seed row exists in the target (insert the rows missing by primary key).

    + service: the service name of the target database
    + files: the seed files, as read by ``tasks.data.seed.read_seed_files``
    + upsert: also update rows whose other columns differ (``SEED_MODE=upsert``)
    + copy_from: with ``DATA_MIGRATION=copy``, the source's service: tables with rows in the source
      belong to the copy, and their seed files are left out (noted)
    + migrations, baseline_version: the migration files (a dry run with some pending says the rows
      are checked again after them: a migration may delete some)

    Existing rows are left alone (unless ``upsert``); nothing else is touched. All files load in
    one transaction, tables in foreign-key order; sequences behind explicit ids are advanced.
    The rows travel as ``COPY`` data through the driver: no line of a seed file is read as a command.
    The dry run lists, per file, the rows to insert or update (the first ten keys and a count).

    **Example:**

    .. code:: python

        seed.present(
            name="Seed present",
            service="target",
            files=read_seed_files(Path("files/seed")),
        )
    """
    if files and copy_from:
        source_rows = read(RowCounts, copy_from)
        if isinstance(source_rows, FactError):
            yield from refuse(f"cannot read the source's row counts: {source_rows['error']}")
            return
        files, left = seed_files.owned_by_copy(files, source_rows)
        if left:
            show_plan([f"seed files left to the copy (their tables have rows in the source): "
                       f"{', '.join(f.filename for f in left)}"])
    if not files:
        converged("no seed files to apply")
        return
    from tasks.data import seed_load  # psycopg: the rows travel as COPY data, never in a script

    try:
        found = seed_load.missing(service, files, upsert)
    except seed_load.SeedError as exc:
        yield from refuse(str(exc))
        return
    if found["absent"]:
        if not planning():
            absent = next(f for f in files if f.table in found["absent"])
            yield from refuse(f"seed file {absent.filename}: table {absent.table} does not exist in the target: "
                              "create it in a migration or remove the file; nothing was inserted")
            return
        show_plan([f"insert the {f.rows} row(s) of {f.filename}; its table is made by a pending migration" for f in files])
    else:
        lines = _plan_lines(found, upsert)
        if not lines:
            after = planning() and migrations is not None and migrations_pending(service, migrations, baseline_version)
            converged(f"all rows of {len(files)} seed file(s) present"
                      + ("; checked again after the pending migrations run" if after else ""))
            return
        show_plan(lines)

    def insert(log) -> None:
        result = seed_load.load(f"service={service}", files, "insert", upsert)
        for name, count in result["tables"].items():
            if count.missing or count.updates:
                log(f"{name}: inserted {count.missing} row(s)" + (f", updated {count.updates}" if upsert else ""))
        inserted = sum(c.missing for c in result["tables"].values())
        updated = sum(c.updates for c in result["tables"].values())
        return f"inserted {inserted} seed row(s)" + (f", updated {updated}" if updated else "")

    yield python_step(insert, rows_only=True)
