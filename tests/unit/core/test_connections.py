"""Every service in the private service file pins the settings that change parsing and name resolution (pure)."""

import pytest

from tasks.core.connections import render_passfile, render_service_file


def test_every_service_starts_with_strings_on_and_the_default_search_path():
    """Adversary 16/2: a role default (standard_conforming_strings off, search_path app) reached the tool's sessions."""
    text = render_service_file({"target": {"host": "h", "dbname": "d"},
                                "source": {"host": "h", "options": "-c work_mem=64MB"}})
    sections = text.split("[source]")
    for section in sections:
        assert '-c standard_conforming_strings=on -c search_path="$user",public' in section
    assert "options=-c work_mem=64MB -c standard_conforming_strings=on" in sections[1]  # the caller's kept, ours last


@pytest.mark.parametrize("password", [" a ", "p#x", "k=v", "back\\slash", "colon:s", "'q\""])
def test_password_files_escape_backslash_and_colon_and_keep_spaces(password):
    line = render_passfile(password)
    assert line.startswith("*:*:*:*:") and line.endswith("\n")
    unescaped = line[8:-1].replace("\\:", ":").replace("\\\\", "\\")
    assert unescaped == password
