"""
The risk part of the plan (:class:`tasks.plan.model.RiskPart`): the pending statements' locks and
rewrites (the parse tree, corrected by what the proof observed), sized by the target's tables,
squawk's findings, the rows a statement will fail on and the gate (docs/risk.md). Read-only: the
target's facts and the proof's cache in the state folder.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tasks.facts import ServerInfo, Unreadable, read
from tasks.migrations.files import Migration
from tasks.plan.model import Problem, RiskFinding, RiskPart
from tasks.risk import assess, checks, datacheck, gate, lint, meets, names, observe, render
from tasks.risk.classify import ACCEPT, Risk
from tasks.risk.facts import ConstraintDefinitions, FailingRows, SearchPathTables, TableCount, TableSizes
from tasks.risk.runstate import Before
from tasks.risk.size import TableSize, sizes_sql

DATA_FIX = "fix those rows (or the migration) and run again"
ROW_SECURITY = "row level security: the table's policies would hide rows from the check"


def data_problems(
    service: str, risks: list[Risk], states: dict, sizes: dict[str, TableSize], fail_on: str
) -> tuple[list[Problem], list[RiskFinding]]:
    """(problems, notes): the rows each checkable statement would fail on (a note instead where its file
    accepts the risk or ``RISK_FAIL_ON=never``); a check that cannot run is a note, not a refusal."""
    problems, notes, failed = [], [], set()
    for risk in risks:
        table = gate.size_of(risk, sizes)
        todo = meets.plan(risk, table, states.get((risk.file, risk.line), Before()), sizes)
        if todo.note:
            text = f"{risk.file}:{risk.line} data not checked ({todo.note})"
            notes.append(RiskFinding("note", risk.file, risk.line, text))
        if todo.check is None or table is None or (risk.file, risk.line) in failed:
            continue
        parent = sizes.get(todo.check.references) if todo.check.kind == "foreign key" else None
        query = datacheck.check_sql(todo.check, table, parent, relation=todo.relation)
        if query is None:
            continue
        try:
            count, example, what = read(FailingRows, service, query)
        except Unreadable as exc:
            why = ROW_SECURITY if "row-level security" in exc.error else exc.error
            text = f"{risk.file}:{risk.line} data not checked ({why})"
            notes.append(RiskFinding("note", risk.file, risk.line, text))
            continue
        if not count:
            continue
        failed.add((risk.file, risk.line))
        failure = datacheck.Failure(
            replace(risk, check=todo.check, table=table.regclass), count, example, not table.key, what
        )
        if risk.accepted or fail_on == "never":  # the user's word over the check's
            why = f"accepted: {ACCEPT}" if risk.accepted else "RISK_FAIL_ON=never"
            text = f"{risk.file}:{risk.line} {failure.summary} ({why})"
            notes.append(RiskFinding("note", risk.file, risk.line, text))
            continue
        problems.append(Problem("risk-data", f"{risk.file}:{risk.line} {table.regclass}", failure.message, DATA_FIX))
    return problems, notes


def unobserved_notes(pending: list[Migration], state_dir: Path) -> list[RiskFinding]:
    """A line for each file whose locks the proof did not observe: not yet proven (the plan before the proof:
    a rewrite inside DO, EXECUTE or a function shows after it, and the real run's gate uses what it saw),
    or a no-transaction file (its rewrites are observed, its locks are PostgreSQL's documented ones)."""
    found = []
    for migration in pending:
        why = assess.unobserved(migration, observe.load(state_dir, migration.checksum))
        if why == assess.NOT_PROVEN:
            text = (
                f"{migration.filename}: risk from the parse tree (not yet proven): what DO, EXECUTE or a function "
                "does shows once the proof has run; the run's gate uses what the proof observed"
            )
        elif why:
            text = f"{migration.filename}: {why} (each statement commits alone); its rewrites are observed"
        else:
            continue
        found.append(RiskFinding("note", migration.filename, 0, text))
    return found


def gate_problems(risks: list[Risk], sizes: dict[str, TableSize], table_mb: float, fail_on: str) -> list[Problem]:
    """A high risk not accepted, with ``RISK_FAIL_ON=high``: one problem each (the gate's message)."""
    found = []
    for risk in risks:
        size = gate.size_of(risk, sizes)
        table = size.regclass if size else risk.table  # as the target resolves the name: app.t, not t
        for message in gate.refusals([risk], sizes, table_mb, fail_on):
            found.append(Problem("risk-high", f"{risk.file}:{risk.line} {table}", message, gate.how_to_go_on(risk)))
    return found


def _no_tables(service: str) -> bool:
    try:
        return read(TableCount, service) == 0
    except Unreadable:
        return False  # measured table by table: the sizes' read says what is wrong


def on_a_fresh_target(pending: list[Migration], version: str) -> RiskPart:
    """A target with no table: every statement touches what the run itself makes, so nothing is locked,
    rewritten or checked that the application has; squawk's findings are kept, in one line."""
    findings = [
        RiskFinding(
            "note",
            "",
            0,
            f"the target has no tables yet: the {len(pending)} pending file(s) make every table they touch "
            "(no lock, size or row of the application's to measure)",
        )
    ]
    linted, note = lint.lint(pending, version)
    if linted:
        findings.append(RiskFinding("note", "", 0, render.folded_line(linted)))
        findings += [RiskFinding("lint", f.file, f.line, f.text, shown=False) for f in linted]
    if note:
        findings.append(RiskFinding("note", "", 0, note))
    return RiskPart(len(pending), tuple(findings))


def measure(service: str, pending: list[Migration], state_dir: str, table_mb: float, fail_on: str) -> RiskPart:
    """The risk of ``pending`` on the target ``service``."""
    try:
        version = str(read(ServerInfo, service)["version"])
    except Unreadable:
        version = "17"
    if _no_tables(service):
        return on_a_fresh_target(pending, version)
    try:  # where the files' unqualified names resolve on the target
        catalog = read(SearchPathTables, service, names.catalog_sql(assess.searched_schemas(pending)))
    except Unreadable:
        catalog = None  # each file's first schema: the sizes' read says what is wrong
    scopes = assess.name_scopes(pending, catalog)
    states = assess.run_states(pending, scopes)
    risks = assess.with_joined(assess.remade(assess.assess(pending, Path(state_dir), scopes), states), states)
    validating = [(r.table, r.check.name) for r in risks if r.check and r.check.kind == "validate"]
    if validating:  # VALIDATE CONSTRAINT of a constraint the target has: its definition, parsed as the file's
        try:
            definitions = read(ConstraintDefinitions, service, checks.definitions_sql(validating))
        except Unreadable:
            definitions = {}
        risks = assess.validated(risks, definitions)
    touched = [r.table for r in risks] + [r.check.references for r in risks if r.check and r.check.references]
    try:
        sizes: dict[str, TableSize] = read(TableSizes, service, sizes_sql(touched)) if touched else {}
    except Unreadable as exc:
        problem = Problem(
            "unreadable",
            "target",
            f"cannot read the sizes of the tables the migrations touch: {exc.error}",
            "check that the database is reachable, then run again",
        )
        return RiskPart(len(pending), problems=(problem,))
    never = fail_on == "never"  # a high risk is only reported: the finding says so
    findings = [
        RiskFinding(
            "lock" if size else "made",
            risk.file,
            risk.line,
            text,
            high,
            risk.accepted,
            reported_only=never and high and not risk.accepted,
            table=size.regclass if size else "",
            writes_per_s=size.writes_per_s if size else 0.0,
        )
        for risk, text, high in render.risk_lines(risks, sizes, table_mb)
        for size in [gate.size_of(risk, sizes)]
    ]
    linted, note = lint.lint(pending, version)
    shown, folded = render.on_the_target(linted, risks, sizes, pending)
    findings += [RiskFinding("lint", f.file, f.line, f.text) for f in shown]
    if folded:
        findings.append(RiskFinding("note", "", 0, render.folded_line(folded)))
        findings += [RiskFinding("lint", f.file, f.line, f.text, shown=False) for f in folded]
    if note:
        findings.append(RiskFinding("note", "", 0, note))
    findings += unobserved_notes(pending, Path(state_dir))
    failing, notes = data_problems(service, risks, states, sizes, fail_on)
    problems = failing + gate_problems(risks, sizes, table_mb, fail_on)
    return RiskPart(len(pending), tuple(findings + notes), tuple(problems))
