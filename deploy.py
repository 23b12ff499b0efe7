"""
pgconverge: the database phase of the runbook, one desired state per line, in the order of the manual
runbook it replaces.

    pyinfra inventory.py deploy.py          # shows the pending changes, asks, converges
    pyinfra inventory.py deploy.py --dry    # only shows what would change (--diff: with SQL)
    pyinfra inventory.py deploy.py -y       # converges without asking (CI)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # importable from any directory

from tasks.core import interrupt
from tasks.core.cli_output import hide_pyinfra_tables
from tasks.core.summary import current, end_of_plan, install, not_in_this_run, state
from tasks.operations import backups, data, health, migrations, preflight, promotion, report, risk, schema, seed, target
from tasks.operations.common import running_state
from tasks.plan import Planner
from tasks.run import get_run_or_exit

run = get_run_or_exit()  # this host's: with environments/*.env, deploy.py runs once per environment
settings = run.settings
app = run.heroku  # None for a plain TARGET_DATABASE_URL
if app:
    from tasks.operations import heroku  # the Heroku modules load for a Heroku target only
# The typed plan every state reads (each part built from the cached facts when first asked for,
# rebuilt only after a change or pyinfra's prompt); the summary shows it and the run's JSON keeps it.
plan = Planner.of(run)
current().plan = plan.built
backup_dir = str(settings.backup_dir)
target_backups = f"Heroku (heroku pg:backups -a {app.name})" if app else f"{backup_dir}/target"
install(
    settings.report_dir,
    {"backups": f"{backup_dir}/source, {target_backups}", "reports": str(settings.report_dir)},
    keep=settings.report_keep,
    dry=run.dry,
)
hide_pyinfra_tables()  # our summary says per state what pyinfra's tables say (they show with --debug)
interrupt.install(running_state())  # Ctrl-C / SIGTERM: one line, the state failed, exit 130 / 143
if settings.unknown_keys:  # ENV_FILE keys that are no setting: said at the end, where it is read
    current().notes.append(lambda: {"not settings (ignored)": ", ".join(settings.unknown_keys)})

# 2. Every migration applies cleanly to a throw-away shadow database: the expected schema.
migrations.proven_locally(name=state("Migrations proven locally"), plan=plan)

# 1. A verified backup of the source's current state exists. (Taken after the proof: the proof's
#    shadow database moves the source cluster's transaction id, which would make this backup look
#    stale on the next run.)
backups.source_captured(
    name=state("Source backup captured"),
    plan=plan,
    label=settings.source.redacted,
    backup_dir=backup_dir,
    keep=settings.backup_keep,
)

# 3. The target answers, over SSL, and a local pg_dump is not older than it (where one is taken).
target.reachable(
    name=state("Target reachable"),
    plan=plan,
    label=settings.target_label,
    require_ssl=run.require_target_ssl,
    port=settings.target.port if settings.target else None,
)  # named if it is a pooler (refused)

# 9a. On Heroku: the app's pool size × web dynos + a reserve fits the plan's connection limit
#     (pg:info's, kept in the state folder). Before the target backup: a pool that does not fit
#     stops the run before any backup or change.
if app:
    heroku.pool_within_limits(
        name=state("Pool within limits"), plan=plan, reserve=settings.pool_reserve, wanted=settings.pool_value
    )

# 3b. The target's role may do what the pending migrations do (PostgreSQL 15: CREATE on public is
#     no longer everyone's), checked before the backup and any change.
preflight.privileges_sufficient(name=state("Target privileges sufficient"), plan=plan)

# 3c. The catalog the pending migrations start from (the plan record's "before"); with PROMOTE_FROM,
#     they go on only as they went on that environment (its verified plan record), before the backup.
promotion.allowed(
    name=state("Promotion allowed"),
    plan=plan,
    environment=run.environment,
    plans_dir=str(settings.plans_dir),
    promote_from=settings.promote_from,
)

# 3d. The pending migrations' risk measured on the target (locks, rewrites, sizes, squawk) and the
#     rows they would fail on: a high risk or failing data stops the run before the backup.
risk.measured(name=state("Migration risk measured"), plan=plan)  # RISK_TABLE_MB, RISK_FAIL_ON: in the plan

# 4. Before anything changes in the target, a verified backup of it (Heroku: pg:backups:capture):
#    the plan says whether anything changes, and why.
backups.target_captured_before_change(
    name=state("Target backup captured"),
    plan=plan,
    label=settings.target_label,
    backup_dir=backup_dir,
    keep=settings.backup_keep,
)

# 5. Each pending migration applied once, in order, recorded in schema_migrations.
migrations.applied(
    name=state("Migrations applied"),
    plan=plan,
    lock_wait_s=settings.lock_wait_s,
    lock_timeout=settings.lock_timeout,
    statement_timeout=settings.statement_timeout,
    lock_retry_s=settings.lock_retry_s,
    jobs=settings.copy_jobs,  # what an interrupted data copy set aside: put back first
)

# 6. The target's catalog equals the expected schema (and the source's, with VERIFY_AGAINST_SOURCE).
schema.verified(
    name=state("Schema verified"),
    plan=plan,
    allow_extra_objects=settings.allow_extra_objects,
    against_source=settings.verify_against_source,
    environment=run.environment,
    plans_dir=str(settings.plans_dir),  # the plan record, if it applied
    report_dir=str(settings.report_dir),  # a drift: drift-repair.sql, proven on the source server
    after=[migrations.applied],
)  # a run that applied files writes its plan record

# 7. With DATA_MIGRATION=copy: the source's rows in the target, verified table by table.
if settings.data_migration == "fresh":
    not_in_this_run("Data copied", "DATA_MIGRATION=fresh (schema and seed only)")
else:
    data.copied(
        name=state("Data copied"),
        plan=plan,
        backup_dir=backup_dir,
        keep=settings.backup_keep,
        jobs=settings.copy_jobs,
        split_mb=settings.copy_split_mb,
    )

# 8. Every seed row exists in the target.
seed.present(name=state("Seed present"), plan=plan)

# The runbook's validation checklist: tables, foreign keys, indexes, triggers, row counts.
report.validation_reported(
    name=state("Validation reported"), plan=plan, report_dir=str(settings.report_dir), report_keep=settings.report_keep
)

# 10. Health of the target, like heroku pg:diagnose (read-only): a red check fails the run unless
#     HEALTH_FAIL_ON=never.
health.reported(
    name=state("Health reported"),
    plan=plan,
    label=settings.target_label,
    ssl_required=run.require_target_ssl,
    long_query_s=settings.health_long_query_s,
    idle_s=settings.health_idle_s,
    fail_on=settings.health_fail_on,
    report_dir=str(settings.report_dir),
    report_keep=settings.report_keep,
)

# 9b. On Heroku: the app reaches its database from a one-off dyno, and its logs show no
#     database errors since this run started (read only when a change step of this run changed
#     something: the states' typed results, by operation).
if app:
    current().notes.append(run.heroku_calls_note)
    changes = [heroku.pool_within_limits, migrations.applied, data.copied, seed.present]
    heroku.app_connects(
        name=state("App can connect"),
        plan=plan,
        command=settings.app_check_command,
        schema=run.schema_checksum,
        after=changes,
    )
    heroku.logs_clean(
        name=state("Logs clean"),
        plan=plan,
        since=run.started_at,
        after=changes + [heroku.app_connects],
        ignore=settings.ignore_log_errors,
    )

# A refusal while planning (--dry, or before the prompt) ends the run here, with its summary.
end_of_plan()
