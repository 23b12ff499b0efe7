"""``python -m sandbox up [--rows N] | down | status | reset-target | destroy``."""

from __future__ import annotations

import argparse
import sys

from sandbox import destroy, down, reset_target, status, up
from sandbox.paths import DEFAULT_ROWS, SandboxError, last_line

# --------------------------------------------------------------------------- CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Two local PostgreSQL clusters (source and Heroku-like target)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="create/start both clusters, load the source, write .sandbox/env")
    up_parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help=f"messages of sample data on the first load (default $SANDBOX_ROWS or {DEFAULT_ROWS:,})",
    )
    sub.add_parser("down", help="stop both clusters (data kept)")
    sub.add_parser("status", help="show whether each cluster runs, and its port")
    sub.add_parser("reset-target", help="drop and recreate the empty target database")
    sub.add_parser("destroy", help="stop both clusters and remove .sandbox/")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    commands = {
        "up": lambda: up(args.rows),
        "down": down,
        "status": status,
        "reset-target": reset_target,
        "destroy": destroy,
    }
    try:
        commands[args.command]()
    except SandboxError as exc:
        print(f"sandbox: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # psycopg errors and the like: one line, no traceback
        if exc.__class__.__module__.split(".")[0] != "psycopg":
            raise
        print(f"sandbox: error: {last_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
