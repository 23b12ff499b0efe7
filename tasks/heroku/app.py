"""
The Heroku app as the target: what the deploy asks of it through the CLI, one function a call.

A converged run makes two calls, both at start (:func:`read_app`): ``config:get`` for
``DATABASE_URL`` and the pool-size config var, and ``ps --json`` for the web dynos and their
release. ``pg:info``, ``pg:backups:capture``/``info``, ``config:set``, ``run`` and ``logs`` are
called only when the run changes something (or the app check is due). ``DATABASE_URL`` is never
printed nor written anywhere but the run's 0600 service file.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from tasks.core.private import read_regular_text, write_private
from tasks.core.urls import SSL_MODES, DatabaseUrl, UrlError, parse_database_url
from tasks.heroku import cli as heroku_cli
from tasks.heroku.cli import CliSettings, HerokuError
from tasks.heroku.parse import (
    Dynos,
    HerokuOutputError,
    PgInfo,
    backup_succeeded,
    database_errors,
    parse_backup_status,
    parse_capture_id,
    parse_config_get,
    parse_pg_info,
    parse_ps,
    parse_release,
)

CAPTURE_TIMEOUT_S = 6 * 3600.0  # Heroku's own limit for a logical backup is far below this
CHECK_TIMEOUT_S = 600.0
LOG_LINES = 1500
LOG_STREAM_S = heroku_cli.DEFAULT_LOG_WINDOW_S  # unless HEROKU_LOG_WINDOW says otherwise


@dataclass(frozen=True)
class HerokuApp:
    name: str
    database_url: DatabaseUrl  # always sslmode=require or stronger
    pool_var: str
    pool_value: str | None  # the pool-size config var as the app has it now
    dynos: Dynos

    @property
    def identity(self) -> str:
        """Which database and release the app runs (for the app-check record; no secret in it)."""
        url = self.database_url
        return hashlib.sha256(f"{url.host}:{url.port}/{url.dbname}/{url.user}".encode()).hexdigest()[:16]


def database_url(app: str, raw: str | None) -> DatabaseUrl:
    """The app's DATABASE_URL as the deploy uses it: always ``sslmode=require`` or stronger."""
    if not raw:
        raise HerokuError(
            f"Heroku app {app} has no DATABASE_URL: provision heroku-postgresql "
            f"(heroku addons:create heroku-postgresql:essential-0 -a {app})"
        )
    try:
        url = parse_database_url(raw)
    except UrlError as exc:
        raise HerokuError(f"Heroku app {app}: its DATABASE_URL cannot be used: {exc}") from None
    if SSL_MODES.index(url.sslmode) < SSL_MODES.index("require"):
        params = tuple((k, v) for k, v in url.params if k != "sslmode") + (("sslmode", "require"),)
        url = replace(url, params=params)
    return url


def read_app(app: str, pool_var: str, settings: CliSettings | None = None) -> HerokuApp:
    """The app's database URL, pool-size config var and web dynos: the run's two CLI calls.
    ``settings``: the run's limits for this and every later call (:func:`tasks.heroku.cli.configure`)."""
    if settings is not None:
        heroku_cli.configure(settings)
    # The two calls run side by side: each is mostly Node.js starting (about 1.5 s).
    with ThreadPoolExecutor(max_workers=2) as pool:
        config_call = pool.submit(heroku_cli.run, app, ["config:get", "DATABASE_URL", pool_var, "--json"])
        ps_call = pool.submit(heroku_cli.run, app, ["ps", "--json"])
        done = config_call.result()
        try:
            values = parse_config_get(done.stdout, ["DATABASE_URL", pool_var])
        except HerokuOutputError as exc:
            raise HerokuError(f"heroku config:get -a {app}: {exc}") from None
        url = database_url(app, values["DATABASE_URL"])
        done = ps_call.result()
    try:
        dynos = parse_ps(done.stdout)
    except HerokuOutputError as exc:
        raise HerokuError(f"heroku ps -a {app}: {exc}") from None
    return HerokuApp(app, url, pool_var, values[pool_var], dynos)


