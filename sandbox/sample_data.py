"""
Sample data for the source database of the chat app "whynot" (users, rooms, room_participants,
messages; schema in ``files/migrations``).

Everything is generated server-side with ``INSERT … SELECT`` over ``generate_series``; the
random-looking choices come from ``hashint8extended(row number, seed)``, so the same seed on
the same starting database gives the same rows (no ``random()``, no wall clock). Message
bodies come from a pool of 4,096 texts (20–400 characters, mostly short, a few with accents
and emoji) built in Python from the seed and joined in by hash.

Sizes: users = max(10, messages // 50), rooms = max(3, users // 10), each user in 1–5 rooms
(capped at the number of rooms), plus each room's creator as its owner.
Measured (PostgreSQL 15, 2 CPUs, sandbox settings): about 290 bytes of database per message
(heap + indexes of all four tables; bodies average 112 characters): 300,000 messages -> 93 MB in
7 s; 3,000,000 messages -> 875 MB (pg_database_size) in ~100 s, so ~3,400,000 messages ≈ 1 GB.

New rows get explicit ids above the current ``max(id)`` of each table (so the seed rows —
user 1, rooms 1–2 — and earlier runs never collide), and the identity sequences are advanced
past them at the end. Everything runs in one transaction.

CLI: ``python -m sandbox.sample_data --messages N [--seed S] [--conninfo DSN]``; the conninfo
defaults to ``$SOURCE_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import psycopg

from tasks.core.rows import scalar

DEFAULT_MESSAGES = 2_000
BODY_POOL_SIZE = 4_096
MESSAGE_BATCH = 250_000
PROGRESS_FROM = 100_000  # print per-table progress from this many messages on

# Word lists: one line of words, not one word a line.
# fmt: off
FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Ben", "Chen", "Chloé", "Dara", "Diego", "Elif", "Emma",
    "Farah", "Grace", "Hana", "Ines", "Ivan", "Jonas", "Jun", "Kofi", "Lea", "Leo", "Lina",
    "Marco", "Maya", "Mei", "Nia", "Noah", "Omar", "Priya", "Rosa", "Sami", "Sofia", "Tariq",
    "Tom", "Uma", "Vera", "Wei", "Yara", "Yusuf", "Zoë",
)
LAST_NAMES = (
    "Adams", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lopez", "Müller", "Nakamura", "Novak", "Okafor", "Petrov", "Quinn",
    "Rossi", "Silva", "Tanaka", "Usman", "Varga", "Wong", "Xu", "Yilmaz", "Zhang",
)
ROOM_ADJECTIVES = (
    "quiet", "busy", "sunny", "late", "early", "open", "secret", "daily", "weekly", "random",
    "lazy", "happy", "remote", "local", "noisy", "tiny", "grand", "blue", "green", "red",
)
ROOM_NOUNS = (
    "harbor", "garden", "kitchen", "lounge", "office", "studio", "library", "park", "corner",
    "attic", "plaza", "market", "bridge", "station", "forest", "beach", "club", "lab", "den",
    "yard",
)
WORDS = (
    "ok", "yes", "no", "maybe", "sure", "thanks", "lol", "hey", "hi", "hello", "morning",
    "tonight", "tomorrow", "today", "meeting", "lunch", "coffee", "deploy", "build", "test",
    "bug", "fix", "release", "review", "docs", "question", "answer", "idea", "plan", "weekend",
    "the", "a", "an", "is", "are", "was", "we", "you", "I", "they", "it", "this", "that",
    "and", "or", "but", "so", "then", "because", "with", "without", "for", "from", "to", "in",
    "on", "at", "about", "after", "before", "can", "could", "should", "will", "would", "do",
    "did", "done", "need", "want", "think", "know", "see", "look", "check", "send", "call",
    "ping", "merge", "ship", "wait", "later", "soon", "now", "again", "really", "just", "still",
    "already", "great", "good", "bad", "weird", "funny", "slow", "fast", "broken", "working",
    "database", "server", "laptop", "phone", "screen", "file", "link", "photo", "message",
    "room", "chat", "team", "project", "ticket", "issue", "branch", "commit", "migration",
    "café", "naïve", "déjà", "vu", "über", "señor", "smörgåsbord",
)
# fmt: on
EMOJI = ("🙂", "😂", "👍", "🎉", "🚀", "☕", "🤔", "❤️")


def sizes(messages: int) -> dict:
    """The number of users, rooms and messages generated for ``messages`` messages."""
    if messages < 0:
        raise ValueError("messages must be >= 0")
    users = max(10, messages // 50)
    return {"users": users, "rooms": max(3, users // 10), "messages": messages}


def _body_length(rng: random.Random) -> int:
    """Chat-like lengths: mostly short, some medium, a few long (20–400 characters)."""
    roll = rng.random()
    if roll < 0.55:
        return rng.randint(20, 80)
    if roll < 0.85:
        return rng.randint(81, 200)
    return rng.randint(201, 400)


def _body(rng: random.Random) -> str:
    """One message body of 20–400 characters: whole words up to a drawn target length."""
    target = _body_length(rng)
    text = ""
    while True:
        word = rng.choice(EMOJI) if rng.random() < 0.02 else rng.choice(WORDS)
        longer = f"{text} {word}" if text else word
        if len(longer) > target and len(text) >= 20:
            break
        text = longer
    return (text[:1].upper() + text[1:])[:400]


def body_pool(seed: int, size: int = BODY_POOL_SIZE) -> list[str]:
    """``size`` deterministic message bodies for ``seed``."""
    rng = random.Random(seed)
    return [_body(rng) for _ in range(size)]


class _Sql:
    """SQL snippets for deterministic pseudo-random numbers, bound to one seed."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def pick(self, expr: str, salt: int, modulus: str | int) -> str:
        """A number in [0, modulus) from ``expr`` (a bigint expression) and ``salt``."""
        key = self.seed * 1_000 + salt
        # "%%" is a literal "%" (modulo) in a psycopg query that has parameters.
        return f"((hashint8extended(({expr})::bigint, {key}) & 9223372036854775807) %% ({modulus}))"


