"""
What every part of the run uses and that uses no other package of ``tasks``: settings and database
URLs, the private service file, psql command lines and facts, processes, the deploy lock and the summary.
"""
