"""
Seed files: ``SEED_DIR/<table>.csv`` with a header row of column names.

:func:`read_seed_files` validates the files (pure, before anything connects). The rows travel as
data: :mod:`tasks.data.seed_load` streams each file's bytes with the driver's ``COPY ... FROM
STDIN`` (CSV) into a temporary table, then :data:`APPLY_SQL` inserts the rows missing by primary
key (tables in foreign-key order) and advances the sequences behind explicit ids. No line of a
seed file is ever part of a script. A value round-trips exactly as PostgreSQL's CSV reads it:
an unquoted empty field is NULL, ``""`` is the empty string; a leading BOM is dropped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from tasks.core.errors import ActionableError
from tasks.core.private import NotRegular, read_regular
from tasks.core.shown import shown

TABLE_NAME = re.compile(r"(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SeedFileError(ActionableError, ValueError):
    """A seed file cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class SeedFile:
    filename: str
    table: str  # schema-qualified, e.g. public.users
    columns: tuple[str, ...]
    text: str  # the CSV text as written (a leading BOM dropped), header included
    rows: int


def unterminated_quote(lines: list[str], first: int, last: int) -> int | None:
    """The line (1-based) where a quote opens that lines ``first``..``last`` never close, or None."""
    count, opened = 0, None
    for number in range(first, last + 1):
        quotes = lines[number - 1].count('"')
        if count % 2 == 0 and quotes % 2:
            opened = number
        count += quotes
    return opened if count % 2 else None


def _field_count_error(name: str, lines: list[str], first: int, last: int, fields: int, columns: int) -> SeedFileError:
    opened = unterminated_quote(lines, first, last)
    if opened:
        return SeedFileError(
            f'seed file {name} line {opened}: a quote (") opens a field and is never closed: close it or remove it'
        )
    if last > first:
        return SeedFileError(
            f"seed file {name} line {first}: a quoted field runs on to line {last} ({fields} fields, "
            f"the header has {columns}): close its quote on line {first}"
        )
    return SeedFileError(f"seed file {name} line {first}: {fields} fields, the header has {columns}: fix the row")


