"""
Health checks of a database, like ``heroku pg:diagnose`` (pure), from the raw dict of the health query
(:mod:`tasks.health.query`).

:func:`evaluate` turns the raw dict into :class:`Check` results (green / yellow / red) with the
thresholds of ``heroku pg:diagnose`` (:class:`Thresholds`); :func:`render` prints one line per
check and :func:`report_document` is the JSON kept in ``reports/``.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from tasks.core.summary import HEALTH_NAME_WIDTH, HealthRow
from tasks.health.query import HIDDEN, SECRET_PATTERN, health_sql

STATUSES = ("green", "yellow", "red")
NAME_WIDTH = HEALTH_NAME_WIDTH
MB = 1024 * 1024


@dataclass(frozen=True)
class Thresholds:
    """When a check turns yellow or red (defaults: ``heroku pg:diagnose``)."""

    connections_yellow_pct: float = 75.0
    connections_red_pct: float = 90.0
    long_query_s: float = 60.0  # HEALTH_LONG_QUERY_S: yellow over this
    long_query_red_s: float = 300.0
    idle_s: float = 60.0  # HEALTH_IDLE_S: idle in transaction, yellow over this
    idle_red_s: float = 300.0
    cache_hit_yellow: float = 0.99
    cache_hit_red: float = 0.90
    cache_min_blocks: int = 10_000  # fewer block reads+hits than this: too early to judge
    cache_min_passes: int = 100  # ... or than this many passes over the database's blocks (a bulk
    # load's own reads must not read as a cold cache for ever)
    sequence_yellow_pct: float = 75.0
    sequence_red_pct: float = 90.0
    unused_index_mb: float = 64.0
    bloat_factor: float = 10.0
    bloat_waste_mb: float = 64.0
    xid_yellow_pct: float = 50.0
    xid_red_pct: float = 90.0

    def sql(self) -> str:
        """:func:`health_sql` for these thresholds."""
        return health_sql(self.long_query_s, self.idle_s, self.sequence_yellow_pct, self.unused_index_mb)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # green | yellow | red
    summary: str
    details: tuple[str, ...] | list[str] = ()


# --------------------------------------------------------------------------- evaluation


def _worst(statuses) -> str:
    return max(statuses, key=STATUSES.index, default="green")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"  # pragma: no cover


def _pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _clean(text: Any) -> str:
    """A query text for output: already cut by the SQL, cut again and hidden when it looks secret."""
    if text is None:
        return "?"
    text = " ".join(str(text).split())
    return HIDDEN if re.search(SECRET_PATTERN, text, re.IGNORECASE) else text[:80]


def _session(s: dict) -> str:
    app = f" ({s['application']})" if s.get("application") else ""
    return f"pid {s['pid']}{app} {float(s.get('seconds') or 0):.0f} s: {_clean(s.get('query'))}"


def _sessions(name: str, rows: list[dict], yellow_s: float, red_s: float, what: str) -> Check:
    over = [s for s in rows if float(s.get("seconds") or 0) > yellow_s]
    if not over:
        return Check(name, "green", f"none over {yellow_s:g} s")
    longest = max(float(s.get("seconds") or 0) for s in over)
    status = "red" if longest > max(red_s, yellow_s) else "yellow"
    return Check(
        name, status, f"{len(over)} {what} over {yellow_s:g} s (longest {longest:.0f} s)", [_session(s) for s in over]
    )


def _connections(raw: dict, t: Thresholds, limit: int | None) -> Check:
    used = int(raw.get("connections") or 0)
    limit = limit or int(raw.get("max_connections") or 0)
    pct = _pct(used, limit)
    status = "red" if pct >= t.connections_red_pct else "yellow" if pct >= t.connections_yellow_pct else "green"
    return Check("connections", status, f"{used}/{limit} ({pct:.0f} %)")


def _ssl(raw: dict, required: bool) -> Check:
    if raw.get("ssl"):
        return Check("ssl", "green", f"in use ({raw.get('ssl_version') or 'TLS'})")
    if required:
        return Check("ssl", "red", "not in use, but required for this database")
    return Check("ssl", "yellow", "not in use")


def _blocking(raw: dict) -> Check:
    pairs = raw.get("blocking") or []
    if not pairs:
        return Check("blocking", "green", "no session waits on another")
    details = [
        f"pid {p['blocked_pid']} ({float(p.get('blocked_seconds') or 0):.0f} s: {_clean(p.get('blocked_query'))}) "
        f"waits for pid {p['blocking_pid']} ({p.get('blocking_state') or '?'}: {_clean(p.get('blocking_query'))})"
        for p in pairs
    ]
    blocked = sorted({p["blocked_pid"] for p in pairs})
    return Check(
        "blocking",
        "red",
        f"{len(blocked)} session{'s' if len(blocked) != 1 else ''} blocked "
        f"by pid {', '.join(str(p) for p in sorted({p['blocking_pid'] for p in pairs}))}",
        details,
    )


def _cache(raw: dict, t: Thresholds) -> Check:
    parts, statuses = [], []
    for kind in ("table", "index"):
        hit, read = int(raw.get(f"{kind}_blocks_hit") or 0), int(raw.get(f"{kind}_blocks_read") or 0)
        rate = raw.get(f"{kind}_hit_rate")
        if rate is None or hit + read == 0:
            parts.append(f"{kind} no reads yet")
            continue
        rate = float(rate)
        needed = max(t.cache_min_blocks, t.cache_min_passes * int(raw.get("database_bytes") or 0) // 8192)
        if hit + read < needed:
            parts.append(f"{kind} {rate:.3f} (too few reads to judge)")
            continue
        statuses.append("red" if rate < t.cache_hit_red else "yellow" if rate < t.cache_hit_yellow else "green")
        parts.append(f"{kind} {rate:.3f}")
    return Check("cache hit", _worst(statuses), ", ".join(parts))


def _sequences(raw: dict, t: Thresholds) -> Check:
    listed = [s for s in raw.get("sequences") or [] if float(s["percent"]) >= t.sequence_yellow_pct]
    if not listed:
        return Check("sequences", "green", f"none at {t.sequence_yellow_pct:g} % or more of their maximum")
    top = max(float(s["percent"]) for s in listed)
    status = "red" if top >= t.sequence_red_pct else "yellow"
    return Check(
        "sequences",
        status,
        f"{len(listed)} at {t.sequence_yellow_pct:g} % or more (highest {top:.1f} %)",
        [
            f"{s['sequence']} ({s.get('type', '?')}): {s['last_value']:,} of {s['max_value']:,} "
            f"({float(s['percent']):.1f} %)"
            for s in listed
        ],
    )


def _unused_indexes(raw: dict, t: Thresholds) -> Check:
    listed = [i for i in raw.get("unused_indexes") or [] if int(i["bytes"]) > t.unused_index_mb * MB]
    if not listed:
        return Check("unused indexes", "green", f"none never scanned over {t.unused_index_mb:g} MB")
    total = _size(sum(int(i["bytes"]) for i in listed))
    return Check(
        "unused indexes",
        "yellow",
        f"{len(listed)} never scanned, {total}",
        [f"{i['index']} on {i['table']}: {_size(int(i['bytes']))}, 0 scans" for i in listed],
    )


def _bloat(raw: dict, t: Thresholds) -> Check:
    listed = []
    for row in raw.get("bloat") or []:
        live, dead = int(row.get("live") or 0), int(row.get("dead") or 0)
        factor = (live + dead) / max(live, 1)
        if factor > t.bloat_factor and int(row.get("wasted_bytes") or 0) > t.bloat_waste_mb * MB:
            listed.append(
                f"{row['table']}: {dead:,} dead vs {live:,} live tuples (factor {factor:.0f}), "
                f"~{_size(int(row['wasted_bytes']))} wasted of {_size(int(row.get('bytes') or 0))}"
            )
    if not listed:
        return Check("bloat", "green", f"no table over factor {t.bloat_factor:g} with {t.bloat_waste_mb:g} MB wasted")
    return Check("bloat", "yellow", f"{len(listed)} table{'s' if len(listed) != 1 else ''} bloated: run VACUUM", listed)


def _xid(raw: dict, t: Thresholds) -> Check:
    age, limit = int(raw.get("xid_age") or 0), int(raw.get("autovacuum_freeze_max_age") or 0)
    pct = _pct(age, limit)
    status = "red" if pct >= t.xid_red_pct else "yellow" if pct >= t.xid_yellow_pct else "green"
    return Check("xid wraparound", status, f"age {age:,} ({pct:.0f} % of autovacuum_freeze_max_age {limit:,})")


def _outliers(raw: dict) -> Check | None:
    outliers = raw.get("outliers")
    if not raw.get("has_pg_stat_statements"):
        return Check("outliers", "green", "pg_stat_statements is not installed")
    if isinstance(outliers, dict) and outliers.get("error"):
        return Check("outliers", "green", f"pg_stat_statements unreadable: {outliers['error']}")
    if not isinstance(outliers, list):
        return None
    return Check(
        "outliers",
        "green",
        f"top {len(outliers)} statements by total time",
        [
            f"{float(o['total_ms']):,.0f} ms in {int(o['calls']):,} calls "
            f"({float(o['mean_ms']):,.1f} ms each): {_clean(o.get('query'))}"
            for o in outliers
        ],
    )


def evaluate(
    raw: dict, thresholds: Thresholds | None = None, connection_limit: int | None = None, ssl_required: bool = True
) -> list[Check]:
    """The checks for ``raw`` (the dict of :func:`health_sql`, plus ``outliers`` when read)."""
    t = thresholds or Thresholds()
    checks = [
        Check(
            "server",
            "green",
            f"PostgreSQL {raw.get('server_version', '?').split()[0]}, {_size(int(raw.get('database_bytes') or 0))}, "
            f"{int(raw.get('tables') or 0)} tables, ~{int(raw.get('estimated_rows') or 0):,} rows",
        ),
        _ssl(raw, ssl_required),
        _connections(raw, t, connection_limit),
        _sessions("long queries", raw.get("long_queries") or [], t.long_query_s, t.long_query_red_s, "active"),
        _sessions("idle in transaction", raw.get("idle_in_transaction") or [], t.idle_s, t.idle_red_s, "idle"),
        _blocking(raw),
        _cache(raw, t),
        _sequences(raw, t),
        _unused_indexes(raw, t),
        _bloat(raw, t),
        _xid(raw, t),
        _outliers(raw),
    ]
    return [c for c in checks if c is not None]


def red(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == "red"]


def render(checks: list[Check], color: bool = False) -> list[str]:
    """One line per check: ``green  connections          3/20 (15 %)``, then its details indented."""
    return [line for row in rows(checks) for line in row.lines(color)]


def rows(checks: list[Check]) -> list[HealthRow]:
    """The checks as the summary's typed health rows."""
    return [HealthRow(c.name, c.status, c.summary, tuple(c.details)) for c in checks]


RAW_KEYS = (
    "server_version",
    "server_version_num",
    "database",
    "ssl",
    "ssl_version",
    "database_bytes",
    "tables",
    "estimated_rows",
    "connections",
    "max_connections",
    "table_hit_rate",
    "index_hit_rate",
    "xid_age",
    "autovacuum_freeze_max_age",
    "has_pg_stat_statements",
)


def report_document(raw: dict, checks: list[Check]) -> dict[str, Any]:
    """The JSON kept for a run: the overall status, each check, and the raw figures (no query text, no secret)."""
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": _worst(c.status for c in checks),
        "checks": [{**asdict(c), "details": list(c.details)} for c in checks],
        "figures": {key: raw.get(key) for key in RAW_KEYS},
    }
