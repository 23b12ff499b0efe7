"""
The advisory lock key that serialises deploys on one target: migrations hold it for their session
(polled with a bounded wait), the seed transaction and the data copy take it too, so two deploys
started together never apply, insert or copy the same thing twice.
"""

LOCK_KEY = 0x7067_636F_6E76  # "pgconv"
