"""
The example app ("whynot", a chat app) that ships in ``files/migrations/`` and ``files/seed/``:
recognised by the files' checksums, whatever their folder or name, so that a user who follows
the README without replacing them is told so before the example is planned into their own
database. Pure; unit-tested without a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tasks.migrations.files import Migration

# sha256 of each example file as the migrations and seed readers normalise it (LF, no BOM).
MIGRATIONS = {
    "8fd23117464a2c039f075e3effafd9dcd8f86753a272840264bee23303c893c1": "001_create_users.sql",
    "114e83c595fa0b28bad16c9fbe9d524b87b76858b518f688cca1d81a8709d4ad": "002_create_rooms.sql",
    "8594bc156e69b7568191dc0dc332dbb529fdea75fd2ed3b1d719ca7e01c81800": "003_create_room_participants.sql",
    "d86318da9bed3df7841669e304ab20865af37211a6c283ad929d6f12e2c6bea0": "004_create_messages.sql",
}
SEEDS = {
    "63c3d3d84bf4722e495a05f5c63761a75ef19206136c2a4c74de9e3416f89bfa": "users.csv",
    "c1adc3266d60fadb46205f0d668dbabe6c5c43b7479915c147a2099525b10fa1": "rooms.csv",
    "d5988079a4200f2dda88b9b989f5c633878137911b518b846da1fe7d2402ff11": "room_participants.csv",
}
TABLES = ("public.users", "public.rooms", "public.room_participants", "public.messages")
OBJECTS = ("function public.set_updated_at",)
WAY_FORWARD = (
    "replace them with your app's migrations (and files/seed/ with its seed rows, or empty it), "
    "or set MIGRATIONS_DIR and SEED_DIR to your app's folders (README: Point it at your own databases)"
)


def example_migrations(files: Iterable[Migration]) -> list[Migration]:
    """The files that are the example app's, unchanged."""
    return [m for m in files if m.checksum in MIGRATIONS]


def seed_checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def example_into_existing_database(files: list[Migration], applied_versions: Iterable[int], history) -> str | None:
    """
    Why the example's migrations must not run here, or None: they are in the migrations folder,
    the target (``history``, a :class:`~tasks.migrations.plan.TargetHistory`) already has tables
    that are not the example's, and none of the example's files was ever applied to it. The
    example's own database (the sandbox's, a demo's) converges, or is adopted with a baseline.
    """
    ours = example_migrations(files)
    if not ours or set(applied_versions) & {m.version for m in ours}:
        return None
    others = [t for t in history.table_names if t not in TABLES]
    others += [o for o in history.object_names if o not in OBJECTS]
    total = history.user_tables + history.other_objects
    if not others and total <= len(history.table_names) + len(history.object_names):
        return None
    folder = ours[0].path.parent
    names = ours[0].filename if len(ours) == 1 else f"{ours[0].filename} … {ours[-1].filename}"
    more = len(others) > 3 or total > len(history.table_names) + len(history.object_names)
    shown = f" ({', '.join(others[:3])}{', …' if more else ''})" if others else ""
    return (
        f"{folder} holds the example app's migrations ({names}) and the target is not empty: "
        f"{history.user_tables} table(s), {history.other_objects} other object(s){shown}: {WAY_FORWARD}"
    )


def example_seeds_alone(files: list[Migration], seed_texts: dict[str, str], seed_dir: str) -> str | None:
    """
    Why the example's seed rows must not run, or None: ``SEED_DIR`` holds them (``{filename: text}``)
    but the migrations are not the example's (the user's own app, whose tables they would fill).
    """
    ours = [name for name, text in seed_texts.items() if seed_checksum(text) in SEEDS]
    if not ours or example_migrations(files):
        return None
    return (
        f"{seed_dir} holds the example app's seed rows ({', '.join(ours)}) but the migrations are your app's: "
        "set SEED_DIR to your app's seed folder (or a folder without .csv files), or remove them "
        "(README: Point it at your own databases)"
    )