_pg_info: dict[str, PgInfo] = {}


def pg_info(app: str) -> PgInfo:
    """``pg:info``: plan, status, connections used/limit, version, size (read once per run)."""
    if app not in _pg_info:
        done = heroku_cli.run(app, ["pg:info"])
        try:
            info = parse_pg_info(done.stdout)
        except HerokuOutputError as exc:
            raise HerokuError(f"heroku pg:info -a {app}: {exc}") from None
        if info is None:
            raise HerokuError(
                f"Heroku app {app} has no Postgres database: provision one with "
                f"heroku addons:create heroku-postgresql:essential-0 -a {app}"
            )
        _pg_info[app] = info
    return _pg_info[app]


def pg_info_if_read(app: str) -> PgInfo | None:
    return _pg_info.get(app)


def capture_backup(app: str, log) -> str:
    """``pg:backups:capture``, then ``pg:backups:info`` to confirm it: the backup's id."""
    log(f"capturing a Heroku backup of {app} (heroku pg:backups:capture; minutes for a large database)…")
    try:
        done = heroku_cli.run(app, ["pg:backups:capture"], timeout=CAPTURE_TIMEOUT_S)
    except HerokuError as exc:
        raise HerokuError(f"{exc} (the target was not changed: fix the backup, then re-run)") from None
    backup_id = parse_capture_id(done.stderr)
    if backup_id is None:
        raise HerokuError(f"heroku pg:backups:capture -a {app} printed no backup id: check heroku pg:backups -a {app}")
    status = parse_backup_status(heroku_cli.run(app, ["pg:backups:info", backup_id]).stdout)
    if not backup_succeeded(status):
        raise HerokuError(
            f"Heroku backup {backup_id} of {app} is {status or 'of unknown status'}: "
            f"see heroku pg:backups:info {backup_id} -a {app}; the target was not changed"
        )
    return f"{backup_id} ({status})"


def restore_backup(app: str, backup_id: str, log) -> None:
    """``pg:backups:restore BACKUP DATABASE_URL --confirm APP``: the app's database becomes the backup."""
    log(f"restoring Heroku backup {backup_id} into {app}'s DATABASE_URL (heroku pg:backups:restore)…")
    heroku_cli.run(app, ["pg:backups:restore", backup_id, "DATABASE_URL", "--confirm", app], timeout=CAPTURE_TIMEOUT_S)


def set_config(app: str, key: str, value: str) -> int | None:
    """``config:set KEY=VALUE`` (a new release: the app's dynos restart); the new release's version."""
    done = heroku_cli.run(app, ["config:set", f"{key}={value}"])
    return parse_release(done.stderr)


def run_check(app: str, command: str, log) -> None:
    """``heroku run --exit-code --no-tty -- COMMAND`` in a one-off dyno; non-zero exit is an error."""
    log(f"checking the app's database connection from a one-off dyno: heroku run -- {command[:60]}…")
    try:
        heroku_cli.run(app, ["run", "--exit-code", "--no-tty", "--", command], timeout=CHECK_TIMEOUT_S)
    except HerokuError as exc:
        if exc.kind != "other":  # not the command's own failure: the cause as it is
            raise
        raise HerokuError(
            f"the app {app} could not reach its database from a one-off dyno ({exc}): check the app's "
            "pool/SSL settings (node-postgres needs ssl: {rejectUnauthorized: false}) and its DATABASE_URL"
        ) from None


def log_window(settings: CliSettings | None = None) -> float:
    """Seconds of a Fir app's log stream to read: the run's ``HEROKU_LOG_WINDOW``, else 20."""
    return (settings or heroku_cli.current_settings()).log_window_s


def log_errors(
    app: str, since: datetime, generation: str = "cedar", settings: CliSettings | None = None
) -> list[tuple[str, str]]:
    """
    Database errors in ``heroku logs -n 1500`` newer than ``since``. On a Fir app the CLI ignores
    ``-n`` and streams until stopped: the scan reads :func:`log_window` seconds of it.
    """
    if generation == "fir":
        done = heroku_cli.run(app, ["logs"], window=log_window(settings), settings=settings)
    else:
        done = heroku_cli.run(app, ["logs", "-n", str(LOG_LINES)], settings=settings)
    return database_errors(done.stdout, since)


