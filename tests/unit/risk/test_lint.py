"""squawk's JSON reporter read (its lines are 0-based), and the command it is given: files by path."""

import json

from tasks.risk.lint import command, parse_findings


def test_findings_name_file_line_and_rule():
    output = json.dumps(
        [
            {
                "file": "/m/004_x.sql",
                "line": 2,
                "rule_name": "changing-column-type",
                "message": "Changing a column type requires an ACCESS EXCLUSIVE lock",
            }
        ]
    )
    (finding,) = parse_findings(output, {"/m/004_x.sql": "004_x.sql"})
    assert finding.text.startswith("004_x.sql:3 squawk changing-column-type: Changing a column type")


def test_command_gives_paths_and_the_targets_version():
    args = command("squawk", ["/m/a.sql"], "17.2", True)
    assert args[-2:] == ["--", "/m/a.sql"] and ["--pg-version", "17.2"] == args[3:5]
    assert "--assume-in-transaction" in args and "--assume-in-transaction" not in command("s", [], "17", False)
