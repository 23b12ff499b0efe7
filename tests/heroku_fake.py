"""
A local fake of the Heroku Platform and Data APIs, for the real ``heroku`` CLI (a stand-in).

Heroku's servers cannot be reached from here, so the tests point the real CLI at this loopback
HTTP server (``HEROKU_HOST=http://127.0.0.1:PORT``, ``HEROKU_DATA_HOST=127.0.0.1``,
../shared/HEROKU.md). Its one app's ``DATABASE_URL`` points at a database on the sandbox target
cluster, so everything the deploy does with psql reaches a real PostgreSQL. What the fake does
for the database itself is done for real on that database: ``pg:backups:capture`` runs pg_dump,
``pg:reset`` drops every schema, ``pg:info`` reads the connection count and size from it.

``heroku run`` and ``heroku logs`` need a TLS rendezvous and a log stream: for those two a
``heroku`` stand-in earlier on PATH (:func:`install_standin`) runs the command locally with the
app's config vars, and prints the lines a test put in ``logs.txt``. The stand-in hands every other
call to the real CLI and writes each call's subcommand to ``calls.log`` (to count them).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
from psycopg import sql

import sandbox

API_KEY = "fake-heroku-api-key"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")


class FakeHeroku:
    """One app (``name``) with one essential-0 database (``dbname`` on the sandbox target)."""

    def __init__(self, folder: Path, name: str, dbname: str, database_url: str):
        self.folder = folder
        self.name = name
        self.dbname = dbname
        self.app_id = str(uuid.uuid4())
        self.addon = {"id": str(uuid.uuid4()), "name": "postgresql-fake-12345",
                      "app": {"id": self.app_id, "name": name},
                      "plan": {"name": "heroku-postgresql:essential-0"},
                      "addon_service": {"name": "heroku-postgresql"}, "state": "provisioned",
                      "config_vars": ["DATABASE_URL"]}
        self.config: dict[str, str] = {"DATABASE_URL": database_url}
        self.has_database = True
        self.unknown_app = False
        self.reject_token = False
        self.fail_backups = False
        self.connection_limit = 20
        self.web_dynos = 1
        self.release = 7
        self.transfers: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.config_patches: list[dict] = []
        self.resets = 0
        self.slow_s = 0.0  # how long a capture or a reset takes (to interrupt one)
        self._server: ThreadingHTTPServer | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "logs.txt").touch()

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> "FakeHeroku":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw.strip() else {}
                fake.requests.append((method, self.path))
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
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def env(self) -> dict[str, str]:
        """The environment that sends the real CLI here."""
        base = f"http://127.0.0.1:{self.port}"
        return {"HEROKU_HOST": base, "HEROKU_DATA_HOST": "127.0.0.1", "HEROKU_API_KEY": API_KEY,
                "HEROKU_PARTICLEBOARD_URL": base, "DISABLE_TELEMETRY": "true",
                "PGCONVERGE_FAKE_HEROKU": str(self.folder), "FAKE_HEROKU_URL": base, "FAKE_HEROKU_APP": self.name}

    def calls(self) -> list[str]:
        """The subcommands the deploy ran, as the stand-in recorded them."""
        path = self.folder / "calls.log"
        return path.read_text().split() if path.exists() else []

    def add_log(self, when: datetime, text: str) -> None:
        stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        with open(self.folder / "logs.txt", "a") as out:
            out.write(f"{stamp} {text}\n")

    # -- the APIs ----------------------------------------------------------------------------
    def route(self, method: str, path: str, body: dict, auth: str):  # noqa: C901 (a router)
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
            return 200, {"id": self.app_id, "name": self.name, "owner": {"id": "acct-1"}}
        if rest == "/config-vars":
            if method == "PATCH":
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
        if rest == "/dynos":
            return 200, [{"type": "web", "name": f"web.{n}", "state": "up", "size": "Basic",
                          "release": {"version": self.release}, "command": "npm start",
                          "updated_at": "2026-01-01T00:00:00Z"} for n in range(1, self.web_dynos + 1)]
        if rest in ("/addon-attachments", "/addons"):
            if not self.has_database:
                return 200, []
            return 200, [self._attachment()] if rest == "/addon-attachments" else [self.addon]
        if path == "/actions/addon-attachments/resolve":
            if not self.has_database:
                return 404, {"id": "not_found", "message": "Couldn't find that add on attachment."}
            return 200, [self._attachment()]
        if path == f"/client/v11/databases/{self.addon['id']}":
            return 200, self._database_info()
        if path == f"/client/v11/databases/{self.addon['id']}/reset" and method == "PUT":
            self._reset()
            return 200, {"message": "ok"}
        if path == f"/client/v11/databases/{self.addon['id']}/backups" and method == "POST":
            return 200, self._capture()
        if path == f"/client/v11/databases/{self.addon['id']}/restores" and method == "POST":
            return 200, self._restore(body.get("backup_url"))
        if rest == "/transfers":
            return 200, self.transfers
        transfer = re.match(r"^/transfers/([^/]+)$", rest or "")
        if transfer:
            wanted = transfer.group(1)
            for item in self.transfers:
                if wanted in (item["uuid"], str(item["num"])):
                    shown = dict(item)
                    if "verbose=true" not in query:
                        shown.pop("logs", None)
                    return 200, shown
            return 404, {"id": "not_found", "message": "Not found."}
        return 404, {"id": "not_found", "message": f"fake has no route {method} {path}"}

    def _config(self) -> dict:
        config = dict(self.config)
        if not self.has_database:
            config.pop("DATABASE_URL", None)
        return config

    def _attachment(self) -> dict:
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.addon["id"])), "name": "DATABASE",
                "app": {"id": self.app_id, "name": self.name}, "addon": self.addon, "config_vars": ["DATABASE_URL"],
                "namespace": None}

    def _admin(self):
        return psycopg.connect(sandbox.admin_conninfo("target", self.dbname), autocommit=True)

    def _database_info(self) -> dict:
        with self._admin() as conn:
            used = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()[0]
            version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM pg_stat_user_tables").fetchone()[0]
        info = [("Plan", "Essential 0"), ("Status", "Available"), ("Connections", f"{used}/{self.connection_limit}"),
                ("PG Version", version), ("Created", "2026-01-01 00:00"), ("Data Size", f"{size} / 1 GB (In compliance)"),
                ("Tables", f"{tables}/4000 (In compliance)"), ("Fork/Follow", "Unsupported"),
                ("Rollback", "Unsupported"), ("Continuous Protection", "Off")]
        return {"info": [{"name": k, "values": [v]} for k, v in info], "plan": "essential-0",
                "resource_url": self.config.get("DATABASE_URL", ""), "num_connections": used}

    def _reset(self) -> None:
        self.resets += 1
        time.sleep(self.slow_s)
        with self._admin() as conn:
            schemas = [r[0] for r in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'")]
            for schema in schemas:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            conn.execute("CREATE SCHEMA public AUTHORIZATION whynot_owner")

    def _capture(self) -> dict:
        time.sleep(self.slow_s)
        num = len(self.transfers) + 1
        started = _now()
        target = self.folder / "backups" / f"b{num:03d}.dump"
        target.parent.mkdir(exist_ok=True)
        if self.fail_backups:
            ok, logs = False, [{"created_at": started, "message": "pg_dump: error: connection to server lost"}]
        else:
            done = subprocess.run(["pg_dump", "-Fc", "-f", str(target), "-d", sandbox.admin_conninfo("target", self.dbname)],
                                  capture_output=True, text=True)
            ok = done.returncode == 0
            logs = [{"created_at": started, "message": line} for line in (done.stderr.splitlines() or ["pg_dump: done"])]
        transfer = {"uuid": str(uuid.uuid4()), "num": num, "from_type": "pg_dump", "to_type": "gof3r",
                    "from_name": "DATABASE", "to_name": "BACKUP", "created_at": started, "started_at": started,
                    "finished_at": _now(), "updated_at": _now(), "succeeded": ok, "warnings": 0, "schedule": None,
                    "source_bytes": 8192, "processed_bytes": target.stat().st_size if target.exists() else 0,
                    "logs": logs, "options": {}, "to_url": f"https://fake-backups.invalid/{target.name}"}
        self.transfers.append(transfer)
        return transfer

    def _restore(self, backup_url: str | None) -> dict:
        """``pg:backups:restore``: like Heroku, the database is emptied, then the backup restored into it
        as the app's role. Answers with a finished transfer, which the CLI then polls."""
        dump = self.folder / "backups" / (backup_url or "").rsplit("/", 1)[-1]
        started = _now()
        ok, logs = False, [{"created_at": started, "message": f"no backup at {backup_url}"}]
        if backup_url and dump.is_file():
            self._reset()
            self.resets -= 1  # a restore, not a pg:reset
            done = subprocess.run(["pg_restore", "--no-owner", "--no-acl", "--role=whynot_owner", "--exit-on-error",
                                   "-d", sandbox.admin_conninfo("target", self.dbname), str(dump)],
                                  capture_output=True, text=True)
            ok = done.returncode == 0
            logs = [{"created_at": started, "message": line} for line in (done.stderr.splitlines() or ["pg_restore: done"])]
        transfer = {"uuid": str(uuid.uuid4()), "num": len(self.transfers) + 1, "from_type": "gof3r",
                    "to_type": "pg_restore", "from_name": "BACKUP", "to_name": "DATABASE", "created_at": started,
                    "started_at": started, "finished_at": _now(), "updated_at": _now(), "succeeded": ok,
                    "warnings": 0, "schedule": None, "source_bytes": 8192, "processed_bytes": 8192, "logs": logs,
                    "options": {}}
        self.transfers.append(transfer)
        return transfer


