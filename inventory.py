"""
pgconverge inventory: one ``@local`` host. Settings come from the environment and ``.env``
(``ENV_FILE`` picks another file); they are validated here, before anything connects.
"""

from tasks.run import get_run_or_exit

run = get_run_or_exit()

hosts = [("@local", {"target": run.settings.target_label})]
