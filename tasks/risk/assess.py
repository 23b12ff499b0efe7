"""
The risks of the pending files: what the parse tree says each statement does (:mod:`classify`),
corrected by what the proof saw it do (:mod:`observe`, where kept): the observed lock level and
rewrite win, and a table the proof saw locked that the parse tree does not name is added. Pure
apart from reading the proof's cache.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tasks.risk import names, observe
from tasks.risk.checks import DataCheck, definition_check
from tasks.risk.classify import PARTITION, Risk, accepted, bare, file_risks, own_scopes, parsed
from tasks.risk.runstate import Before, walk

NOT_PROVEN = "not yet proven"
NO_TRANSACTION = "no-transaction file: its locks are not observed"


def unobserved(migration, seen: list[observe.Seen] | None) -> str:
    """Why the file's locks are the parse tree's: not yet proven, or a no-transaction file (each statement
    commits alone: the proof sees its rewrites, not its locks); '' when the proof observed them."""
    if seen is None:
        return NOT_PROVEN
    return NO_TRANSACTION if migration.no_transaction else ""


def file_assessment(migration, seen: list[observe.Seen] | None, scopes: list | None = None) -> list[Risk]:
    why = unobserved(migration, seen)
    scopes = scopes if scopes is not None else own_scopes(migration)
    risks = [replace(risk, unobserved=why) for risk in file_risks(migration, scopes)]
    if not seen:
        return risks
    # where code set the search_path unseen: the proof, not the parse tree, knows the table (elsewhere the
    # parse tree does, and the proof's "$user" is its own role, not the target's)
    unknown = {statement.line for statement, scope in zip(parsed(migration), scopes, strict=True) if scope.unknown}
    observed = observe.effects(seen)
    merged: list[Risk] = []
    named = {(risk.line, bare(risk.table)) for risk in risks}
    for risk in risks:
        found = observed.get(risk.line, {}).get(bare(risk.table)) or observed.get(risk.line, {}).get(risk.table)
        if (
            not found
            and risk.line in unknown
            and (other := _resolved_by_the_proof(risk, observed.get(risk.line, {}), named))
        ):
            named.add((risk.line, bare(other)))  # the parse tree's name was wrong: the proof locked this one
            risk, found = replace(risk, table=other), observed[risk.line][other]
        lock, rewrite = found or (risk.lock, False)  # not seen rewritten: the proof says it was not
        merged.append(replace(risk, lock=lock, rewrite=rewrite))
    ok = accepted(migration.sql)
    attaching = {risk.line for risk in risks if risk.validation == PARTITION}
    reindexing = {s.line for s in parsed(migration) if s.kind == "ReindexStmt"}
    for line, tables in observed.items():
        for table, (lock, rewrite) in tables.items():
            if (line, bare(table)) not in named and (
                rewrite or lock in ("ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE ROW EXCLUSIVE", "SHARE")
            ):
                # a SHARE lock held on an existing table by a statement that names no index build (DO, EXECUTE,
                # a function): a non-concurrent index build or a scan that blocks the table's writes
                build = lock == "SHARE"
                # ATTACH PARTITION's ACCESS EXCLUSIVE on another table: the default partition, scanned too
                scan = PARTITION if line in attaching and lock == "ACCESS EXCLUSIVE" else ""
                merged.append(
                    Risk(
                        migration.filename,
                        line,
                        table,
                        lock,
                        rewrite,
                        build,
                        scan,
                        accepted=ok,
                        unobserved=why,
                        reindex=line in reindexing,
                    )
                )
    return sorted(merged, key=lambda r: r.line)


def _resolved_by_the_proof(risk: Risk, tables: dict[str, tuple[str, bool]], named: set) -> str:
    """The table the proof saw the statement lock in place of the one the parse tree names ('' : none): the
    statement did not lock the named one, and locked exactly one existing table no risk of the line names
    at least as strongly (a search_path changed by code the parse tree cannot follow)."""
    others = [
        table
        for table, (lock, _) in tables.items()
        if (risk.line, bare(table)) not in named and observe.stronger_or_equal(lock, risk.lock)
    ]
    return others[0] if len(others) == 1 else ""


def assess(pending: list, state_dir: Path, scopes: dict | None = None) -> list[Risk]:
    """Every pending file's risks, in order; a VALIDATE CONSTRAINT of a constraint an earlier pending
    statement adds NOT VALID gets that constraint's check (the others are the target's: :func:`validated`).
    ``scopes``: where the statements' unqualified names go (:func:`tasks.risk.names.scopes`)."""
    risks = [
        risk
        for migration in pending
        for risk in file_assessment(
            migration,
            observe.load(Path(state_dir), migration.checksum),
            scopes.get(migration.filename) if scopes else None,
        )
    ]
    added: dict[tuple[str, str], DataCheck] = {}
    found = []
    for risk in risks:
        if risk.deferred is not None:
            added[(bare(risk.table), risk.deferred.name)] = risk.deferred
        if risk.check is not None and risk.check.kind == "validate":
            check = added.get((bare(risk.table), risk.check.name))
            risk = replace(risk, check=check or risk.check)
        found.append(risk)
    return found