def reset_database(app: str) -> None:
    """``pg:reset DATABASE_URL --confirm APP``: every table and all data in the app's database are gone."""
    heroku_cli.run(app, ["pg:reset", "DATABASE_URL", "--confirm", app], timeout=CHECK_TIMEOUT_S)


# -- the app-check record: the last release + database + schema the check passed for ----------


def check_record_path(state_dir: Path, app: str) -> Path:
    return Path(state_dir) / f"heroku-{app}-app-check.json"


_release_now: dict[str, int] = {}  # after a config:set in this run: the new release


def note_release(app: str, release: int | None) -> None:
    if release is not None:
        _release_now[app] = release


def check_key(app: HerokuApp, schema: str) -> dict:
    release = _release_now.get(app.name, app.dynos.release)
    return {"app": app.name, "release": release, "database": app.identity, "schema": schema}


def check_passed_before(state_dir: Path, app: HerokuApp, schema: str) -> dict | None:
    path = check_record_path(state_dir, app.name)
    try:
        record = json.loads(read_regular_text(path))
    except (OSError, ValueError):
        return None
    return record if {k: record.get(k) for k in check_key(app, schema)} == check_key(app, schema) else None


def remember_check(state_dir: Path, app: HerokuApp, schema: str) -> None:
    path = check_record_path(state_dir, app.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(check_key(app, schema), passed_at=datetime.now().astimezone().isoformat(timespec="seconds"))
    write_private(path, json.dumps(record), private_parent=False)  # never through a planted link


# -- the plan's connection limit, as pg:info last showed it ---------------------------------------


def plan_record_path(state_dir: Path, app: str) -> Path:
    return Path(state_dir) / f"heroku-{app}-plan.json"


def plan_key(app: HerokuApp, pool: int) -> dict:
    """What makes the kept limit stale: another database, a new release (an add-on plan change
    makes one), another wanted pool size or another number of web dynos."""
    return {
        "app": app.name,
        "database": app.identity,
        "release": _release_now.get(app.name, app.dynos.release),
        "pool": pool,
        "web_dynos": app.dynos.web,
    }


def plan_limit(state_dir: Path, app: HerokuApp, pool: int) -> tuple[str, int | None, bool]:
    """``(plan, connection limit, read now)``: the kept pg:info limit while :func:`plan_key` holds,
    else ``pg:info`` read again (a CLI call) and kept with the add-on's plan name."""
    path = plan_record_path(state_dir, app.name)
    key = plan_key(app, pool)
    try:
        record = json.loads(read_regular_text(path))
    except (OSError, ValueError):
        record = {}
    if record and {k: record.get(k) for k in key} == key:
        return record.get("plan", "?"), record.get("limit"), False
    info = pg_info(app.name)
    remember_plan(state_dir, app, pool, info.plan, info.connections_limit)
    return info.plan, info.connections_limit, True


def remember_plan(state_dir: Path, app: HerokuApp, pool: int, plan: str, limit: int | None) -> None:
    record = dict(
        plan_key(app, pool), plan=plan, limit=limit, read_at=datetime.now().astimezone().isoformat(timespec="seconds")
    )
    path = plan_record_path(state_dir, app.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # STATE_DIR keeps its mode (it may hold the user's files)
    write_private(path, json.dumps(record), private_parent=False)


# -- a log scan that found errors stays due until a run's scan is clean ------------------------


def logs_due_path(state_dir: Path, app: str) -> Path:
    return Path(state_dir) / f"heroku-{app}-logs-due"


def logs_due(state_dir: Path, app: str) -> bool:
    """The last scan found errors (so this run scans again)."""
    return logs_due_path(state_dir, app).exists()


def mark_logs_due(state_dir: Path, app: str, due: bool) -> None:
    path = logs_due_path(state_dir, app)
    if not due:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, "", private_parent=False)  # a link planted at this name is replaced, not touched