def _offsets(cur: psycopg.Cursor) -> dict:
    """The current max(id) of users, rooms and messages (0 when empty)."""
    cur.execute(
        "SELECT (SELECT coalesce(max(id), 0) FROM users),"
        " (SELECT coalesce(max(id), 0) FROM rooms),"
        " (SELECT coalesce(max(id), 0) FROM messages)"
    )
    users, rooms, messages = cur.fetchone() or (0, 0, 0)
    return {"users": users, "rooms": rooms, "messages": messages}


def _insert_users(cur: psycopg.Cursor, q: _Sql, count: int, u0: int) -> int:
    """Users u0+1 … u0+count, created during 2023."""
    cur.execute(
        f"""
        INSERT INTO users (id, email, display_name, is_system, created_at, updated_at)
        SELECT %(u0)s + i,
               CASE WHEN {q.pick("i", 3, 20)} = 0 THEN initcap(n.first) ELSE lower(n.first) END
                   || '.' || lower(n.last) || (%(u0)s + i)
                   || '@' || (ARRAY['example.com', 'example.org', 'example.net'])[1 + {q.pick("i", 4, 3)}],
               n.first || ' ' || n.last,
               false, t.ts, t.ts
        FROM generate_series(1, %(count)s::bigint) AS i
        CROSS JOIN LATERAL (SELECT (%(first)s::text[])[1 + {q.pick("i", 1, len(FIRST_NAMES))}] AS first,
                                   (%(last)s::text[])[1 + {q.pick("i", 2, len(LAST_NAMES))}] AS last) AS n
        CROSS JOIN LATERAL (SELECT timestamptz '2023-01-01 00:00:00+00'
                                   + make_interval(secs => i * (31536000.0 / %(count)s))) AS t(ts)
        """,
        {"u0": u0, "count": count, "first": list(FIRST_NAMES), "last": list(LAST_NAMES)},
    )
    return cur.rowcount


