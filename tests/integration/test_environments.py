"""
Issue 28: environments (environments/*.env, one pyinfra host each), plan records, promotion with
PROMOTE_FROM, drift answered with drift-repair.sql, and several environments in one parallel run.
Each environment is a database of its own on the sandbox target; the oracles are PostgreSQL's own
``pg_dump --schema-only`` and the catalog/rows before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import sandbox
from tests.support import (
    Project,
    catalog_and_data,
    create_target_db,
    drop_db,
    query,
    sandbox_urls,
    summary_rows,
    with_dbname,
)

pytestmark = [pytest.mark.cluster, pytest.mark.long]  # needs the sandbox's clusters; a minute or more each


class Environments:
    """A project whose targets are environments/NAME.env files, one database each."""

    def __init__(self, project: Project, names: tuple[str, ...], promote: dict[str, str] | None = None):
        self.project = project
        self.folder = project.tmp / f"environments-{'-'.join(names)}"  # one folder per set: a run sees its own
        self.folder.mkdir()
        self.plans = project.tmp / "plans"
        self.reports = project.tmp / "reports"
        self.dbs = {name: create_target_db() for name in names}
        for name, db in self.dbs.items():
            lines = [f"TARGET_DATABASE_URL={with_dbname(sandbox_urls()['target'], db)}"]
            if promote and name in promote:
                lines.append(f"PROMOTE_FROM={promote[name]}")
            (self.folder / f"{name}.env").write_text("\n".join(lines) + "\n")

    def deploy(self, *args: str, **extra: str):
        return self.project.deploy(*args, ENVIRONMENTS_DIR=str(self.folder), PLANS_DIR=str(self.plans),
                                   REPORT_DIR=str(self.reports), **extra)

    def records(self, name: str) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.plans.glob(f"plan-{name}-*.json"))]

    def drop(self) -> None:
        for db in self.dbs.values():
            drop_db(db)


@pytest.fixture
def envs(project):
    made: list[Environments] = []

    def make(*names: str, promote: dict[str, str] | None = None) -> Environments:
        one = Environments(project, names, promote)
        made.append(one)
        return one

    yield make
    for one in made:
        one.drop()


def schema_dump(dbname: str) -> str:
    """pg_dump --schema-only of a target database (the cluster's own client), the random \\restrict key left out."""
    url = urlsplit(sandbox_urls()["target"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=url.hostname or "", PGPORT=str(url.port), PGUSER=url.username or "",
               PGPASSWORD=url.password or "", PGDATABASE=dbname, PGSSLMODE="require")
    tool = str(Path(sandbox.load_state()["target"]["bindir"]) / "pg_dump")
    done = subprocess.run([tool, "--schema-only", "--exclude-table-data=public.schema_migrations"], env=env,
                          capture_output=True, text=True, check=True)
    return "".join(line for line in done.stdout.splitlines(keepends=True)
                   if not line.startswith(("\\restrict ", "\\unrestrict ")))


def test_production_waits_for_staging_then_gets_the_same_schema(envs, project):
    env = envs("staging", "production", promote={"production": "staging"})
    production = env.dbs["production"]
    untouched = catalog_and_data(production)

    refused = env.deploy("--limit", "production")
    assert refused.code != 0
    assert "PROMOTE_FROM=staging: no verified plan record of staging" in refused.output
    assert "- 001_" in refused.output  # the diff: the files staging has not applied
    rows = summary_rows(refused.output.replace("summary of environment production:", "summary:"))
    assert rows["Promotion allowed"][0] == "failed" and rows["Target backup captured"][0] == "skipped"
    assert catalog_and_data(production) == untouched  # stopped before the backup and any change

    staged = env.deploy("--limit", "staging")
    assert staged.code == 0, staged.output[-3000:]
    [record] = env.records("staging")
    assert record["verified"] is True and record["environment"] == "staging"
    assert [f["file"] for f in record["files"]] == sorted(p.name for p in project.migrations.glob("*.sql"))
    assert record["catalog_before"] != record["catalog_after"]
    # the risk findings of the files it applied (issue 27): tables made in this run, so no high risk
    assert record["findings"] and not any(f["high"] for f in record["findings"])
    assert {f["file"] for f in record["findings"] if f["kind"] == "lock"} <= set(record["applied_now"])
    assert sandbox_urls()["target"].split("@")[0].split(":")[-1] not in json.dumps(record)  # no password

    promoted = env.deploy("--limit", "production")
    assert promoted.code == 0, promoted.output[-3000:]
    assert schema_dump(production) == schema_dump(env.dbs["staging"])
    [prod_record] = env.records("production")
    assert prod_record["catalog_before"] == record["catalog_before"]
    assert prod_record["catalog_after"] == record["catalog_after"]

    # A new migration reaches production only after it converged on staging.
    project.write_migration("900_add_nickname.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    before = catalog_and_data(production)
    early = env.deploy("--limit", "production")
    assert early.code != 0 and "- 900_add_nickname.sql" in early.output
    assert catalog_and_data(production) == before
    assert env.deploy("--limit", "staging").code == 0
    late = env.deploy("--limit", "production")
    assert late.code == 0, late.output[-3000:]
    assert 900 in [r[0] for r in query(production, "SELECT version FROM schema_migrations")]
    assert schema_dump(production) == schema_dump(env.dbs["staging"])


def test_three_environments_converge_in_parallel_and_a_broken_one_fails_alone(envs, project):
    """One run converges every environment through pyinfra's host parallelism: measured against the
    same three run one after another (pyinfra --serial, same process); a migration that waits 1 s on
    the server makes the difference plain (each environment proves and applies it)."""
    project.write_migration("950_slow.sql", "SELECT pg_sleep(1);\n")
    serial = envs("one", "two", "three")
    one_by_one = serial.deploy("--serial")
    assert one_by_one.code == 0, one_by_one.output[-3000:]
    parallel = envs("four", "five", "six")
    together = parallel.deploy()
    assert together.code == 0, together.output[-3000:]
    print(f"three environments: one after another {one_by_one.seconds:.1f} s, in parallel {together.seconds:.1f} s")
    assert together.seconds < one_by_one.seconds
    for name in ("four", "five", "six"):
        assert f"summary of environment {name}:" in together.output
        assert json.loads((parallel.reports / name / "latest-run.json").read_text())["environment"] == name
        assert 950 in [r[0] for r in query(parallel.dbs[name], "SELECT version FROM schema_migrations")]

    broken = envs("good", "bad")
    (broken.folder / "bad.env").write_text(  # a database that does not exist: unreachable
        f"TARGET_DATABASE_URL={with_dbname(sandbox_urls()['target'], 'no_such_database')}\n")
    mixed = broken.deploy()
    assert mixed.code != 0
    good = summary_rows("summary:" + mixed.output.split("summary of environment good:", 1)[1])
    assert all(status != "failed" for status, _ in good.values()), good
    bad = summary_rows("summary:" + mixed.output.split("summary of environment bad:", 1)[1])
    assert bad["Target reachable"][0] == "failed"
    assert 950 in [r[0] for r in query(broken.dbs["good"], "SELECT version FROM schema_migrations")]


def test_an_index_added_by_hand_is_answered_with_a_proven_repair(envs, project):
    env = envs("staging", "production", promote={"production": "staging"})
    assert env.deploy("--limit", "staging").code == 0
    assert env.deploy("--limit", "production").code == 0
    production = env.dbs["production"]
    query(production, "CREATE INDEX by_hand ON users (display_name)")
    query(production, "ALTER TABLE users ALTER COLUMN display_name SET DEFAULT 'x'")
    query(production, "CREATE TABLE notes_by_hand (id int)")
    query(production, "INSERT INTO notes_by_hand VALUES (1)")

    drifted = env.deploy("--limit", "production")
    assert drifted.code != 0
    repair = env.reports / "production" / "drift-repair-production.sql"
    rows = summary_rows(drifted.output.replace("summary of environment production:", "summary:"))
    assert rows["Schema verified"][0] == "failed" and str(repair) in rows["Schema verified"][1]
    text = repair.read_text()
    assert "DROP INDEX IF EXISTS public.by_hand;" in text and "proven on a shadow copy" in text
    assert "notes_by_hand" in text.split("Not repaired here", 1)[1]  # an extra table with rows: listed, left out
    assert "DROP TABLE" not in text
    # never applied by the tool: the index is still there
    assert query(production, "SELECT indexname FROM pg_indexes WHERE indexname = 'by_hand'")

    url = urlsplit(sandbox_urls()["target"])
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env_vars.update(PGHOST=url.hostname or "", PGPORT=str(url.port), PGUSER=url.username or "",
                    PGPASSWORD=url.password or "", PGDATABASE=production, PGSSLMODE="require")
    psql = str(Path(sandbox.load_state()["target"]["bindir"]) / "psql")
    done = subprocess.run([psql, "-X", "-v", "ON_ERROR_STOP=1", "-f", str(repair)], env=env_vars,
                          check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    query(production, "DROP TABLE notes_by_hand")  # what the file left to the user
    again = env.deploy("--limit", "production")
    assert again.code == 0, again.output[-3000:]
    assert schema_dump(production) == schema_dump(env.dbs["staging"])


def test_a_refusal_while_planning_stops_that_environment_alone(envs, project):
    """Without -y pyinfra plans every environment first: production's refusal (staging has not run)
    fails production alone; staging is planned, shown, and converges after the prompt (Enter)."""
    import pty

    from tests.support import PYINFRA, ROOT

    env = envs("staging", "production", promote={"production": "staging"})
    untouched = catalog_and_data(env.dbs["production"])
    extra = {"ENVIRONMENTS_DIR": str(env.folder), "PLANS_DIR": str(env.plans), "REPORT_DIR": str(env.reports)}
    dry = subprocess.run([PYINFRA, "--dry", "inventory.py", "deploy.py"], cwd=ROOT, env=project.env(**extra),
                         check=False,
                         capture_output=True, text=True, timeout=300)
    assert dry.returncode == 1 and "Traceback" not in dry.stderr
    assert "summary of environment staging:" in dry.stderr and "summary of environment production:" in dry.stderr
    leader, follower = pty.openpty()
    try:
        os.write(leader, b"\n")
        done = subprocess.run([PYINFRA, "inventory.py", "deploy.py"], cwd=ROOT, env=project.env(**extra),
                              stdin=follower, capture_output=True, text=True, timeout=300, check=False)
    finally:
        os.close(leader)
        os.close(follower)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output
    staging = summary_rows("summary:" + output.split("summary of environment staging:", 1)[1])
    assert staging["Migrations applied"][0] == "changed", output[-3000:]
    production = summary_rows("summary:" + output.split("summary of environment production:", 1)[1])
    assert production["Promotion allowed"][0] == "failed"
    assert catalog_and_data(env.dbs["production"]) == untouched
    assert env.deploy("--limit", "production").code == 0  # the next run promotes what staging verified


def test_an_interrupt_stops_every_environment_each_with_its_summary(envs, project):
    """Ctrl-C during a parallel run: each environment's running migration is cancelled (its
    transaction rolled back by the server), each summary says where it was, exit status 130."""
    import signal

    project.write_migration("950_slow.sql", "SELECT pg_sleep(30);\n")
    env = envs("staging", "qa")
    started = project.start(ENVIRONMENTS_DIR=str(env.folder), PLANS_DIR=str(env.plans), REPORT_DIR=str(env.reports))
    sleeping = ("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid() "
                "AND datname = current_database()")  # pg_stat_activity is the whole cluster's: this database's own
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and not all(query(db, sleeping)[0][0] for db in env.dbs.values()):
        time.sleep(0.3)
    started.send_signal(signal.SIGINT)
    _, err = started.communicate(timeout=60)
    assert started.returncode == 130, err[-3000:]
    for name, db in env.dbs.items():
        assert f"pgconverge: environment {name}: interrupted by SIGINT while Migrations applied" in err
        assert f"summary of environment {name}:" in err
        assert query(db, "SELECT max(version) FROM schema_migrations")[0][0] == 4  # 950 rolled back
    time.sleep(1)
    assert not any(query(db, sleeping)[0][0] for db in env.dbs.values())


def test_a_limit_naming_no_environment_is_refused_and_a_broken_other_one_is_a_note(envs, project):
    env = envs("good", "other")
    typo = env.deploy("--limit", "nosuch")
    assert typo.code == 2, typo.output[-2000:]
    assert "--limit nosuch: no environment of that name: use one of good, other" in typo.output
    (env.folder / "bad.env").write_text("DATA_MIGRATION=cpy\n")
    good = env.deploy("--limit", "good")
    assert good.code == 0, good.output[-3000:]
    assert "environment bad (bad.env) is not valid and was left out" in good.output


def test_two_environments_on_one_database_are_refused(envs, project):
    env = envs("aa", "bb")
    (env.folder / "bb.env").write_text((env.folder / "aa.env").read_text())
    shared = env.deploy()
    assert shared.code == 2, shared.output[-2000:]
    assert "environments aa and bb point at the same database" in shared.output
