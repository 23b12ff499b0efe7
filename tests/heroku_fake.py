"""
A local fake of the Heroku Platform and Data APIs, for the real ``heroku`` CLI (a stand-in for
Heroku's servers only: every command, ``run`` and ``logs`` included, goes through the real CLI).

Heroku's servers cannot be reached from here, so the tests point the real CLI at this loopback
HTTP server (``HEROKU_HOST=http://127.0.0.1:PORT``, ``HEROKU_DATA_HOST=127.0.0.1``,
../shared/HEROKU.md). Routes and JSON follow the CLI's source and the Platform API: the app with
``stack`` and ``generation``; attachment resolution that 404s an unknown name; config-var PATCH
that refuses add-on vars (``DATABASE_URL``); ``pg:backups:capture`` answered at once with a
pending transfer that a background thread completes while the CLI polls; dyno creation with a
TLS rendezvous and log sessions as server-sent events (tests/heroku_fake_dynos.py).

The app's ``DATABASE_URL`` is a real database on the sandbox target, owned by a role of its own
(like Heroku's ``uXXXX``): what the fake does to the database is done for real (``pg_dump`` for a
capture, ``DROP SCHEMA`` for a reset, counts for ``pg:info``).

Faults a test can inject: :attr:`reject_token` (401), :attr:`unknown_app`, :attr:`html_errors`
(5xx with an HTML body on matching paths), :attr:`slow` (answers after N seconds on matching
paths), :attr:`fail_backups` (capture ends Failed with pg_dump's error lines),
:attr:`failing_polls` (the next N transfer polls answer 503), :meth:`rotate_password`.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
from psycopg import sql

import sandbox
from tasks.core import pgtools
from tests.heroku_fake_dynos import Rendezvous, stream_logs

API_KEY = "fake-heroku-api-key"
ADDON_VARS = ("DATABASE_URL",)
HTML_503 = ("<!DOCTYPE html><html><head><title>Application Error</title></head><body>"
            "<iframe src=\"//www.herokucdn.com/error-pages/application-error.html\"></iframe></body></html>")
FAILED_DUMP_LOGS = ["pg_dump: error: query failed: ERROR:  permission denied for table secrets",
                    "pg_dump: detail: Query was: LOCK TABLE public.secrets IN ACCESS SHARE MODE"]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


class FakeHeroku:
    """One app (``name``) with one essential-0 database (``dbname`` on the sandbox target)."""

    def __init__(self, folder: Path, name: str, dbname: str, generation: str = "cedar"):
        self.folder = folder
        self.name = name
        self.dbname = dbname
        self.generation = generation
        self.app_id = str(uuid.uuid4())
        self.addon = {"id": str(uuid.uuid4()), "name": "postgresql-fake-12345",
                      "app": {"id": self.app_id, "name": name},
                      "plan": {"name": "heroku-postgresql:essential-0"},
                      "addon_service": {"name": "heroku-postgresql"}, "state": "provisioned",
                      "config_vars": ["DATABASE_URL"]}
        self.role = f"u{secrets.token_hex(6)}"
        self.password = secrets.token_hex(16)
        self.config: dict[str, str] = {}
        self.has_database = True
        self.unknown_app = False
        self.reject_token = False
        self.fail_backups = False
        self.failing_polls = 0
        self.html_errors: list[str] = []  # path regexes answered with a 503 and an HTML page
        self.slow: dict[str, float] = {}  # path regex -> seconds before the answer
        self.connection_limit = 20
        self.plan_name = "Essential 0"
        self.web_dynos = 1
        self.release = 7
        self.transfers: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.processes: dict[str, list[str]] = {}  # CLI process (its first Request-Id) -> its requests
        self.config_patches: list[dict] = []
        self.dyno_commands: list[str] = []  # exactly what `heroku run` sent
        self.log_sessions: list[dict] = []
        self.log_lines: list[str] = []
        self.resets = 0
        self.slow_s = 0.0  # how long a capture or a reset takes (to interrupt one)
        self._server: ThreadingHTTPServer | None = None
        self._streams: dict[str, dict] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self._create_role()
        self.rendezvous = Rendezvous(folder, lambda: dict(self._config()))

    # -- the database's own role, like Heroku's uXXXX --------------------------------------
    def _admin(self, dbname: str | None = None):
        return psycopg.connect(sandbox.admin_conninfo("target", dbname or self.dbname), autocommit=True)

    def _create_role(self) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE whynot_owner").format(
                sql.Identifier(self.role), sql.Literal(self.password)))
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(self.dbname), sql.Identifier(self.role))
            )
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(self.role)))
        self._set_url()

    def _set_url(self) -> None:
        port = sandbox.load_state()["target"]["port"]
        self.config["DATABASE_URL"] = f"postgres://{self.role}:{self.password}@127.0.0.1:{port}/{self.dbname}"

    def rotate_password(self, tell_the_app: bool = True) -> None:
        """Heroku rotates the credentials: the old password stops working; DATABASE_URL changes."""
        self.password = secrets.token_hex(16)
        with self._admin() as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(self.role), sql.Literal(self.password))
            )
        if tell_the_app:
            self._set_url()
            self.release += 1

    def drop_role(self) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO whynot_owner").format(sql.Identifier(self.dbname)))
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO whynot_owner").format(sql.Identifier(self.role)))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(self.role)))
        with self._admin("postgres") as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> FakeHeroku:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body, content_type: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw.strip() else {}
                fake.requests.append((method, self.path))
                # The CLI's Request-Id header lists every id of its process, the first one last.
                process = (self.headers.get("Request-Id") or "none").split(",")[-1].strip()
                fake.processes.setdefault(process, []).append(f"{method} {self.path.partition('?')[0]}")
                stream = re.match(r"^/log-stream/([^/?]+)", self.path)
                if stream and stream.group(1) in fake._streams:
                    session = fake._streams.pop(stream.group(1))
                    stream_logs(self, session["lines"], session["tail"])
                    return
                for pattern, seconds in fake.slow.items():
                    if re.search(pattern, self.path):
                        time.sleep(seconds)
                if any(re.search(pattern, self.path) for pattern in fake.html_errors):
                    self._reply(503, HTML_503, "text/html; charset=utf-8")
                    return
                status, reply = fake.route(method, self.path, body, self.headers.get("Authorization", ""))
                self._reply(status, reply)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PATCH(self):
                self._handle("PATCH")

            def do_PUT(self):
                self._handle("PUT")

            def do_DELETE(self):
                self._handle("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self.rendezvous.close()
        for thread in [t for t in threading.enumerate() if t.name.startswith("fake-capture")]:
            thread.join(timeout=30)
        self.drop_role()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment that sends the real CLI here (and has it trust the rendezvous' certificate)."""
        return {
            "HEROKU_HOST": self.base,
            "HEROKU_DATA_HOST": "127.0.0.1",
            "HEROKU_API_KEY": API_KEY,
            "HEROKU_PARTICLEBOARD_URL": self.base,
            "DISABLE_TELEMETRY": "true",
            "NODE_EXTRA_CA_CERTS": str(self.rendezvous.cert),
            "PGCONVERGE_FAKE_HEROKU": str(self.folder),
        }

    def calls(self) -> list[str]:
        """One entry per CLI process that reached the fake, in order: its command, told by its requests."""
        return [_command_of(requests) for requests in self.processes.values()]

    def add_log(self, when: datetime, text: str) -> None:
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        self.log_lines.append(f"{stamp} {text}")

    # -- the APIs ----------------------------------------------------------------------------
    def route(self, method: str, path: str, body: dict, auth: str):
        path, _, query = path.partition("?")
        if self.reject_token or auth != f"Bearer {API_KEY}":
            return 401, {"id": "unauthorized", "message": "Invalid credentials provided."}
        if path == "/account":
            return 200, {"id": "acct-1", "email": "dev@example.com"}
        app_match = re.match(r"^/(?:client/v11/)?apps/([^/]+)(/.*)?$", path)
        if app_match and (self.unknown_app or app_match.group(1) not in (self.name, self.app_id)):
            return 404, {"id": "not_found", "message": "Couldn't find that app.", "resource": "app"}
        rest = app_match.group(2) or "" if app_match else None
        if app_match and not rest:
            return 200, self._app()
        if rest == "/config-vars":
            if method == "PATCH":
                managed = sorted(key for key in body if key in ADDON_VARS and self.has_database)
                if managed:
                    return 422, {
                        "id": "invalid_params",
                        "message": f"Cannot overwrite attachment values {', '.join(managed)}.",
                    }
                self.config_patches.append(body)
                for key, value in body.items():
                    if value is None:
                        self.config.pop(key, None)
                    else:
                        self.config[key] = str(value)
                self.release += 1
            return 200, self._config()
        if rest == "/releases":
            return 200, [{"version": self.release, "status": "succeeded", "description": "Set config vars"}]
        if rest == "/dynos" and method == "GET":
            return 200, [self._dyno(n) for n in range(1, self.web_dynos + 1)]
        if rest == "/dynos" and method == "POST":
            return 201, self._start_dyno(body)
        if rest == "/log-sessions" and method == "POST":
            return 201, self._log_session(body)
        if rest in ("/addon-attachments", "/addons"):
            if not self.has_database:
                return 200, []
            return 200, [self._attachment()] if rest == "/addon-attachments" else [self.addon]
        if path == "/actions/addon-attachments/resolve":
            known = ("DATABASE", "DATABASE_URL", self.addon["name"], self.addon["id"])
            if not self.has_database or body.get("addon_attachment") not in known:
                return 404, {"id": "not_found", "message": "Couldn't find that add on attachment."}
            return 200, [self._attachment()]
        if path == f"/client/v11/databases/{self.addon['id']}":
            return 200, self._database_info()
        if path == f"/client/v11/databases/{self.addon['id']}/reset" and method == "PUT":
            self._reset()
            return 200, {"message": "ok"}
        if path == f"/client/v11/databases/{self.addon['id']}/backups" and method == "POST":
            return 201, self._capture()
        if path == f"/client/v11/databases/{self.addon['id']}/restores" and method == "POST":
            return 200, self._restore(body.get("backup_url"))
        if rest == "/transfers":
            return 200, self.transfers
        transfer = re.match(r"^/transfers/([^/]+)$", rest or "")
        if transfer:
            if self.failing_polls > 0:
                self.failing_polls -= 1
                return 503, {"id": "service_unavailable", "message": "Service unavailable, please retry."}
            wanted = transfer.group(1)
            for item in self.transfers:
                if wanted in (item["uuid"], str(item["num"])):
                    shown = dict(item)
                    if "verbose=true" not in query:
                        shown.pop("logs", None)
                    return 200, shown
            return 404, {"id": "not_found", "message": "Not found."}
        return 404, {"id": "not_found", "message": f"fake has no route {method} {path}"}

    def _app(self) -> dict:
        return {
            "id": self.app_id,
            "name": self.name,
            "owner": {"id": "acct-1", "email": "dev@example.com"},
            "stack": {"id": "stack-24", "name": "heroku-24" if self.generation == "cedar" else "cnb"},
            "build_stack": {"id": "stack-24", "name": "heroku-24"},
            "generation": {"id": f"gen-{self.generation}", "name": self.generation},
            "region": {"id": "region-us", "name": "us"},
            "web_url": f"https://{self.name}.example.com/",
        }

    def _dyno(self, n: int) -> dict:
        name = f"web.{n}" if self.generation == "cedar" else f"web-{self.release:07d}abcd-{n:05d}"
        return {
            "type": "web",
            "name": name,
            "state": "up",
            "size": "Basic",
            "release": {"version": self.release},
            "command": "npm start",
            "updated_at": "2026-01-01T00:00:00Z",
        }

    def _config(self) -> dict:
        config = dict(self.config)
        if not self.has_database:
            config.pop("DATABASE_URL", None)
        return config

    def _attachment(self) -> dict:
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.addon["id"])),
            "name": "DATABASE",
            "app": {"id": self.app_id, "name": self.name},
            "addon": self.addon,
            "config_vars": ["DATABASE_URL"],
            "namespace": None,
        }

    def _start_dyno(self, body: dict) -> dict:
        command = body.get("command", "")
        self.dyno_commands.append(command)
        url = self.rendezvous.attach_url(secrets.token_hex(16), command) if body.get("attach") else None
        return {
            "id": str(uuid.uuid4()),
            "name": "run.1234",
            "type": "run",
            "state": "starting",
            "size": "Basic",
            "command": command,
            "attach_url": url,
            "release": {"version": self.release},
            "created_at": _now(),
            "updated_at": _now(),
        }

    def _log_session(self, body: dict) -> dict:
        self.log_sessions.append(body)
        lines = list(self.log_lines)
        if self.generation == "cedar":
            lines = lines[-int(body.get("lines") or 100) :]
        stream = secrets.token_hex(8)
        self._streams[stream] = {"lines": lines, "tail": self.generation == "fir" or bool(body.get("tail"))}
        return {"id": stream, "logplex_url": f"{self.base}/log-stream/{stream}", "created_at": _now()}

    def _database_info(self) -> dict:
        with self._admin() as conn:
            used = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()[
                0
            ]
            version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM pg_stat_user_tables").fetchone()[0]
        info = [
            ("Plan", self.plan_name),
            ("Status", "Available"),
            ("Connections", f"{used}/{self.connection_limit}"),
            ("PG Version", version),
            ("Created", "2026-01-01 00:00"),
            ("Data Size", f"{size} / 1 GB (In compliance)"),
            ("Tables", f"{tables}/4000 (In compliance)"),
            ("Fork/Follow", "Unsupported"),
            ("Rollback", "Unsupported"),
            ("Continuous Protection", "Off"),
        ]
        return {
            "info": [{"name": k, "values": [v]} for k, v in info],
            "plan": "essential-0",
            "resource_url": self.config.get("DATABASE_URL", ""),
            "num_connections": used,
        }

    def _reset(self) -> None:
        self.resets += 1
        time.sleep(self.slow_s)
        with self._admin() as conn:
            schemas = [
                r[0]
                for r in conn.execute(
                    "SELECT nspname FROM pg_namespace"
                    " WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
                )
            ]
            for schema in schemas:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("CREATE SCHEMA public AUTHORIZATION {}").format(sql.Identifier(self.role)))

    # -- pg:backups:capture: pending at once, finished in the background -------------------
    def _capture(self) -> dict:
        num = len(self.transfers) + 1
        transfer = {
            "uuid": str(uuid.uuid4()),
            "num": num,
            "from_type": "pg_dump",
            "to_type": "gof3r",
            "from_name": "DATABASE",
            "to_name": "BACKUP",
            "from_url": "",
            "to_url": "",
            "created_at": _now(),
            "started_at": None,
            "finished_at": None,
            "updated_at": _now(),
            "canceled_at": None,
            "succeeded": None,
            "warnings": 0,
            "schedule": None,
            "num_keep": 5,
            "source_bytes": None,
            "processed_bytes": 0,
            "logs": [],
            "options": {},
        }
        self.transfers.append(transfer)
        threading.Thread(target=self._run_capture, args=(transfer,), name=f"fake-capture-{num}", daemon=True).start()
        return dict(transfer)

    def _run_capture(self, transfer: dict) -> None:
        transfer.update(started_at=_now(), updated_at=_now())
        time.sleep(self.slow_s)
        target = self.folder / "backups" / f"b{transfer['num']:03d}.dump"
        target.parent.mkdir(exist_ok=True)
        logs = [{"created_at": _now(), "level": "info", "message": "pg_dump: reading extensions"}]
        if self.fail_backups:
            ok = False
            logs += [{"created_at": _now(), "level": "error", "message": line} for line in FAILED_DUMP_LOGS]
        else:
            conninfo = sandbox.admin_conninfo("target", self.dbname)
            with psycopg.connect(conninfo) as conn:
                tools = pgtools.for_server("the fake's database", conn.info.server_version // 10000)
            done = subprocess.run(
                [tools.binary("pg_dump"), "-Fc", "-f", str(target), "-d", conninfo],
                capture_output=True,
                text=True,
                check=False,
            )
            ok = done.returncode == 0
            logs += [
                {"created_at": _now(), "level": "error" if not ok else "info", "message": line}
                for line in done.stderr.splitlines()
            ]
            logs.append(
                {"created_at": _now(), "level": "info", "message": "pg_dump: finished" if ok else "pg_dump: failed"}
            )
        size = target.stat().st_size if target.exists() else 0
        transfer.update(
            logs=logs,
            processed_bytes=size,
            to_url=f"https://fake-backups.invalid/{target.name}",
            source_bytes=size or 8192,
            succeeded=ok,
            finished_at=_now(),
            updated_at=_now(),
        )

    def _restore(self, backup_url: str | None) -> dict:
        """``pg:backups:restore``: like Heroku, the database is emptied, then the backup restored into it
        as the app's role. Answers with a finished transfer, which the CLI then polls."""
        dump = self.folder / "backups" / (backup_url or "").rsplit("/", 1)[-1]
        started = _now()
        ok, logs = False, [{"created_at": started, "message": f"no backup at {backup_url}"}]
        if backup_url and dump.is_file():
            self._reset()
            self.resets -= 1  # a restore, not a pg:reset
            conninfo = sandbox.admin_conninfo("target", self.dbname)
            with psycopg.connect(conninfo) as conn:
                tools = pgtools.for_server("the fake's database", conn.info.server_version // 10000)
            done = subprocess.run(
                [
                    tools.binary("pg_restore"),
                    "--no-owner",
                    "--no-acl",
                    f"--role={self.role}",
                    "--exit-on-error",
                    "-d",
                    conninfo,
                    str(dump),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            ok = done.returncode == 0
            logs = [
                {"created_at": started, "message": line} for line in (done.stderr.splitlines() or ["pg_restore: done"])
            ]
        transfer = {
            "uuid": str(uuid.uuid4()),
            "num": len(self.transfers) + 1,
            "from_type": "gof3r",
            "to_type": "pg_restore",
            "from_name": "BACKUP",
            "to_name": "DATABASE",
            "created_at": started,
            "started_at": started,
            "finished_at": _now(),
            "updated_at": _now(),
            "succeeded": ok,
            "warnings": 0,
            "schedule": None,
            "source_bytes": 8192,
            "processed_bytes": 8192,
            "logs": logs,
            "options": {},
        }
        self.transfers.append(transfer)
        return transfer


def _command_of(requests: list[str]) -> str:
    """Which CLI command a process ran, from the requests it made."""
    joined = "\n".join(requests)
    table = [
        (r"^POST /apps/[^/]+/dynos$", "run"),
        (r"^POST /apps/[^/]+/log-sessions$", "logs"),
        (r"^POST /client/v11/databases/[^/]+/backups$", "pg:backups:capture"),
        (r"^POST /client/v11/databases/[^/]+/restores$", "pg:backups:restore"),
        (r"^PUT /client/v11/databases/[^/]+/reset$", "pg:reset"),
        (r"^PATCH /apps/[^/]+/config-vars$", "config:set"),
        (r"^GET /client/v11/apps/[^/]+/transfers/", "pg:backups:info"),
        (r"^GET /client/v11/databases/[^/]+$", "pg:info"),
        (r"^GET /apps/[^/]+/dynos$", "ps"),
        (r"^GET /apps/[^/]+/config-vars$", "config:get"),
    ]
    for pattern, command in table:
        if re.search(pattern, joined, flags=re.MULTILINE):
            return command
    return requests[0]
