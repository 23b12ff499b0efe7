"""
pgconverge inventory: one ``@local`` host. Settings come from the environment and ``.env``
(``ENV_FILE`` picks another file); they are validated here, before anything connects.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

from tasks.run import get_run_or_exit

run = get_run_or_exit()

hosts = [("@local", {"target": run.settings.target_label})]
