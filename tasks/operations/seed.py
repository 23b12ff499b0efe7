"""
Seed present: every row of the seed files exists in the target, inserted when missing by key.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation

from tasks import seed as seed_files
from tasks.facts import FactError, SeedState, read
from tasks.operations.common import refuse, show_plan
from tasks.psql import psql


@operation()
def present(service: str, files: list[seed_files.SeedFile]):
    """
    Ensure every seed row exists in the target (insert the rows missing by primary key).

    + service: the service name of the target database
    + files: the seed files, as read by ``tasks.seed.read_seed_files``

    Existing rows are left alone; nothing else is touched. All files load in one transaction,
    tables in foreign-key order; sequences behind explicit ids are advanced.

    **Example:**

    .. code:: python

        seed.present(
            name="Seed present",
            service="target",
            files=read_seed_files(Path("files/seed")),
        )
    """
    if not files:
        host.noop("no seed files")
        return
    found = read(SeedState, service, seed_files.seed_script(files, "count"))
    if isinstance(found, FactError):
        yield from refuse(f"seed files cannot be checked against the target: {found['error']}")
        return
    if found["absent"]:
        show_plan([f"insert seed rows of {f.filename} ({f.rows} row(s)); its table is made by a pending migration" for f in files])
    else:
        missing = {name: rows for name, (_, rows) in found["tables"].items() if rows}
        if not missing:
            host.noop(f"all rows of {len(files)} seed file(s) present")
            return
        show_plan([f"insert {rows} missing row(s) of {name}" for name, rows in missing.items()])
    yield psql(service, _stdin=seed_files.seed_script(files, "insert"))
