"""The coverage table: every primitive srcad knows, read from the rule tables.

`python -m srcad rules` prints, for each primitive, whether it has a reverse
rule, a forward rule, or a declared zero derivative (with the reason), and
the test that checks it. Tests are found in the `tests/` directory of a
source checkout: each test module registers its cases in
`tests/rule_cases.py`, naming the primitives a case checks. Without the
tests directory the test column reads "?".
"""
import builtins
import importlib
import math
import operator
import sys
from pathlib import Path

import numpy as np

from . import rules, runtime
from .rules.numpy import ATTRIBUTES, METHODS

# Where primitives live, with the prefix the table writes before their names.
NAMESPACES = [("operator", operator), ("np", np), ("np.linalg", np.linalg), ("np.fft", np.fft),
              ("np.random", np.random), ("math", math), ("builtins", builtins),
              ("srcad.runtime", runtime)]
try:
    import scipy.special
    import scipy.stats
    NAMESPACES += [("scipy.special", scipy.special), ("scipy.stats.norm", scipy.stats.norm)]
except ImportError:      # pragma: no cover - SciPy is optional
    pass

SECTIONS = ["operator", "np", "ndarray", "np.linalg", "np.fft", "np.random", "scipy.special",
            "scipy.stats.norm", "math", "builtins", "srcad.runtime", "srcad.rules.operators",
            "srcad.rules.numpy", "srcad.rules.builtins"]

# The rule modules' own helpers, which generated code calls: listed with the module that
# defines them (not where they are imported).
HELPERS = [("srcad.rules.operators", rules.operators), ("srcad.rules.numpy", rules.numpy),
           ("srcad.rules.builtins", rules.builtins)]


def _hashable(x):
    try:
        hash(x)
    except TypeError:
        return False
    return True


def names():
    """primitive -> its public names, e.g. np.abs -> ['np.abs', 'np.absolute']."""
    known = set(rules.ADJOINTS) | set(rules.TANGENTS) | set(rules.NONDIFFERENTIABLE)
    found = {}
    for prefix, module in NAMESPACES:
        for attr in sorted(dir(module)):
            if attr.startswith("_"):
                continue
            try:
                obj = getattr(module, attr)
            except Exception:       # noqa: BLE001 - deprecated attributes may raise
                continue
            if _hashable(obj) and obj in known:
                found.setdefault(obj, []).append(f"{prefix}.{attr}")
    for prefix, module in HELPERS:
        for attr, obj in sorted(vars(module).items()):
            if _hashable(obj) and obj in known and obj not in found \
                    and getattr(obj, "__module__", None) == module.__name__:
                found[obj] = [f"{prefix}.{attr}"]
    for key in known:       # methods with rules of their own: "ndarray.reshape"
        if isinstance(key, str) and _shipped(key):
            found[key] = [key]
    # a user's rule for a NumPy function replaces srcad's: not srcad's coverage
    return {key: label for key, label in found.items() if _shipped(key) or key not in
            rules.ADJOINTS and key not in rules.TANGENTS}


def _shipped(primitive):
    """Whether a primitive's rules are srcad's own (not registered by a user)."""
    templates = [t for t in (rules.ADJOINTS.get(primitive), rules.TANGENTS.get(primitive)) if t]
    return bool(templates) and all(
        (t.fn.__module__ or "srcad.rules").startswith("srcad.rules") for t in templates)


def tested(tests_dir=None):
    """label or primitive -> test ids, from the test modules' shared case table; None if
    the tests cannot be imported."""
    tests_dir = Path(tests_dir) if tests_dir else Path(__file__).resolve().parent.parent / "tests"
    if not (tests_dir / "rule_cases.py").exists():
        return None
    sys.path.insert(0, str(tests_dir))
    try:
        cases = importlib.import_module("rule_cases")
        for path in sorted(tests_dir.glob("test_rules_*.py")):
            importlib.import_module(path.stem)
    except ImportError:
        return None
    finally:
        sys.path.remove(str(tests_dir))
    found = {}
    for c in cases.CASES:
        for primitive in c.primitives:
            found.setdefault(primitive, []).append(c.test_id)
    return {primitive: sorted(ids) for primitive, ids in found.items()}   # in any import order


