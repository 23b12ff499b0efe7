"""pgconverge: converge an application's PostgreSQL database from a local source onto a target."""

__version__ = "0.1.0"
