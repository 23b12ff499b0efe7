"""
pgconverge reset: empty the Heroku app's database (the runbook's rollback). Never part of deploy.py.

    pyinfra inventory.py reset.py --data confirm=<HEROKU_APP>

Runs ``heroku pg:reset DATABASE_URL --confirm APP`` and then checks that no table is left.
Without ``confirm`` equal to the app's name it refuses and changes nothing. Only for a Heroku
target (``HEROKU_APP``); restore a backup with ``heroku pg:backups:restore`` or ``restore.py``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

import sys

from pyinfra import host

from tasks.operations import heroku
from tasks.run import EXIT_BAD_INPUT, get_run_or_exit

run = get_run_or_exit()
if run.heroku is None:
    print("pgconverge: reset.py empties a Heroku app's database: set HEROKU_APP (for a plain target, use restore.py)",
          file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)

heroku.database_reset(name="Database reset", app=run.heroku, service=run.target_service,
                      confirm=host.data.get("confirm"))
