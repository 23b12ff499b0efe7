"""
pgconverge restore: put a verified backup back into the target. Never part of deploy.py.

    pyinfra inventory.py restore.py --data backup=backups/target/<file>.dump --data confirm=<target database name>

Without ``confirm`` equal to the target's database name it refuses and changes nothing.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

from pyinfra import host

from tasks.operations import restore
from tasks.run import get_run_or_exit

run = get_run_or_exit()
target = run.target

restore.restored(
    name="Backup restored",
    service="target",
    backup=host.data.get("backup"),
    confirm=host.data.get("confirm"),
    database=target.dbname,
    label=run.settings.target_label,
)
