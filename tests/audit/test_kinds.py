"""The audit's error kinds are spelled once (usi.core.mistakes); the rest derive from it."""

from __future__ import annotations

import re
from pathlib import Path

from usi.audit.models import KINDS
from usi.audit.render import SKIP_REASONS
from usi.audit.rules import all_rules
from usi.core.mistakes import MISTAKE_KINDS
from usi.llm.offline import flaky
from usi.report.sections.audit import GUIDE

README = Path(__file__).resolve().parents[2] / "README.md"


def test_one_definition_of_the_kinds() -> None:
    assert MISTAKE_KINDS == (
        "premature_stop",
        "hallucinated_identifier",
        "instruction_leak",
        "role_confusion",
        "repetition_loop",
        "empty_turn",
    )
    assert KINDS is MISTAKE_KINDS
    assert flaky.KINDS is MISTAKE_KINDS


def test_the_rules_table_guide_and_readme_follow_it() -> None:
    assert tuple(rule.kind for rule in all_rules()) == MISTAKE_KINDS
    assert {reason.split(":")[0] for reason in SKIP_REASONS} <= set(MISTAKE_KINDS)
    assert tuple(re.findall(r"\((\w+)\)", GUIDE)) == MISTAKE_KINDS
    rows = re.findall(r"^\| `(\w+)` \|", README.read_text("utf-8"), re.MULTILINE)
    assert tuple(row for row in rows if row in MISTAKE_KINDS) == MISTAKE_KINDS
