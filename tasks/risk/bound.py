"""
ATTACH PARTITION's bound as a predicate over the partition's rows (pure, pglast): the rows outside it
make the statement fail ("partition constraint … is violated by some row"). The partition key is the
target's (``pg_get_partkeydef`` of the parent), the bound the statement's own. Range bounds compare
the key as a row (MINVALUE/MAXVALUE end the comparison), a list bound is IN (NULL allowed when
listed), a hash bound is PostgreSQL's own ``satisfies_hash_partition``. A default partition's bound
is the other partitions' complement: not built (None).
"""

from __future__ import annotations

from psycopg import sql


def bound_of(bound: str):
    """The PartitionBoundSpec of ``FOR VALUES …`` (as :func:`bound_text` writes it)."""
    from pglast import parse_sql

    return parse_sql(f"ALTER TABLE x ATTACH PARTITION y {bound}")[0].stmt.cmds[0].def_.bound


def bound_text(text: str, index: int) -> str:
    """The bound of the ``index``-th subcommand of the ALTER TABLE ``text``, deparsed by pglast."""
    from pglast import parse_sql
    from pglast.stream import RawStream

    return RawStream()(parse_sql(text)[0].stmt.cmds[index].def_.bound)


def key_columns(partkey: str) -> tuple[str, list[str]]:
    """(strategy, each key as SQL) of ``pg_get_partkeydef``'s ``RANGE (id, lower(name))``."""
    from pglast import parse_sql
    from pglast.stream import RawStream

    spec = parse_sql(f"CREATE TABLE x () PARTITION BY {partkey}")[0].stmt.partspec
    keys = []
    for param in spec.partParams:
        key = sql.Identifier(param.name).as_string(None) if param.name else "(" + RawStream()(param.expr) + ")"
        if param.collation:
            key += " COLLATE " + ".".join(sql.Identifier(p.sval).as_string(None) for p in param.collation)
        keys.append(key)
    return partkey.split("(", 1)[0].strip().lower(), keys


def _special(datum) -> str:
    """'minvalue', 'maxvalue' or '' for a range datum."""
    fields = getattr(datum, "fields", None)
    name = fields[0].sval if fields and hasattr(fields[0], "sval") else ""
    return name if name in ("minvalue", "maxvalue") else ""


def _side(keys: list[str], datums, lower: bool) -> str:
    """One side of a range bound: the rows at or above the lower one, or below the upper one."""
    from pglast.stream import RawStream

    values, cut = [], ""
    for datum in datums:
        if cut := _special(datum):
            break
        values.append(RawStream()(datum))
    if not values:  # MINVALUE below, MAXVALUE above: every row; the other way round: none
        return "true" if (cut == "minvalue") == lower else "false"
    row, bound = f"ROW({', '.join(keys[: len(values)])})", f"ROW({', '.join(values)})"
    if lower:
        operator = ">" if cut == "maxvalue" else ">="
    else:
        operator = "<=" if cut == "maxvalue" else "<"
    return f"{row} {operator} {bound}"


def outside(partkey: str, parent: str, bound: str) -> str | None:
    """A predicate true for a row of the partition outside ``bound``; None for a default partition."""
    from pglast.stream import RawStream

    spec = bound_of(bound)
    if spec.is_default:
        return None
    strategy, keys = key_columns(partkey)
    if strategy == "hash":
        return (
            f"NOT satisfies_hash_partition({sql.Literal(parent).as_string(None)}::regclass::oid, "
            f"{spec.modulus}, {spec.remainder}, {', '.join(keys)})"
        )
    if strategy == "list":
        values = [RawStream()(d) for d in spec.listdatums or ()]
        listed = [v for v in values if v.upper() != "NULL"]
        inside = f"({keys[0]}) IN ({', '.join(listed)})" if listed else "false"
        nulls = f" OR ({keys[0]}) IS NULL" if len(listed) < len(values) else ""
        return f"NOT (coalesce({inside}, false){nulls})"
    nulls = " OR ".join(f"({k}) IS NULL" for k in keys)
    inside = f"{_side(keys, spec.lowerdatums, True)} AND {_side(keys, spec.upperdatums, False)}"
    return f"{nulls} OR NOT ({inside})"
