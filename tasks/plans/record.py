"""
A plan record: one JSON file in ``PLANS_DIR`` per real run that applies migrations, meant to be
committed. It holds the files (in order, with their checksums), the risk findings, the target's
catalog fingerprint before and after (and the catalog before itself, normalized, so a promotion
refused for a different catalog can show the difference), the environment, the tool's version and
whether the result was verified.

It holds no secret and no data: file names, checksums and the schema's shape (names, types,
defaults), which the committed migration files describe already. It is written 0644, like the
migration files beside it in the repository. Pure apart from :func:`write_record` and
:func:`read_records`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tasks
from tasks.core.private import read_regular_text
from tasks.migrations.files import Migration
from tasks.schema.versions import ranked

FORMAT = 1
PLAN_PREFIX = "plan-"


def normalized(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The catalog as the schema check reads it, without the tool's own tracking table (it records
    the run, not the schema), keys sorted by :func:`fingerprint`'s dump."""
    snapshot = ranked(snapshot)  # column order, not physical numbers (records written before held attnum)
    tables = {
        name: value
        for name, value in snapshot.get("tables", {}).items()
        if name not in ("public.schema_migrations", "schema_migrations")
    }
    indexes = {
        name: value
        for name, value in snapshot.get("indexes", {}).items()
        if not str(name).startswith(("public.schema_migrations", "schema_migrations"))
    }
    sequences = {
        name: value
        for name, value in snapshot.get("sequences", {}).items()
        if not str(name).startswith(("public.schema_migrations", "schema_migrations"))
    }
    return {**snapshot, "tables": tables, "indexes": indexes, "sequences": sequences}


def fingerprint(snapshot: dict[str, Any]) -> str:
    """sha256 of the normalized catalog, as canonical JSON."""
    text = json.dumps(normalized(snapshot), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def files(migrations: Iterable[Migration]) -> list[dict[str, Any]]:
    """The files in order: version, file name, checksum."""
    return [{"version": m.version, "file": m.filename, "checksum": m.checksum} for m in migrations]


def build_record(
    environment: str | None,
    migrations: list[Migration],
    applied: list[str],
    before: dict[str, Any],
    after: dict[str, Any],
    verified: bool,
    findings: list[dict[str, Any]] | None = None,
    when: float | None = None,
) -> dict[str, Any]:
    """The record of one run: ``applied`` are the files this run applied (the others were before)."""
    when = time.time() if when is None else when
    return {
        "format": FORMAT,
        "environment": environment,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
        "tool_version": tasks.__version__,
        "files": files(migrations),
        "applied_now": applied,
        "findings": findings or [],  # the risk findings of the pending files (tasks.plan.model.RiskFinding)
        "catalog_before": fingerprint(before),
        "catalog_after": fingerprint(after),
        "verified": verified,
        "catalog_before_snapshot": normalized(before),
    }


def write_record(folder: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``plan-<environment>-<UTC time>-<random>.json`` (0644: no data, no secret)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()  # microseconds: two records of one second still sort newest first
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    path = folder / f"{PLAN_PREFIX}{record['environment'] or 'default'}-{stamp}-{secrets.token_hex(3)}.json"
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.chmod(partial, 0o644)  # whatever the run's umask (077): meant to be committed
    os.replace(partial, path)
    return path


def read_records(folder: Path, environment: str) -> list[dict[str, Any]]:
    """Every readable record of ``environment`` in ``folder``, newest first (unreadable ones skipped)."""
    found = []
    for path in sorted(folder.glob(f"{PLAN_PREFIX}{environment}-*.json"), reverse=True):
        try:
            record = json.loads(read_regular_text(path))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("format") == FORMAT and record.get("environment") == environment:
            record["path"] = str(path)
            found.append(record)
    return found
