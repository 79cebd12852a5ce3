"""The coverage table: generated from the rule tables, every rule has a test case."""
import re
from pathlib import Path

import pytest

import srcad.coverage as coverage
from srcad import rules
from srcad.__main__ import main

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


def rules_listed(page):
    """primitive -> (reverse, forward, zero derivative), from a coverage page's rows."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in page.splitlines() if line.startswith("| `")]
    return {row[0]: tuple(row[1:4]) for row in rows}


def outdated(page, generated, release):
    """Why a committed page is not the one generated with NumPy `release`, or None. The
    primitives NumPy has and the test cases differ with its version: the page is generated
    with one, named in it, and compared in full there; elsewhere, the rules of the
    primitives listed by both are compared."""
    recorded = re.search(r"Generated with NumPy (\d+\.\d+)", page)
    if recorded is None:
        return "it names no NumPy version"
    if recorded[1] == release:
        return None if page == generated else f"it differs (NumPy {release})"
    listed, found = rules_listed(page), rules_listed(generated)
    both = listed.keys() & found.keys()
    changed = sorted(p for p in both if listed[p] != found[p])
    if len(both) < len(listed) // 2:
        return f"it lists other primitives than NumPy {release} has"
    return f"the rules of {', '.join(changed)} changed" if changed else None


def test_committed_page_is_the_generated_one():
    page = (ROOT / "docs" / "coverage.md").read_text()
    generated = coverage.render(coverage.table(), markdown=True)
    problem = outdated(page, generated, coverage.numpy_release())
    assert problem is None, f"docs/coverage.md is out of date: {problem}; run python -m " \
        "srcad rules --markdown > docs/coverage.md with the NumPy it names, or a newer one"


def test_a_rule_added_without_regenerating_the_page_is_caught():
    page = coverage.render(coverage.table(), markdown=True)     # what the rules make now
    release = coverage.numpy_release()
    tanh = "| `np.tanh` | ✓ | ✓ |"
    assert tanh in page
    before_tangent = page.replace(tanh, "| `np.tanh` | ✓ | ✗ |")   # committed before a rule
    before_any = re.sub(r"\| `np\.tanh` .*\n", "", page)

    def made_elsewhere(text):
        return text.replace(f"NumPy {release}:", "NumPy 1.0:")

    assert outdated(page, page, release) is None
    assert outdated(before_tangent, page, release) and outdated(before_any, page, release)
    assert outdated(made_elsewhere(before_tangent), page, release) == \
        "the rules of `np.tanh` changed"
    assert outdated(made_elsewhere(before_any), page, release) is None   # new in this NumPy?
    assert outdated(page.replace(f" NumPy {release}", ""), page, release)


def test_command_line(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "np.tanh" in out and "reverse ✓" in out and "test_rules_elementwise.py" in out
