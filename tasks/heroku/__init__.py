"""
The Heroku side: running the CLI unattended, reading its output (pure), one function per CLI use
for an app, and the pool arithmetic against the plan's connection limit.
"""
