"""
pgconverge inventory. Settings come from the environment and ``.env`` (``ENV_FILE`` picks another
file); they are validated here, before anything connects.

With an ``environments/`` folder (or the one ``ENVIRONMENTS_DIR`` names), each ``NAME.env`` in it is
one host, ``NAME``, in a group ``NAME``: ``--limit staging`` converges staging alone, and without
``--limit`` every environment converges in the same run, in parallel. Without it: one ``@local`` host.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

from tasks.run import get_runs_or_exit

_runs = get_runs_or_exit()

if list(_runs) == [None]:
    hosts = [("@local", {"target": _runs[None].settings.target_label})]
else:
    for _name, _run in _runs.items():
        globals()[str(_name)] = [(f"@pgenv/{_name}", {
            "environment": _name, "target": _run.settings.target_label,
            "services": (_run.source_service, _run.target_service),
        })]
