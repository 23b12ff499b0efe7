"""
The Heroku app's side of "app can connect" and "health reported": pool limits, a one-off dyno's
connection, and the app's logs. Thin: the CLI calls are in :mod:`tasks.heroku.app`, the
arithmetic in :mod:`tasks.heroku.pool`, the log scan in :mod:`tasks.heroku.parse`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pyinfra import host

from tasks.core import summary
from tasks.facts import MigrationHistory, ServerInfo, Unreadable, read
from tasks.heroku import app as heroku_app
from tasks.heroku.app import HerokuApp
from tasks.heroku.cli import HerokuError
from tasks.heroku.pool import PoolCheck, parse_pool_size
from tasks.migrations.history import ALL_TABLES_SQL
from tasks.operations.common import (
    changed_in_this_run,
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    python_step,
    refuse,
    show_plan,
)
from tasks.plan import Planner


def _app(plan: Planner) -> HerokuApp:
    if plan.heroku_app is None:
        raise ValueError("the Heroku operations need a plan for a Heroku target (HEROKU_APP)")
    return plan.heroku_app


@operation()
def pool_within_limits(plan: Planner, reserve: int = 10, wanted: int | None = None):
    """
    Ensure the app's pool size × web dynos + a reserve fits the plan's connection limit.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the Heroku app as read at the start of the
      run (pool config var, web dynos), its database's service, the state folder (where the add-on
      plan's limit is kept between runs)
    + reserve: connections kept for migrations, ``heroku pg:psql`` and this tool
    + wanted: when set, the pool-size config var is converged to it (``config:set`` only when it
      differs: every ``config:set`` restarts the dynos)

    The limit is the plan's: ``pg:info``'s ``Connections: used/limit`` (the server's
    ``max_connections`` can be higher than the plan allows). It is kept in the state folder with
    the add-on's plan name and read again when the database, the app's release (a plan change
    makes one), the wanted pool size or the number of web dynos changed. Runs before the target
    backup: a pool that does not fit fails the run with the numbers before any backup or change.

    **Example:**

    .. code:: python

        heroku.pool_within_limits(
            name="Pool within limits",
            plan=Planner.of(run),
            wanted=10,
        )
    """
    app, service, state_dir = _app(plan), plan.target, plan.state_dir
    current = parse_pool_size(app.pool_value)
    pool = wanted if wanted is not None else current
    if pool is None:
        why = "is not set on the app" if app.pool_value is None else f"is {app.pool_value!r}, not a number"
        converged(f"not checked: {app.pool_var} {why}: set DB_POOL_MAX_VALUE=N to have it set and checked")
        return
    try:
        heroku_plan, limit, _ = heroku_app.plan_limit(Path(state_dir), app, pool)
    except HerokuError as exc:
        yield from refuse(str(exc))
        return
    where = f"plan {heroku_plan}"
    if limit is None:  # pg:info showed no Connections line: the database's own limit is all there is
        try:
            info = read(ServerInfo, service)
        except Unreadable as exc:
            yield from refuse(f"Heroku app {app.name}'s database is not reachable: {exc.error}")
            return
        limit, where = info["connection_limit"], "the database's max_connections (pg:info shows no limit)"
    check = PoolCheck(pool, app.dynos.web, reserve, limit)
    described = f"{check.describe(app.pool_var)} ({where})"
    if not check.fits:
        smaller = (
            f"set DB_POOL_MAX_VALUE={check.largest_pool} or less"
            if check.largest_pool >= 1
            else f"no pool fits beside the reserve of {reserve}: lower DB_POOL_RESERVE"
        )
        yield from refuse(
            f"pool limits: {described}: {smaller}, scale the web dynos down, or move to a plan with more connections"
        )
        return
    if wanted is None or wanted == current:
        converged(described)
        return
    show_plan(
        [
            (
                f"heroku config:set {app.pool_var}={wanted} on {app.name} (was {app.pool_value or 'unset'}; "
                "the app's dynos restart)"
            ),
            described,
        ]
    )

    def set_pool(log) -> str:
        release = heroku_app.set_config(app.name, app.pool_var, str(wanted))
        heroku_app.note_release(app.name, release)
        heroku_app.remember_plan(Path(state_dir), app, pool, heroku_plan, limit)  # the new release, same plan
        return f"{app.pool_var}={wanted} (release v{release}); {described}"

    yield python_step(set_pool)


@operation()
def app_connects(plan: Planner, command: str, schema: str, after: Sequence[Callable[..., Any]] = ()):
    """
    Ensure the app itself reaches its database: ``heroku run --exit-code --no-tty -- COMMAND``.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the Heroku app as read at the start of the
      run, the state folder (where the last passing check is remembered)
    + command: run in a one-off dyno; it must exit non-zero when the query fails (empty: skipped)
    + schema: the migration set's checksum (a new schema means a new check)
    + after: the operations whose change in this run makes the check due (database or app config)

    The check passed before for the same release, database and schema → nothing to do (a one-off
    dyno costs a Node.js start and a dyno boot).

    **Example:**

    .. code:: python

        heroku.app_connects(
            name="App can connect",
            plan=Planner.of(run),
            command="node -e \\"require('./dist/db').pool.query('SELECT NOW()')...\\"",
            schema=set_checksum(run.migrations),
            after=[migrations.applied, seed.present],
        )
    """
    app, state_dir = _app(plan), plan.state_dir
    if not command:
        converged("skipped: APP_DB_CHECK_COMMAND is empty (the app's own connection is not checked)")
        return
    passed = heroku_app.check_passed_before(Path(state_dir), app, schema)
    if passed and not changed_in_this_run(after):
        converged(f"passed at release v{passed['release']} on {passed['passed_at']} (same database and schema)")
        return
    show_plan([f"heroku run --exit-code --no-tty -a {app.name} -- {command[:70]}"])

    def check(log) -> str:
        heroku_app.run_check(app.name, command, log)
        heroku_app.remember_check(Path(state_dir), app, schema)
        return "a one-off dyno ran the check: the app's pool answered"

    yield python_step(check)


@operation()
def logs_clean(plan: Planner, since: datetime, after: Sequence[Callable[..., Any]], ignore: bool = False):
    """
    Ensure the app's recent logs show no database errors since the run started.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the Heroku app; its state folder, where a
      scan that found errors is remembered: the next run scans again (lines newer than its own
      start) until a scan is clean
    + since: the run's start; older lines are not this run's business
    + after: the operations whose change (or run) in this run makes the scan due; otherwise the
      logs are not read
    + ignore: report errors found but do not fail the run (``IGNORE_LOG_ERRORS=true``)

    Scans ``heroku logs -n 1500`` (on a Fir app, which streams: 20 seconds of it) for FATAL, too many connections,
    password authentication failed, SSL errors, ECONNREFUSED and "relation does not exist".

    **Example:**

    .. code:: python

        heroku.logs_clean(name="Logs clean", plan=Planner.of(run), since=run.started_at,
                          after=[migrations.applied, heroku.app_connects])
    """
    # due after a change in this run, or when the last scan found errors
    app, state_dir = _app(plan), plan.state_dir
    due = changed_in_this_run(after) or heroku_app.logs_due(Path(state_dir), app.name)
    if not due:
        converged("not read: this run changed nothing and ran no check")
        return
    show_plan(
        [
            f"read heroku logs -a {app.name} after the run ("
            + (
                f"{heroku_app.log_window():g}s of the stream: a Fir app"
                if app.dynos.generation == "fir"
                else f"the last {heroku_app.LOG_LINES} lines"
            )
            + ")"
        ]
    )

    def scan(log) -> str:
        found = heroku_app.log_errors(app.name, since, app.dynos.generation)
        for kind, line in found:
            host.log_styled(f"  {kind}: {line[:300]}", fg="red")
        heroku_app.mark_logs_due(Path(state_dir), app.name, bool(found) and not ignore)
        if found:
            kinds = sorted({kind for kind, _ in found})
            message = (
                f"{len(found)} database error line(s) in {app.name}'s logs since the run started ({', '.join(kinds)})"
            )
            if not ignore:
                raise HerokuError(f"{message}: fix them, or set IGNORE_LOG_ERRORS=true to only report")
            summary.current().health.append(summary.HealthRow("logs", "", f"{message} (IGNORE_LOG_ERRORS=true)"))
            return f"{message}: ignored (IGNORE_LOG_ERRORS=true)"
        read = (
            f"{heroku_app.log_window():g}s of the log stream"
            if app.dynos.generation == "fir"
            else f"the last {heroku_app.LOG_LINES} log lines"
        )
        return f"no database errors in {read} since {since:%H:%M:%S}"

    yield python_step(scan)


@operation()
def database_reset(app: HerokuApp, service: str, confirm: str | None):
    """
    Ensure the app's database is empty: ``heroku pg:reset DATABASE_URL --confirm APP`` (the
    runbook's rollback). Every table and all data are gone; take a backup first.

    + app: the Heroku app
    + service: the service name of the app's database (``target``)
    + confirm: must equal the app's name, or nothing happens

    Already empty (no table in the app's schemas) → nothing to do. After the reset the database
    is read again and must be empty.

    **Example:**

    .. code:: python

        heroku.database_reset(name="Database reset", app=run.heroku, service="target", confirm="my-app")
    """
    if confirm != app.name:
        yield from refuse(
            f"reset refused: it deletes every table of Heroku app {app.name}: "
            f"re-run with --data confirm={app.name} (take a backup first: heroku pg:backups:capture -a {app.name})"
        )
        return
    try:
        found = read(MigrationHistory, service)
    except Unreadable as exc:
        yield from refuse(f"Heroku app {app.name}'s database is not reachable: {exc.error}")
        return
    tables = found.user_tables + (1 if found.table_exists else 0)
    if tables == 0:
        converged(f"the database of {app.name} is already empty")
        return
    show_plan([f"heroku pg:reset DATABASE_URL --confirm {app.name}: drop {tables} table(s) and all their rows"])

    def reset(log) -> str:
        import psycopg

        heroku_app.reset_database(app.name)
        with psycopg.connect(f"service={service}") as conn:
            left = conn.execute(ALL_TABLES_SQL).fetchone()[0]  # type: ignore[index]  # a count: always one row
        if left:
            raise HerokuError(
                f"heroku pg:reset -a {app.name} finished but {left} table(s) are still there: "
                f"check heroku pg:info -a {app.name} and re-run"
            )
        return f"{tables} table(s) dropped; the database is empty"

    yield python_step(reset)
