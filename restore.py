"""
pgconverge restore: return the target to exactly the state of a backup. Never part of deploy.py.

    pyinfra inventory.py restore.py --data backup=backups/target/<file>.dump --data confirm=<target database name>
    pyinfra inventory.py restore.py --data backup=b005 --data confirm=<HEROKU_APP>      # on Heroku

Without ``confirm`` equal to the target's database name (on Heroku: the app's name) it refuses and
changes nothing. ``--dry`` lists what the restore would drop and bring back.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

from pyinfra import host

from tasks.operations import restore
from tasks.run import get_run_or_exit

run = get_run_or_exit()

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
    )
