"""
pgconverge restore: return the target to exactly the state of a backup. Never part of deploy.py.

    pyinfra inventory.py restore.py                     # lists the verified backups of the target
    pyinfra inventory.py restore.py --data backup=<file>.dump --data confirm=<target database name>
    pyinfra inventory.py restore.py --data backup=b005 --data confirm=<HEROKU_APP>      # on Heroku

Without ``confirm`` equal to the target's database name (on Heroku: the app's name) it refuses and
changes nothing. A backup of another database is refused. Before it replaces anything, it takes a
verified backup of the target as it is (named in its plan and summary: restoring it undoes the
restore). ``--dry`` lists what the restore would drop and bring back.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

from pyinfra import host

from tasks.core import interrupt
from tasks.core.cli_output import hide_pyinfra_tables
from tasks.operations import restore
from tasks.operations.common import running_state
from tasks.run import get_run_or_exit

run = get_run_or_exit()
hide_pyinfra_tables()  # pyinfra's "Detected changes" table and failure lines (they show with --debug)
interrupt.install(running_state())  # Ctrl-C / SIGTERM: one line, exit 130 / 143, as the deploy

if run.heroku:
    restore.restored_on_heroku(
        name="Backup restored",
        service=run.target_service,
        app=run.heroku.name,
        backup=host.data.get("backup"),
        confirm=host.data.get("confirm"),
        backup_dir=str(run.settings.backup_dir),
    )
else:
    restore.restored(
        name="Backup restored",
        service=run.target_service,
        backup=host.data.get("backup"),
        confirm=host.data.get("confirm"),
        database=run.target.dbname,
        label=run.settings.target_label,
        backup_dir=str(run.settings.backup_dir),
    )