def _insert_rooms(cur: psycopg.Cursor, q: _Sql, count: int, r0: int, u0: int, users: int) -> int:
    """Rooms r0+1 … r0+count, each created by one of the new users; one in five private."""
    cur.execute(
        f"""
        INSERT INTO rooms (id, slug, name, is_private, created_by, created_at, updated_at)
        SELECT %(r0)s + j,
               n.adj || '-' || n.noun || '-' || (%(r0)s + j),
               initcap(n.adj || ' ' || n.noun),
               {q.pick("j", 6, 5)} = 0,
               %(u0)s + 1 + {q.pick("j", 7, "%(users)s")},
               t.ts, t.ts
        FROM generate_series(1, %(count)s::bigint) AS j
        CROSS JOIN LATERAL (SELECT (%(adj)s::text[])[1 + {q.pick("j", 8, len(ROOM_ADJECTIVES))}] AS adj,
                                   (%(noun)s::text[])[1 + {q.pick("j", 9, len(ROOM_NOUNS))}] AS noun) AS n
        CROSS JOIN LATERAL (SELECT timestamptz '2023-06-01 00:00:00+00'
                                   + make_interval(secs => j * (15552000.0 / %(count)s))) AS t(ts)
        """,
        {"r0": r0, "u0": u0, "users": users, "count": count, "adj": list(ROOM_ADJECTIVES), "noun": list(ROOM_NOUNS)},
    )
    return cur.rowcount


def _insert_participants(cur: psycopg.Cursor, q: _Sql, r0: int, rooms: int, u0: int, users: int) -> int:
    """Each new user joins 1–5 consecutive rooms (mod rooms); each room's creator is its owner."""
    cur.execute(
        f"""
        INSERT INTO room_participants (room_id, user_id, role, joined_at, last_read_at)
        SELECT %(r0)s + 1 + (p.start + k) %% %(rooms)s,
               %(u0)s + i,
               CASE WHEN {q.pick("i * 8 + k", 12, 20)} = 0 THEN 'moderator' ELSE 'member' END,
               t.ts,
               CASE WHEN {q.pick("i * 8 + k", 13, 10)} = 0 THEN NULL
                    ELSE t.ts + make_interval(days => 1 + {q.pick("i * 8 + k", 14, 300)}::int) END
        FROM generate_series(1, %(users)s::bigint) AS i
        CROSS JOIN LATERAL (SELECT least(1 + {q.pick("i", 10, 5)}, %(rooms)s) AS n,
                                   {q.pick("i", 11, "%(rooms)s")} AS start) AS p
        CROSS JOIN LATERAL generate_series(0, p.n - 1) AS k
        CROSS JOIN LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                                   - make_interval(days => 1 + {q.pick("i * 8 + k", 15, 180)}::int)) AS t(ts)
        """,
        {"r0": r0, "rooms": rooms, "u0": u0, "users": users},
    )
    cur.execute(
        """
        INSERT INTO room_participants (room_id, user_id, role, joined_at, last_read_at)
        SELECT id, created_by, 'owner', created_at, NULL
        FROM rooms WHERE id > %(r0)s AND created_by IS NOT NULL
        ON CONFLICT (room_id, user_id) DO UPDATE SET role = 'owner'
        """,
        {"r0": r0},
    )
    cur.execute("SELECT count(*) FROM room_participants WHERE room_id > %s", (r0,))
    return scalar(cur)


def _load_body_pool(cur: psycopg.Cursor, seed: int) -> int:
    """A temporary table of message bodies, keyed 0 … pool size - 1."""
    cur.execute("CREATE TEMP TABLE _sample_bodies (k int PRIMARY KEY, body text NOT NULL) ON COMMIT DROP")
    pool = body_pool(seed)
    with cur.copy("COPY _sample_bodies (k, body) FROM STDIN") as copy:
        for k, body in enumerate(pool):
            copy.write_row((k, body))
    cur.execute("ANALYZE _sample_bodies")
    return len(pool)


def _load_members(cur: psycopg.Cursor, r0: int) -> int:
    """A temporary table numbering the new memberships, so a message can pick one by hash."""
    cur.execute(
        """
        CREATE TEMP TABLE _sample_members ON COMMIT DROP AS
        SELECT (row_number() OVER (ORDER BY room_id, user_id) - 1)::bigint AS k, room_id, user_id
        FROM room_participants WHERE room_id > %s
        """,
        (r0,),
    )
    cur.execute("CREATE UNIQUE INDEX ON _sample_members (k)")
    cur.execute("ANALYZE _sample_members")
    cur.execute("SELECT count(*) FROM _sample_members")
    return scalar(cur)