def validated(risks: list[Risk], definitions: dict[tuple[str, str], str]) -> list[Risk]:
    """Each VALIDATE CONSTRAINT still unresolved, given its definition on the target
    (``pg_get_constraintdef`` by (table, name)); one not found there cannot be counted (said so)."""
    found = []
    for risk in risks:
        check = risk.check
        if check is not None and check.kind == "validate":
            definition = definitions.get((risk.table, check.name))
            resolved = definition_check(risk.table, check.name, definition) if definition else None
            why = f"constraint {check.name} not found on the target's table {risk.table}"
            risk = replace(risk, check=resolved or replace(check, inexact=why))
        found.append(risk)
    return found


def statements_in_order(pending: list) -> list[tuple[str, int, str, dict, str]]:
    return [(m.filename, s.line, s.kind, s.node, s.text) for m in pending for s in parsed(m)]


def name_scopes(pending: list, catalog: names.Catalog | None) -> dict[str, list[names.Scope]]:
    """Where each pending statement's unqualified names go, on the target's ``catalog``."""
    statements = [(m.filename, s.kind, s.node) for m in pending for s in parsed(m)]
    return names.scopes(statements, catalog, frozenset(m.filename for m in pending if m.no_transaction))


def searched_schemas(pending: list) -> set[str]:
    """The schemas the pending files' search_paths name (the target's tables in them are read)."""
    return names.named_schemas((s.kind, s.node) for m in pending for s in parsed(m))


def run_states(pending: list, scopes: dict | None = None) -> dict[tuple[str, int], Before]:
    """The run's own changes before each pending statement (:mod:`tasks.risk.runstate`)."""
    return walk(statements_in_order(pending), scopes)


def with_joined(risks: list[Risk], states: dict[tuple[str, int], Before]) -> list[Risk]:
    """The risks, with a NOT NULL, CHECK or rewrite of a parent repeated on each child an earlier pending
    statement joined to it (INHERIT, ATTACH PARTITION): its rows are the target's, outside the parent's
    size on the target (a child the proof saw locked keeps what the proof saw, and takes the check)."""
    extra: dict[int, list[Risk]] = {}
    found = list(risks)
    for index, risk in enumerate(risks):
        before = states.get((risk.file, risk.line), Before())
        spreads = risk.rewrite or (risk.check is not None and risk.check.kind in ("notnull", "check", "new notnull"))
        for child in sorted(before.joined.get(bare(risk.table), set())) if spreads and not risk.remade else ():
            copy = replace(risk, table=child, remade=bare(child) in before.remade)
            seen = [
                i for i, r in enumerate(risks) if (r.file, r.line, bare(r.table)) == (risk.file, risk.line, bare(child))
            ]
            if seen:
                found[seen[0]] = replace(copy, lock=risks[seen[0]].lock, rewrite=risks[seen[0]].rewrite or risk.rewrite)
            else:
                extra.setdefault(index, []).append(copy)
    return [one for index, risk in enumerate(found) for one in [risk, *extra.get(index, [])]]


def remade(risks: list[Risk], states: dict[tuple[str, int], Before]) -> list[Risk]:
    """The risks, each on a table an earlier pending statement dropped or created marked
    ``remade``: its rows are not the target's (no data check, no gate)."""
    return [
        replace(risk, remade=bare(risk.table) in states.get((risk.file, risk.line), Before()).remade) for risk in risks
    ]
