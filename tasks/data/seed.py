"""
Seed files: ``SEED_DIR/<table>.csv`` with a header row of column names.

:func:`read_seed_files` validates the files (pure, before anything connects).
:func:`seed_script` builds one psql script that, in a single transaction, loads every file into
a temporary table with COPY (so PostgreSQL converts the values), then inserts the rows missing
by primary key, tables in foreign-key order, and advances the sequences behind explicit ids.
``mode="count"`` only counts what is missing and rolls back: the fact and the dry run use it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from tasks.core.errors import ActionableError
from tasks.core.lock import LOCK_KEY

TABLE_NAME = re.compile(r"(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SeedFileError(ActionableError, ValueError):
    """A seed file cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class SeedFile:
    filename: str
    table: str  # schema-qualified, e.g. public.users
    columns: tuple[str, ...]
    text: str  # the CSV text, LF line endings, header included
    rows: int


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_seed_file(path: Path) -> SeedFile:
    stem = path.name[: -len(".csv")]
    if not TABLE_NAME.fullmatch(stem):
        raise SeedFileError(f"seed file {path.name}: the name must be <table>.csv or <schema>.<table>.csv in lower case")
    table = stem if "." in stem else f"public.{stem}"
    try:
        text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    except OSError as exc:
        raise SeedFileError(f"seed file {path.name} cannot be read ({exc.strerror}): fix its permissions") from None
    except UnicodeDecodeError:
        raise SeedFileError(f"seed file {path.name} is not UTF-8 text: save it as UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise SeedFileError(f"seed file {path.name} is empty: add a header row of column names") from None
    except csv.Error as exc:
        raise SeedFileError(f"seed file {path.name} line 1: {exc}") from None
    columns = tuple(h.strip() for h in header)
    for column in columns:
        if not IDENT.fullmatch(column):
            raise SeedFileError(f"seed file {path.name} line 1: {column!r} is not a column name: fix the header row")
    if len(set(columns)) != len(columns):
        raise SeedFileError(f"seed file {path.name} line 1: a column is named twice: fix the header row")
    rows = 0
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != len(columns):
                raise SeedFileError(
                    f"seed file {path.name} line {reader.line_num}: {len(row)} fields, the header has {len(columns)}: "
                    "fix the row"
                )
            rows += 1
    except csv.Error as exc:
        raise SeedFileError(f"seed file {path.name} line {reader.line_num}: {exc}") from None
    if not text.endswith("\n"):
        text += "\n"
    return SeedFile(path.name, table, columns, text, rows)


def owned_by_copy(files: list[SeedFile], source_rows: dict[str, int]) -> tuple[list[SeedFile], list[SeedFile]]:
    """With DATA_MIGRATION=copy the source is the truth for tables that have rows there: their seed
    files are left out. Returns (files to seed, files left to the copy)."""
    left = [f for f in files if source_rows.get(f.table)]
    return [f for f in files if f not in left], left


def read_seed_files(folder: Path) -> list[SeedFile]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [read_seed_file(p) for p in sorted(folder.glob("*.csv"))]
    seen: dict[str, str] = {}
    for seed in files:
        if seed.table in seen:
            raise SeedFileError(f"seed files {seen[seed.table]} and {seed.filename} both fill {seed.table}: merge them")
        seen[seed.table] = seed.filename
    return files


# The server-side part: ordering by foreign keys, primary-key lookup, insert or count, sequences.
_APPLY = r"""
DO $pgconverge$
DECLARE
    remaining int[] := ARRAY(SELECT position FROM pg_temp._seed_files ORDER BY position);
    ready int[];
    f record;
    pk text[];
    cond text;
    missing bigint;
    differing bigint;
    keys_sample text;
    rest text[];
    from_missing text;
    from_differing text;
    col text;
    seq text;
BEGIN
    WHILE cardinality(remaining) > 0 LOOP
        ready := ARRAY(
            SELECT s.position FROM pg_temp._seed_files s
             WHERE s.position = ANY(remaining)
               AND NOT EXISTS (
                   SELECT 1 FROM pg_constraint c JOIN pg_temp._seed_files o ON o.target = c.confrelid
                    WHERE c.contype = 'f' AND c.conrelid = s.target AND c.confrelid <> s.target
                      AND o.position = ANY(remaining))
             ORDER BY s.position);
        IF cardinality(ready) = 0 THEN
            RAISE EXCEPTION 'pgconverge: seed tables % refer to each other in a cycle: break the cycle or seed one of them by migration',
                (SELECT string_agg(file, ', ' ORDER BY position) FROM pg_temp._seed_files WHERE position = ANY(remaining));
        END IF;
        FOR f IN SELECT * FROM pg_temp._seed_files WHERE position = ANY(ready) ORDER BY position LOOP
            pk := ARRAY(SELECT a.attname::text FROM pg_index i
                          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                         WHERE i.indrelid = f.target AND i.indisprimary
                         ORDER BY array_position(i.indkey::int2[], a.attnum));
            IF cardinality(pk) = 0 THEN
                RAISE EXCEPTION 'pgconverge: seed file %: table % has no primary key: add one or remove the file', f.file, f.target;
            END IF;
            IF NOT pk <@ f.columns THEN
                RAISE EXCEPTION 'pgconverge: seed file %: the header lacks primary-key column(s) %: add them', f.file,
                    array_to_string(ARRAY(SELECT unnest(pk) EXCEPT SELECT unnest(f.columns)), ', ');
            END IF;
            cond := (SELECT string_agg(format('t.%1$I IS NOT DISTINCT FROM s.%1$I', k), ' AND ') FROM unnest(pk) k);
            rest := ARRAY(SELECT c FROM unnest(f.columns) c WHERE c <> ALL(pk));
            from_missing := format('FROM pg_temp.%I s WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s)', f.source, f.target, cond);
            from_differing := CASE WHEN f.upsert AND cardinality(rest) > 0 THEN
                format('FROM pg_temp.%I s JOIN %s t ON %s WHERE ROW(%s) IS DISTINCT FROM ROW(%s)', f.source, f.target, cond,
                       (SELECT string_agg(format('t.%I', c), ', ') FROM unnest(rest) c),
                       (SELECT string_agg(format('s.%I', c), ', ') FROM unnest(rest) c)) END;
            differing := 0;
            IF f.mode = 'count' THEN
                EXECUTE 'SELECT count(*) ' || from_missing INTO missing;
                IF from_differing IS NOT NULL THEN
                    EXECUTE 'SELECT count(*) ' || from_differing INTO differing;
                END IF;
                EXECUTE format('SELECT string_agg(k, '' '') FROM (SELECT ROW(%s)::text AS k %s LIMIT 10) x',
                               (SELECT string_agg(format('s.%I', k), ', ') FROM unnest(pk) k),
                               coalesce(from_differing || ' UNION ALL SELECT ROW(' ||
                                        (SELECT string_agg(format('s.%I', k), ', ') FROM unnest(pk) k) || ')::text ', '')
                               || from_missing) INTO keys_sample;
            ELSE
                IF from_differing IS NOT NULL THEN
                    EXECUTE format('UPDATE %s t SET %s FROM pg_temp.%I s WHERE %s AND ROW(%s) IS DISTINCT FROM ROW(%s)',
                                   f.target, (SELECT string_agg(format('%1$I = s.%1$I', c), ', ') FROM unnest(rest) c),
                                   f.source, cond,
                                   (SELECT string_agg(format('t.%I', c), ', ') FROM unnest(rest) c),
                                   (SELECT string_agg(format('s.%I', c), ', ') FROM unnest(rest) c));
                    GET DIAGNOSTICS differing = ROW_COUNT;
                END IF;
                EXECUTE format('INSERT INTO %s (%s) SELECT %s ' || from_missing,
                               f.target, (SELECT string_agg(format('%I', c), ', ') FROM unnest(f.columns) c),
                               (SELECT string_agg(format('s.%I', c), ', ') FROM unnest(f.columns) c));
                GET DIAGNOSTICS missing = ROW_COUNT;
                IF missing > 0 THEN
                    FOREACH col IN ARRAY f.columns LOOP
                        seq := pg_get_serial_sequence(f.target::text, col);
                        IF seq IS NOT NULL THEN
                            EXECUTE format('SELECT setval(%L, greatest((SELECT max(%I) FROM %s), '
                                           '(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM %s), 1))',
                                           seq, col, f.target, seq);
                        END IF;
                    END LOOP;
                END IF;
            END IF;
            UPDATE pg_temp._seed_files SET result = missing, updates = differing, sample = keys_sample WHERE position = f.position;
        END LOOP;
        remaining := ARRAY(SELECT unnest(remaining) EXCEPT SELECT unnest(ready));
    END LOOP;
END
$pgconverge$;
"""


FILE_MARK = "-- pgconverge seed file: "


def seed_script(files: list[SeedFile], mode: str, upsert: bool = False) -> str:
    """
    The psql script (fed on stdin). It prints ``seed<TAB>file<TAB>table<TAB>missing<TAB>updates<TAB>sample``
    lines (or one ``absent<TAB>tables`` line in count mode when a table does not exist yet).
    """
    assert mode in ("count", "insert")
    out = [
        "\\set ON_ERROR_STOP 1",
        "\\pset format unaligned",
        "\\pset tuples_only on",
        "\\pset fieldsep '\\t'",
        "SET client_min_messages = warning;",
        "BEGIN;",
    ]
    if mode == "insert":
        # One deploy at a time (the migrations' lock key): a concurrent one then finds the rows present.
        out += ["SET LOCAL lock_timeout = '60s';", f"SELECT pg_advisory_xact_lock({LOCK_KEY}) \\gset"]
    if mode == "count":
        # Tables a pending migration has not created yet: report them and stop (nothing to compare).
        # COPY data cannot sit in a skipped \if branch (psql reads it as commands): quit early instead.
        names = ", ".join(_quote_literal(f.table) for f in files)
        out += [
            f"SELECT coalesce(string_agg(t, ', '), '') AS missing_tables FROM unnest(ARRAY[{names}]::text[]) t "
            "WHERE to_regclass(t) IS NULL \\gset",
            "SELECT :'missing_tables' <> '' AS has_missing_tables \\gset",
            "\\if :has_missing_tables",
            "SELECT 'absent', :'missing_tables';",
            "\\q",
            "\\endif",
        ]
    out.append(
        "CREATE TEMP TABLE _seed_files (position int, target regclass, source text, file text, columns text[], "
        "mode text, upsert boolean, result bigint, updates bigint, sample text) ON COMMIT DROP;"
    )
    for position, seed in enumerate(files, 1):
        source = f"_seed_{position}"
        out.append(f"{FILE_MARK}{seed.filename}")
        columns = ", ".join(_quote_ident(c) for c in seed.columns)
        schema, _, table = seed.table.partition(".")
        target = f"{_quote_ident(schema)}.{_quote_ident(table)}"
        out.append(f"CREATE TEMP TABLE {source} ON COMMIT DROP AS SELECT {columns} FROM {target} WITH NO DATA;")
        out.append(f"COPY {source} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true);")
        out.append(seed.text.rstrip("\n"))
        out.append("\\.")
        array = ", ".join(_quote_literal(c) for c in seed.columns)
        out.append(
            f"INSERT INTO _seed_files VALUES ({position}, {_quote_literal(target)}::regclass, {_quote_literal(source)}, "
            f"{_quote_literal(seed.filename)}, ARRAY[{array}]::text[], {_quote_literal(mode)}, {str(upsert).lower()}, "
            "0, 0, NULL);"
        )
    out.append(f"{FILE_MARK}(all files)")
    out.append(_APPLY.strip())
    out.append("SELECT 'seed', file, target::text, result, updates, coalesce(sample, '') FROM _seed_files ORDER BY position;")
    out.append("COMMIT;" if mode == "insert" else "ROLLBACK;")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class SeedCount:
    table: str
    missing: int
    updates: int
    sample: str  # up to ten primary keys, e.g. "(1) (2)"


def parse_seed_output(lines: list[str]) -> dict:
    """``{"absent": [tables], "tables": {filename: SeedCount}}`` from the script's output."""
    result: dict = {"absent": [], "tables": {}}
    for line in lines:
        parts = line.split("\t")
        if parts[0] == "absent" and len(parts) == 2:
            result["absent"] = [t.strip() for t in parts[1].split(",") if t.strip()]
        elif parts[0] == "seed" and len(parts) == 6:
            result["tables"][parts[1]] = SeedCount(parts[2], int(parts[3]), int(parts[4]), parts[5])
    return result


def explain(lines: list[str], files: list[SeedFile], script: str) -> str:
    """One line naming the seed file (and CSV line) behind psql's error output."""
    text = "\n".join(lines)
    error = next((l.split("ERROR:", 1)[1].strip() for l in lines if "ERROR:" in l), None)
    error = error or next((l.strip() for l in lines if l.strip()), "psql failed")
    error = error.removeprefix("pgconverge: ")
    copy = re.search(r"COPY _seed_(\d+), line (\d+)(?:, column (\w+))?", text)
    if copy and 0 < int(copy[1]) <= len(files):
        column = f", column {copy[3]}" if copy[3] else ""
        return f"seed file {files[int(copy[1]) - 1].filename} line {copy[2]}{column}: {error}: fix the file; nothing was inserted"
    where = re.search(r"psql:<stdin>:(\d+):", text)
    if where and not error.startswith("seed"):
        marks = [l[len(FILE_MARK):] for l in script.splitlines()[: int(where[1])] if l.startswith(FILE_MARK)]
        if marks and marks[-1] != "(all files)":
            return f"seed file {marks[-1]}: {error}: fix the file; nothing was inserted"
    return f"{error}; nothing was inserted"
