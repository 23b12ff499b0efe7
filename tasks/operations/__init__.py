"""
pgconverge's pyinfra operations: one per desired state of the runbook, in the order deploy.py runs them.

Each reads facts, yields commands only when something is out of place, and calls
``host.noop`` on every no-change branch.
"""