def read_seed_file(path: Path) -> SeedFile:
    stem = path.name[: -len(".csv")]
    if not TABLE_NAME.fullmatch(stem):
        raise SeedFileError(
            f"seed file {shown(path.name)}: the name must be <table>.csv or <schema>.<table>.csv in lower case"
        )
    table = stem if "." in stem else f"public.{stem}"
    try:
        text = read_regular(path, follow=True).decode("utf-8-sig")
    except NotRegular as exc:
        raise SeedFileError(f"seed file {path.name}: {exc}") from None
    except OSError as exc:
        raise SeedFileError(f"seed file {path.name} cannot be read ({exc.strerror}): fix its permissions") from None
    except UnicodeDecodeError:
        raise SeedFileError(f"seed file {path.name} is not UTF-8 text: save it as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
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
    rows, done = 0, reader.line_num
    lines = text.split("\n")
    try:
        for row in reader:
            first, done = done + 1, reader.line_num
            if not row:
                continue
            if row == ["\\."] and lines[reader.line_num - 1].rstrip("\r") == "\\.":
                raise SeedFileError(
                    f"seed file {path.name} line {reader.line_num}: an unquoted \\. line ends CSV data in PostgreSQL's "
                    'COPY (the rows after it would be lost): write the value quoted, "\\.", or remove the line'
                )
            if len(row) != len(columns):
                raise _field_count_error(path.name, lines, first, reader.line_num, len(row), len(columns))
            rows += 1
    except csv.Error as exc:
        raise SeedFileError(f"seed file {path.name} line {reader.line_num}: {exc}") from None
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
# Reads pg_temp._seed_files (one row per file, filled by tasks.data.seed_load) and the _seed_N tables.
APPLY_SQL = r"""
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
    u record;
    clash text;
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
          BEGIN  -- any error names the seed file (a subtransaction per file)
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
            -- '=' (primary-key columns are never NULL): a hash or index join on the key, not a scan per row
            cond := (SELECT string_agg(format('t.%1$I = s.%1$I', k), ' AND ') FROM unnest(pk) k);
            EXECUTE format('ANALYZE pg_temp.%I', f.source);
            rest := ARRAY(SELECT c FROM unnest(f.columns) c WHERE c <> ALL(pk));
            from_missing := format('FROM pg_temp.%I s WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s)', f.source, f.target, cond);
            from_differing := CASE WHEN f.upsert AND cardinality(rest) > 0 THEN
                format('FROM pg_temp.%I s JOIN %s t ON %s WHERE ROW(%s) IS DISTINCT FROM ROW(%s)', f.source, f.target, cond,
                       (SELECT string_agg(format('t.%I', c), ', ') FROM unnest(rest) c),
                       (SELECT string_agg(format('s.%I', c), ', ') FROM unnest(rest) c)) END;
            differing := 0;
            -- a missing row whose other unique key a row of the target already holds (the application's):
            -- named in both modes, so the dry run says the run will fail
            FOR u IN SELECT i.indexrelid::regclass::text AS name,
                            ARRAY(SELECT a.attname::text FROM pg_attribute a
                                   WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) AS cols
                       FROM pg_index i
                      WHERE i.indrelid = f.target AND i.indisunique AND NOT i.indisprimary
                        AND i.indexprs IS NULL AND i.indpred IS NULL LOOP
                CONTINUE WHEN NOT u.cols <@ f.columns;
                EXECUTE format('SELECT ROW(%s)::text %s AND EXISTS (SELECT 1 FROM %s u WHERE %s) LIMIT 1',
                               (SELECT string_agg(format('s.%I', c), ', ') FROM unnest(u.cols) c), from_missing, f.target,
                               (SELECT string_agg(format('u.%1$I = s.%1$I', c), ' AND ') FROM unnest(u.cols) c))
                    INTO clash;
                IF clash IS NOT NULL THEN
                    RAISE EXCEPTION 'pgconverge: seed file %: the row with (%) = % clashes with a row already in % '
                        '(unique index %): change or remove that seed row, or the target''s row, then run again',
                        f.file, array_to_string(u.cols, ', '), clash, f.target, u.name;
                END IF;
            END LOOP;
            IF f.mode = 'count' THEN
                EXECUTE 'SELECT count(*) ' || from_missing INTO missing;
                IF from_differing IS NOT NULL THEN
                    EXECUTE 'SELECT count(*) ' || from_differing INTO differing;
                END IF;
                -- the first ten keys in key order (a hash join returns rows in no order)
                EXECUTE format('SELECT string_agg(k, '' '' ORDER BY o) FROM (SELECT ROW(%1$s)::text AS k, ROW(%1$s) AS o '
                               '%2$s ORDER BY 2 LIMIT 10) x',
                               (SELECT string_agg(format('s.%I', k), ', ') FROM unnest(pk) k),
                               coalesce(from_differing || ' UNION ALL SELECT ROW(' ||
                                        (SELECT string_agg(format('s.%I', k), ', ') FROM unnest(pk) k) || ')::text, ROW('
                                        || (SELECT string_agg(format('s.%I', k), ', ') FROM unnest(pk) k) || ') ', '')
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
                -- OVERRIDING SYSTEM VALUE: a GENERATED ALWAYS identity key takes the file's value
                EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s ' || from_missing,
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
          EXCEPTION WHEN OTHERS THEN
            IF SQLERRM LIKE 'pgconverge: %' THEN
                RAISE;
            END IF;
            RAISE EXCEPTION 'pgconverge: seed file %: %', f.file, SQLERRM USING ERRCODE = SQLSTATE;
          END;
        END LOOP;
        remaining := ARRAY(SELECT unnest(remaining) EXCEPT SELECT unnest(ready));
    END LOOP;
END
$pgconverge$;"""  # noqa: E501 - the PL/pgSQL block's messages and queries kept whole


@dataclass(frozen=True)
class SeedCount:
    table: str
    missing: int
    updates: int
    sample: str  # up to ten primary keys, e.g. "(1) (2)"
