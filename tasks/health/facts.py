"""
pyinfra facts for the health checks (:mod:`tasks.health.checks`): the health snapshot and the
``pg_stat_statements`` outliers, each one JSON value read with psql over the run's service file.
"""

from __future__ import annotations

import json

from tasks.health import checks as health
from tasks.core.psql import PsqlFact


class HealthSnapshot(PsqlFact):
    """The raw dict of :func:`tasks.health.checks.health_sql` (pass ``Thresholds.sql()`` as the SQL)."""

    sql = health.HEALTH_SQL

    def parse(self, rows):
        return json.loads("\t".join(rows[0]))


class HealthOutliers(PsqlFact):
    """Top 5 statements by total time (pass :func:`tasks.health.checks.outliers_sql` as the SQL)."""

    sql = health.OUTLIERS_SQL

    def parse(self, rows):
        return json.loads("\t".join(rows[0]))