def _insert_messages(
    cur: psycopg.Cursor, q: _Sql, lo: int, hi: int, total: int, m0: int, members: int, pool: int
) -> int:
    """Messages m0+lo … m0+hi, by members of their room, spread over 2024 in id order."""
    cur.execute(
        f"""
        INSERT INTO messages (id, room_id, user_id, body, created_at, updated_at)
        SELECT %(m0)s + i, m.room_id,
               CASE WHEN {q.pick("i", 21, 200)} = 0 THEN NULL ELSE m.user_id END,
               b.body, t.ts, t.ts
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
        JOIN _sample_members AS m ON m.k = {q.pick("i", 20, "%(members)s")}
        JOIN _sample_bodies AS b ON b.k = {q.pick("i", 22, "%(pool)s")}
        CROSS JOIN LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                                   + make_interval(secs => i * (31536000.0 / %(total)s))) AS t(ts)
        """,
        {"m0": m0, "lo": lo, "hi": hi, "total": total, "members": members, "pool": pool},
    )
    return cur.rowcount


def _advance_sequences(cur: psycopg.Cursor) -> None:
    """Move the identity sequences of users, rooms and messages past their max(id)."""
    for table in ("users", "rooms", "messages"):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" coalesce((SELECT max(id) FROM {table}), 1),"
            f" (SELECT max(id) IS NOT NULL FROM {table}))"
        )


class _Progress:
    """Per-table progress lines on stdout (only when ``enabled``)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"sample_data: {text} ({time.monotonic() - self.started:.1f}s)", flush=True)


def generate(conninfo: str, messages: int, seed: int = 42, *, verbose: bool | None = None) -> dict:
    """Load sample users, rooms, participants and ``messages`` messages; return counts per table.

    The counts are of the rows added by this call. ``verbose`` (default: when messages >=
    100,000) prints one line per table, and per batch of messages, on stdout.
    """
    want = sizes(messages)
    q = _Sql(seed)
    progress = _Progress(messages >= PROGRESS_FROM if verbose is None else verbose)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")
        base = _offsets(cur)
        users = _insert_users(cur, q, want["users"], base["users"])
        progress.say(f"users: {users:,}")
        rooms = _insert_rooms(cur, q, want["rooms"], base["rooms"], base["users"], users)
        progress.say(f"rooms: {rooms:,}")
        participants = _insert_participants(cur, q, base["rooms"], rooms, base["users"], users)
        progress.say(f"room_participants: {participants:,}")
        pool = _load_body_pool(cur, seed)
        members = _load_members(cur, base["rooms"])
        done = 0
        for lo in range(1, messages + 1, MESSAGE_BATCH):
            hi = min(lo + MESSAGE_BATCH - 1, messages)
            done += _insert_messages(cur, q, lo, hi, messages, base["messages"], members, pool)
            progress.say(f"messages: {done:,} of {messages:,}")
        _advance_sequences(cur)
    progress.say("committed")
    return {"users": users, "rooms": rooms, "room_participants": participants, "messages": done}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.sample_data",
        description="Load deterministic sample data into the whynot source database.",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=DEFAULT_MESSAGES,
        help=f"number of messages (default {DEFAULT_MESSAGES:,}; ~3,400,000 ≈ 1 GB)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed for the generated values (default 42)")
    parser.add_argument("--conninfo", default=None, help="libpq conninfo or URL (default: $SOURCE_DATABASE_URL)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    conninfo = args.conninfo or os.environ.get("SOURCE_DATABASE_URL")
    if not conninfo:
        print(
            "sample_data: error: no database: pass --conninfo or set SOURCE_DATABASE_URL"
            " (e.g. set -a; . .sandbox/env; set +a)",
            file=sys.stderr,
        )
        return 1
    try:
        counts = generate(conninfo, args.messages, args.seed, verbose=True)
    except (psycopg.Error, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"sample_data: error: {first}", file=sys.stderr)
        return 1
    print("sample_data: added " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