def table(tests_dir=None):
    """Rows (section, names, reverse, forward, zero-derivative reason, tests)."""
    labels = names()
    tests = tested(tests_dir)
    rows = []
    for primitive, found in labels.items():
        section = found[0].rsplit(".", 1)[0]
        rows.append((section, ", ".join(found), primitive in rules.ADJOINTS,
                     primitive in rules.TANGENTS, rules.NONDIFFERENTIABLE.get(primitive),
                     None if tests is None else tests.get(primitive, [])))
    for method, target in {**METHODS, **{a: f for a, f in ATTRIBUTES.items()}}.items():
        label = f"ndarray.{method}"
        if label in labels:
            continue
        spelled = f"x.{method}" if method in ATTRIBUTES else f"x.{method}()"
        rows.append(("ndarray", f"{spelled} -> {labels[target][0]}",
                     target in rules.ADJOINTS, target in rules.TANGENTS, None,
                     None if tests is None else tests.get(label, [])))
    order = {s: i for i, s in enumerate(SECTIONS)}
    rows.sort(key=lambda r: (order.get(r[0], len(order)), r[1]))
    return rows


def untested(rows):
    """Primitives with a derivative rule and no test case."""
    return [r[1] for r in rows if (r[2] or r[3]) and r[5] is not None and not r[5]]


def _mark(flag):
    return "✓" if flag else "✗"


def render(rows, markdown=False):
    reverse = sum(r[2] for r in rows if not r[1].startswith("x."))
    forward = sum(r[3] for r in rows if not r[1].startswith("x."))
    zero = sum(r[4] is not None for r in rows)
    lines = []
    if markdown:
        lines += ["# Coverage of derivative rules", "",
                  "Generated by `python -m srcad rules --markdown` from srcad's rule tables "
                  "and the test suite's table of cases; a test checks that this page is up "
                  "to date. ✓ means a rule exists; the test named checks it against finite "
                  "differences (reverse mode) and by the dot-product identity between "
                  "`jvp` and `vjp` (forward mode).", "",
                  f"Generated with NumPy {numpy_release()}: the primitives listed, and the "
                  "test cases, differ with NumPy's version.", "",
                  f"{reverse} reverse rules, {forward} forward rules, {zero} primitives "
                  "with a declared zero derivative.", ""]
    section = None
    for sec, label, rev, fwd, reason, tests in rows:
        if sec != section:
            section = sec
            if markdown:
                lines += ["", f"## {sec}", "",
                          "| primitive | reverse | forward | zero derivative | test |",
                          "| --- | --- | --- | --- | --- |"]
            else:
                lines += ["", f"[{sec}]"]
        test = "?" if tests is None else (tests[0] + (f" (+{len(tests) - 1})"
                                                       if len(tests) > 1 else "")
                                          if tests else "-")
        zero_text = reason or ""
        if markdown:
            lines.append(f"| `{label}` | {'' if reason else _mark(rev)} | "
                         f"{'' if reason else _mark(fwd)} | {zero_text} | {test} |")
        else:
            marks = f"zero: {reason}" if reason else \
                f"reverse {_mark(rev)}  forward {_mark(fwd)}"
            lines.append(f"  {label:<44} {marks:<28} {test}")
    missing = untested(rows)
    lines += ["", f"{reverse} reverse rules, {forward} forward rules, "
                  f"{zero} declared zero derivatives; "
                  f"{len(missing)} rules without a test" + (": " + ", ".join(missing)
                                                            if missing else ".")]
    return "\n".join(lines) + "\n"


def numpy_release():
    """The installed NumPy's major.minor version, which decides the functions it has."""
    return ".".join(np.__version__.split(".")[:2])


def main(argv):
    markdown = "--markdown" in argv
    sys.stdout.write(render(table(), markdown))
    return 0
