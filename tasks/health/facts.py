"""
Facts for the health checks (:mod:`tasks.health.checks`, from :mod:`tasks.health.query`): the health snapshot and the
``pg_stat_statements`` outliers, each one JSON value read over the run's session to the target.
"""

from __future__ import annotations

import json

from tasks.core.fact import DatabaseFact
from tasks.health import query


class HealthSnapshot(DatabaseFact):
    """The raw dict of :func:`tasks.health.query.health_sql` (pass ``Thresholds.sql()`` as the SQL)."""

    sql = query.HEALTH_SQL

    def parse(self, rows):
        return json.loads("\t".join(rows[0]))


class HealthOutliers(DatabaseFact):
    """Top 5 statements by total time (pass :func:`tasks.health.query.outliers_sql` as the SQL)."""

    sql = query.OUTLIERS_SQL

    def parse(self, rows):
        return json.loads("\t".join(rows[0]))