STANDIN = r'''#!/usr/bin/env python3
"""
A stand-in for ``heroku`` (tests only): Heroku's dynos and log stream cannot be reached from here.

``heroku run [--exit-code] [--no-tty] -a APP -- CMD`` runs CMD here with the fake app's config
vars in its environment (as a one-off dyno would); ``heroku logs -n N -a APP`` prints the last N
lines of logs.txt. Every other call goes to the real CLI. Each call's subcommand is written to
calls.log so tests can count them.
"""
import json, os, subprocess, sys, urllib.request

folder = os.environ["PGCONVERGE_FAKE_HEROKU"]
args = sys.argv[1:]
with open(os.path.join(folder, "calls.log"), "a") as log:
    log.write((args[0] if args else "") + "\n")
flags = args[:args.index("--")] if "--" in args else args
if args and args[0] in ("run", "logs") and "-a" not in flags and "--app" not in flags:
    # the real CLI reads its own flags only before "--": -a after it belongs to the dyno command
    print(" \u203a   Error: Missing required flag app", file=sys.stderr)
    sys.exit(2)
if args and args[0] == "run":
    command = args[args.index("--") + 1:] if "--" in args else args[-1:]
    request = urllib.request.Request(os.environ["FAKE_HEROKU_URL"] + "/apps/" + os.environ["FAKE_HEROKU_APP"] + "/config-vars",
                                     headers={"Authorization": "Bearer " + os.environ.get("HEROKU_API_KEY", "")})
    config = json.load(urllib.request.urlopen(request))
    env = dict(os.environ, **config)
    code = subprocess.run(" ".join(command), shell=True, env=env, stdin=subprocess.DEVNULL).returncode
    if code and "--exit-code" in args:
        print(f" \u203a   Error: Process exited with code {code}", file=sys.stderr)
        sys.exit(code)
    sys.exit(0)
if args and args[0] == "logs":
    count = int(args[args.index("-n") + 1]) if "-n" in args else 100
    with open(os.path.join(folder, "logs.txt")) as logs:
        sys.stdout.write("".join(logs.readlines()[-count:]))
    sys.exit(0)
os.execv(os.environ["REAL_HEROKU_CLI"], [os.environ["REAL_HEROKU_CLI"], *args])
'''


def install_standin(fake: FakeHeroku, real_cli: str) -> dict[str, str]:
    """Write the stand-in into ``fake.folder/bin``; the environment that puts it first on PATH."""
    folder = fake.folder / "bin"
    folder.mkdir(exist_ok=True)
    script = folder / "heroku"
    script.write_text(STANDIN.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = fake.env()
    env["REAL_HEROKU_CLI"] = real_cli
    env["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    return env
