"""The child-environment builder: the one place that decides what a child process's environment holds,
and the only code that writes into ``os.environ``."""

from __future__ import annotations

import ast
from pathlib import Path

from tasks.core import environment

ROOT = Path(__file__).resolve().parents[3]
BUILDER = ROOT / "tasks" / "core" / "environment.py"
WRITES = {"pop", "update", "setdefault", "clear", "popitem", "__setitem__", "__delitem__"}


def environ_writes(path: Path) -> list[str]:
    """Lines of ``path`` that write into ``os.environ`` (assignment, del, a mutating method, putenv),
    directly or through a name bound to it (``environ = os.environ if environ is None else environ``)."""
    tree = ast.parse(path.read_text())
    aliases = {"os.environ"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and "os.environ" in ast.unparse(node.value):
            aliases.update(ast.unparse(target) for target in node.targets)
        if isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args][-len(node.defaults) :] if node.defaults else []
            pairs = [*zip(named, node.defaults), *zip(node.kwonlyargs, node.kw_defaults)]
            aliases.update(
                arg.arg for arg, default in pairs if default is not None and "os.environ" in ast.unparse(default)
            )
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, ast.AugAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript) and ast.unparse(target.value) in aliases:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, name = ast.unparse(node.func.value), node.func.attr
            if (owner in aliases and name in WRITES) or (owner == "os" and name in ("putenv", "unsetenv")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_nothing_outside_the_builder_writes_into_the_process_environment() -> None:
    paths = [*ROOT.glob("tasks/**/*.py"), *ROOT.glob("sandbox/**/*.py"), ROOT / "deploy.py", ROOT / "inventory.py"]
    assert [line for path in sorted(paths) if path != BUILDER for line in environ_writes(path)] == []


def test_the_scan_sees_a_write() -> None:
    assert environ_writes(BUILDER)  # use_service_file sets PGSERVICEFILE


def test_a_child_gets_no_secret_even_one_never_withdrawn() -> None:
    env = {
        "PATH": "/bin",
        "TARGET_DATABASE_URL": "postgres://u:pw@h/d",
        "HEROKU_POSTGRESQL_RED_URL": "x",
        "PGPASSWORD": "pw",
        "HEROKU_API_KEY": "k",
        "PGSERVICEFILE": "/tmp/s.conf",
    }
    assert environment.child_env(env) == {"PATH": "/bin", "PGSERVICEFILE": "/tmp/s.conf"}


def test_the_heroku_cli_alone_gets_the_api_key_back_and_no_colours() -> None:
    withdrawn = {"PATH": "/bin", "HEROKU_API_KEY": "k", "SOURCE_DATABASE_URL": "postgres://u:pw@h/d", "NO_COLOR": "0"}
    environment.withdraw_secrets(withdrawn)
    env = environment.heroku_env({"PATH": "/bin", "NO_COLOR": "0"})
    assert env == {
        "PATH": "/bin",
        "NO_COLOR": "0",
        "HEROKU_LOGS_COLOR": "0",
        "DISABLE_TELEMETRY": "true",
        "HEROKU_API_KEY": "k",
    }
    assert "HEROKU_API_KEY" not in environment.child_env({"PATH": "/bin"})


def test_the_service_file_replaces_a_callers_password_and_service() -> None:
    env = {"PGPASSWORD": "pw", "PGSERVICE": "other", "DATABASE_URL": "postgres://u:pw@h/d", "PATH": "/bin"}
    environment.use_service_file("/tmp/pgconverge-1/pg_service.conf", env)
    assert env == {"PATH": "/bin", "PGSERVICEFILE": "/tmp/pgconverge-1/pg_service.conf", "PGCLIENTENCODING": "UTF8"}




def test_secrets_are_withdrawn_and_only_the_api_key_comes_back():
    env = {"PATH": "/bin", "SOURCE_DATABASE_URL": "u", "TARGET_DATABASE_URL": "u", "HEROKU_API_KEY": "k",
           "HEROKU_POSTGRESQL_RED_URL": "u", "PGPASSWORD": "p", "ENV_FILE": ".env"}
    removed = environment.withdraw_secrets(env)
    assert env == {"PATH": "/bin", "ENV_FILE": ".env"} and len(removed) == 5
    assert environment.heroku_credentials() == {"HEROKU_API_KEY": "k"}


def test_a_child_gets_only_what_it_needs_of_the_users_shell() -> None:
    """Adversary finding: pg_dump, pg_restore, dot and the Heroku CLI got every variable of the user's
    shell (MY_APP_SECRET, AWS_SECRET_ACCESS_KEY). A child gets the search path, home, locale, time zone
    and the run's service file; the Heroku CLI also its endpoints, proxies and certificates."""
    shell = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PGSERVICEFILE": "/state/pg_service.conf",
        "MY_APP_SECRET": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "PGADMIN_DEFAULT_PASSWORD": "z",
        "HEROKU_HOST": "http://127.0.0.1:5000",
        "HTTPS_PROXY": "http://proxy:3128",
        "NODE_EXTRA_CA_CERTS": "/ca.pem",
        "HEROKU_API_KEY": "k",
    }
    assert environment.child_env(shell) == {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PGSERVICEFILE": "/state/pg_service.conf",
    }
    heroku = environment.heroku_env(shell)
    assert {"MY_APP_SECRET", "AWS_SECRET_ACCESS_KEY", "PGADMIN_DEFAULT_PASSWORD"}.isdisjoint(heroku)
    assert {name: heroku[name] for name in ("HEROKU_HOST", "HTTPS_PROXY", "NODE_EXTRA_CA_CERTS", "HEROKU_API_KEY")} == {
        "HEROKU_HOST": "http://127.0.0.1:5000",
        "HTTPS_PROXY": "http://proxy:3128",
        "NODE_EXTRA_CA_CERTS": "/ca.pem",
        "HEROKU_API_KEY": "k",
    }
