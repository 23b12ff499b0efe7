"""The history digest carried past the tool's own row (pure; PostgreSQL's own reading is the oracle in
tests/integration/test_observed_history.py)."""

from hypothesis import given
from hypothesis import strategies as st

from tasks.migrations.observed import after_record, row_hash

marks = st.builds(lambda page, item, xid: f"({page},{item}):{xid}", st.integers(0, 10**6), st.integers(1, 300),
                  st.integers(3, 2**32 - 1))


@given(st.lists(marks, max_size=20), st.text("0123456789|", max_size=30))
def test_each_row_adds_one_to_the_count_and_its_hash_to_the_sum_in_any_order(rows, catalog):
    start = f"{catalog}|0|0"
    forward, backward = start, start
    for mark in rows:
        forward = after_record(forward, mark)
    for mark in reversed(rows):
        backward = after_record(backward, mark)
    assert forward == backward == f"{catalog}|{len(rows)}|{sum(map(row_hash, rows))}"


def test_a_row_hash_fits_the_sixty_bits_the_sql_casts_it_to():
    assert all(0 <= row_hash(f"(0,{i}):{i}") < 2**60 for i in range(1, 500))
    assert row_hash("(0,1):731") != row_hash("(0,2):731")
