"""
Health reported: the pg:diagnose-style checks (SQL, judging, rendering) and their pyinfra facts.
"""
