"""What the proof saw each statement take, attributed to the statement that took or strengthened it."""

from tasks.risk.observe import Seen, effects, lock_name, strongest


def test_lock_names_as_sql_writes_them():
    assert lock_name("AccessExclusiveLock") == "ACCESS EXCLUSIVE"
    assert lock_name("ShareUpdateExclusiveLock") == "SHARE UPDATE EXCLUSIVE"
    assert strongest(["RowExclusiveLock", "AccessExclusiveLock", "AccessShareLock"]) == "AccessExclusiveLock"


def test_effects_attribute_new_and_stronger_locks_and_rewrites():
    seen = [
        Seen(1, {"m": "ShareLock"}, []),
        Seen(2, {"m": "ShareLock"}, []),
        Seen(3, {"m": "AccessExclusiveLock"}, ["m"]),
        Seen(4, {"m": "AccessExclusiveLock"}, ["m"]),
    ]
    assert effects(seen) == {
        1: {"m": ("SHARE", False)},
        2: {},
        3: {"m": ("ACCESS EXCLUSIVE", True)},
        4: {"m": ("ACCESS EXCLUSIVE", True)},
    }
