"""The pure parts of the copy at the physical limit (issue 30): ranges, the schedule's units, the
progress line, what the schema check takes as set aside, the rebuild's memory, a resumed table."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from tasks.core.progress import throughput_line
from tasks.data import plan as copyplan
from tasks.data.journal import Range
from tasks.data.ranges import bounds, count, total
from tasks.data.rebuild import memory_mb
from tasks.data.schedule import Unit, units
from tasks.schema.catalog import Difference, set_aside, set_aside_names


def test_a_table_is_cut_only_above_the_split_size_and_never_into_more_than_the_cap():
    assert count(10 << 20, 64 << 20) == 1
    assert count(130 << 20, 64 << 20) == 3
    assert count(1 << 40, 1 << 20) == 64
    assert count(10 << 20, 0) == 1


@given(st.integers(-10**12, 10**12), st.integers(0, 10**6), st.integers(2, 64))
def test_ranges_cover_every_key_once_open_at_both_ends(lo, width, parts):
    found = bounds(lo, lo + width, parts)
    assert found[0][0] is None and found[-1][1] is None and 1 <= len(found) <= parts
    for (_, high), (low, _) in itertools.pairwise(found):
        assert high == low is not None  # contiguous: no key in two ranges, none in none
    inner = [b for pair in found for b in pair if b is not None]
    assert inner == sorted(inner) and all(lo < b <= lo + width for b in inner)


def test_a_table_checksum_is_the_sum_of_its_ranges():
    done = [Range("t", 0, "key", "id", None, 5, True, 3, "-7"), Range("t", 1, "key", "id", 5, None, True, 2, "10")]
    assert total(done) == (5, "3")


def test_a_split_table_is_its_ranges_not_done_then_its_check():
    r0, r1 = Range("a", 0, "ctid", None, None, 4, done=True), Range("a", 1, "ctid", None, 4, None)
    found = units([("a",), ("b", "c")], {"a": False, "b": False, "c": False}, {"a": [r0, r1]})
    assert found == [Unit(("a",), part=r1), Unit(("a",), finish=True), Unit(("b", "c"))]


def test_progress_line_says_tables_bytes_and_rate():
    assert throughput_line((3, 12), 410_000_000, 1_024_000_000, 10.0) == "3/12 tables, 410 of 1,024 MB (40%), 41.0 MB/s"


def test_the_schema_check_takes_only_what_the_journal_lists_as_set_aside():
    names = set_aside_names(["index:public.big_v", "fkey:public.big.big_parent_id_fkey", "trigger:app.t.stamp", ""])
    found = [
        Difference("-", "index", "public.big_v", "- index big_v"),
        Difference("-", "constraint", "big.big_parent_id_fkey", "- FOREIGN KEY big.big_parent_id_fkey"),
        Difference("~", "trigger", "app.t.stamp", "~ trigger"),
        Difference("-", "index", "public.other", "- index other"),
        Difference("+", "index", "public.big_v", "+ index big_v"),
    ]
    assert set_aside(found, names) == found[:3]


def test_each_index_job_gets_its_share_of_the_budget_never_less_than_the_server_setting():
    assert memory_mb(64, 2) == 512
    assert memory_mb(2048, 2) == 2048


def test_a_table_an_interrupted_copy_left_half_copied_is_copied_on_not_a_conflict():
    source = copyplan.Side(tables={"public.big": copyplan.Relation("public.big", "", 100, "9")})
    target = copyplan.Side(tables={"public.big": copyplan.Relation("public.big", "", 40, "")}, resuming={"public.big"})
    todo = copyplan.pending(source, target, replace=False)
    assert todo.copy == ["public.big"] and not todo.conflicts
    assert copyplan.need_checksums(target) == []


def test_the_rebuild_never_has_two_jobs_lock_one_table_against_each_other():
    """The bench found the copy's own index builds holding off its trigger's ENABLE (and two
    VALIDATEs of one table would queue): indexes at once, then the quick ALTER TABLEs one by one,
    then validations at once across tables, one table's in one job."""
    from tasks.data.journal import Aside
    from tasks.data.rebuild import stages

    items = [Aside("m", "trigger:t", "trigger", "E", False), Aside("m", "index:a", "index", "I", False),
             Aside("m", "index:b", "index", "I", False), Aside("m", "fkey:u", "fkey", "F", False),
             Aside("m", "fkey:r", "fkey", "F", True), Aside("p", "fkey:x", "fkey", "F", False)]
    (indexes, _), (quick, _), (validations, validating) = stages(items)
    assert indexes == [[items[1]], [items[2]]]
    assert quick == [[items[0], items[3], items[5]]]
    assert validating and validations == [[items[3], items[4]], [items[5]]]


def test_ranges_between_quantiles_cover_every_key_once_whatever_the_skew():
    """Issue 30's adversary, finding 5: ranges are cut at the key's row quantiles (duplicates once)."""
    from tasks.data.ranges import quantile_bounds, sample_percent

    found = quantile_bounds([512, 10**12, 512, 2 * 10**13])
    assert found == [(None, 512), (512, 10**12), (10**12, 2 * 10**13), (2 * 10**13, None)]
    assert sample_percent(1 << 40) < 1 and sample_percent(1 << 20) == 100.0


def test_the_progress_line_never_passes_100_percent():
    """Issue 30's adversary, finding 6: "copy: 11/13 tables, 144 of 141 MB (102%)". More read than
    the estimate: the total shown is what was read, and 100% only once every table is done."""
    assert throughput_line((11, 13), 144_000_000, 141_000_000, 10.0) == "11/13 tables, 144 of 144 MB (99%), 14.4 MB/s"
    assert throughput_line((13, 13), 144_000_000, 141_000_000, 10.0).startswith("13/13 tables, 144 of 144 MB (100%)")


def test_a_table_whose_verified_ranges_no_longer_add_up_is_explained_by_what_happened_to_its_rows():
    """Adversary pass 6, finding 2: rows the application deleted inside ranges kept after a kill were
    reported as rows "written into the target", to be deleted; the line now says they are missing."""
    from tasks.data.ranged import finish_refusal

    assert "written into the target" in finish_refusal("public.t", 60_010, 60_000)
    missing = finish_refusal("public.t", 59_990, 60_000)
    assert "10 row(s) the copy had verified are missing" in missing and "delete them" not in missing
    assert "changed in the target" in finish_refusal("public.t", 60_000, 60_000)
    assert all("COPY_CONFLICT=replace" in finish_refusal("public.t", n, 60_000) for n in (1, 60_000, 70_000))
