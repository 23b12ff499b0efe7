"""Seed files: validation before connecting (pure)."""

import pytest

from tasks.data.seed import SeedFileError, read_seed_files


def test_reads_tables_and_rows(tmp_path):
    (tmp_path / "users.csv").write_text("id,email\n1,a@x\n2,b@x\n")
    (tmp_path / "app.rooms.csv").write_text("id,slug\r\n1,general\r\n")
    files = read_seed_files(tmp_path)
    assert [(f.table, f.rows) for f in files] == [("app.rooms", 1), ("public.users", 2)]


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("users.csv", "", "is empty"),
        ("users.csv", "id,email\n1,a@x,extra\n", "line 2: 3 fields, the header has 2"),
        ("users.csv", "id,id\n1,2\n", "named twice"),
        ("Users.csv", "id\n1\n", "lower case"),
        ("users.csv", "id,e mail\n1,x\n", "not a column name"),
    ],
)
def test_bad_seed_files(tmp_path, name, text, words):
    (tmp_path / name).write_text(text)
    with pytest.raises(SeedFileError) as raised:
        read_seed_files(tmp_path)
    assert words in str(raised.value) and name in str(raised.value)


def test_no_folder_means_no_seed(tmp_path):
    assert read_seed_files(tmp_path / "absent") == []


@pytest.mark.parametrize("rows, line", [
    ('1,x@y.z,n,true\n9,"a@b.c,x,false\n', 3),
    ('9,"a@b.c,x,false\n', 2),
    ('9,"a@b.c,x,false\n2,b,c,true\n', 2),
])
def test_an_unterminated_quote_is_named_with_its_line(tmp_path, rows, line):
    """Adversary 16/7: it was reported as "2 fields, the header has 4", which hides the cause."""
    (tmp_path / "users.csv").write_text("id,email,name,admin\n" + rows)
    with pytest.raises(
        SeedFileError, match=rf"users.csv line {line}: a quote \(\"\) opens a field and is never closed"
    ):
        read_seed_files(tmp_path)


def test_a_short_row_still_names_its_field_count(tmp_path):
    (tmp_path / "users.csv").write_text('id,email,name,admin\n1,"two\nlines",3,4\n5,6,7\n')
    with pytest.raises(SeedFileError, match="users.csv line 4: 3 fields, the header has 4"):
        read_seed_files(tmp_path)
