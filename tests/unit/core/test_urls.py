"""Database URLs: what is refused, by name (pure)."""

import pytest

from tasks.core.urls import UrlError, parse_database_url


def test_a_password_with_a_line_break_is_refused_naming_the_cause():
    with pytest.raises(UrlError, match="line break"):
        parse_database_url("postgres://u:a%0Ab@db.example.com/x")


@pytest.mark.parametrize("url, what", [("postgres://a%0Ab:p@db.example.com/x", "user name"),
                                       ("postgres://a:p@db.example.com/d%0Db", "database name")])
def test_a_line_break_anywhere_in_the_url_is_refused_by_name(url, what):
    with pytest.raises(UrlError, match=f"the {what} contains a line break"):
        parse_database_url(url)
