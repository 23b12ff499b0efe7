"""Environments: one target per ``environments/NAME.env``, each a pyinfra host in a group NAME."""
