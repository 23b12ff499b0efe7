"""
Vendor Lemmy's real migrations as pgconverge migration files (redo: ``python tests/samples/lemmy/vendor.py``).

Takes ``migrations/<folder>/up.sql`` of every folder of the upstream commit, in upstream order,
up to (not including) ``STOP_BEFORE``, and writes each unedited as ``migrations/<version>_<name>.sql``
beside this script, with upstream's LICENSE. The version is the folder's timestamp without its
separators (``2019-02-26-002946_create_user`` -> ``20190226002946_create_user.sql``; the
``-0000`` counter of the newer folders is dropped, it is always 0000 and keeps the order).
README.md says why the set stops where it does.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIT_DIR = "/work/.mirror/LemmyNet+lemmy/repo"
COMMIT = "439734dd638a2c06a2f907beab7dcf4646e88f86"
# The first folder NOT taken (None: all of them); README.md says why.
STOP_BEFORE: str | None = "2025-08-01-000016_smoosh-tables-together"
FOLDER = re.compile(
    r"(?P<stamp>[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{6}|[0-9]{14})(?:-0000)?_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
)


def filename(folder: str) -> str:
    """``2019-02-26-002946_create_user`` -> ``20190226002946_create_user.sql``."""
    match = FOLDER.fullmatch(folder)
    if not match:
        raise SystemExit(f"vendor: unexpected migration folder name {folder!r}")
    return f"{match['stamp'].replace('-', '')}_{match['name']}.sql"


def git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--git-dir", default=GIT_DIR, help="a clone or mirror of https://github.com/LemmyNet/lemmy")
    args = parser.parse_args()
    folders = sorted(
        line.removeprefix("migrations/")
        for line in git(args.git_dir, "ls-tree", "--name-only", COMMIT, "migrations/").decode().splitlines()
    )
    if STOP_BEFORE:
        folders = folders[: folders.index(STOP_BEFORE)]
    out = HERE / "migrations"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    names = [filename(folder) for folder in folders]
    if len(set(names)) != len(names):
        raise SystemExit("vendor: two folders map to the same file name")
    for folder, name in zip(folders, names):
        (out / name).write_bytes(git(args.git_dir, "show", f"{COMMIT}:migrations/{folder}/up.sql"))
    (HERE / "LICENSE").write_bytes(git(args.git_dir, "show", f"{COMMIT}:LICENSE"))
    print(f"vendor: {len(names)} files, {names[0]} … {names[-1]}")


if __name__ == "__main__":
    main()
