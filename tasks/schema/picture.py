"""
A picture of the verified schema: tables with their key columns, and foreign keys as arrows,
drawn with Graphviz (``dot -Tsvg``) into ``REPORT_DIR/schema.svg``. Redrawn only when the
schema changed (the DOT text's sha256 is kept beside the picture). :func:`to_dot` is pure.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tasks.core.environment import child_env
from tasks.core.private import FILE_MODE, private_dir, write_private

KEY_COLUMNS = re.compile(r"(?:PRIMARY KEY|FOREIGN KEY) \(([^)]*)\)")
REFERENCES = re.compile(r"FOREIGN KEY \(([^)]*)\) REFERENCES ([^\s(]+)")


def _name(table: str) -> str:
    return table.removeprefix("public.")


def _quote(text: str) -> str:
    """A DOT string; backslashes are kept (``\\l`` ends a left-aligned line in a record label)."""
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(snapshot: dict[str, Any]) -> str:
    lines = ["digraph schema {", "  rankdir=LR;", '  node [shape=record, fontname="Helvetica", fontsize=10];']
    edges = []
    for table, value in sorted((snapshot.get("tables") or {}).items()):
        keys: list[str] = []
        for constraint in (value.get("constraints") or {}).values():
            for match in KEY_COLUMNS.finditer(constraint.get("definition", "")):
                keys.extend(c.strip() for c in match.group(1).split(",") if c.strip() not in keys)
            ref = REFERENCES.match(constraint.get("definition", ""))
            if ref:
                target = ref.group(2) if "." in ref.group(2) else f"public.{ref.group(2)}"
                edges.append((table, target, ref.group(1)))
        columns = value.get("columns") or {}
        rows = [f"{c} : {columns[c]['type']}" if c in columns else c for c in dict.fromkeys(keys)]
        safe = [re.sub(r"[|{}<>\\]", " ", r) for r in rows]
        label = re.sub(r"[|{}<>\\]", " ", _name(table)) + "|" + "".join(f"{r}\\l" for r in safe)
        lines.append(f"  {_quote(table)} [label={_quote(label)}];")
    for source, target, columns in sorted(edges):
        lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(columns)}, fontsize=8];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(snapshot: dict[str, Any], folder: Path) -> str:
    """Write ``folder/schema.svg`` when the schema changed; return what happened, in a few words."""
    if not shutil.which("dot"):
        return "schema picture skipped: Graphviz is not installed (apt-get install graphviz)"
    folder = Path(folder)
    dot = to_dot(snapshot)
    digest = hashlib.sha256(dot.encode()).hexdigest()
    picture, stamp = folder / "schema.svg", folder / ".schema.svg.sha256"
    if picture.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return f"{picture} unchanged"
    private_dir(folder)
    temporary = folder / f".schema.svg.{os.getpid()}"
    temporary.unlink(missing_ok=True)  # dot -o would write through a link planted under this name
    done = subprocess.run(
        ["dot", "-Tsvg", "-o", str(temporary)], input=dot, text=True, capture_output=True, env=child_env(), check=False
    )
    if done.returncode != 0:
        temporary.unlink(missing_ok=True)
        why = done.stderr.strip().splitlines()[0] if done.stderr.strip() else "dot failed"
        return f"schema picture not drawn: {why}"
    os.chmod(temporary, FILE_MODE)  # the picture shows the schema: private like the reports
    temporary.replace(picture)
    write_private(stamp, digest)
    return f"{picture} drawn"
