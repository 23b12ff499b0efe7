"""
Passwords in URLs (issue 31 item 4) and libpq's Unix-socket URL forms (issue 29 class 4). Pure.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.core.urls import UrlError, parse_database_url

ANY_PASSWORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\0"), min_size=1,
                       max_size=30)


@settings(max_examples=300, deadline=None)
@given(password=ANY_PASSWORD)
def test_any_password_percent_encoded_round_trips(password):
    url = parse_database_url(f"postgres://app:{quote(password, safe='')}@db.example.com:5432/prod")
    assert (url.password, url.host, url.dbname, url.user) == (password, "db.example.com", "prod", "app")


WORD = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=3, max_size=10)


@settings(max_examples=300, deadline=None)
@given(before=WORD, reserved=st.lists(st.sampled_from("#@/?"), min_size=1, max_size=3), after=WORD,
       port=st.sampled_from(["", ":5432"]), query=st.sampled_from(["", "?sslmode=require"]))
def test_a_raw_reserved_character_is_told_to_be_encoded_never_printing_the_password(before, reserved, after, port,
                                                                                    query):
    password = before + "".join(reserved) + after
    with pytest.raises(UrlError) as caught:
        parse_database_url(f"postgres://app:{password}@db.example.com{port}/prod{query}")
    message = str(caught.value)
    assert "percent-encode" in message and password not in message and before + reserved[0] not in message
    for char in reserved:
        assert f"{char} as {quote(char, safe='')}" in message
    assert "no database name" not in message


@pytest.mark.parametrize("url, chars", [
    ("postgres://app:se#cr@t@db.example.com:5432/prod", "# as %23"),  # the issue's case: '#' then '@'
    ("postgres://app:1234#5@db.example.com/prod", "# as %23"),
    ("postgres://app:pa@ss@db.example.com/prod", "@ as %40"),
    ("postgres://app:100%@db.example.com/prod", "% as %25"),
    ("postgres://app:a/b@db.example.com/prod", "/ as %2F"),
])
def test_the_issues_cases(url, chars):
    with pytest.raises(UrlError, match="percent-encode") as caught:
        parse_database_url(url)
    assert chars in str(caught.value)


def test_an_at_sign_in_a_query_value_is_not_a_password_problem():
    url = parse_database_url("postgres://app:pw@db.example.com/prod?application_name=me@host")
    assert url.password == "pw" and dict(url.params)["application_name"] == "me@host"


@pytest.mark.parametrize("raw, host, port", [
    ("postgresql://app@%2Fvar%2Frun%2Fpostgresql/db", "/var/run/postgresql", 5432),
    ("postgresql://app@%2fvar%2frun%2fPostgreSQL:5433/db", "/var/run/PostgreSQL", 5433),
    ("postgresql://app:pw@/db?host=/var/run/postgresql", "/var/run/postgresql", 5432),
    ("postgresql://app:pw@localhost/db?host=/tmp", "/tmp", 5432),
])
def test_libpq_socket_forms_name_the_socket_folder(raw, host, port):
    url = parse_database_url(raw)
    assert (url.host, url.port, url.is_local, url.sslmode) == (host, port, True, "prefer")
    assert url.service_params()["host"] == host
    assert parse_database_url(url.redacted).host == host  # the redacted form is a URL of the same place


def test_a_host_parameter_that_is_no_folder_is_refused_naming_the_form():
    with pytest.raises(UrlError, match=r"\?host= in the URL must be a Unix socket folder"):
        parse_database_url("postgresql://app:pw@/db?host=db.example.com")




def test_a_password_with_a_line_break_is_refused_naming_the_cause():
    with pytest.raises(UrlError, match="line break"):
        parse_database_url("postgres://u:a%0Ab@db.example.com/x")


@pytest.mark.parametrize("url, what", [("postgres://a%0Ab:p@db.example.com/x", "user name"),
                                       ("postgres://a:p@db.example.com/d%0Db", "database name")])
def test_a_line_break_anywhere_in_the_url_is_refused_by_name(url, what):
    with pytest.raises(UrlError, match=f"the {what} contains a line break"):
        parse_database_url(url)


LISTS = {
    "postgresql://postgres:pw@:47513/db?host=/nonexistent,0.0.0.0": "?host= in the URL holds a list",
    "postgresql://postgres:pw@:47513/db?host=/a&host=/b": "?host= is given twice",
    "postgresql://postgres:pw@h1,h2:5432/db": "a list of hosts in the host part",
    "postgresql://postgres:pw@h1:5432,h2:5433/db": "a list of hosts in the host part",
    "postgresql://postgres:pw@h1/db?sslmode=require&sslmode=disable": "?sslmode= is given twice",
}


@pytest.mark.parametrize("url, named", LISTS.items())
def test_a_host_list_or_a_repeated_parameter_is_refused_naming_the_form(url, named):
    """Tester P2: ``?host=/nonexistent,0.0.0.0`` reached a network host without SSL; a repeated host= let
    the last one win silently; a list in the host part was called a bad port."""
    with pytest.raises(UrlError) as caught:
        parse_database_url(url)
    assert named in str(caught.value) and "pw" not in str(caught.value)


@given(st.lists(st.sampled_from(["/tmp/s", "db.example.com", "0.0.0.0", "/run/pg"]), min_size=2, max_size=4),
       st.sampled_from(["host", "hostaddr", "port"]))
def test_any_list_in_a_host_parameter_is_refused(hosts, key):
    with pytest.raises(UrlError):
        parse_database_url(f"postgresql://u:pw@:5432/db?{key}={','.join(hosts)}")
