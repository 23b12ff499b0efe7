"""
pgconverge: the database phase of the runbook, one desired state per line (DESIGN.md §1).

    pyinfra inventory.py deploy.py          # shows the pending changes, asks, converges
    pyinfra inventory.py deploy.py --dry    # only shows what would change (--diff: with SQL)
    pyinfra inventory.py deploy.py -y       # converges without asking (CI)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

from tasks.operations import backups, data, health, migrations, preflight, report, risk, schema, seed, target
from tasks.run import get_run_or_exit
from tasks.core import interrupt
from tasks.core.summary import current, end_of_plan, install, not_in_this_run, state
from tasks.operations.common import running_state

run = get_run_or_exit()
settings = run.settings
app = run.heroku  # None for a plain TARGET_DATABASE_URL
if app:
    from tasks.operations import heroku  # the Heroku modules load for a Heroku target only
state_dir = str(settings.state_dir)
backup_dir = str(settings.backup_dir)
target_backups = f"Heroku (heroku pg:backups -a {app.name})" if app else f"{backup_dir}/target"
install(settings.report_dir, {"backups": f"{backup_dir}/source, {target_backups}", "reports": str(settings.report_dir)},
        keep=settings.report_keep)
interrupt.install(running_state())  # Ctrl-C / SIGTERM: one line, the state failed, exit 130 / 143

# 2. Every migration applies cleanly to a throw-away shadow database: the expected schema.
migrations.proven_locally(
    name=state("Migrations proven locally"),
    service="source",
    migrations=run.migrations,
    state_dir=state_dir,
    seed_files=run.seeds,
)

# 1. A verified backup of the source's current state exists. (Taken after the proof: the proof's
#    shadow database moves the source cluster's transaction id, which would make this backup look
#    stale on the next run.)
backups.source_captured(
    name=state("Source backup captured"),
    service="source",
    label=settings.source.redacted,
    backup_dir=backup_dir,
    keep=settings.backup_keep,
    after_proof=migrations.proof_needed(run.migrations, state_dir, run.seeds),
)

# 3. The target answers, over SSL, and a local pg_dump is not older than it (where one is taken).
target.reachable(
    name=state("Target reachable"), service="target", label=settings.target_label, require_ssl=run.require_target_ssl,
    local_dump=not app,  # on Heroku the target backup is taken server-side
    heroku_app=app.name if app else None, port=settings.target.port if settings.target else None,
)

# 9a. On Heroku: the app's pool size × web dynos + a reserve fits the plan's connection limit
#     (pg:info's, kept in the state folder). Before the target backup: a pool that does not fit
#     stops the run before any backup or change.
if app:
    heroku.pool_within_limits(
        name=state("Pool within limits"), app=app, service="target", state_dir=state_dir,
        reserve=settings.pool_reserve, wanted=settings.pool_value,
    )

# 3b. The target's role may do what the pending migrations do (PostgreSQL 15: CREATE on public is
#     no longer everyone's), checked before the backup and any change.
preflight.privileges_sufficient(
    name=state("Target privileges sufficient"), service="target", migrations=run.migrations,
    baseline_version=settings.baseline_version,
)

# 3c. The pending migrations' risk measured on the target (locks, rewrites, sizes, squawk) and the
#     rows they would fail on: a high risk or failing data stops the run before the backup.
risk.measured(
    name=state("Migration risk measured"), service="target", migrations=run.migrations, state_dir=state_dir,
    table_mb=settings.risk_table_mb, fail_on=settings.risk_fail_on, baseline_version=settings.baseline_version,
)

# 4. Before anything changes in the target, a verified backup of it (Heroku: pg:backups:capture).
backups.target_captured_before_change(
    name=state("Target backup captured"),
    service="target",
    label=settings.target_label,
    backup_dir=backup_dir,
    migrations=run.migrations,
    seed_files=run.seeds,
    baseline_version=settings.baseline_version,
    keep=settings.backup_keep,
    seed_upsert=settings.seed_upsert,
    copy_from="source" if settings.data_migration == "copy" else None,
    copy_replace=settings.copy_replace,
    heroku_app=app.name if app else None,
)

# 5. Each pending migration applied once, in order, recorded in schema_migrations.
migrations.applied(
    name=state("Migrations applied"),
    service="target",
    migrations=run.migrations,
    baseline_version=settings.baseline_version,
    lock_wait_s=settings.lock_wait_s,
    lock_timeout=settings.lock_timeout,
    statement_timeout=settings.statement_timeout,
    lock_retry_s=settings.lock_retry_s,
)

# 6. The target's catalog equals the expected schema (and the source's, with VERIFY_AGAINST_SOURCE).
schema.verified(
    name=state("Schema verified"),
    service="target",
    migrations=run.migrations,
    state_dir=state_dir,
    allow_extra_objects=settings.allow_extra_objects,
    source_service="source" if settings.verify_against_source else None,
)

# 7. With DATA_MIGRATION=copy: the source's rows in the target, verified table by table.
if settings.data_migration == "fresh":
    not_in_this_run("Data copied", "DATA_MIGRATION=fresh (schema and seed only)")
else:
    data.copied(
        name=state("Data copied"),
        source_service="source",
        target_service="target",
        replace=settings.copy_replace,
        backup_dir=backup_dir,
        keep=settings.backup_keep,
        jobs=settings.copy_jobs,
    )

# 8. Every seed row exists in the target.
seed.present(
    name=state("Seed present"),
    service="target",
    files=run.seeds,
    upsert=settings.seed_upsert,
    copy_from="source" if settings.data_migration == "copy" else None,
    migrations=run.migrations,
    baseline_version=settings.baseline_version,
)

# The runbook's validation checklist: tables, foreign keys, indexes, triggers, row counts.
report.validation_reported(
    name=state("Validation reported"),
    service="target",
    migrations=run.migrations,
    state_dir=state_dir,
    report_dir=str(settings.report_dir),
    report_keep=settings.report_keep,
)

# 10. Health of the target, like heroku pg:diagnose (read-only): a red check fails the run unless
#     HEALTH_FAIL_ON=never.
health.reported(
    name=state("Health reported"),
    service="target",
    label=settings.target_label,
    ssl_required=run.require_target_ssl,
    long_query_s=settings.health_long_query_s,
    idle_s=settings.health_idle_s,
    fail_on=settings.health_fail_on,
    report_dir=str(settings.report_dir),
    report_keep=settings.report_keep,
    heroku_app=app.name if app else None,
)

# 9b. On Heroku: the app reaches its database from a one-off dyno, and its logs show no
#     database errors since this run started (read only when this run changed something).
if app:
    current().notes.append(run.heroku_calls_note)
    changes = ["Pool within limits", "Migrations applied", "Data copied", "Seed present"]
    heroku.app_connects(
        name=state("App can connect"), app=app, command=settings.app_check_command, state_dir=state_dir,
        schema=run.schema_checksum, after=changes,
    )
    heroku.logs_clean(
        name=state("Logs clean"), app=app, since=run.started_at, after=changes + ["App can connect"],
        state_dir=state_dir, ignore=settings.ignore_log_errors,
    )

# A refusal while planning (--dry, or before the prompt) ends the run here, with its summary.
end_of_plan()
