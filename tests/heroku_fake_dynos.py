"""
The two non-REST parts of the fake Heroku (tests only), written from the CLI's source
(``heroku/cli``: ``src/lib/run/dyno.ts`` and ``src/lib/run/log-displayer.ts``):

* **rendezvous** — ``heroku run`` POSTs ``/apps/APP/dynos`` and gets an ``attach_url``
  ``rendezvous://HOST:PORT/SECRET``; it opens TLS to HOST:PORT, writes ``SECRET\\r\\n``, throws away
  the first chunk it receives, then prints what follows. With ``--exit-code`` the command it sent
  ends in ``; echo "\\uFFFF heroku-command-exit-status: $?"`` and it reads the status from that line.
  :class:`Rendezvous` runs the command with ``bash -c`` in the one-off "dyno" (a folder holding a
  stand-in for the example app's ``dist/db.js``) with the app's config vars as its environment.
* **log stream** — ``heroku logs`` POSTs ``/apps/APP/log-sessions`` and reads ``logplex_url`` as
  server-sent events. A Cedar app's stream ends after the last ``lines`` lines; a Fir app's never
  ends (the CLI ignores ``-n`` there and streams, re-creating the session every 15 minutes).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

# A stand-in for the example app's database module (its real one uses node-postgres, which is not
# installed here): ``pool.query(sql)`` runs psql with the dyno's DATABASE_URL.
APP_DB_JS = r"""
const { execFileSync } = require('child_process');
exports.pool = {
  query(sql) {
    return new Promise((resolve, reject) => {
      try {
        const out = execFileSync('psql', [process.env.DATABASE_URL, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
                                 { stdio: ['ignore', 'pipe', 'pipe'] });
        resolve({ rows: [{ now: out.toString().trim() }] });
      } catch (e) { reject(new Error((e.stderr || '').toString().trim() || e.message)); }
    });
  },
};
"""


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the CLI trusts it through NODE_EXTRA_CA_CERTS)."""
    cert, key = folder / "rendezvous.crt", folder / "rendezvous.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class Rendezvous:
    """A TLS listener that runs the commands the CLI sent to ``POST /apps/APP/dynos``."""

    def __init__(self, folder: Path, config: callable):
        self.folder = folder
        self.config = config  # () -> the app's config vars, read when the dyno starts
        self.app_dir = folder / "dyno-app"
        (self.app_dir / "dist").mkdir(parents=True, exist_ok=True)
        (self.app_dir / "dist" / "db.js").write_text(APP_DB_JS)
        launcher = self.app_dir / "bin" / "launcher"  # a CNB (Fir) dyno's: the CLI prepends it there
        launcher.parent.mkdir(exist_ok=True)
        launcher.write_text('#!/bin/sh\nexec "$@"\n')
        launcher.chmod(0o755)
        self.cert, key = make_certificate(folder)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key)
        self.pending: dict[str, str] = {}  # secret -> command
        self.exit_codes: list[int] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def attach_url(self, secret: str, command: str) -> str:
        self.pending[secret] = command
        return f"rendezvous://127.0.0.1:{self.port}/{secret}"

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(raw,), daemon=True).start()

    def _session(self, raw: socket.socket) -> None:
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                secret = conn.makefile("rb").readline().decode().strip()
                command = self.pending.pop(secret, None)
                if command is None:
                    return
                conn.sendall(b"rendezvous\r\n")
                time.sleep(0.2)  # the CLI drops its first chunk: keep the output out of it
                env = {
                    "PATH": f"{self.app_dir / 'bin'}:{os.environ.get('PATH', os.defpath)}",
                    "HOME": str(self.app_dir),
                    "DYNO": "run.1",
                    **self.config(),
                }
                process = subprocess.Popen(
                    ["bash", "-c", command],
                    cwd=self.app_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                for chunk in iter(lambda: process.stdout.read1(4096), b""):
                    conn.sendall(chunk)
                self.exit_codes.append(process.wait())
                _close_gracefully(conn)
        except (OSError, ssl.SSLError):
            pass


def _close_gracefully(conn: ssl.SSLSocket) -> None:
    """End the session as the dyno's side does: read what the CLI still sends, then close."""
    conn.settimeout(0.3)
    try:
        while conn.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        pass
    try:
        conn.unwrap()
    except (OSError, ssl.SSLError, ValueError):
        pass


def sse(line: str) -> bytes:
    return f"data: {line}\n\n".encode()


def stream_logs(handler, lines: list[str], tail: bool, keep_open_s: float = 600.0) -> None:
    """Write ``lines`` as server-sent events; then end (Cedar), or keep streaming (Fir)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.end_headers()
    try:
        for line in lines:
            handler.wfile.write(sse(line))
        handler.wfile.flush()
        deadline = time.monotonic() + (keep_open_s if tail else 0)
        while time.monotonic() < deadline:  # a Fir stream: comments keep it open until the CLI leaves
            time.sleep(0.5)
            handler.wfile.write(b": keep-alive\n\n")
            handler.wfile.flush()
    except OSError:
        pass
    handler.close_connection = True
