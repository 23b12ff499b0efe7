"""
Verified backups: ``pg_dump`` in the database's own snapshot, checked with ``pg_restore --list``, and the
store of dumps and manifests (naming, finding the newest verified one, pruning).
"""
