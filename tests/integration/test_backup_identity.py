"""
Which database a backup is of is what the server says, not how a URL spells it (issue 29 class 2,
issue 31 item 2), through the real pyinfra CLI against the sandbox's clusters:

* the backup the copy takes before ``COPY_CONFLICT=replace`` is a backup of the target like any other:
  listed by restore.py (labelled as taken before a replace) and restorable;
* ``localhost`` and ``127.0.0.1`` for the same target reach the same backups;
* a source dump whose manifest was edited to name the target (database, identity, label) is refused:
  the dump itself (``pg_restore --list``'s header) says which database it is of.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.copy_support import fingerprints, same_schema
from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster


def test_the_backup_taken_before_a_replace_is_listed_and_restores(project, source_db):
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    same_schema(project, source_db, "CREATE TABLE parent (id int PRIMARY KEY, v text);")
    query(source_db, "INSERT INTO parent VALUES (1, 'a'), (2, 'b')", which="source")
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE parent SET v = 'changed' WHERE id = 2")
    changed = fingerprints(project.target_db, "target")
    folder = project.tmp / "backups" / "target"
    before = set(folder.glob("*.dump"))
    run = project.deploy(COPY_CONFLICT="replace")
    assert run.code == 0, run.output[-2500:]
    taken = [d for d in set(folder.glob("*.dump")) - before
             if json.loads(d.with_suffix(".json").read_text()).get("taken")]
    assert len(taken) == 1, run.output[-2500:]
    listed = project.restore()
    assert listed.code == 0, listed.output[-2500:]
    assert f"{taken[0].name}" in listed.output and "taken before a COPY_CONFLICT=replace" in listed.output
    restored = project.restore(f"backup={taken[0].name}", f"confirm={project.target_db}")
    assert restored.code == 0, restored.output[-2500:]
    assert fingerprints(project.target_db, "target") == changed


def test_the_host_spelling_of_the_target_does_not_matter(project, source_db):
    assert "127.0.0.1" in project.target_url
    assert project.deploy().code == 0
    dumps = sorted((project.tmp / "backups" / "target").glob("*.json"))  # the empty target's record
    assert dumps
    other = project.target_url.replace("127.0.0.1", "localhost")
    listed = project.restore(TARGET_DATABASE_URL=other)
    assert listed.code == 0, listed.output[-2500:]
    assert all(d.name in listed.output for d in dumps), listed.output[-2500:]
    restored = project.restore(f"backup={dumps[-1].name}", f"confirm={project.target_db}", TARGET_DATABASE_URL=other)
    assert restored.code == 0, restored.output[-2500:]
    assert query(project.target_db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] == 0


def test_a_source_dump_whose_manifest_was_edited_to_name_the_target_is_refused(project, source_db):
    assert project.deploy().code == 0
    folder = project.tmp / "backups"
    (target_record,) = sorted((folder / "target").glob("*.json"))[-1:]  # the empty target's record
    (source_dump,) = sorted((folder / "source").glob("*.dump"))[-1:]
    own = json.loads(target_record.read_text())
    forged = json.loads(source_dump.with_suffix(".json").read_text())
    forged.update(database=own["database"], identity=own["identity"], label=own["label"])
    planted = folder / "target" / f"planted-{source_dump.name}"
    shutil.copy(source_dump, planted)
    planted.with_suffix(".json").write_text(json.dumps(forged))
    before = catalog_and_data(project.target_db)
    refused = project.restore(f"backup={planted.name}", f"confirm={project.target_db}")
    assert refused.code != 0
    assert f"{planted.name} is not a backup of this target (the dump itself" in refused.output, refused.output[-2500:]
    assert catalog_and_data(project.target_db) == before
