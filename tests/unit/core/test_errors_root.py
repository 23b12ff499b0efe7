"""Every exception class the tool defines (tasks/, sandbox/, deploy.py) derives from one root,
:class:`~tasks.core.errors.ActionableError`, so one ``except`` catches them all and
:func:`~tasks.core.errors.describe` prints their message as it is."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tasks.core.errors import ActionableError, describe

ROOT = Path(__file__).resolve().parents[3]


def defined_exceptions() -> list[tuple[str, str]]:
    """(module, class) of every class in tasks/ and sandbox/ whose bases name an Error/Exception/Locked."""
    found = []
    for path in sorted([*ROOT.glob("tasks/**/*.py"), *ROOT.glob("sandbox/**/*.py")]):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(base).split(".")[-1].endswith(("Error", "Exception", "Locked", "Timeout"))
                for base in node.bases
            ):
                found.append((module, node.name))
    return found


def test_the_scan_finds_the_known_classes() -> None:
    names = {name for _, name in defined_exceptions()}
    assert {"ActionableError", "SettingsError", "SqlError", "ToolError", "SandboxError", "FolderLocked"} <= names


@pytest.mark.parametrize(("module", "name"), defined_exceptions())
def test_every_error_class_derives_from_the_root(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, ActionableError), f"{module}.{name} is outside ActionableError"


def test_a_former_outsider_is_described_by_its_own_message() -> None:
    from tasks.core.pgtools import ToolError

    assert describe(ToolError("no pg_dump 17 installed: run make setup")) == "no pg_dump 17 installed: run make setup"
