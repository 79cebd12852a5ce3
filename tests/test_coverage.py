"""The coverage table: generated from the rule tables, every rule has a test case."""
from pathlib import Path

import pytest

import srcad.coverage as coverage
from srcad import rules
from srcad.__main__ import main
from rule_cases import NUMPY2

ROOT = Path(__file__).resolve().parent.parent

# Forward rules of helpers that only forward-over-forward code calls: no test reaches
# them yet. The list may only shrink: a new rule without a case fails below.
KNOWN_UNTESTED = {"srcad.runtime.copy_value", "srcad.runtime.fit",
                  "srcad.runtime.seed_copy"}


def test_every_rule_has_a_finite_difference_case():
    rows = coverage.table()
    assert set(coverage.untested(rows)) == KNOWN_UNTESTED


def test_cases_name_primitives_that_have_rules():
    cases = coverage.tested()
    known = set(rules.ADJOINTS) | set(rules.TANGENTS) | set(rules.NONDIFFERENTIABLE)
    methods = {f"ndarray.{m}" for m in coverage.METHODS} | \
        {f"ndarray.{a}" for a in coverage.ATTRIBUTES}
    claimed = {p for p in cases if not (isinstance(p, str) and p in methods)}
    assert claimed <= known, claimed - known


@pytest.mark.skipif(not NUMPY2, reason="the page lists NumPy 2's names")
def test_committed_page_is_the_generated_one():
    page = (ROOT / "docs" / "coverage.md").read_text()
    assert page == coverage.render(coverage.table(), markdown=True), \
        "docs/coverage.md is out of date: python -m srcad rules --markdown > docs/coverage.md"


def test_command_line(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "np.tanh" in out and "reverse ✓" in out and "test_rules_elementwise.py" in out
