"""The pure walk of :mod:`tasks.data.cascades`: what a replace acts on, reloaded or refused."""

from hypothesis import given
from hypothesis import strategies as st

from tasks.data.cascades import Cascade, follow, refusal

NAMES = ["a", "b", "c", "d"]


def test_an_equal_child_is_reloaded_and_followed_and_a_child_the_source_lacks_is_refused_by_name():
    keys = [Cascade("b", "a", "b_a_fkey", "c", 3), Cascade("c", "b", "c_b_fkey", "n", 2),
            Cascade("d", "x", "d_x_fkey", "c", 9)]
    reloaded, lost = follow(["a"], keys, reloadable={"b"})
    assert [c.child for c in reloaded] == ["b"] and [c.child for c in lost] == ["c"]
    assert refusal(lost) == ("COPY_CONFLICT=replace of b changes 2 row(s) of c through its ON DELETE SET NULL key "
                             "c_b_fkey, rows that are not in the source: nothing was changed; bring those rows into "
                             "the source first, or remove them from c yourself if they may go")
    assert follow(["a"], [Cascade("b", "a", "k", "c", 0)], set()) == ([], [])  # no referencing rows: nothing


@given(edges=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES), st.integers(0, 3)), max_size=8),
       reloadable=st.sets(st.sampled_from(NAMES)), replaced=st.lists(st.sampled_from(NAMES), min_size=1, max_size=2))
def test_every_table_a_replace_reaches_is_either_replaced_reloaded_or_refused(edges, reloadable, replaced):
    keys = [Cascade(child, parent, f"k{i}", "c", rows) for i, (child, parent, rows) in enumerate(edges)]
    reloaded, lost = follow(replaced, keys, reloadable)
    covered = set(replaced) | {c.child for c in reloaded}
    reached, todo = set(replaced), list(replaced)
    while todo:  # a second enumeration: every child with rows a deleted table reaches
        table = todo.pop()
        for key in keys:
            if key.parent == table and key.rows and key.child not in reached:
                reached.add(key.child)
                if key.child in reloadable:
                    todo.append(key.child)
    assert reached <= covered | {c.child for c in lost}
    assert all(c.child in reloadable for c in reloaded) and not any(c.child in reloadable for c in lost
                                                                    if c.child not in covered)


def test_a_key_name_is_quoted_as_sql_would_need_it():
    """Tester's finding 10: `Chi ld_Pid_fkey` was printed bare."""
    from tasks.data.cascades import Cascade

    odd = Cascade('public."Chi ld"', "public.p", "Chi ld_Pid_fkey", "c", 2)
    assert odd.describe() == 'removes 2 row(s) of public."Chi ld" through its ON DELETE CASCADE key "Chi ld_Pid_fkey"'
    assert "key child_parent_id_fkey" in Cascade("public.c", "public.p", "child_parent_id_fkey", "c", 1).describe()


def test_groups_merge_a_replaced_table_with_its_cascade_children_in_load_order():
    from tasks.data.cascades import Cascade
    from tasks.data.loader import together

    groups = [("public.p",), ("public.x",), ("public.c",), ("public.g",)]
    cascaded = [Cascade("public.c", "public.p", "k", "c", 1), Cascade("public.g", "public.c", "k2", "c", 1)]
    assert together(groups, cascaded) == [("public.p", "public.c", "public.g"), ("public.x",)]
