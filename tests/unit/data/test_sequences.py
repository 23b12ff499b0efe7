"""The pure rules of :mod:`tasks.data.sequences`: a sequence only ever moves forward."""

from hypothesis import given
from hypothesis import strategies as st

from tasks.data.sequences import SequenceState, ahead, setval_args, wanted_next

values = st.integers(-10**6, 10**6)


@given(increment=st.sampled_from([1, 3, -1, -7]), current=values, needs=st.lists(st.none() | values, max_size=4))
def test_the_wanted_next_value_is_never_behind_where_the_sequence_is_or_any_need(increment, current, needs):
    state = SequenceState(current, increment, -10**7, 10**7)
    to = wanted_next(state, needs)
    final = current if to is None else to
    assert not ahead(current, final, increment)
    assert all(not ahead(need, final, increment) for need in needs if need is not None)
    assert to is None or to in needs
    assert wanted_next(SequenceState(final, increment, -10**7, 10**7), needs) is None  # the second run: nothing


def test_setval_reads_like_a_used_sequence_or_at_its_start_like_an_unused_one():
    assert setval_args(SequenceState(5, 1, 1, 100), 1) == (1, False)
    assert setval_args(SequenceState(5, 1, 1, 100), 4) == (3, True)
    assert setval_args(SequenceState(5, 1, 1, 100), 101) == (100, True)
    assert setval_args(SequenceState(-5, -1, -100, -1), -1) == (-1, False)
    assert setval_args(SequenceState(-5, -1, -100, -1), -101) == (-100, True)


@given(columns=st.lists(st.tuples(st.none() | values, st.none() | values), min_size=1, max_size=4))
def test_a_sequence_several_columns_fill_spans_all_their_values(columns):
    """A sequence the defaults of several tables share: the plan's extremes are over every column's."""
    from functools import reduce

    from tasks.data.sides import widest

    high, low = reduce(widest, columns[1:], columns[0])
    highs = [h for h, _ in columns if h is not None]
    lows = [lo for _, lo in columns if lo is not None]
    assert high == (max(highs) if highs else None)
    assert low == (min(lows) if lows else None)
