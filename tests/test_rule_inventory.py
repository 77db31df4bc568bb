"""docs/rule-inventory.md: every rule names a check that exists, every check has a rule, the counts are true."""

from __future__ import annotations

import re
from pathlib import Path

from conformance import runner  # noqa: F401 - registers every check
from conformance.core import CHECKS

INVENTORY = Path(__file__).parents[1] / "docs" / "rule-inventory.md"
ROW = re.compile(r"^\| ([KTF])(\d+) \|(.*)\|\s*$", re.MULTILINE)
CODE = re.compile(r"\b(?:KOS|TDK)-[A-Z]+-\d{3}\b")


def rows() -> list[tuple[str, str]]:
    return [(kind + number, cells) for kind, number, cells in ROW.findall(INVENTORY.read_text(encoding="utf-8"))]


def test_every_checked_rule_names_checks_that_exist() -> None:
    codes = {c.code for c in CHECKS.values()}
    for rule, cells in rows():
        named = set(CODE.findall(cells.rsplit("|", 1)[-1]))
        if rule.startswith("F"):
            assert not named, f"{rule} is listed as unchecked but names {named}"
        else:
            assert named, f"{rule} names no check"
            assert named <= codes, f"{rule} names checks that do not exist: {named - codes}"


def test_every_check_stands_for_a_listed_rule() -> None:
    cited = {code for rule, cells in rows() if not rule.startswith("F") for code in CODE.findall(cells)}
    assert {c.code for c in CHECKS.values()} <= cited


def test_the_stated_size_is_the_count() -> None:
    listed = [rule for rule, _ in rows()]
    assert len(listed) == len(set(listed)), "a rule number is used twice"
    unchecked = sum(rule.startswith("F") for rule in listed)
    size = re.search(r"\*\*Size: (\d+) rules; (\d+) checked, (\d+) without a check\*\*", INVENTORY.read_text())
    assert size is not None
    assert tuple(map(int, size.groups())) == (len(listed), len(listed) - unchecked, unchecked)
